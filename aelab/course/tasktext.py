"""A lab's prose names its task's numbers as ``{{ task.name }}``; this fills them in (aelab/tasks.py).

Two ways in, one function (:func:`render_notebook`):

* :class:`RenderTaskText`, an nbgrader preprocessor that runs first in ``generate_assignment`` (the
  course's config puts it there), so the release, nbgrader's gradebook copy of every locked cell
  and its checksums hold the filled-in text, whether ``aelab build`` or plain nbgrader runs it;
* the grading engine and the solutions build call :func:`render_notebook` on the source they read.

Only markdown cells are filled in: code reads the same values at run time (``aelab.task_settings``).
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from ..tasks import render_text

__all__ = ["render_notebook", "RenderTaskText"]


def render_notebook(nb, assignment: str):
    """``nb`` (changed in place and returned) with ``{{ task.name }}`` filled in in its markdown cells.

    A name the lab does not have raises ``ValueError`` naming the cell."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and "{{" in cell.source:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            where = f"cell {i + 1}" + (f" ({gid})" if gid else "")
            cell.source = render_text(cell.source, assignment, where=where)
    return nb


class RenderTaskText(NbGraderPreprocessor):
    """nbgrader preprocessor: :func:`render_notebook` for the assignment being generated (on by
    default, as nbgrader's own are; nbconvert's base class is off until enabled)."""

    def preprocess(self, nb, resources):
        assignment = resources.get("nbgrader", {}).get("assignment", "")
        return render_notebook(nb, assignment), resources
