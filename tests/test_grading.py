"""`aelab grade` and `aelab check`: fair, robust grading of a class.

One class of lab-01 submissions covers every robustness case of the issue: a right answer, an
untouched release, a file that is not a notebook, a missing notebook, a cell that raises, a cell
that loops forever, deleted and edited locked test cells, and two kinds of tampering.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest

from aelab.course import grading

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
SOURCE = ROOT / "source" / A / f"{A}.ipynb"
RELEASE = ROOT / "release" / A / f"{A}.ipynb"
CELL_TIMEOUT = 20


def _max_points() -> float:
    return sum(c["points"] for c in grading.grade_cells(SOURCE))


def _points_of(exercise: str) -> float:
    return sum(c["points"] for c in grading.grade_cells(SOURCE) if c["exercise"] == exercise)


def _solution_cell(nb, function: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and f"def {function}(" in cell.source:
            return cell
    raise LookupError(function)


def _student_version(edit) -> nbformat.NotebookNode:
    """The release notebook with the solutions filled in from the source, then ``edit`` applied."""
    release = nbformat.read(RELEASE, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    for function in ("reconstruction_error", "normalized_scores"):
        solved = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", _solution_cell(source, function).source)
        _solution_cell(release, function).source = solved
    edit(release)
    return release


def _replace_body(nb, function: str, body: str) -> None:
    cell = _solution_cell(nb, function)
    signature = re.search(rf"def {function}\(.*?\):", cell.source, flags=re.S).group(0)
    cell.source = f"{body}\n{signature}\n    return None\n" if body.startswith("#top") else f"{signature}\n{body}"


def _drop_test_cell(nb, grade_id: str) -> None:
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]


def _edit_test_cell(nb, grade_id: str, source: str) -> None:
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            c.source = source


def _write(folder: Path, student: str, nb) -> None:
    target = folder / student / A
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        (target / f"{A}.ipynb").write_text(nb)
    elif nb is not None:
        nbformat.write(nb, target / f"{A}.ipynb")


WRONG_L1 = "    return (x - x_hat).reshape(len(x), -1).mean(1)  # forgot abs and the other kinds\n"

CASES = {
    # student: (notebook factory, expected status, expected score (None: compute), note)
    "alice_right": lambda: _student_version(lambda nb: None),
    "bob_blank": lambda: nbformat.read(RELEASE, as_version=4),
    "carol_not_a_notebook": lambda: "this is not a notebook\n",
    "dave_missing": lambda: None,
    "erin_raises": lambda: _student_version(
        lambda nb: _replace_body(nb, "reconstruction_error", "    raise RuntimeError('oops')")
    ),
    "frank_loops": lambda: _student_version(
        lambda nb: setattr(
            _solution_cell(nb, "reconstruction_error"),
            "source",
            "while True:\n    pass\n" + _solution_cell(nb, "reconstruction_error").source,
        )
    ),
    "grace_deletes_and_edits_tests": lambda: _student_version(
        lambda nb: (
            _drop_test_cell(nb, "test_normalized_scores_values"),
            _replace_body(nb, "reconstruction_error", WRONG_L1),
            _edit_test_cell(nb, "test_reconstruction_error_l1", '"""edited"""\npass'),
        )
    ),
    "heidi_patches_the_grader": lambda: _student_version(
        lambda nb: (
            _replace_body(nb, "reconstruction_error", WRONG_L1),
            setattr(
                _solution_cell(nb, "normalized_scores"),
                "source",
                "import autograder\nautograder.check = lambda *args, **kwargs: None\n"
                + _solution_cell(nb, "normalized_scores").source,
            ),
        )
    ),
    "ivan_edits_grader_files": lambda: _student_version(
        lambda nb: setattr(
            _solution_cell(nb, "normalized_scores"),
            "source",
            "import os, sys\nfor _p in sys.path:\n    _d = os.path.join(_p, 'auto' + 'grader')\n"
            "    if os.path.isfile(os.path.join(_d, 'lab01.py')):\n"
            "        with open(os.path.join(_d, 'lab01.py'), 'a') as _f:\n            _f.write('\\n# was here\\n')\n"
            + _solution_cell(nb, "normalized_scores").source,
        )
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grade")
    submitted = tmp / "submitted"
    for student, factory in CASES.items():
        nb = factory()
        if student == "dave_missing":
            (submitted / student / A).mkdir(parents=True)
        else:
            _write(submitted, student, nb)
    pristine = grading._tree_hash(grading._pristine_autograder())
    outcomes = grading.grade_class(
        submitted, tmp / "out", assignments=[A], workers=2, timeout=CELL_TIMEOUT, job_timeout=600, log=lambda *_: None
    )
    assert grading._tree_hash(grading._pristine_autograder()) == pristine, "a submission changed the real graders"
    return {o.student: o for o in outcomes}, tmp / "out"


def test_every_submission_has_one_row(graded):
    outcomes, out = graded
    with (out / "grades.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["student", "assignment", "score", "max_score"]
    assert sorted(r["student"] for r in rows) == sorted(CASES)
    assert all(float(r["max_score"]) == _max_points() for r in rows)


def test_right_answer_gets_full_marks_and_feedback(graded):
    outcomes, out = graded
    alice = outcomes["alice_right"]
    assert alice.status == "graded" and alice.score == alice.max_score == _max_points()
    html = out / "feedback" / "alice_right" / A / f"{A}.html"
    assert html.exists() and "alice" not in html.read_text()[:0] and len(html.read_text()) > 1000


def test_feedback_never_shows_hidden_tests(graded):
    outcomes, out = graded
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = page.read_text()
        for secret in ("BEGIN HIDDEN TESTS", "autograder.check", "import autograder"):
            assert secret not in text, (page, secret)
    grace = (out / "feedback" / "grace_deletes_and_edits_tests" / A / f"{A}.html").read_text()
    assert "GradingError" in grace or "AssertionError" in grace  # the learner still sees what failed


def test_blank_not_a_notebook_and_missing_score_zero(graded):
    outcomes, _ = graded
    assert outcomes["bob_blank"].status == "graded" and outcomes["bob_blank"].score == 0
    assert outcomes["carol_not_a_notebook"].status == "not a notebook"
    assert outcomes["carol_not_a_notebook"].score == 0
    assert outcomes["dave_missing"].status == "missing" and outcomes["dave_missing"].score == 0


def test_a_raising_or_looping_exercise_costs_only_its_own_points(graded):
    outcomes, _ = graded
    for student in ("erin_raises", "frank_loops"):
        o = outcomes[student]
        assert o.status == "graded", (student, o.detail)
        assert o.score == _points_of("normalized_scores"), (student, [(c.grade_id, c.score) for c in o.cells])


def test_deleted_and_edited_test_cells_are_restored(graded):
    outcomes, _ = graded
    grace = outcomes["grace_deletes_and_edits_tests"]
    scores = {c.grade_id: c.score for c in grace.cells}
    # the deleted cell was put back and graded; the edited one was restored and failed the wrong l1
    assert scores["test_normalized_scores_values"] > 0
    assert scores["test_reconstruction_error_l1"] == 0
    assert grace.score < grace.max_score


def test_tampering_scores_zero_and_is_flagged(graded):
    outcomes, _ = graded
    heidi, ivan = outcomes["heidi_patches_the_grader"], outcomes["ivan_edits_grader_files"]
    assert heidi.status == "tampered" and heidi.score == 0 and heidi.flags
    assert ivan.status == "tampered" and ivan.score == 0


def test_report_and_table(graded):
    outcomes, out = graded
    report = json.loads((out / "report.json").read_text())
    assert {r["student"] for r in report} == set(CASES)
    table = grading.format_table(list(outcomes.values()))
    for word in ("missing", "not a notebook", "tampered", "graded"):
        assert word in table


def test_a_job_past_its_wall_clock_limit_is_stopped(tmp_path):
    course = tmp_path / "course"
    grading.prepare_course(ROOT, course, [A], CELL_TIMEOUT)
    nb = tmp_path / f"{A}.ipynb"
    nbformat.write(_student_version(lambda nb: None), nb)
    outcome = grading._run_job(ROOT, course, "slow", A, nb, CELL_TIMEOUT, 3, _max_points())
    assert outcome.status == "timed out" and outcome.score == 0


def test_check_tells_what_to_fix_without_the_answer(tmp_path, capsys):
    nb = tmp_path / f"{A}.ipynb"
    nbformat.write(_student_version(lambda nb: _replace_body(nb, "reconstruction_error", WRONG_L1)), nb)
    outcome = grading.check_notebook(nb, timeout=CELL_TIMEOUT)
    text = grading.format_check(outcome)
    by_exercise = {}
    for cell in outcome.cells:
        got, total = by_exercise.get(cell.exercise, (0.0, 0.0))
        by_exercise[cell.exercise] = (got + cell.score, total + cell.max_score)
    assert by_exercise["normalized_scores"][0] == by_exercise["normalized_scores"][1] > 0
    assert by_exercise["reconstruction_error"][0] < by_exercise["reconstruction_error"][1]
    assert outcome.score < outcome.max_score
    assert "normalized_scores: " in text and "passed" in text
    assert "reconstruction_error: " in text and "to fix" in text
    # the message explains; it does not contain the reference implementation
    reference = (ROOT / "autograder" / "reference.py").read_text()
    body = re.search(r"def reconstruction_error\(.*?\n(.*?)\n\n", reference, flags=re.S).group(1)
    for line in body.splitlines():
        line = line.strip()
        if len(line) > 25 and not line.startswith(('"""', "#")):
            assert line not in text
