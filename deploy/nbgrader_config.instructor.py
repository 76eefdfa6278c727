# nbgrader configuration of the instructor's course directory (written by `aelab class init`).
#
# Template values: ${course_id}, ${course_dir}, ${exchange_root}. The instructor runs nbgrader, the
# formgrader and `aelab class ...` with this file; the course directory is theirs alone (mode 0700):
# gradebook.db, source/ (solutions, hidden tests), submitted/, autograded/ and feedback/ live here.

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "${course_id}"
c.CourseDirectory.root = "${course_dir}"
c.CourseDirectory.db_url = "sqlite:///${course_dir}/gradebook.db"
c.Exchange.root = "${exchange_root}"
c.Exchange.path_includes_course = False

# Student stubs keep the signature and docstring and raise NotImplementedError (as in the repo).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograde: a bounded time per cell (fast mode is on during autograde), errors graded, not fatal.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True

# Feedback goes to the exchange: hidden tests stay out of it, in the cells' source and in the
# tracebacks of failed grade cells (which quote the failing line).
from aelab.classroom import FEEDBACK_PREPROCESSORS  # noqa: E402

c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
