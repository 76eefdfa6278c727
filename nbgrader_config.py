"""nbgrader configuration of the aelab course (the repository is the course directory).

Environment variables override the defaults, so the same file serves a laptop, CI and a shared
deployment: AELAB_COURSE_DIR (course root), AELAB_COURSE_ID, AELAB_EXCHANGE (exchange root),
AELAB_CELL_TIMEOUT (seconds per cell during autograde/validate).
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

HERE = Path(__file__).resolve().parent

c.CourseDirectory.root = os.environ.get("AELAB_COURSE_DIR", str(HERE))
c.CourseDirectory.course_id = os.environ.get("AELAB_COURSE_ID", "aelab")
if os.environ.get("AELAB_EXCHANGE"):
    c.Exchange.root = os.environ["AELAB_EXCHANGE"]

# Student stubs keep the signature and docstring and raise NotImplementedError.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograde/validate: a bounded time per cell, so an infinite loop costs one cell, not the run.
c.Execute.timeout = int(os.environ.get("AELAB_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
c.Execute.allow_errors = True
# A deleted test cell is put back (and graded) instead of silently losing its points.
c.OverwriteCells.add_missing_cells = True
# Feedback goes to students: hidden tests stay out of it (the cells' source and the tracebacks of
# failed grade cells, which quote the failing hidden line).
from aelab.classroom import FEEDBACK_PREPROCESSORS  # noqa: E402

c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
