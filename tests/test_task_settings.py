"""A task's numbers live once (aelab/tasks.py) and the prose, the code, the graders and the reference
read them: a lab's text holds no literal copy, and changing the setting changes all of them."""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from grader_helpers import message

import autograder
from aelab import tasks
from aelab.course import build, engine
from aelab.course.tasktext import render_notebook
from aelab.tasks import OutlierTask, render_text, task_settings
from autograder import reference as ref

ROOT = Path(__file__).resolve().parent.parent
A3 = "03_mnist_outlier_lab"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def _literals(settings) -> dict[str, re.Pattern]:
    """The spellings of a lab's settings that must not be typed anywhere but aelab/tasks.py."""
    values = settings.text_values()
    spelled = {values[k] for k in ("percentile_name", "outlier_percent", "outlier_fraction", "quantile")}
    return {text: re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w.]|\.\d)") for text in spelled}


def _prose_without_measured(text: str) -> str:
    """Markdown minus placeholders and the sentences that report a measured figure ("Measured ...")."""
    text = tasks.PLACEHOLDER.sub("", text)
    return re.sub(r"Measured\b[^.]*(?:\.\d[^.]*)*\.", "", text.replace("\n", " "))


# ------------------------------------------------------------------------------ the settings themselves
@pytest.mark.parametrize(
    "fraction, name, percent, quantile",
    [
        (0.01, "99th", "1 %", "0.99"),
        (0.05, "95th", "5 %", "0.95"),
        (0.08, "92nd", "8 %", "0.92"),
        (0.09, "91st", "9 %", "0.91"),
        (0.005, "99.5th", "0.5 %", "0.995"),
        (0.13, "87th", "13 %", "0.87"),
        (0.89, "11th", "89 %", "0.11"),
    ],
)
def test_derived_spellings(fraction, name, percent, quantile):
    t = OutlierTask(outlier_fraction=fraction)
    assert t.percentile_name == name
    assert t.outlier_percent == percent
    assert t.text_values()["quantile"] == quantile
    assert math.isclose(t.quantile + t.outlier_fraction, 1.0)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan"), True, "0.01", None])
def test_a_fraction_outside_0_1_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match=r"outlier_fraction must be a number in \(0, 1\); got"):
        OutlierTask(outlier_fraction=bad)


def test_unknown_lab_and_unknown_placeholder_are_named():
    with pytest.raises(KeyError, match="no task settings for '09_nope'.*03_mnist_outlier_lab"):
        task_settings("09_nope")
    with pytest.raises(TypeError, match="assignment must be a string"):
        task_settings(3)
    with pytest.raises(
        ValueError, match=r"in cell 7: unknown task setting \{\{ task.percentil \}\}; known names: .*percentile_name"
    ):
        render_text("the {{ task.percentil }} percentile", A3, where="cell 7")
    assert (
        render_text("the {{task.percentile_name}} and {{ x }} and $x^{{2}}$", A3)
        == "the 99th and {{ x }} and $x^{{2}}$"
    )


def test_render_notebook_fills_markdown_only_and_names_the_cell():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("at {{ task.outlier_percent }}"),
            nbformat.v4.new_code_cell('s = "{{ task.outlier_percent }}"'),
        ]
    )
    render_notebook(nb, A3)
    assert nb.cells[0].source == "at 1 %" and "{{" in nb.cells[1].source
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("{{ task.nope }}")])
    bad.cells[0].metadata["nbgrader"] = {"grade_id": "md_x"}
    with pytest.raises(ValueError, match=r"cell 1 \(md_x\)"):
        render_notebook(bad, A3)


# ------------------------------------------------------------------- no copy of a setting anywhere else
@pytest.mark.parametrize("assignment", sorted(tasks.TASKS))
def test_the_lab_states_its_numbers_only_through_the_settings(assignment):
    nb = nbformat.read(ROOT / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    patterns = _literals(task_settings(assignment))
    found = []
    for i, cell in enumerate(nb.cells, 1):
        text = _prose_without_measured(cell.source) if cell.cell_type == "markdown" else HIDDEN.sub("", cell.source)
        found += [f"cell {i}: {lit!r}" for lit, pat in patterns.items() if pat.search(text)]
    assert not found, f"{assignment} types a setting of aelab/tasks.py instead of reading it: {found}"
    assert any("{{ task." in c.source for c in nb.cells if c.cell_type == "markdown"), "the prose reads no setting"
    assert any("TASK." in c.source for c in nb.cells if c.cell_type == "code"), "the code reads no setting"


def test_graders_and_reference_read_the_settings():
    patterns = _literals(task_settings(A3))
    for path in (ROOT / "autograder" / "lab03.py", ROOT / "autograder" / "reference.py"):
        text = path.read_text()
        found = [lit for lit, pat in patterns.items() if pat.search(text)]
        assert not found, f"{path.name} types {found} instead of reading aelab.tasks"


def test_release_and_solutions_hold_no_placeholder():
    for folder in ("release", "solutions"):
        for path in (ROOT / folder).rglob("*.ipynb"):
            assert "{{ task." not in path.read_text(), f"{path.relative_to(ROOT)} shows an unfilled placeholder"
    release = (ROOT / "release" / A3 / f"{A3}.ipynb").read_text()
    assert "the 99th percentile" in release and "1 % false-alarm rate" in release


def test_the_engine_grades_against_the_filled_in_source(tmp_path):
    spec = engine.job_from_paths(ROOT / "release" / A3 / f"{A3}.ipynb", A3)
    source = engine.source_notebook(spec)
    prose = "".join(c.source for c in source.cells if c.cell_type == "markdown")
    assert "{{" not in prose and "the 99th percentile" in prose


# -------------------------------------------------------------------------------- changing a question
@pytest.fixture
def five_percent(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, A3, OutlierTask(outlier_fraction=0.05))
    return task_settings(A3)


def test_a_changed_setting_changes_the_release_text(five_percent):
    files = build.generate_release(ROOT, [A3])  # nbgrader's generate_assignment, with the course's config
    nb = nbformat.reads(files[Path("release") / A3 / f"{A3}.ipynb"], as_version=4)
    prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{{" not in prose
    assert "95th percentile" in prose and "5 % false-alarm rate" in prose
    assert "outlier_fraction=0.05" in prose and "np.percentile` wants a percentage (95)" in prose
    assert "99th" not in _prose_without_measured(prose) and "1 %" not in _prose_without_measured(prose)


def test_a_changed_setting_changes_the_reference_and_the_graders(five_percent):
    losses = torch.linspace(0, 1, 1001)
    assert ref.compute_threshold(losses) == pytest.approx(float(np.quantile(losses.numpy(), 0.95)))

    def right(losses, outlier_fraction=five_percent.outlier_fraction):  # the stub's default reads TASK
        return float(np.quantile(np.asarray(losses, dtype=np.float64), 1 - outlier_fraction))

    def stale(losses, outlier_fraction=0.01):  # the old question's default
        return float(np.quantile(np.asarray(losses, dtype=np.float64), 1 - outlier_fraction))

    for check in autograder.check_ids("lab03", "compute_threshold"):
        autograder.check(check, right)
    text = message("lab03.compute_threshold.default", stale)
    assert "expected" in text and "5.0%" in text
    # other fractions still tell "honours outlier_fraction" apart from the default
    ignores = lambda losses, outlier_fraction=0.05: float(np.quantile(np.asarray(losses), 0.95))
    message("lab03.compute_threshold.fraction", ignores)


def test_stale_solutions_are_reported_when_a_setting_changes(five_percent):
    problems = build.stale_files(ROOT, [A3])
    assert any("other task settings" in p for p in problems), problems
