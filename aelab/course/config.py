"""The one function that builds the course's nbgrader configuration.

``nbgrader_config.py`` (the checkout as a course directory), ``aelab build``, ``aelab grade`` and
``aelab check``, the classroom's instructor and student configs (``deploy/``), the tests and the
bench scripts all call :func:`nbgrader_config` (or :func:`student_config`), so the stubs, the cell
timeout and the feedback pipeline are set in one place.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "COURSE_ID",
    "CODE_STUB",
    "TEXT_STUB",
    "CELL_TIMEOUT",
    "FEEDBACK_PREPROCESSORS",
    "cell_timeout",
    "nbgrader_config",
    "student_config",
]

COURSE_ID = "aelab"
# Student stubs keep the signature and docstring and raise NotImplementedError.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
# Seconds per cell during autograde/validate (fast mode is on there): an infinite loop costs one cell.
CELL_TIMEOUT = 120
# Feedback goes to students: hidden tests stay out of it (the cells' source and the tracebacks of
# failed grade cells, which quote the failing hidden line).
FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "aelab.course.feedback.FeedbackWithoutHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def cell_timeout(timeout: int | None = None) -> int:
    """``timeout`` if given, else ``$AELAB_CELL_TIMEOUT``, else :data:`CELL_TIMEOUT` seconds."""
    if timeout is not None:
        return int(timeout)
    return int(os.environ.get("AELAB_CELL_TIMEOUT") or CELL_TIMEOUT)


def nbgrader_config(
    root: str | os.PathLike,
    *,
    course_id: str | None = None,
    exchange: str | os.PathLike | None = None,
    timeout: int | None = None,
    db_url: str | None = None,
):
    """A ``traitlets.config.Config`` for the course directory ``root``.

    Args:
        root: the nbgrader course directory (``source/``, ``release/``, ``submitted/`` ...).
        course_id: defaults to ``$AELAB_COURSE_ID`` or ``"aelab"``.
        exchange: the exchange root of a shared class (files go there without a course sub-folder).
        timeout: seconds per cell in autograde/validate (:func:`cell_timeout`).
        db_url: the gradebook; nbgrader's default is ``gradebook.db`` in the course directory.
    """
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(Path(root))
    c.CourseDirectory.course_id = course_id or os.environ.get("AELAB_COURSE_ID") or COURSE_ID
    if db_url:
        c.CourseDirectory.db_url = db_url
    if exchange:
        c.Exchange.root = str(Path(exchange))
        c.Exchange.path_includes_course = False
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.Execute.timeout = cell_timeout(timeout)
    c.Execute.interrupt_on_timeout = True
    # A deleted test cell is put back (and graded) instead of silently losing its points.
    c.OverwriteCells.add_missing_cells = True
    c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    # The prose's {{ task.name }} is filled in first, so the release, the gradebook's copy of each
    # locked cell and its checksum all hold the lab's numbers (aelab/tasks.py).
    c.GenerateAssignment.preprocessors = _generate_preprocessors()
    return c


def _generate_preprocessors() -> list:
    """aelab.course.tasktext.RenderTaskText, then nbgrader's own generate_assignment pipeline in its order."""
    from nbgrader.converters import GenerateAssignment

    from .tasktext import RenderTaskText

    return [RenderTaskText, *GenerateAssignment.class_traits()["preprocessors"].default()]


def student_config(course_id: str, exchange: str | os.PathLike):
    """A student's configuration in a shared class: fetch, submit, fetch feedback; no course directory.

    The exchange's inbound folder is write-only for students (0733), and each submission's folder
    name ends in random bits, so no student can list or guess another's submission.
    """
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.course_id = course_id
    c.Exchange.root = str(Path(exchange))
    c.Exchange.path_includes_course = False
    c.ExchangeSubmit.add_random_string = True
    return c


def config_file(root: str | os.PathLike, **options) -> str:
    """The text of an ``nbgrader_config.py`` for the course directory ``root`` that calls
    :func:`nbgrader_config` with ``options`` (for scratch courses of tests and bench scripts)."""
    args = ", ".join([repr(str(root))] + [f"{k}={v!r}" for k, v in options.items()])
    return (
        "from aelab.course.config import nbgrader_config\n\n"
        "c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file\n"
        f"c.merge(nbgrader_config({args}))\n"
    )
