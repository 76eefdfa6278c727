"""The numbers a lab's tasks state, each in one place.

A task that says "the 99th percentile" has that number in its prose, in the exercise's stub, in
the visible checks, in the hidden graders and in the reference solution. Here it is written once:

    TASK = aelab.task_settings("03_mnist_outlier_lab")
    TASK.outlier_fraction        # 0.01
    TASK.percentile_name         # '99th'

* the notebook's **code** (stubs, visible checks, printed labels) reads ``TASK``;
* its **prose** names the values as ``{{ task.percentile_name }}``, which ``aelab build`` (through
  an nbgrader preprocessor, so plain ``nbgrader generate_assignment`` does it too) and the grading
  engine replace with the values below (:func:`render_text`);
* ``autograder/`` and its reference read :func:`task_settings` when they run.

Changing a question is one edit here and ``aelab build`` (docs/authoring.md, "A task's numbers").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

__all__ = ["OutlierTask", "TASKS", "task_settings", "render_text", "task_names", "PLACEHOLDER"]

# ``{{ task.name }}`` in a markdown cell; nothing else in double braces is touched.
PLACEHOLDER = re.compile(r"\{\{\s*task\.([A-Za-z_]\w*)\s*\}\}")


def _number(x: float) -> str:
    """0.01 -> '0.01', 99.0 -> '99', 99.5 -> '99.5' (no float noise)."""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _ordinal(x: float) -> str:
    """99 -> '99th', 1 -> '1st', 92 -> '92nd', 99.5 -> '99.5th'."""
    text = _number(x)
    if "." in text:
        return text + "th"
    n = int(text)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class OutlierTask:
    """Lab 03's threshold task: ``compute_threshold(losses, outlier_fraction)``.

    Attributes:
        outlier_fraction: the default fraction of training digits assumed to be outliers, in (0, 1).
    """

    outlier_fraction: float = 0.01

    def __post_init__(self):
        f = self.outlier_fraction
        if not isinstance(f, (int, float)) or isinstance(f, bool) or not (0.0 < f < 1.0) or math.isnan(f):
            raise ValueError(f"outlier_fraction must be a number in (0, 1); got {f!r}")

    @property
    def quantile(self) -> float:
        """The quantile the threshold sits at, ``1 - outlier_fraction`` (0.99)."""
        return round(1.0 - self.outlier_fraction, 12)

    @property
    def percentile(self) -> float:
        """The same as a percentage, as ``np.percentile`` wants it (99.0)."""
        return round(100.0 * (1.0 - self.outlier_fraction), 10)

    @property
    def percentile_name(self) -> str:
        """'99th'."""
        return _ordinal(self.percentile)

    @property
    def outlier_percent(self) -> str:
        """The fraction as prose, '1 %'."""
        return f"{_number(100.0 * self.outlier_fraction)} %"

    def text_values(self) -> dict[str, str]:
        """Every name prose may use, with its text: the fields and the derived spellings."""
        values = {f.name: _number(getattr(self, f.name)) for f in fields(self)}
        values.update(
            quantile=_number(self.quantile),
            percentile=_number(self.percentile),
            percentile_name=self.percentile_name,
            outlier_percent=self.outlier_percent,
        )
        return values


# assignment -> its task settings. Edit a value here, then run `aelab build`.
TASKS: dict[str, object] = {
    "03_mnist_outlier_lab": OutlierTask(outlier_fraction=0.01),
}


def task_settings(assignment: str):
    """The settings of ``assignment`` (``"03_mnist_outlier_lab"``); a ``KeyError`` names the known ones."""
    if not isinstance(assignment, str):
        raise TypeError(f"assignment must be a string like '03_mnist_outlier_lab'; got {type(assignment).__name__}")
    try:
        return TASKS[assignment]
    except KeyError:
        raise KeyError(f"no task settings for {assignment!r}; labs with settings: {sorted(TASKS)}") from None


def task_names(assignment: str) -> dict[str, str]:
    """``{name: text}`` that ``{{ task.name }}`` may use in ``assignment``'s prose ({} if it has no settings)."""
    settings = TASKS.get(assignment)
    return settings.text_values() if settings is not None else {}


def render_text(text: str, assignment: str, *, where: str = "") -> str:
    """``text`` with every ``{{ task.name }}`` replaced by the setting's text.

    Raises ``ValueError`` naming ``where`` (a cell, say) and the names there are, for a name
    ``assignment`` does not have: a typo never reaches a student as literal braces."""
    values = task_names(assignment)

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join(sorted(values)) or "none (the lab has no entry in aelab/tasks.py)"
            at = f" in {where}" if where else ""
            raise ValueError(f"{assignment}{at}: unknown task setting {{{{ task.{name} }}}}; known names: {known}")
        return values[name]

    return PLACEHOLDER.sub(one, text)
