# nbgrader configuration of the instructor's course directory (written by `aelab class init`).
#
# Template values: ${course_id}, ${course_dir}, ${exchange_root}. The instructor runs nbgrader, the
# formgrader and `aelab class ...` with this file; the course directory is theirs alone (mode 0700):
# gradebook.db, source/ (solutions, hidden tests), submitted/, autograded/ and feedback/ live here.
# Stubs, cell timeout and the feedback pipeline come from the course's one configuration.

from aelab.course.config import nbgrader_config

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file
c.merge(
    nbgrader_config(
        "${course_dir}",
        course_id="${course_id}",
        exchange="${exchange_root}",
        db_url="sqlite:///${course_dir}/gradebook.db",
    )
)
