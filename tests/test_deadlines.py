"""Due dates, late penalties and extensions through nbgrader's autograde (and bad deadline files)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from aelab.course import grading
from aelab.course.deadlines import LatePenalty, read_deadlines

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"


def _toml(tmp_path, text: str) -> Path:
    path = tmp_path / "deadlines.toml"
    path.write_text(text)
    return path


def test_a_deadlines_file_is_read_with_its_timezone(tmp_path):
    d = read_deadlines(
        _toml(
            tmp_path,
            '[policy]\nlate_penalty = "per_hour:0.5"\ntimezone = "Europe/Berlin"\n'
            f'[due]\n{A} = "2026-12-10 23:59"\n[extensions.ann]\n{A} = 48\n',
        )
    )
    assert d.due[A] == dt.datetime(2026, 12, 10, 22, 59, tzinfo=dt.UTC)
    assert (d.policy, d.points_per_hour, d.extensions) == ("per_hour", 0.5, {("ann", A): 48.0})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[policy]\nlate_penalty = "half"\n', "expected 'none', 'zero' or 'per_hour:P'"),
        ('[due]\n99_nope = "2026-12-10 23:59"\n', "not an assignment of the course"),
        (f'[due]\n{A} = "next friday"\n', "is not a date and time like"),
        (f"[extensions.ann]\n{A} = 48\n", "which has no due date"),
        (f'[due]\n{A} = "2026-12-10 23:59"\n[extensions.ann]\n{A} = -1\n', "expected hours, a number >= 0"),
        ('[policy]\ntimezone = "Mars/Olympus"\n', "unknown timezone"),
        ("[grading]\n", "unknown sections grading"),
        ("due = [", "is not valid TOML"),
    ],
)
def test_mistakes_in_the_file_are_refused_with_what_was_expected(tmp_path, text, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_deadlines(_toml(tmp_path, text))


def test_penalty_policies():
    p = LatePenalty(policy="per_hour", points_per_hour=1.0)
    assert p.late_submission_penalty("s", 7.0, 0) is None
    assert p.late_submission_penalty("s", 7.0, 1) == 1.0, "a started hour counts"
    assert p.late_submission_penalty("s", 7.0, 3 * 3600 + 1) == 4.0
    assert p.late_submission_penalty("s", 2.0, 10 * 3600) == 2.0, "never more than the score"
    assert LatePenalty(policy="zero").late_submission_penalty("s", 7.0, 5) == 7.0
    assert LatePenalty(policy="none").late_submission_penalty("s", 7.0, 5) is None


@pytest.mark.slow
@pytest.mark.notebook
def test_late_submissions_lose_points_unless_extended(tmp_path):
    source = ROOT / "source" / A / f"{A}.ipynb"  # right answers
    submitted = tmp_path / "submitted"
    times = {"ann": "2026-12-10 20:00:00", "bo": "2026-12-11 02:30:00", "cy": "2026-12-11 02:30:00", "dee": None}
    for student, when in times.items():
        folder = submitted / student / A
        folder.mkdir(parents=True)
        shutil.copy(source, folder / f"{A}.ipynb")
        if when:
            (folder / "timestamp.txt").write_text(when + "\n")
    deadlines = _toml(
        tmp_path,
        f'[policy]\nlate_penalty = "per_hour:1"\n[due]\n{A} = "2026-12-10T23:59:00+00:00"\n[extensions.cy]\n{A} = 24\n',
    )
    out = grading.grade_class(
        submitted, tmp_path / "out", workers=2, timeout=20, job_timeout=300, deadlines=deadlines, log=lambda *_: None
    )
    by = {o.student: o for o in out}
    full = by["ann"].max_score
    assert by["ann"].score == full and by["ann"].seconds_late == 0
    assert by["bo"].seconds_late == pytest.approx(2 * 3600 + 31 * 60) and by["bo"].late_penalty == 3.0
    assert by["bo"].score == full - 3 and any("late by 2.5 h: 3 points taken" in f for f in by["bo"].flags)
    assert by["cy"].score == full and by["cy"].seconds_late == 0, "an extension of 24 h covers 2.5 h"
    assert by["dee"].score == full and by["dee"].submitted_at == "", "no submission time: not late"
    with (tmp_path / "out" / "grades.csv").open() as fh:
        assert {r["student"]: float(r["score"]) for r in csv.DictReader(fh)}["bo"] == full - 3
    assert "late by 2.5 h" in (tmp_path / "out" / "report.html").read_text()


def test_class_autograde_refuses_bad_options_before_anything_runs(tmp_path):
    from aelab.course import classroom

    with pytest.raises(classroom.ClassError, match="unknown system blackboard"):
        classroom.autograde(tmp_path, A, export="blackboard")
    bad = tmp_path / "deadlines.toml"
    bad.write_text('[policy]\nlate_penalty = "sometimes"\n')
    with pytest.raises(classroom.ClassError, match="late_penalty = 'sometimes'"):
        classroom.autograde(tmp_path, A, deadlines=bad)
    with pytest.raises(classroom.ClassError, match="no file"):
        classroom.autograde(tmp_path, A, deadlines=tmp_path / "missing.toml")


def test_a_forged_submission_time_in_the_exchange_is_not_believed(tmp_path):
    """A student's own timestamp.txt claims an early time; the time used is when the files were written."""
    import datetime as dt

    from aelab.course.classroom.workflow import trusted_submission_times

    inbound, course = tmp_path / "inbound", tmp_path / "course"
    forged = "2020-01-01 00:00:00.000000 UTC"
    for student in ("bo", "ann"):
        box = inbound / f"{student}+{A}+{forged}+x1"
        box.mkdir(parents=True)
        (box / "timestamp.txt").write_text(forged + "\n")
        (box / f"{A}.ipynb").write_text("{}")
        (course / "submitted" / student / A).mkdir(parents=True)
        (course / "submitted" / student / A / "timestamp.txt").write_text(forged + "\n")
    (inbound / f"bob+{A}+{forged}+x2").mkdir()  # another student whose name starts the same: not bo's
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    trusted_submission_times(course, inbound, A, ["bo", "ann"])
    for student in ("bo", "ann"):
        text = (course / "submitted" / student / A / "timestamp.txt").read_text().strip()
        when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=dt.UTC)
        assert when >= before, f"{student}'s forged time {forged} was kept: {text}"
