"""nbgrader configuration of the aelab course (the repository is the course directory).

Everything comes from :func:`aelab.course.config.nbgrader_config`, the course's one configuration.
Environment variables override the defaults, so the same file serves a laptop, CI and a shared
deployment: AELAB_COURSE_DIR (course root), AELAB_COURSE_ID, AELAB_EXCHANGE (exchange root),
AELAB_CELL_TIMEOUT (seconds per cell during autograde/validate).
"""

import os
from pathlib import Path

from aelab.course.config import nbgrader_config

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file
c.merge(
    nbgrader_config(
        os.environ.get("AELAB_COURSE_DIR", str(Path(__file__).resolve().parent)),
        exchange=os.environ.get("AELAB_EXCHANGE") or None,
    )
)
