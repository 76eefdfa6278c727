"""The course's files: source notebooks (nbgrader metadata, no outputs, one setup cell), the generated
release/ (no solutions, no hidden tests) and solutions/ (executed, fresh)."""

from __future__ import annotations

import re

import nbformat
import pytest
from course_helpers import ASSIGNMENTS, IDS, MARKERS, ROOT, SOURCES
from course_helpers import notebooks as _notebooks

from aelab.course import build
from aelab.course.tasktext import render_notebook


def test_all_four_assignments_exist():
    assert [a for a, _ in SOURCES] == list(ASSIGNMENTS), "each assignment must have exactly one notebook"
    for folder in ("release", "solutions"):
        assert [a for a, _ in _notebooks(folder)] == list(ASSIGNMENTS), f"{folder}/ is incomplete"


def _nbgrader_cells(nb):
    return [(c, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]


# ------------------------------------------------------------------------------ source notebooks
@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_source_metadata_is_valid_nbgrader_v3(assignment, path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = _nbgrader_cells(nb)
    assert cells, "no nbgrader cells"
    ids = [meta["grade_id"] for _, meta in cells]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    n_tests = n_solutions = 0
    for cell, meta in cells:
        assert meta.get("schema_version") == 3, meta["grade_id"]
        for key in ("grade", "solution", "locked"):
            assert isinstance(meta.get(key), bool), f"{meta['grade_id']}: {key} must be a bool"
        if meta["grade"] and cell.cell_type == "code":
            n_tests += 1
            assert meta["locked"] and not meta["solution"], f"{meta['grade_id']}: test cells are locked"
            assert meta.get("points", 0) > 0, f"{meta['grade_id']}: no points"
            first = cell.source.lstrip().splitlines()[0]
            assert first.startswith('"""'), f"{meta['grade_id']}: a test cell starts with a docstring"
            assert not re.search(r"\n\s*[0-9.]+\s*$", cell.source), f"{meta['grade_id']}: ends with a bare number"
        if meta["solution"] and cell.cell_type == "code":
            n_solutions += 1
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            defs = re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
            assert len(defs) == 1, f"{meta['grade_id']}: one function per solution cell, found {defs}"
    assert n_tests >= 4 and n_solutions >= 2


@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_source_has_no_outputs_and_one_setup_cell(assignment, path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit source/ without outputs"
    setup = [c for c in code if re.search(r"^import aelab\s*$", c.source, flags=re.M)]
    assert len(setup) == 1, "exactly one setup cell with the fixed line `import aelab`"
    assert code.index(setup[0]) == 0, "the setup cell is the first code cell"
    for c in code:
        assert not re.search(r"^\s*[!%]\s*pip", c.source, flags=re.M), "no pip installs in notebooks"
        assert not re.search(r"""(open|read_csv|load|Path)\(\s*['"]\.{0,2}/?[\w-]+/""", c.source), (
            "no paths relative to the working directory:\n" + c.source
        )
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for heading in ("learning objectives", "summary"):
        assert heading in text, f"missing a {heading!r} section"
    assert nb.metadata.kernelspec.name == "python3"


# -------------------------------------------------------------------------------------- release
def _solution_lines(nb) -> set[str]:
    lines: set[str] = set()
    for cell, _meta in _nbgrader_cells(nb):
        if cell.cell_type != "code":
            continue
        for block in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, flags=re.S):
            for line in block[1].splitlines():
                line = line.strip()
                if len(line) >= 12 and not line.startswith("#"):
                    lines.add(line)
    return lines


@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_release_holds_no_solution_and_no_hidden_test(assignment, path):
    release = ROOT / "release" / assignment / path.name
    text = release.read_text()
    for marker in MARKERS:
        assert marker not in text, f"{release} contains {marker!r}"
    assert "autograder" not in text, "hidden checks leaked into the release"
    nb = nbformat.read(release, as_version=4)
    released = "\n".join(c.source for c in nb.cells)
    source = nbformat.read(path, as_version=4)
    # lines that also stand outside every solution/hidden block of the source are not answers
    public = set()
    for cell in source.cells:
        outside = re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n.*?### END \1", "", cell.source, flags=re.S)
        public |= {line.strip() for line in outside.splitlines()}
    leaked = [line for line in _solution_lines(source) - public if line in released]
    assert not leaked, f"solution/hidden lines found in the release: {leaked[:5]}"
    assert released.count("raise NotImplementedError()") >= 2
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_whole_release_folder_is_clean():
    for path in (ROOT / "release").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(m in text for m in MARKERS), path


def test_generated_folders_are_fresh():
    problems = build.stale_files(ROOT)
    assert not problems, "run `aelab build` and commit:\n" + "\n".join(problems)


@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_solutions_were_executed_without_errors(assignment, path):
    nb = nbformat.read(ROOT / "solutions" / assignment / path.name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "every cell of a solution is executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[:1]
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the solutions carry their figures"
    src = render_notebook(nbformat.read(path, as_version=4), assignment)  # the prose's task numbers filled in
    assert [c.source for c in nb.cells] == [c.source for c in src.cells]
