"""The instructor's steps: release, collect, autograde, feedback, grades (nbgrader's exchange)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import time
from pathlib import Path

from .common import ClassError

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "autograder.check")


def resolve_course_dir(course_dir=None) -> Path:
    d = Path(course_dir or os.environ.get("AELAB_CLASS_COURSE_DIR") or os.getcwd()).resolve()
    if not (d / "nbgrader_config.py").is_file():
        raise ClassError(f"{d} is not a course directory (no nbgrader_config.py): pass --course-dir")
    return d


def load_config(course_dir: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()


def _api(course_dir: Path, config=None):
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=config if config is not None else load_config(course_dir))


def _ok(result: dict, what: str) -> dict:
    if not result or not result.get("success"):
        raise ClassError(f"{what} failed:\n{(result or {}).get('error') or ''}\n{(result or {}).get('log') or ''}")
    return result


def find_leaks(folder: Path, source_folder: Path | None = None) -> list[str]:
    """Files under ``folder`` holding a solution or hidden-test marker, an autograder call, or a
    line of a source notebook's solution/hidden-test block."""
    import nbformat

    secret_lines: set[str] = set()
    for nb_path in sorted(Path(source_folder).glob("*.ipynb")) if source_folder else []:
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            for _, block in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", cell.source, flags=re.S):
                secret_lines |= {
                    ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 12 and not ln.strip().startswith("#")
                }
    problems = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits = [m for m in LEAK_MARKERS if m in text]
        if path.suffix == ".ipynb" and secret_lines:
            body = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
            hits += [f"solution line {ln!r}" for ln in sorted(secret_lines) if ln in body][:3]
        if hits:
            problems.append(f"{path}: {', '.join(hits)}")
    return problems


def release(course_dir: Path, assignment: str, *, force: bool = False, log=print) -> Path:
    """generate_assignment, check the student version for leaks, release it to the exchange and
    check the exchange's copy again. Returns the outbound folder."""
    config = load_config(course_dir)
    if force:
        config.ExchangeReleaseAssignment.force = True
    api = _api(course_dir, config)
    _ok(api.generate_assignment(assignment, force=True, create=True), f"generate_assignment {assignment}")
    source = course_dir / "source" / assignment
    leaks = find_leaks(course_dir / "release" / assignment, source)
    if leaks:
        raise ClassError("the student version leaks solutions or hidden tests; not released:\n" + "\n".join(leaks))
    _ok(api.release_assignment(assignment), f"release_assignment {assignment}")
    outbound = Path(config.Exchange.root) / config.CourseDirectory.course_id / "outbound" / assignment
    leaks = find_leaks(outbound, source)
    if leaks:
        shutil.rmtree(outbound, ignore_errors=True)
        raise ClassError("the released copy leaks solutions or hidden tests; withdrawn:\n" + "\n".join(leaks))
    log(f"released {assignment} to {outbound}")
    return outbound


def collect(course_dir: Path, assignment: str, log=print) -> list[str]:
    """nbgrader collect (each student's latest submission; newer ones replace older), then each
    submission's time set from the exchange (:func:`trusted_submission_times`). Returns students."""
    config = load_config(course_dir)
    _ok(_api(course_dir, config).collect(assignment, update=True), f"collect {assignment}")
    students = submitted_students(course_dir, assignment)
    root = config.Exchange.get("root") if "Exchange" in config else None
    if isinstance(root, str) and root:
        trusted_submission_times(
            course_dir, Path(root) / config.CourseDirectory.course_id / "inbound", assignment, students
        )
    log(f"collected {assignment}: {len(students)} students")
    return students


def trusted_submission_times(course_dir: Path, inbound: Path, assignment: str, students) -> None:
    """Rewrite ``submitted/<student>/<assignment>/timestamp.txt`` with a time the student cannot forge.

    nbgrader's ``timestamp.txt`` is written by the student's own ``nbgrader submit``, so a student can
    hand in late with an early time in it. The kernel's change time (ctime) of the files in their
    inbound folders cannot be set back by them: the time used is the latest ctime (following links,
    so a notebook linked to a file edited later counts as edited then) in the inbound folders whose
    timestamp.txt is the one collected, or in all of that student's folders if none is."""
    import datetime as dt

    for student in students:
        collected = course_dir / "submitted" / student / assignment / "timestamp.txt"
        claimed = collected.read_text().strip() if collected.is_file() else None
        folders = [p for p in inbound.glob(f"{glob.escape(student)}+{glob.escape(assignment)}+*") if p.is_dir()]
        chosen = [p for p in folders if _read(p / "timestamp.txt") == claimed] or folders
        times = [q.stat().st_ctime for p in chosen for q in [p, *p.rglob("*")] if q.exists()]
        if times:
            moment = dt.datetime.fromtimestamp(max(times), dt.UTC)
            collected.write_text(moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course_dir / "submitted").glob(f"*/{assignment}") if p.is_dir())


def autograde(
    course_dir: Path,
    assignment: str,
    *,
    workers: int = 1,
    students=None,
    scheduler: str | None = None,
    allow_unsandboxed: bool = False,
    deadlines: Path | None = None,
    export=None,
    roster: Path | None = None,
    export_dir: Path | None = None,
    log=print,
) -> dict:
    """Grade every collected submission of ``assignment`` into the course's gradebook.

    ``deadlines``: a TOML of due dates, late penalty and extensions (:mod:`aelab.course.deadlines`),
    set in the gradebook and applied by nbgrader's autograde (an assignment the file does not name
    keeps its own due date); ``export``: ``"canvas,moodle"`` writes ``grades-<system>.csv`` of the
    whole gradebook into ``export_dir`` (default: the course directory), with ``roster``'s LMS ids.

    Each submission is one job of the grading engine (:mod:`aelab.course.engine`): its notebook
    runs in the sandbox, the course's checks run outside it; jobs run on ``workers`` local
    processes or on a Dask cluster (``scheduler``). Then this one process records every result
    with nbgrader's own autograde, execution off (:mod:`aelab.course.record`): the only writer of
    the gradebook, which no student code ever reaches. A job that fails is recorded with its
    reason (the cells that did not pass score 0) and the others go on. Returns
    ``{student: JobResult}``.
    """
    from .. import lms
    from ..deadlines import read_deadlines
    from ..engine import JobSpec
    from ..grading import sandbox_mode
    from ..jobs import run_jobs
    from ..record import record

    course_dir = Path(course_dir)
    try:  # every option is checked before anything runs
        systems = lms.parse_systems(export)
        lms.read_roster(roster)
        due = read_deadlines(deadlines)
    except (ValueError, FileNotFoundError) as exc:
        raise ClassError(str(exc)) from None
    students = list(students or submitted_students(course_dir, assignment))
    if not students:
        raise ClassError(f"no collected submissions of {assignment} under {course_dir / 'submitted'}")
    try:
        mode = sandbox_mode(allow_unsandboxed=allow_unsandboxed)
    except RuntimeError as exc:
        raise ClassError(str(exc)) from None
    t0 = time.perf_counter()
    sources = sorted((course_dir / "source" / assignment).glob("*.ipynb"))
    if len(sources) != 1:
        raise ClassError(f"{assignment} must have exactly one source notebook, found {len(sources)}")
    source = sources[0]
    specs, missing = [], []
    for s in students:
        nbs = sorted((course_dir / "submitted" / s / assignment).glob("*.ipynb"))
        path = next((p for p in nbs if p.name == source.name), nbs[0] if nbs else None)
        if path is None:
            missing.append(s)
            continue
        specs.append((s, JobSpec(path.read_bytes(), assignment, source.read_bytes(), sandbox=mode, label=s)))

    def done(student, result):
        log(
            f"graded {assignment}/{student}: {result.score:g}/{result.max_score:g} {result.status} "
            f"({result.seconds:.1f} s){': ' + '; '.join(result.reasons) if result.reasons else ''}"
        )

    results = run_jobs(specs, workers=max(1, int(workers)), scheduler=scheduler, on_result=done)
    graded = {(s, assignment): r.notebook for s, r in results.items() if r.notebook}
    folders = {(s, assignment): course_dir / "submitted" / s / assignment for s, _ in graded}
    config = load_config(course_dir)
    db_url = config.CourseDirectory.get("db_url") or f"sqlite:///{course_dir / 'gradebook.db'}"
    if due is not None:
        due.apply(db_url, list(graded), clear_others=False)
        due.configure(config)
    failures = record(course_dir, graded, {assignment: source.stem}, config=config, folders=folders)
    if failures:
        raise ClassError(
            "nbgrader could not record "
            + ", ".join(sorted(s for s, _ in failures))
            + ":\n"
            + "\n".join(f"--- {s}\n{e}" for (s, _), e in sorted(failures.items()))
        )
    log(
        f"autograded {len(results)} submissions of {assignment} ({mode} sandbox, {workers} worker(s)"
        f"{', Dask ' + scheduler if scheduler else ''}) in {time.perf_counter() - t0:.1f} s"
        + (f"; no notebook from {', '.join(missing)}" if missing else "")
    )
    for path in lms.export_gradebook(db_url, Path(export_dir or course_dir), systems, roster) if systems else []:
        log(f"wrote {path}")
    return results


def feedback(course_dir: Path, assignment: str, log=print) -> None:
    """generate_feedback, then release_feedback to the exchange (each student fetches their own)."""
    api = _api(course_dir)
    _ok(api.generate_feedback(assignment, force=True), f"generate_feedback {assignment}")
    _ok(api.release_feedback(assignment), f"release_feedback {assignment}")
    log(f"feedback of {assignment} released")


def grades(course_dir: Path, assignment: str | None = None) -> list[dict]:
    """One row per (assignment, student) in the gradebook: score, max_score, submission timestamp."""
    from nbgrader.api import Gradebook, MissingEntry

    config = load_config(course_dir)
    db_url = config.CourseDirectory.get("db_url") or f"sqlite:///{course_dir / 'gradebook.db'}"
    rows = []
    with Gradebook(db_url) as gb:
        for a in gb.assignments:
            if assignment and a.name != assignment:
                continue
            for st in gb.students:
                try:
                    sub = gb.find_submission(a.name, st.id)
                except MissingEntry:
                    continue
                rows.append(
                    dict(
                        assignment=a.name,
                        student=st.id,
                        score=sub.score,
                        max_score=sub.max_score,
                        timestamp=str(sub.timestamp or ""),
                    )
                )
    return rows
