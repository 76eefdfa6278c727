"""Grades out to a learning-management system: Canvas and Moodle gradebook CSV files.

One writer per system, fed by a table of scores, serves both front ends:

- ``aelab grade ... --export canvas,moodle [--roster roster.csv]`` writes ``OUT/grades-canvas.csv``
  and ``OUT/grades-moodle.csv`` from the graded class (every row of ``OUT/report.json``);
- nbgrader's exporter plugin mechanism, for a gradebook kept by nbgrader itself::

      nbgrader export --exporter aelab.course.lms.CanvasExportPlugin --to grades-canvas.csv
      nbgrader export --exporter aelab.course.lms.MoodleExportPlugin --to grades-moodle.csv

  (``--CanvasExportPlugin.roster=roster.csv`` maps ids the same way).

Layouts, as the systems document them for grade import:

- **Canvas** (Grades → Import): the columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then
  one column per assignment; a second row ``Points Possible`` gives each assignment's maximum.
  Canvas matches a row to a user by ``ID`` (its numeric user id), else ``SIS User ID``, else
  ``SIS Login ID``. Without a roster the course's student id is written as the SIS Login ID.
- **Moodle** (Grades → Import → CSV file): one row per user with an identifying column (mapped at
  import to username, email address or ID number) and one column per grade item:
  ``First name, Last name, Username, Email address, ID number``, then the assignments.

The optional **roster** CSV has a header row with ``student_id`` (the course's id: the folder name
of the submission) and any of ``name, first_name, last_name, email, username, canvas_id,
sis_user_id, sis_login_id, section, id_number``. A student without a score for an assignment gets an
empty cell (no grade), not a zero; a missing submission that was graded as missing scores 0.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

SYSTEMS = ("canvas", "moodle")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "Username", "Email address", "ID number"]
ROSTER_FIELDS = (
    "student_id",
    "name",
    "first_name",
    "last_name",
    "email",
    "username",
    "canvas_id",
    "sis_user_id",
    "sis_login_id",
    "section",
    "id_number",
)


@dataclass
class ScoreTable:
    """Scores of a class: ``scores[(student, assignment)]``, and each assignment's maximum."""

    students: list[str]
    assignments: list[str]
    max_scores: dict[str, float]
    scores: dict[tuple[str, str], float] = field(default_factory=dict)


def read_roster(path: Path | None) -> dict[str, dict[str, str]]:
    """``{student_id: {field: value}}`` from a roster CSV (empty without one)."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--roster: no file {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "student_id" not in columns:
            raise ValueError(
                f"--roster: {path} has no 'student_id' column (its columns: {', '.join(columns) or 'none'})"
            )
        unknown = [c for c in columns if c not in ROSTER_FIELDS]
        if unknown:
            raise ValueError(f"--roster: unknown columns {', '.join(unknown)}; known: {', '.join(ROSTER_FIELDS)}")
        roster: dict[str, dict[str, str]] = {}
        for row in reader:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if row.get("student_id"):
                roster[row["student_id"]] = row
        return roster


def _number(value: float) -> str:
    return f"{value:g}"


def _split_name(entry: dict[str, str], student: str) -> tuple[str, str]:
    first, last = entry.get("first_name", ""), entry.get("last_name", "")
    if not (first or last) and entry.get("name"):
        first, _, last = entry["name"].partition(" ")
    return (first, last) if (first or last) else (student, "")


def canvas_csv(table: ScoreTable, roster: dict[str, dict[str, str]] | None = None) -> str:
    """The Canvas gradebook import file of ``table``."""
    roster = roster or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CANVAS_COLUMNS + table.assignments)
    writer.writerow(["Points Possible", "", "", "", ""] + [_number(table.max_scores[a]) for a in table.assignments])
    for student in table.students:
        entry = roster.get(student, {})
        first, last = _split_name(entry, student)
        display = entry.get("name") or (f"{last}, {first}" if last else first)
        login = entry.get("sis_login_id") or ("" if entry.get("canvas_id") or entry.get("sis_user_id") else student)
        row = [display, entry.get("canvas_id", ""), entry.get("sis_user_id", ""), login, entry.get("section", "")]
        row += [_number(table.scores[student, a]) if (student, a) in table.scores else "" for a in table.assignments]
        writer.writerow(row)
    return buffer.getvalue()


def moodle_csv(table: ScoreTable, roster: dict[str, dict[str, str]] | None = None) -> str:
    """The Moodle grade import file (CSV) of ``table``."""
    roster = roster or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MOODLE_COLUMNS + table.assignments)
    for student in table.students:
        entry = roster.get(student, {})
        first, last = _split_name(entry, student)
        row = [first, last, entry.get("username") or student, entry.get("email", ""), entry.get("id_number", "")]
        row += [_number(table.scores[student, a]) if (student, a) in table.scores else "" for a in table.assignments]
        writer.writerow(row)
    return buffer.getvalue()


WRITERS = {"canvas": canvas_csv, "moodle": moodle_csv}


def parse_systems(text: str | Iterable[str] | None) -> list[str]:
    """``"canvas,moodle"`` → ``["canvas", "moodle"]``; an unknown name is refused with the known ones."""
    if not text:
        return []
    names = [n.strip().lower() for part in ([text] if isinstance(text, str) else text) for n in part.split(",")]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise ValueError(f"--export: unknown system {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    return list(dict.fromkeys(names))


def table_from_outcomes(outcomes) -> ScoreTable:
    """A :class:`ScoreTable` of ``aelab grade``'s outcomes (every row of ``report.json``)."""
    from . import registry

    order = {a: i for i, a in enumerate(registry.names())}
    students = sorted({o.student for o in outcomes})
    assignments = sorted({o.assignment for o in outcomes}, key=lambda a: (order.get(a, len(order)), a))
    max_scores = {o.assignment: o.max_score for o in outcomes}
    return ScoreTable(students, assignments, max_scores, {(o.student, o.assignment): o.score for o in outcomes})


def export(outcomes, out: Path, systems, roster: Path | None = None) -> list[Path]:
    """Write ``OUT/grades-<system>.csv`` for each of ``systems``; returns the paths."""
    systems = parse_systems(systems)
    people = read_roster(roster)
    table = table_from_outcomes(outcomes)
    paths = []
    for system in systems:
        path = Path(out) / f"grades-{system}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(WRITERS[system](table, people), encoding="utf-8", newline="")
        tmp.replace(path)
        paths.append(path)
    return paths


def table_from_gradebook(gradebook: Gradebook, students=(), assignments=()) -> ScoreTable:
    """A :class:`ScoreTable` of an nbgrader gradebook (score = raw score minus the late penalty)."""
    chosen_a = [a for a in gradebook.assignments if not assignments or a.name in assignments]
    chosen_s = sorted((s for s in gradebook.students if not students or s.id in students), key=lambda s: s.id)
    table = ScoreTable([s.id for s in chosen_s], [a.name for a in chosen_a], {a.name: a.max_score for a in chosen_a})
    for a in chosen_a:
        for s in chosen_s:
            try:
                submission = gradebook.find_submission(a.name, s.id)
            except MissingEntry:
                continue
            table.scores[s.id, a.name] = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
    return table


class _LMSExportPlugin(ExportPlugin):
    system = ""
    roster = Unicode("", help="CSV mapping student_id to the LMS's ids (see aelab.course.lms)").tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or f"grades-{self.system}.csv"
        people = {}
        if self.roster:
            people = read_roster(Path(self.roster))
        else:  # the gradebook's own names and emails
            people = {
                s.id: {"first_name": s.first_name or "", "last_name": s.last_name or "", "email": s.email or ""}
                for s in gradebook.students
            }
        table = table_from_gradebook(gradebook, [str(s) for s in self.student], [str(a) for a in self.assignment])
        self.log.info("Exporting grades for %s to %s", self.system, dest)
        Path(dest).write_text(WRITERS[self.system](table, people), encoding="utf-8", newline="")


class CanvasExportPlugin(_LMSExportPlugin):
    """nbgrader exporter: a Canvas gradebook import CSV."""

    system = "canvas"


class MoodleExportPlugin(_LMSExportPlugin):
    """nbgrader exporter: a Moodle grade import CSV."""

    system = "moodle"
