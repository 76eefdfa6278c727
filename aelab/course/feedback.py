"""The feedback preprocessor of every config of the course: hidden tests stay out of what students get.

Named in :data:`aelab.course.config.FEEDBACK_PREPROCESSORS`; nbgrader imports it by name.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

__all__ = ["FeedbackWithoutHiddenTests"]


class FeedbackWithoutHiddenTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, plus: the traceback of a grade cell becomes one line (error and
    message), since a traceback quotes the failing hidden line."""

    def preprocess_cell(self, cell, resources, cell_index):
        hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code" and (hidden or utils.is_grade(cell)):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
