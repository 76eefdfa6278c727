"""The engine's rebuilding of a submission from its source (no kernel): what is kept, restored and reported."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest

from aelab.course.engine import prepare_notebook

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
SOURCE = nbformat.read(ROOT / "source" / A / f"{A}.ipynb", as_version=4)
RELEASE = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _solution(nb, function):
    return next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and f"def {function}(" in c.source
    )


def _answered(code: str = "def reconstruction_error(x, x_hat, kind='mse'):\n    return 42\n"):
    nb = copy.deepcopy(RELEASE)
    _solution(nb, "reconstruction_error").source = code
    return nb


def test_a_solution_keeps_the_learners_code_and_tests_get_the_harness():
    to_run, template, notes = prepare_notebook(_answered(), SOURCE)
    assert notes == []
    assert "return 42" in _solution(to_run, "reconstruction_error").source
    graded = [c for c in to_run.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all("_aelab_grade_cell(" in c.source for c in graded if c.cell_type == "code")
    assert not any("HIDDEN TESTS" in c.source for c in to_run.cells)
    assert any("BEGIN HIDDEN TESTS" in c.source for c in template.cells)  # nbgrader's feedback removes them
    ids = [c.id for c in template.cells]
    assert len(ids) == len(set(ids))


def test_a_pasted_copy_of_a_solution_cell_runs_as_plain_code_after_the_original():
    nb = _answered()
    i = nb.cells.index(_solution(nb, "reconstruction_error"))
    meta = copy.deepcopy(nb.cells[i].metadata)
    nb.cells.insert(
        i + 1,
        nbformat.v4.new_code_cell("def reconstruction_error(x, x_hat, kind='mse'):\n    return 7\n", metadata=meta),
    )
    to_run, _, notes = prepare_notebook(nb, SOURCE)
    sources = [c.source for c in to_run.cells]
    first = next(k for k, s in enumerate(sources) if "return 42" in s)
    assert "return 7" in sources[first + 1] and "nbgrader" not in to_run.cells[first + 1].metadata
    assert any("more than once" in n for n in notes)
    assert len({c.id for c in to_run.cells}) == len(to_run.cells)


def test_cells_without_metadata_are_matched_by_content():
    nb = _answered()
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    to_run, _, notes = prepare_notebook(nb, SOURCE)
    assert any("no nbgrader metadata" in n for n in notes)
    assert not any("was missing" in n for n in notes), notes
    assert "return 42" in _solution(to_run, "reconstruction_error").source
    assert [_gid(c) for c in to_run.cells if _gid(c)] == [_gid(c) for c in SOURCE.cells if _gid(c)]


@pytest.mark.parametrize("key, value", [("points", 100), ("locked", False), ("solution", True), ("grade", False)])
def test_changed_grading_metadata_is_restored_and_reported(key, value):
    nb = _answered()
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    cell.metadata["nbgrader"][key] = value
    to_run, template, notes = prepare_notebook(nb, SOURCE)
    restored = next(c for c in template.cells if _gid(c) == _gid(cell))
    original = next(c for c in SOURCE.cells if _gid(c) == _gid(cell))
    assert restored.metadata["nbgrader"] == original.metadata["nbgrader"]
    assert any(f"cell {_gid(cell)}'s nbgrader metadata was changed" in n for n in notes), notes


def test_an_edited_test_cell_is_restored_and_a_deleted_one_put_back():
    nb = _answered()
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[0].source = "pass"
    nb.cells.remove(tests[1])
    to_run, template, notes = prepare_notebook(nb, SOURCE)
    assert any(f"cell {_gid(tests[0])} was edited" in n for n in notes)
    assert any(f"cell {_gid(tests[1])} was missing" in n for n in notes)
    order = [_gid(c) for c in template.cells if _gid(c)]
    assert order == [_gid(c) for c in SOURCE.cells if _gid(c)]


def test_another_assignments_notebook_is_named_as_such():
    other = nbformat.read(ROOT / "release" / "02_iris_vae" / "02_iris_vae.ipynb", as_version=4)
    _, _, notes = prepare_notebook(other, SOURCE)
    assert any(re.search(r"none of this assignment's cells \(is it another assignment's notebook", n) for n in notes)


def test_a_cells_outputs_are_cut_by_their_size_on_the_wire():
    """Text that JSON escapes (six bytes a character) still fits the engine's frame once cut."""
    import json

    from aelab.course.executor import MAX_CELL, _trim

    wide = "\u2588\x01" * 90_000
    outputs = [{"output_type": "display_data", "data": {"text/plain": wide}, "metadata": {}} for _ in range(40)]
    kept = _trim(outputs)
    assert len(json.dumps(kept)) <= MAX_CELL + 200
    assert kept[-1]["text"].startswith("[further output of this cell cut]")
