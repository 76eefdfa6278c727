"""Grades out to Canvas and Moodle: the layouts those systems import, from aelab grade and nbgrader."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from aelab.course import grading, lms
from aelab.course.grading import Outcome

A, B = "01_autoencoder_basics", "03_mnist_outlier_lab"


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _table():
    return lms.ScoreTable(
        ["ann", 'zoë, "z"'], [A, B], {A: 7.0, B: 18.0}, {("ann", A): 7.0, ("ann", B): 12.5, ('zoë, "z"', A): 0.0}
    )


def test_canvas_layout_points_possible_and_empty_cells_for_no_grade():
    rows = _read(lms.canvas_csv(_table()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A, B]
    assert rows[1] == ["Points Possible", "", "", "", "", "7", "18"]
    assert rows[2] == ["ann", "", "", "ann", "", "7", "12.5"]
    assert rows[3] == ['zoë, "z"', "", "", 'zoë, "z"', "", "0", ""], "no grade is an empty cell, not 0"


def test_canvas_with_a_roster_uses_the_lms_ids():
    roster = {"ann": {"student_id": "ann", "name": "Ann Lee", "canvas_id": "1042", "sis_user_id": "S7", "section": "A"}}
    rows = _read(lms.canvas_csv(_table(), roster))
    assert rows[2] == ["Ann Lee", "1042", "S7", "", "A", "7", "12.5"]


def test_moodle_layout():
    roster = {"ann": {"student_id": "ann", "first_name": "Ann", "last_name": "Lee", "email": "ann@uni.example"}}
    rows = _read(lms.moodle_csv(_table(), roster))
    assert rows[0] == ["First name", "Last name", "Username", "Email address", "ID number", A, B]
    assert rows[1] == ["Ann", "Lee", "ann", "ann@uni.example", "", "7", "12.5"]
    assert rows[2][:3] == ['zoë, "z"', "", 'zoë, "z"'] and rows[2][5:] == ["0", ""]


def test_roster_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="--roster: no file"):
        lms.read_roster(tmp_path / "nope.csv")
    (tmp_path / "r.csv").write_text("id,name\n1,Ann\n")
    with pytest.raises(ValueError, match="no 'student_id' column .*id, name"):
        lms.read_roster(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("student_id,shoe_size\nann,40\n")
    with pytest.raises(ValueError, match="unknown columns shoe_size"):
        lms.read_roster(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("\ufeffstudent_id,email\nann,a@x\n,\n")  # Excel's BOM, a blank row
    assert lms.read_roster(tmp_path / "r.csv") == {"ann": {"student_id": "ann", "email": "a@x"}}


def test_unknown_system_is_refused():
    assert lms.parse_systems("Canvas, moodle,canvas") == ["canvas", "moodle"]
    with pytest.raises(ValueError, match="unknown system blackboard; choose from canvas, moodle"):
        lms.parse_systems("canvas,blackboard")


def test_export_from_outcomes_writes_one_file_per_system(tmp_path):
    outcomes = [Outcome("bo", B, 3, 18), Outcome("bo", A, 7, 7, "missing"), Outcome("ann", A, 1, 7)]
    paths = lms.export(outcomes, tmp_path, "canvas,moodle")
    assert [p.name for p in paths] == ["grades-canvas.csv", "grades-moodle.csv"]
    rows = _read(paths[0].read_text())
    assert rows[0][5:] == [A, B] and [r[0] for r in rows[2:]] == ["ann", "bo"]
    assert rows[2][5:] == ["1", ""] and rows[3][5:] == ["7", "3"]


def test_aelab_grade_refuses_a_bad_export_before_grading(tmp_path):
    (tmp_path / "ann" / A).mkdir(parents=True)
    with pytest.raises(ValueError, match="unknown system"):
        grading.grade_class(tmp_path, tmp_path / "out", export="gradescope", allow_unsandboxed=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own add_submission
def test_nbgrader_export_runs_the_plugins(tmp_path, monkeypatch):
    import os

    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # alembic

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment(A)
        gb.add_notebook(A, A)
        gb.add_grade_cell("c1", A, A, max_score=7, cell_type="code")
        gb.add_student("ann", first_name="Ann", last_name="Lee", email="ann@uni.example")
        gb.add_student("bo")
        gb.add_submission(A, "ann")
        grade = gb.find_grade("c1", A, A, "ann")
        grade.auto_score = 5.5
        gb.db.commit()
    for system in ("Canvas", "Moodle"):
        dest = tmp_path / f"{system}.csv"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "export",
                f"--exporter=aelab.course.lms.{system}ExportPlugin",
                f"--to={dest}",
                f"--CourseDirectory.db_url={url}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        rows = _read(dest.read_text())
        if system == "Canvas":
            assert rows[1][5:] == ["7"] and rows[2] == ["Lee, Ann", "", "", "ann", "", "5.5"]
            assert rows[3] == ["bo", "", "", "bo", "", ""], "bo submitted nothing: no grade"
        else:
            assert rows[1] == ["Ann", "Lee", "ann", "ann@uni.example", "", "5.5"]


# ------------------------------------------------------------------------------------------- in
def _zip(path, members: dict[str, bytes | tuple[bytes, tuple]]) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            data, when = value if isinstance(value, tuple) else (value, (2026, 12, 1, 10, 0, 0))
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)


NB = A + ".ipynb"


def test_canvas_zip_collected_into_the_course_layout(tmp_path):
    _zip(
        tmp_path / "sub.zip",
        {
            f"leeann_1042_776655_{NB}": b"ann v0",
            f"leeann_1042_776656_{A}-1.ipynb": b"ann v1",  # a resubmission
            "smithbo_late_2001_776700_my lab (2).ipynb": (b"bo", (2026, 12, 3, 9, 30, 0)),
            "smithbo_2001_776701_notes.pdf": b"%PDF",
            "__MACOSX/._x.ipynb": b"",
            "random.ipynb": b"?",
        },
    )
    (tmp_path / "roster.csv").write_text("student_id,canvas_id\nann,1042\n")
    done = lms.collect_zip(tmp_path / "sub.zip", A, tmp_path / "into", roster=tmp_path / "roster.csv")
    assert done.system == "canvas" and sorted(done.written) == ["ann", "smithbo"]
    assert (tmp_path / "into" / "ann" / A / NB).read_bytes() == b"ann v1", "the newest version is kept"
    assert (tmp_path / "into" / "smithbo" / A / NB).read_bytes() == b"bo"
    assert (tmp_path / "into" / "smithbo" / A / "timestamp.txt").read_text() == "2026-12-03 09:30:00\n"
    assert done.late == ["smithbo"]
    why = dict(done.skipped)
    assert why[f"leeann_1042_776655_{NB}"] == "an older notebook of ann"
    assert why["smithbo_2001_776701_notes.pdf"] == "not a notebook"
    assert why["random.ipynb"] == "the name does not follow canvas's pattern"
    assert "__MACOSX/._x.ipynb" in why
    assert sorted(p.name for p in (tmp_path / "into").iterdir()) == ["ann", "smithbo"]


def test_moodle_zip_both_layouts_and_names_with_accents(tmp_path):
    _zip(
        tmp_path / "sub.zip",
        {
            f"Zoë Ünal_55_assignsubmission_file_{NB}": b"zoe",
            f"Ann Lee_56_assignsubmission_file/{NB}": b"ann",  # newer Moodle: a folder per student
            "../../evil_57_assignsubmission_file_x.ipynb": b"evil",  # no path of the zip reaches the disk
        },
    )
    (tmp_path / "roster.csv").write_text("student_id,name\nann,Ann Lee\n")
    done = lms.collect_zip(tmp_path / "sub.zip", A, tmp_path / "into", roster=tmp_path / "roster.csv")
    assert done.system == "moodle"
    assert sorted(done.written) == ["ann", "evil", "zo-nal"]
    assert (tmp_path / "into" / "ann" / A / NB).read_bytes() == b"ann"
    assert not (tmp_path / "evil_57_assignsubmission_file_x.ipynb").exists()
    assert all(p.is_relative_to(tmp_path / "into") for p in done.written.values())


def test_moodle_folders_as_moodle_names_them_and_names_it_cleaned(tmp_path):
    """Moodle's folders end in "_assignsubmission_file_/"; its file names drop quotes and turn "_" into spaces."""
    _zip(
        tmp_path / "sub.zip",
        {
            f"Bo Bobby O'Neil_57_assignsubmission_file_/{NB}": b"bo",
            f"Mary Ann Lee_58_assignsubmission_file_/{NB}": b"mary",
        },
    )
    (tmp_path / "roster.csv").write_text('student_id,name\nbo,"Bo ""Bobby"" O\'Neil"\nmary,Mary_Ann  Lee\n')
    done = lms.collect_zip(tmp_path / "sub.zip", A, tmp_path / "into", roster=tmp_path / "roster.csv")
    assert done.system == "moodle" and not done.skipped, done.summary()
    assert sorted(done.written) == ["bo", "mary"]
    assert (tmp_path / "into" / "bo" / A / NB).read_bytes() == b"bo"
    assert lms.moodle_name_key('Zoë "Z" Ünal') == lms.moodle_name_key("zoë z ünal")


def test_not_a_zip_and_a_bad_lms_are_refused(tmp_path):
    (tmp_path / "x.zip").write_text("no zip")
    with pytest.raises(ValueError, match="is not a zip file"):
        lms.collect_zip(tmp_path / "x.zip", A, tmp_path / "into")
    _zip(tmp_path / "y.zip", {"a.ipynb": b""})
    with pytest.raises(ValueError, match="--lms: unknown system"):
        lms.collect_zip(tmp_path / "y.zip", A, tmp_path / "into", system="blackboard")


def test_the_collectors_are_nbgrader_plugins():
    from nbgrader.plugins import FileNameCollectorPlugin

    plugin = lms.CanvasCollector()
    assert isinstance(plugin, FileNameCollectorPlugin) and plugin.named_regexp == lms.CANVAS_PATTERN
    found = plugin.collect(f"/some/where/leeann_late_1042_776655_{NB}")
    assert (found["student_id"], found["file_id"], found["late"]) == ("leeann", A, True)
    assert lms.MoodleCollector().collect(f"x/Ann Lee_56_assignsubmission_file/{NB}")["student_id"] == "ann-lee"


def test_a_file_named_like_a_classmates_submission_stays_its_authors(tmp_path):
    """Newer Moodle names the folder; the student names the file inside. Bob's file named like Ann's
    submission is Bob's, and Ann's own submission is kept."""
    _zip(
        tmp_path / "sub.zip",
        {
            f"Ann Lee_56_assignsubmission_file/{NB}": (b"ann", (2026, 12, 1, 9, 0, 0)),
            f"Bo Smith_57_assignsubmission_file/Ann Lee_56_assignsubmission_file_{NB}": (b"bo", (2026, 12, 2, 9, 0, 0)),
            # a folder of Bo's own inside his submission, named like Moodle's folder for Ann
            f"Bo Smith_57_assignsubmission_file_/Ann Lee_56_assignsubmission_file_/{NB}": (
                b"bo2",
                (2026, 12, 3, 9, 0, 0),
            ),
        },
    )
    done = lms.collect_zip(tmp_path / "sub.zip", A, tmp_path / "into", system="moodle")
    assert sorted(done.written) == ["ann-lee", "bo-smith"]
    assert (tmp_path / "into" / "ann-lee" / A / NB).read_bytes() == b"ann"
    assert (tmp_path / "into" / "bo-smith" / A / NB).read_bytes() == b"bo2"  # his newest


def test_oversized_members_are_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(lms, "MAX_NOTEBOOK_BYTES", 10)
    _zip(tmp_path / "sub.zip", {f"leeann_1042_776655_{NB}": b"x" * 11, f"smithbo_2001_776700_{NB}": b"small"})
    done = lms.collect_zip(tmp_path / "sub.zip", A, tmp_path / "into")
    assert sorted(done.written) == ["smithbo"]
    assert "more than a notebook can be" in dict(done.skipped)[f"leeann_1042_776655_{NB}"]
