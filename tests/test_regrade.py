"""Regrading without loss: ``aelab grade --students/--assignments`` merges into an existing OUT.

Quick tests of the merge itself, and one run of the real engine: a class of lab-01 submissions
graded, then one student's fixed submission regraded into the same folder.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from aelab.course import grading
from aelab.course.grading import CellOutcome, Outcome

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
B = "03_mnist_outlier_lab"


def _rows(out: Path) -> list[dict]:
    with (out / "grades.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_merge_replaces_only_the_regraded_rows_and_keeps_course_order():
    old = [Outcome("ann", A, 7, 7), Outcome("ann", B, 3, 18), Outcome("bo", A, 1, 7)]
    new = [Outcome("ann", B, 18, 18, cells=[CellOutcome("t", "x", 18, 18)])]
    merged = grading.merge_outcomes(old, new)
    assert [(o.student, o.assignment, o.score) for o in merged] == [("ann", A, 7), ("ann", B, 18), ("bo", A, 1)]
    assert grading.merge_outcomes([], new) == new


def test_report_round_trips_and_names_with_commas_quotes_and_accents_survive(tmp_path):
    outcomes = [Outcome('Zoë "Z", Ünal', A, 2.5, 7, "graded", cells=[CellOutcome("t", "ex", 2.5, 3, "msg")])]
    grading.write_grades(outcomes, tmp_path)
    assert grading.read_report(tmp_path) == outcomes
    assert _rows(tmp_path) == [{"student": 'Zoë "Z", Ünal', "assignment": A, "score": "2.5", "max_score": "7"}]
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_a_report_that_is_not_ours_is_refused_with_a_message(tmp_path):
    (tmp_path / "report.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="not a report this tool wrote"):
        grading.read_report(tmp_path)


def test_only_the_assignments_submitted_are_graded(tmp_path):
    (tmp_path / "ann" / B).mkdir(parents=True)
    (tmp_path / "bo" / B / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "bo" / "notes").mkdir()
    assert grading.present_assignments(tmp_path) == [B]


def test_unknown_students_and_assignments_are_refused(tmp_path):
    (tmp_path / "ann" / A).mkdir(parents=True)
    with pytest.raises(ValueError, match="--students: no folder .* for zed"):
        grading.find_submissions(tmp_path, [A], ["zed"])
    with pytest.raises(ValueError, match="--assignments: 99_nope not in the course"):
        grading.grade_class(tmp_path, tmp_path / "out", assignments=["99_nope"], allow_unsandboxed=True)


def test_an_empty_class_writes_valid_files_that_say_so(tmp_path):
    (tmp_path / "submitted").mkdir()
    said = []
    assert grading.grade_class(tmp_path / "submitted", tmp_path / "out", allow_unsandboxed=True, log=said.append) == []
    assert "nothing to grade" in said[0]
    assert (tmp_path / "out" / "grades.csv").read_text() == "student,assignment,score,max_score\n"
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == []
    assert "No submissions were graded" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.notebook
def test_regrading_one_student_keeps_everyone_elses_rows_and_feedback(tmp_path):
    source = ROOT / "source" / A / f"{A}.ipynb"  # solutions filled in: a right submission
    release = ROOT / "release" / A / f"{A}.ipynb"  # nothing filled in
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    for student, nb in (("ann", source), ("bo", release)):
        (submitted / student / A).mkdir(parents=True)
        shutil.copy(nb, submitted / student / A / f"{A}.ipynb")
    (submitted / "cy" / A).mkdir(parents=True)  # nothing submitted
    first = grading.grade_class(submitted, out, workers=2, timeout=20, job_timeout=300, log=lambda *_: None)
    assert {o.student: o.status for o in first} == {"ann": "graded", "bo": "graded", "cy": "missing"}
    assert [(r["student"], r["assignment"]) for r in _rows(out)] == [("ann", A), ("bo", A), ("cy", A)]
    ann_page = out / "feedback" / "ann" / A / f"{A}.html"
    ann_before = ann_page.read_bytes()
    full = float(_rows(out)[0]["max_score"])
    assert float(_rows(out)[0]["score"]) == full and float(_rows(out)[1]["score"]) == 0.0

    shutil.copy(source, submitted / "bo" / A / f"{A}.ipynb")  # bo's fixed submission
    again = grading.grade_class(
        submitted, out, students=["bo"], workers=1, timeout=20, job_timeout=300, log=lambda *_: None
    )
    assert [(o.student, o.score) for o in again] == [("bo", full)]
    rows = _rows(out)
    assert [(r["student"], float(r["score"])) for r in rows] == [("ann", full), ("bo", full), ("cy", 0.0)]
    report = json.loads((out / "report.json").read_text())
    assert [(r["student"], r["status"]) for r in report] == [("ann", "graded"), ("bo", "graded"), ("cy", "missing")]
    assert ann_page.read_bytes() == ann_before, "another student's feedback changed"
    assert (out / "feedback" / "bo" / A / f"{A}.html").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "feedback",
        "grades.csv",
        "report.html",
        "report.json",
        "similarity.csv",
    ]
