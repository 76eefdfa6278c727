"""One template for the four source notebooks (docs/authoring.md, "Structure of a notebook").

Title cell with learning objectives and the points total; one setup cell with the fixed lines;
numbered sections; exercises headed ``### Exercise K — `name` (P points)`` whose points are those of
the graded cells that follow; after each exercise a "Check your work." cell with the self-check
command of that notebook; visible checks that say what they saw (no bare ``assert``); Summary,
Further exercises and References at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from aelab.course.registry import ASSIGNMENTS
from aelab.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {a.name: ROOT / "source" / a.name / f"{a.name}.ipynb" for a in ASSIGNMENTS}

SETUP_LINES = [
    "FAST = aelab.fast_mode()                 # AELAB_FAST=1, or nbgrader autograde/validate",
    "DATA_DIR = aelab.data_dir()              # $AELAB_DATA, default ~/.cache/aelab/data",
    "CHECKPOINT_DIR = aelab.checkpoint_dir()  # $AELAB_CHECKPOINTS, default ~/.cache/aelab/checkpoints",
    "SEED = 0",
    "aelab.seed_everything(SEED)",
    "device = aelab.get_device()",
]
# A lab whose tasks state numbers (aelab/tasks.py) reads them here, after CHECKPOINT_DIR; no other lab has it.
TASK_LINE = 'TASK = aelab.task_settings("{name}")  # the numbers the tasks state (aelab/tasks.py)'
SETUP_LAST = 'print(f"fast mode: {FAST}, device: {device}, torch {torch.__version__}")'
EXERCISE = re.compile(r"^### Exercise (\d+) — `(\w+)` \((\d+) points?\)$")
SECTION = re.compile(r"^## (\d+)\. \S")
ENDING = ["## Summary", "## Further exercises", "## References"]


def _headings(cell) -> list[str]:
    if cell.cell_type != "markdown":
        return []
    lines, fenced = [], False
    for line in cell.source.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            lines.append(line.rstrip())
    return lines


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(params=sorted(NOTEBOOKS), ids=sorted(NOTEBOOKS))
def notebook(request):
    return request.param, nbformat.read(NOTEBOOKS[request.param], as_version=4)


def test_title_cell_states_objectives_and_the_points_total(notebook):
    name, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{name}: the first cell must be the title (markdown)"
    number = name.split("_")[0]
    assert re.match(rf"# Lab {number} — \S", first.source), f"{name}: the title must read '# Lab {number} — ...'"
    assert "**Learning objectives.**" in first.source and re.search(r"^1\. ", first.source, re.M), (
        f"{name}: the title cell must list the learning objectives (numbered)"
    )
    total = sum(float(_nbgrader(c).get("points", 0)) for c in nb.cells if _nbgrader(c).get("grade"))
    stated = re.search(r"\*\*Graded exercises\*\* \((\d+) points\)", first.source)
    assert stated, f"{name}: the title cell must say '**Graded exercises** (N points)'"
    assert float(stated.group(1)) == total, (
        f"{name}: the title says {stated.group(1)} points, the graded cells hold {total:g}"
    )
    assert f"aelab check {name}" in first.source, f"{name}: the title cell must give the self-check command"


def test_one_setup_cell_with_the_fixed_lines(notebook):
    name, nb = notebook
    setup = nb.cells[1]
    assert setup.cell_type == "code" and _nbgrader(setup).get("grade_id") == "setup", (
        f"{name}: cell 2 must be the setup cell"
    )
    assert _nbgrader(setup).get("locked") is True, f"{name}: the setup cell must be locked"
    lines = setup.source.splitlines()
    assert "import aelab" in lines, f"{name}: the setup cell must contain the line 'import aelab'"
    start = lines.index("import aelab")
    assert all(ln.startswith(("import ", "from ")) or not ln for ln in lines[:start]), (
        f"{name}: only imports may come before 'import aelab'"
    )
    body = [ln for ln in lines[start + 1 :] if ln]
    task_line = TASK_LINE.format(name=name)
    if name in TASKS:
        assert body[3:4] == [task_line], f"{name}: its tasks state numbers; line 4 of the setup must be {task_line!r}"
        body.remove(task_line)
    else:
        assert not any("task_settings" in ln for ln in body), f"{name} has no entry in aelab/tasks.py's TASKS"
    assert body[: len(SETUP_LINES)] == SETUP_LINES, f"{name}: the setup lines after 'import aelab' differ: {body[:6]}"
    assert body[-1] == SETUP_LAST, f"{name}: the setup cell must end with {SETUP_LAST!r}, not {body[-1]!r}"
    extra = body[len(SETUP_LINES) : -1]
    assert all("set_num_threads" in ln or ln == "if FAST:" for ln in extra), f"{name}: unexpected setup lines {extra}"


def test_sections_are_numbered_and_the_notebook_ends_with_summary_exercises_references(notebook):
    name, nb = notebook
    level2 = [h for c in nb.cells for h in _headings(c) if h.startswith("## ")]
    numbered = [h for h in level2 if SECTION.match(h)]
    assert [int(SECTION.match(h).group(1)) for h in numbered] == list(range(1, len(numbered) + 1)), (
        f"{name}: sections must be numbered 1, 2, 3, ...: {numbered}"
    )
    tail = [h for h in level2 if not SECTION.match(h)]
    assert tail == ENDING, f"{name}: the unnumbered sections must be exactly {ENDING}, found {tail}"
    assert level2[-3:] == ENDING, f"{name}: the notebook must end with {ENDING}"
    last_heading_cell = max(i for i, c in enumerate(nb.cells) if "## References" in _headings(c))
    assert all(c.cell_type == "markdown" for c in nb.cells[last_heading_cell:]), f"{name}: code after the references"


def _exercises(nb):
    """``[(number, function, points stated, points of its graded cells, cells of the exercise)]``."""
    found = []
    for i, cell in enumerate(nb.cells):
        for h in _headings(cell):
            m = EXERCISE.match(h)
            if m:
                found.append((i, int(m.group(1)), m.group(2), int(m.group(3))))
            elif h.startswith("### Exercise") or (h.startswith("## ") and "Exercise" in h):
                pytest.fail(
                    f"an exercise heading does not follow the template '### Exercise K — `name` (P points)': {h!r}"
                )
    out = []
    for k, (i, number, fn, stated) in enumerate(found):
        end = found[k + 1][0] if k + 1 < len(found) else len(nb.cells)
        cells = nb.cells[i:end]
        points = sum(float(_nbgrader(c).get("points", 0)) for c in cells if _nbgrader(c).get("grade"))
        out.append((number, fn, stated, points, cells))
    return out


def test_exercise_headings_state_their_points(notebook):
    name, nb = notebook
    exercises = _exercises(nb)
    assert exercises, f"{name}: no exercise heading"
    assert [e[0] for e in exercises] == list(range(1, len(exercises) + 1)), f"{name}: exercises not numbered 1, 2, ..."
    for number, fn, stated, points, cells in exercises:
        assert stated == points, f"{name}: exercise {number} says {stated} points, its graded cells hold {points:g}"
        solutions = [c for c in cells if _nbgrader(c).get("solution")]
        assert len(solutions) == 1 and f"def {fn}(" in solutions[0].source, (
            f"{name}: exercise {number} must have one solution cell defining {fn}"
        )
        assert solutions[0].source.count("\ndef ") + solutions[0].source.startswith("def ") == 1, (
            f"{name}: exercise {number}'s solution cell must define one function"
        )


def test_each_exercise_ends_with_the_self_check_command(notebook):
    name, nb = notebook
    for number, _fn, _stated, _points, cells in _exercises(nb):
        graded = [i for i, c in enumerate(cells) if _nbgrader(c).get("grade")]
        assert graded, f"{name}: exercise {number} has no graded cell"
        after = cells[graded[-1] + 1] if graded[-1] + 1 < len(cells) else None
        assert (
            after is not None and after.cell_type == "markdown" and after.source.startswith("**Check your work.**")
        ), f"{name}: the cell after exercise {number}'s last graded cell must start with '**Check your work.**'"
        assert f"`aelab check {name}`" in after.source, (
            f"{name}: exercise {number}'s check cell must give `aelab check {name}`"
        )


def _code_outside_solutions(source: str) -> str:
    return re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", source, flags=re.S)


def test_visible_checks_say_what_they_saw(notebook):
    """No bare ``assert`` in the notebook's visible code: the aelab.expect_* helpers say what was seen."""
    name, nb = notebook
    bare = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        visible = re.sub(
            r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", _code_outside_solutions(cell.source), flags=re.S
        )
        bare += [f"cell {i}: {ln.strip()}" for ln in visible.splitlines() if re.match(r"\s*assert\b", ln)]
    assert not bare, f"{name}: bare asserts (use aelab.expect_*):\n" + "\n".join(bare)
    graded = [c for c in nb.cells if _nbgrader(c).get("grade")]
    silent = [
        _nbgrader(c)["grade_id"] for c in graded if "aelab.expect" not in c.source.split("### BEGIN HIDDEN TESTS")[0]
    ]
    assert not silent, f"{name}: graded cells without a visible check: {silent}"


def test_authoring_guide_states_this_template():
    guide = (ROOT / "docs" / "authoring.md").read_text()
    for needle in [
        *SETUP_LINES,
        SETUP_LAST,
        "### Exercise K — `function_name` (P points)",
        "**Check your work.**",
        *ENDING,
    ]:
        assert needle in guide, f"docs/authoring.md does not state {needle!r}"
