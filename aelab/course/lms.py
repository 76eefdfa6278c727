"""The learning-management system in and out: Canvas and Moodle submission zips, gradebook CSV files.

**In**: :func:`collect_zip` turns the zip of submissions an LMS gives for download into the
course's layout ``<student>/<assignment>/<notebook>.ipynb`` (``aelab collect``, and ``aelab grade``
given a zip). The file names are read by nbgrader collector plugins (:class:`CanvasCollector`,
:class:`MoodleCollector`, usable as ``nbgrader zip_collect --collector=...``) with the patterns of
both systems built in:

- Canvas: ``<login>_[late_]<user id>_<submission id>_<file>[-<version>].ipynb``
  (``leeann_late_1042_776655_01_autoencoder_basics-1.ipynb``);
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file_<file>.ipynb``, or the same as a
  folder holding the file (newer Moodle).

A roster (below) maps the LMS's ids to the course's student ids (Canvas: ``canvas_id``; Moodle:
``name``); without one the Canvas login or a slug of the Moodle name is the student id. Files that
are not notebooks, or whose names match neither system, are listed and skipped; of several
notebooks of one student the newest (highest version, then latest time in the zip) is kept.

**Out**:

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
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin, FileNameCollectorPlugin
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


def _write(table: ScoreTable, people: dict, out: Path, systems: list[str]) -> list[Path]:
    """``out/grades-<system>.csv`` of ``table``, each written whole (renamed into place)."""
    paths = []
    for system in systems:
        path = Path(out) / f"grades-{system}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(WRITERS[system](table, people), encoding="utf-8", newline="")
        tmp.replace(path)
        paths.append(path)
    return paths


def export(outcomes, out: Path, systems, roster: Path | None = None) -> list[Path]:
    """Write ``OUT/grades-<system>.csv`` for each of ``systems``; returns the paths."""
    systems = parse_systems(systems)
    return _write(table_from_outcomes(outcomes), read_roster(roster), out, systems)


def export_gradebook(db_url: str, out: Path, systems, roster: Path | None = None) -> list[Path]:
    """``OUT/grades-<system>.csv`` from an nbgrader gradebook (every student and assignment in it;
    names from the ``roster`` or else the gradebook's own); returns the paths."""
    systems = parse_systems(systems)
    with Gradebook(db_url) as gb:
        people = read_roster(roster) or _gradebook_people(gb)
        table = table_from_gradebook(gb)
    return _write(table, people, out, systems)


def _gradebook_people(gradebook: Gradebook) -> dict[str, dict[str, str]]:
    """The gradebook's own names and emails, as a roster."""
    return {
        s.id: {"first_name": s.first_name or "", "last_name": s.last_name or "", "email": s.email or ""}
        for s in gradebook.students
    }


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
        people = read_roster(Path(self.roster)) if self.roster else _gradebook_people(gradebook)
        table = table_from_gradebook(gradebook, [str(s) for s in self.student], [str(a) for a in self.assignment])
        self.log.info("Exporting grades for %s to %s", self.system, dest)
        Path(dest).write_text(WRITERS[self.system](table, people), encoding="utf-8", newline="")


class CanvasExportPlugin(_LMSExportPlugin):
    """nbgrader exporter: a Canvas gradebook import CSV."""

    system = "canvas"


class MoodleExportPlugin(_LMSExportPlugin):
    """nbgrader exporter: a Moodle grade import CSV."""

    system = "moodle"


# --------------------------------------------------------------------------------------------- in
CANVAS_PATTERN = (
    r"^(?P<login>[A-Za-z0-9\-]+?)_(?:(?P<late>late)_)?(?P<lms_id>\d+)_(?P<submission_id>\d+)_"
    r"(?P<file_id>.+?)(?:-(?P<version>\d+))?\.ipynb$"
)
MAX_NOTEBOOK_BYTES = 200 * 2**20  # a zip member larger than this is skipped, not read
# Moodle names a file "<Full Name>_<id>_assignsubmission_file_<file>", or, downloaded in folders,
# puts it in "<Full Name>_<id>_assignsubmission_file_/" (mod/assign's download_submissions).
MOODLE_PATTERN = (
    r"^(?P<full_name>[^/]+?)_(?P<lms_id>\d+)_assignsubmission_(?:file|onlinetext)(?:_/|/|_)(?P<file_id>[^/]+?)\.ipynb$"
)
MOODLE_FOLDER = r"[^/]+?_\d+_assignsubmission_(?:file|onlinetext)_?"


def moodle_name_key(name: str) -> str:
    """A full name as Moodle spells it in file names (underscores as spaces, the characters its
    clean_filename drops removed), case- and accent-form-folded: a roster's "Bo \"Bobby\" O'Neil"
    matches the zip's "Bo Bobby O'Neil"."""
    import unicodedata

    text = unicodedata.normalize("NFC", name).replace("_", " ")
    text = re.sub(r'[\x00-\x1f\x7f\\/:*?"<>|]', "", text)
    return re.sub(r"\s+", " ", text).strip().casefold()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class _Collector(FileNameCollectorPlugin):
    """Reads an LMS's submission file name; ``student_id`` through the roster when there is one."""

    system = ""
    pattern = ""
    roster = Unicode("", help="CSV mapping student_id to the LMS's ids (see aelab.course.lms)").tag(config=True)

    def _named_regexp_default(self):
        return self.pattern

    def student_id(self, found: dict, people: dict[str, dict[str, str]]) -> str:
        raise NotImplementedError

    def collect(self, submitted_file: str) -> dict | None:
        path = Path(submitted_file)
        if path.suffix not in self.valid_ext:
            return None
        name = self.identified_name(path)
        found = re.match(self.named_regexp or self.pattern, name)
        if not found:
            return None
        if getattr(self, "_people", None) is None:  # the roster, read once per plugin
            self._people = read_roster(Path(self.roster)) if self.roster else {}
        info = found.groupdict()
        return {**info, "student_id": self.student_id(info, self._people), "late": bool(info.get("late"))}

    def identified_name(self, path: Path) -> str:
        """The part of a member's path that names its student: the LMS's prefix, never the student's
        own file name alone (a file named like a classmate's submission must not become theirs)."""
        return path.name


class CanvasCollector(_Collector):
    """nbgrader collector plugin for Canvas's "Download Submissions" zip."""

    system = "canvas"
    pattern = CANVAS_PATTERN

    def student_id(self, found, people):
        by_id = {e.get("canvas_id"): sid for sid, e in people.items() if e.get("canvas_id")}
        return by_id.get(found["lms_id"]) or found["login"].lower()


class MoodleCollector(_Collector):
    """nbgrader collector plugin for Moodle's "Download all submissions" zip."""

    system = "moodle"
    pattern = MOODLE_PATTERN

    def identified_name(self, path: Path) -> str:
        # newer Moodle: a folder per student, which the LMS names; below it the student names the
        # files and may make folders of their own, so the outermost LMS-named folder decides
        for part in path.parts[:-1]:
            if re.fullmatch(MOODLE_FOLDER, part):
                return f"{part}/{path.name}"
        return path.name

    def student_id(self, found, people):
        by_name = {moodle_name_key(e["name"]): sid for sid, e in people.items() if e.get("name")}
        return by_name.get(moodle_name_key(found["full_name"])) or _slug(found["full_name"])


COLLECTORS = {"canvas": CanvasCollector, "moodle": MoodleCollector}


@dataclass
class Collected:
    """What :func:`collect_zip` did: notebooks written, and files skipped with the reason."""

    system: str
    written: dict[str, Path] = field(default_factory=dict)  # student -> notebook
    late: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member, why)

    def summary(self) -> str:
        lines = [f"{len(self.written)} submissions collected from the {self.system} zip"]
        lines += [f"  late: {', '.join(self.late)}"] if self.late else []
        lines += [f"  skipped {m}: {why}" for m, why in self.skipped]
        return "\n".join(lines)


def collect_zip(
    archive: Path, assignment: str, into: Path, *, system: str | None = None, roster: Path | None = None
) -> Collected:
    """Write the notebooks of an LMS submission zip as ``into/<student>/<assignment>/<notebook>.ipynb``.

    ``system``: ``"canvas"``, ``"moodle"`` or None (the one whose pattern matches most files). Nothing
    of the zip is extracted by its own names (no path of the archive reaches the disk); a student's
    folder gets ``timestamp.txt`` (the file's time in the zip, as nbgrader's exchange writes it)."""
    from . import registry

    notebook = registry.assignment(assignment).notebook
    archive = Path(archive)
    if not zipfile.is_zipfile(archive):
        raise ValueError(f"{archive} is not a zip file (expected the submissions zip downloaded from Canvas or Moodle)")
    if roster is not None:
        read_roster(roster)  # refused early when wrong
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        plugins = {name: cls(roster=str(roster or "")) for name, cls in COLLECTORS.items()}
        if system is None:
            hits = {n: sum(bool(p.collect(m.filename)) for m in members) for n, p in plugins.items()}
            system = max(hits, key=hits.get) if any(hits.values()) else "canvas"
        elif system not in COLLECTORS:
            raise ValueError(f"--lms: unknown system {system}; choose from {', '.join(COLLECTORS)}")
        plugin, result = plugins[system], Collected(system)
        best: dict[str, tuple[tuple, zipfile.ZipInfo, dict]] = {}
        for m in members:
            if Path(m.filename).name.startswith(".") or "__MACOSX" in m.filename:
                result.skipped.append((m.filename, "a hidden or system file"))
                continue
            if not m.filename.endswith(".ipynb"):
                result.skipped.append((m.filename, "not a notebook"))
                continue
            if m.file_size > MAX_NOTEBOOK_BYTES:
                result.skipped.append((m.filename, f"{m.file_size / 2**20:.0f} MB, more than a notebook can be"))
                continue
            info = plugin.collect(m.filename)
            if not info or not re.fullmatch(r"[\w][\w.@+-]*", info["student_id"] or ""):
                result.skipped.append((m.filename, f"the name does not follow {system}'s pattern"))
                continue
            rank = (int(info.get("version") or 0), m.date_time)
            sid = info["student_id"]
            if sid in best and best[sid][0] >= rank:
                result.skipped.append((m.filename, f"an older notebook of {sid}"))
                continue
            if sid in best:
                result.skipped.append((best[sid][1].filename, f"an older notebook of {sid}"))
            best[sid] = (rank, m, info)
        for sid, (_, m, info) in sorted(best.items()):
            try:
                data = zf.read(m)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a damaged member costs only itself
                result.skipped.append((m.filename, f"unreadable in the zip ({exc})"))
                continue
            folder = Path(into) / sid / assignment
            folder.mkdir(parents=True, exist_ok=True)
            (folder / notebook).write_bytes(data)
            stamp = "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*m.date_time)
            (folder / "timestamp.txt").write_text(stamp + "\n")
            result.written[sid] = folder / notebook
            if info.get("late"):
                result.late.append(sid)
    return result


def run(args) -> int:
    """``aelab collect ZIP --assignment A --into DIR``."""
    try:
        done = collect_zip(
            Path(args.zip),
            args.assignment,
            Path(args.into),
            system=args.lms,
            roster=Path(args.roster) if args.roster else None,
        )
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"aelab collect: {exc}")
        return 2
    print(done.summary())
    print(f"into {args.into}: grade with `aelab grade {args.into} --assignments {args.assignment} --out OUT_DIR`")
    return 0 if done.written else 1
