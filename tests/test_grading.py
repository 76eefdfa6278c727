"""`aelab grade` and `aelab check`: fair, robust grading of a class.

One class of lab-01 submissions covers every robustness case of the issue: a right answer, an
untouched release, a file that is not a notebook, a missing notebook, a cell that raises, a cell
that loops forever, deleted and edited locked test cells, and two kinds of tampering.
"""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path

import nbformat
import pytest
from course_helpers import tree_hash as _tree_hash

from aelab.course import grading, registry

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
SOURCE = ROOT / "source" / A / f"{A}.ipynb"
RELEASE = ROOT / "release" / A / f"{A}.ipynb"
CELL_TIMEOUT = 20
FUNCTIONS = [exercise.name for exercise in registry.assignment(A).exercises]


def _graded_cells() -> list[dict]:
    """grade_id, points and exercise of each graded cell of the source notebook."""
    from aelab.course.engine import CHECK_CALL

    out = []
    for cell in nbformat.read(SOURCE, as_version=4).cells:
        md = cell.metadata.get("nbgrader", {})
        if md.get("grade") and not md.get("solution"):
            exercise = CHECK_CALL.findall(cell.source)[0][0].split(".")[1]
            out.append({"grade_id": md["grade_id"], "points": float(md["points"]), "exercise": exercise})
    return out


def _max_points() -> float:
    return sum(c["points"] for c in _graded_cells())


def _points_of(exercise: str) -> float:
    return sum(c["points"] for c in _graded_cells() if c["exercise"] == exercise)


def _solution_cell(nb, function: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and f"def {function}(" in cell.source:
            return cell
    raise LookupError(function)


def _student_version(edit) -> nbformat.NotebookNode:
    """The release notebook with the solutions filled in from the source, then ``edit`` applied."""
    release = nbformat.read(RELEASE, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    for function in FUNCTIONS:
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
    pristine = _tree_hash(ROOT / "autograder")
    outcomes = grading.grade_class(
        submitted, tmp / "out", assignments=[A], workers=2, timeout=CELL_TIMEOUT, job_timeout=600, log=lambda *_: None
    )
    assert _tree_hash(ROOT / "autograder") == pristine, "a submission changed the real graders"
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
    assert alice.feedback == [str(html)]
    page = re.sub(r"<style.*?</style>", "", html.read_text(), flags=re.S)  # nbconvert's CSS names "Traceback"
    total = f"{_max_points():.1f}"
    assert f"(Score: {total} / {total})" in page, "the page does not show the full marks"
    # a right answer: no cell of her page shows an error (erin's page, say, has several)
    assert "output_error" not in page and "Traceback" not in page
    # her page only: no other student's name, no path of the instructor's grading run
    assert not [other for other in CASES if other != "alice_right" and other in page]
    assert str(out) not in page and str(out.parent) not in page


def test_feedback_never_shows_hidden_tests(graded):
    outcomes, out = graded
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = page.read_text()
        # (heidi's page quotes her own `autograder.check = ...`: her code, not a hidden test)
        for secret in ("BEGIN HIDDEN TESTS", 'autograder.check("', "lab01.reconstruction_error."):
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
        expected = _max_points() - _points_of("reconstruction_error")
        assert o.score == expected, (student, [(c.grade_id, c.score) for c in o.cells])


def test_deleted_and_edited_test_cells_are_restored(graded):
    outcomes, _ = graded
    grace = outcomes["grace_deletes_and_edits_tests"]
    scores = {c.grade_id: c.score for c in grace.cells}
    # the deleted cell was put back and graded; the edited one was restored and failed the wrong l1
    assert scores["test_normalized_scores_values"] > 0
    assert scores["test_reconstruction_error_l1"] == 0
    assert grace.score < grace.max_score


def test_tampering_earns_only_what_the_answers_deserve(graded):
    """The checks run outside the learner's kernel: patching the graders there changes nothing.

    heidi's wrong reconstruction_error scores what grace's identical one scores, and her
    normalized_scores cell (which starts by importing the graders, unreachable in the sandbox) fails
    to run, so it earns nothing; ivan, who tried to edit the graders' files, finds none and keeps
    the marks of his right answers; the real graders are untouched (the fixture checks)."""
    outcomes, _ = graded
    heidi, ivan, grace = (
        outcomes[s] for s in ("heidi_patches_the_grader", "ivan_edits_grader_files", "grace_deletes_and_edits_tests")
    )
    by_cell = {c.grade_id: c.score for c in heidi.cells}
    grace_cells = {c.grade_id: c.score for c in grace.cells}
    for gid, score in by_cell.items():
        if "reconstruction_error" in gid or "beta_vae_loss" in gid:
            assert score == grace_cells[gid], gid
        else:
            assert score == 0, gid
    assert heidi.score < _points_of("beta_vae_loss") + _points_of("reconstruction_error")
    assert ivan.status == "graded" and ivan.score == ivan.max_score


def test_report_and_table(graded):
    outcomes, out = graded
    report = json.loads((out / "report.json").read_text())
    assert {r["student"] for r in report} == set(CASES)
    table = grading.format_table(list(outcomes.values()))
    for word in ("missing", "not a notebook", "graded"):
        assert word in table


def test_a_job_past_its_wall_clock_limit_is_stopped(tmp_path):
    from aelab.course import engine

    def slow_start(nb):  # right answers, after a cell slower than the job's limit
        nb.cells.insert(2, nbformat.v4.new_code_cell("import time\ntime.sleep(60)"))

    nb = tmp_path / f"{A}.ipynb"
    nbformat.write(_student_version(slow_start), nb)
    result = engine.run_job(engine.job_from_paths(nb, A, limits={"wall_seconds": 3}))
    assert result.status == "timeout" and result.score == 0
    assert any("limit of 3 s" in r for r in result.reasons)


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


def test_pytest_autograder_grades_submissions_on_the_engine(tmp_path):
    """``pytest autograder --submission``: one test per check, verdicts from the engine, messages that say what to fix."""
    import subprocess
    import sys

    from aelab.course.engine import CHECK_CALL

    for name, edit in (
        ("right", lambda nb: None),
        ("wrong", lambda nb: _replace_body(nb, "reconstruction_error", WRONG_L1)),
    ):
        (tmp_path / name).mkdir()
        nbformat.write(_student_version(edit), tmp_path / name / f"{A}.ipynb")
    args = [f"--submission={tmp_path / n / f'{A}.ipynb'}" for n in ("right", "wrong")]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder", "-q", "-rf", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    checks = [c for cell in nbformat.read(SOURCE, as_version=4).cells for c, _ in CHECK_CALL.findall(cell.source)]
    wrong_fn = [c for c in checks if c.startswith("lab01.reconstruction_error.") and not c.endswith(".shape")]
    failed = re.findall(r"^FAILED \S*wrong/[^:]+::([\w.]+)\]", proc.stdout, flags=re.M)
    assert not re.findall(r"^FAILED \S*right/", proc.stdout, flags=re.M), proc.stdout[-3000:]
    assert failed and set(failed) <= set(wrong_fn), (failed, proc.stdout[-3000:])
    assert f"{len(failed)} failed, {2 * len(checks) - len(failed)} passed" in proc.stdout, proc.stdout[-2000:]
    for check_id in failed:  # each failure says what to fix (pytest.fail's text: "<check>: <message>")
        message = re.search(rf"{re.escape(check_id)}: (.+)", proc.stdout)
        assert message and len(message.group(1)) > 20 and "AssertionError" not in message.group(1), check_id


def test_one_bug_costs_one_exercise_and_a_reference_is_no_oracle(tmp_path):
    """Lab 03: a wrong reconstruction_loss (mean for sum) costs only its own cells; detect_outlier,
    which calls it, is graded with the course's version. A notebook that moves detect_outlier's tests
    above reconstruction_loss's does not get the course's version early (it would be an oracle for
    the later checks): its detect_outlier runs with its own loss."""
    from aelab.course import engine

    lab = "03_mnist_outlier_lab"
    source = nbformat.read(ROOT / "source" / lab / f"{lab}.ipynb", as_version=4)

    def notebook(reorder: bool):
        nb = copy.deepcopy(source)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
                if "def reconstruction_loss" in cell.source:
                    cell.source = cell.source.replace('reduction="none").sum(dim=-1)', 'reduction="none").mean(dim=-1)')
        if reorder:
            gid = lambda c: c.metadata.get("nbgrader", {}).get("grade_id", "")
            detect = [c for c in nb.cells if gid(c).startswith("test_detect_outlier")]
            rest = [c for c in nb.cells if c not in detect]
            first = next(i for i, c in enumerate(rest) if gid(c).startswith("test_reconstruction_loss"))
            nb.cells = rest[:first] + detect + rest[first:]
        path = tmp_path / f"{'moved' if reorder else 'kept'}" / f"{lab}.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        return engine.run_job(engine.job_from_paths(path, lab, cell_timeout=60))

    def by_exercise(result):
        out = {}
        for c in result.cells:
            got, total = out.get(c.exercise, (0.0, 0.0))
            out[c.exercise] = (got + c.score, total + c.points)
        return out

    kept, moved = notebook(False), notebook(True)
    scores = by_exercise(kept)
    assert scores["reconstruction_loss"][0] < scores["reconstruction_loss"][1], scores
    assert scores["detect_outlier"][0] == scores["detect_outlier"][1] > 0, (scores, kept.reasons)
    assert scores["compute_threshold"][0] == scores["compute_threshold"][1], scores
    moved_scores = by_exercise(moved)
    assert moved_scores["detect_outlier"][0] < moved_scores["detect_outlier"][1], moved_scores
    assert moved_scores["reconstruction_loss"] == scores["reconstruction_loss"]
