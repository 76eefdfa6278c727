"""``aelab grade`` (a class) and ``aelab check`` (one notebook, self-study), on the grading engine.

Both run every notebook through :func:`aelab.course.engine.run_job`: the notebook runs in the
sandbox, the course's checks run here against the learner's functions, and a graded cell's points
come from those checks alone. ``aelab grade`` then writes the results into a private scratch
gradebook with nbgrader's own autograde (execution off, :mod:`aelab.course.record`), makes
nbgrader's feedback (hidden tests removed), and writes ``OUT/grades.csv``, ``OUT/report.json`` and
``OUT/feedback/<student>/<assignment>/``. Nothing of the instructor's (source notebooks, the
gradebook, scratch courses) is left in ``OUT``.

Robustness: a missing submission, a file that is not a notebook, a kernel that dies, loops or
exhausts its limits costs that submission the cells that did not pass, is recorded with its
reason, and never stops the others. Jobs run on local worker processes (``--workers``) or on a
Dask cluster (``--scheduler tcp://HOST:PORT``).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import registry
from .config import cell_timeout
from .engine import JobResult, JobSpec, run_job
from .registry import course_root
from .sandbox import detect

__all__ = [
    "Outcome",
    "CellOutcome",
    "grade_class",
    "check_notebook",
    "find_submissions",
    "merge_outcomes",
    "present_assignments",
    "read_report",
    "format_table",
    "format_check",
    "SandboxUnavailable",
    "run",
]


class SandboxUnavailable(RuntimeError):
    """Grading a class needs a sandbox, and none can be had here."""


@dataclass
class CellOutcome:
    grade_id: str
    exercise: str
    score: float
    max_score: float
    message: str = ""


@dataclass
class Outcome:
    student: str
    assignment: str
    score: float
    max_score: float
    status: str = (
        "graded"  # graded | missing | not a notebook | too large | timeout | kernel died | stopped | engine error
    )
    detail: str = ""
    flags: list[str] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sandbox: str = ""
    log: str = ""
    submitted_at: str = ""  # timestamp.txt, UTC
    seconds_late: float = 0.0
    late_penalty: float = 0.0


def _max_score(root: Path, assignment: str) -> float:
    import nbformat

    nb = nbformat.read(registry.assignment(assignment).source_path(root), as_version=4)
    return float(
        sum(
            c.metadata.get("nbgrader", {}).get("points", 0)
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.get("nbgrader", {}).get("solution")
        )
    )


def _outcome(student: str, result: JobResult) -> Outcome:
    return Outcome(
        student,
        result.assignment,
        result.score,
        result.max_score,
        status=result.status,
        detail="; ".join(result.reasons),
        cells=[CellOutcome(c.grade_id, c.exercise, c.score, c.points, c.message) for c in result.cells],
        seconds=result.seconds,
        sandbox=result.sandbox,
        log=result.log[-3000:],
    )


def present_assignments(submitted: Path) -> list[str]:
    """The course's assignments that some student of ``submitted`` has a folder for, in course order."""
    folders = {p.name for s in Path(submitted).iterdir() if s.is_dir() for p in s.iterdir() if p.is_dir()}
    return [a for a in registry.names() if a in folders]


def find_submissions(
    submitted: Path, assignments, students=None
) -> tuple[list[str], dict[tuple[str, str], Path | None]]:
    """Students (folders of ``submitted``, or only ``students``) and, per (student, assignment), the
    notebook or None."""
    if not submitted.is_dir():
        raise FileNotFoundError(f"no folder {submitted}")
    present = sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
    if students:
        unknown = sorted(set(students) - set(present))
        if unknown:
            raise ValueError(f"--students: no folder in {submitted} for {', '.join(unknown)}")
        present = [s for s in present if s in set(students)]
    students = present
    found: dict[tuple[str, str], Path | None] = {}
    for s in students:
        for a in assignments:
            folder = submitted / s / a
            nbs = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
            found[s, a] = nbs[0] if nbs else None
    return students, found


def sandbox_mode(sandbox: str = "auto", *, allow_unsandboxed: bool = False) -> str:
    """The sandbox a class is graded in; refuse to grade a class without one unless allowed."""
    if sandbox != "auto":
        mode, why = sandbox, "asked for"
    else:
        mode, why = detect()
    if mode == "none" and not allow_unsandboxed:
        raise SandboxUnavailable(
            f"no sandbox for the students' code on this machine ({why}). Install bubblewrap (Debian: "
            "apt-get install bubblewrap) and grade as root, or pass --no-sandbox to grade without one "
            "(a student's code then runs as you, with your files in reach)"
        )
    return mode


def grade_class(
    submitted: Path,
    out: Path,
    *,
    assignments=None,
    students=None,
    export=None,
    roster: Path | None = None,
    deadlines: Path | None = None,
    workers: int = 2,
    timeout: int | None = None,
    job_timeout: int = 900,
    scheduler: str | None = None,
    sandbox: str = "auto",
    allow_unsandboxed: bool = False,
    log=print,
) -> list[Outcome]:
    """Grade the submissions under ``submitted``; write feedback, grades.csv and report.json under ``out``.

    ``assignments``: only these (default: the assignments some student submitted); ``students``: only
    these student folders. Results merge into what ``out`` already holds: a regraded (student,
    assignment) replaces its own rows and feedback, every other row stays. ``export``: LMS gradebook
    files to write too (``"canvas,moodle"``: ``out/grades-canvas.csv``, ..., :mod:`aelab.course.lms`),
    with the ids of the ``roster`` CSV. ``deadlines``: a TOML file of due dates, a late-penalty policy and
    extensions (:mod:`aelab.course.deadlines`), applied by nbgrader's autograde."""
    from . import lms
    from .jobs import run_jobs
    from .record import feedback_html, gradebook_scores, record, scratch_course

    root = course_root()
    systems = lms.parse_systems(export)  # bad names and rosters are refused before anything runs
    lms.read_roster(roster)
    from .deadlines import Deadlines, read_deadlines

    due = read_deadlines(deadlines) or Deadlines()
    mode = sandbox_mode(sandbox, allow_unsandboxed=allow_unsandboxed)
    if assignments:
        unknown = [a for a in assignments if a not in registry.names()]
        if unknown:
            raise ValueError(f"--assignments: {', '.join(unknown)} not in the course ({', '.join(registry.names())})")
    elif Path(submitted).is_dir():
        assignments = present_assignments(Path(submitted))
    students, found = find_submissions(Path(submitted), list(assignments or []), students)
    out = Path(out)
    if not students or not assignments:
        log(
            f"aelab grade: nothing to grade in {submitted}: no <student>/<assignment>/ folders (assignments: "
            f"{', '.join(registry.names())}); {out} holds what it held before, and a report that says so"
        )
        kept = read_report(out)
        write_grades(kept, out)
        from .report import write_report

        write_report(kept, out)
        return []
    assignments = list(assignments)
    out.mkdir(parents=True, exist_ok=True)
    sources = {a: registry.assignment(a).source_path(root).read_bytes() for a in assignments}
    outcomes: dict[tuple[str, str], Outcome] = {}
    for key in found:  # this run's feedback replaces the old, also when there is none now
        shutil.rmtree(out / "feedback" / key[0] / key[1], ignore_errors=True)
    specs = []
    for (student, a), path in found.items():
        if path is None:
            name = registry.assignment(a).notebook
            outcomes[student, a] = Outcome(student, a, 0.0, _max_score(root, a), "missing", f"no {a}/{name} submitted")
            continue
        spec = JobSpec(
            path.read_bytes(),
            a,
            sources[a],
            limits={"wall_seconds": int(job_timeout)},
            sandbox=mode,
            cell_timeout=cell_timeout(timeout),
            label=f"{student}/{a}",
        )
        specs.append(((student, a), spec))

    def done(key, result):
        o = _outcome(key[0], result)
        log(f"  {o.student:<20} {o.assignment:<26} {o.score:>5g}/{o.max_score:<5g} {o.status} ({o.seconds:.0f} s)")

    results = run_jobs(specs, workers=max(1, workers), scheduler=scheduler, on_result=done)
    for key, result in results.items():
        outcomes[key] = _outcome(key[0], result)
    graded = {k: r.notebook for k, r in results.items() if r.notebook}
    if graded:
        course = scratch_course(root, sorted({a for _, a in graded}))
        try:
            from .config import nbgrader_config

            names = {a: Path(registry.assignment(a).notebook).stem for a in assignments}
            due.apply(f"sqlite:///{course / 'gradebook.db'}", list(graded))
            cfg = nbgrader_config(course)
            due.configure(cfg)
            failures = record(course, graded, names, config=cfg, folders={k: found[k].parent for k in graded})
            html = feedback_html(course, [k for k in graded if k not in failures])
            scores = gradebook_scores(course, graded)
            for key, paths in html.items():
                target_dir = out / "feedback" / key[0] / key[1]
                target_dir.mkdir(parents=True, exist_ok=True)
                for p in paths:
                    shutil.copy(p, target_dir / p.name)
                outcomes[key].feedback = [str(target_dir / p.name) for p in paths]
            for key, o in outcomes.items():
                if key in failures:
                    o.flags.append(f"nbgrader could not record it: {failures[key][-300:]}")
                elif key in scores:
                    if abs(scores[key]["score"] - o.score) > 1e-9:
                        o.flags.append(f"nbgrader recorded {scores[key]['score']:g}, the engine gave {o.score:g}")
                    o.score = scores[key]["score"]
                    o.submitted_at = scores[key].get("timestamp", "")
                    o.seconds_late = scores[key].get("seconds_late", 0.0)
                    o.late_penalty = scores[key].get("penalty", 0.0)
                    if o.seconds_late > 0:
                        taken = f"{o.late_penalty:g} points taken" if o.late_penalty else "no penalty"
                        o.flags.append(f"late by {o.seconds_late / 3600:.1f} h: {taken}")
                        o.score = max(0.0, o.score - o.late_penalty)
        finally:
            shutil.rmtree(course, ignore_errors=True)
    ordered = [outcomes[s, a] for s in students for a in assignments]
    merged = merge_outcomes(read_report(out), ordered)
    write_grades(merged, out)
    from . import similarity
    from .report import write_report

    try:  # grades are written: nothing a submission's text does here may cost the class its report
        everyone = find_submissions(Path(submitted), assignments)[1]  # all students, also when regrading some
        present = defaultdict(set)  # assignment -> students whose notebook is here to compare
        for (st, aa), p in everyone.items():
            if p is not None:
                present[aa].add(st)
        # a pair is recomputed when both notebooks are here; the others keep their score (a zip that
        # holds only the regraded student leaves the class's other pairs as they were)
        pairs = [
            p
            for p in similarity.read_similarity(out)
            if p.assignment not in assignments or not {p.student_a, p.student_b} <= present[p.assignment]
        ]
        for a in assignments:
            release = Path(root) / "release" / a / registry.assignment(a).notebook
            release_bytes = release.read_bytes() if release.exists() else b"{}"
            notebooks = {
                st: p.read_bytes()
                for (st, aa), p in everyone.items()
                if aa == a and p is not None and p.stat().st_size <= similarity.MAX_NOTEBOOK_BYTES
            }
            exercises = [ex.name for ex in registry.assignment(a).exercises]
            pairs += similarity.compare(notebooks, release_bytes, a, exercises)
        similarity.write_similarity(pairs, out)
    except Exception as exc:  # noqa: BLE001
        log(f"aelab grade: the similarity of answers could not be computed ({type(exc).__name__}: {exc})")
        pairs = []
    write_report(merged, out, pairs)
    if systems:
        lms.export(merged, out, systems, roster)
    return ordered


def read_report(out: Path) -> list[Outcome]:
    """The outcomes an earlier run wrote to ``out/report.json`` (none when there is no such file)."""
    path = Path(out) / "report.json"
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())
        return [Outcome(**{**r, "cells": [CellOutcome(**c) for c in r.get("cells", [])]}) for r in rows]
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{path} is not a report this tool wrote ({exc}); move it away or grade into another --out folder"
        ) from exc


def merge_outcomes(old: list[Outcome], new: list[Outcome]) -> list[Outcome]:
    """``old`` with every (student, assignment) of ``new`` replaced; sorted by student, then course order."""
    rows = {(o.student, o.assignment): o for o in old}
    rows.update({(o.student, o.assignment): o for o in new})
    order = {a: i for i, a in enumerate(registry.names())}
    return sorted(rows.values(), key=lambda o: (o.student, order.get(o.assignment, len(order)), o.assignment))


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)


def write_grades(outcomes: list[Outcome], out: Path) -> Path:
    """``out/grades.csv`` (``student,assignment,score,max_score``) and ``out/report.json``, each written whole."""
    import io

    out.mkdir(parents=True, exist_ok=True)
    path = out / "grades.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "assignment", "score", "max_score"])
    for o in outcomes:
        writer.writerow([o.student, o.assignment, f"{o.score:g}", f"{o.max_score:g}"])
    _write_atomically(path, buffer.getvalue())
    _write_atomically(out / "report.json", json.dumps([asdict(o) for o in outcomes], indent=1, ensure_ascii=False))
    return path


def format_table(outcomes: list[Outcome]) -> str:
    rows = [("student", "assignment", "score", "status", "note")]
    for o in outcomes:
        note = "; ".join(x for x in [o.detail, *o.flags] if x)
        rows.append((o.student, o.assignment, f"{o.score:g}/{o.max_score:g}", o.status, note[:100]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + ("  " + r[4] if r[4] else "") for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ one notebook (self)
def check_notebook(path: Path, *, timeout: int | None = None, job_timeout: int = 900, sandbox: str = "auto") -> Outcome:
    """Grade one notebook with the course's graders; the outcome lists every graded cell."""
    root = course_root()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no notebook at {path}")
    a = registry.assignment_of(path)
    spec = JobSpec(
        path.read_bytes(),
        a.name,
        a.source_path(root).read_bytes(),
        limits={"wall_seconds": int(job_timeout)},
        sandbox=sandbox,
        cell_timeout=cell_timeout(timeout),
    )
    return _outcome("self", run_job(spec))


def format_check(outcome: Outcome) -> str:
    lines = [f"{outcome.assignment}: {outcome.score:g} of {outcome.max_score:g} points ({outcome.status})"]
    if outcome.sandbox == "none":
        lines.append("  (your notebook ran without a sandbox: fine for your own work; a class is graded in one)")
    if outcome.detail:
        lines.append(f"  {outcome.detail}")
    if outcome.status in ("not a notebook", "too large"):
        return "\n".join(lines)
    by_exercise: dict[str, list[CellOutcome]] = {}
    for cell in outcome.cells:
        by_exercise.setdefault(cell.exercise or cell.grade_id, []).append(cell)
    for exercise, cells in by_exercise.items():
        got = sum(c.score for c in cells)
        total = sum(c.max_score for c in cells)
        mark = "passed" if got == total else "to fix"
        lines.append(f"\n{exercise}: {got:g}/{total:g} — {mark}")
        for c in cells:
            if c.score < c.max_score:
                lines.append(f"  - {c.grade_id}: {c.message or 'this test cell did not run'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- CLI
def run(args) -> int:
    if getattr(args, "notebook", None) is not None:
        from .workspace import WorkspaceError, notebook_to_check

        try:  # an assignment (03, 03_mnist_outlier_lab): the workspace's copy; else a path
            path = notebook_to_check(args.notebook)
            registry.assignment_of(path)  # a clear error for a notebook of no assignment
        except (WorkspaceError, ValueError) as exc:
            print(f"aelab check: {exc}", file=sys.stderr)
            return 2
        print(f"aelab check: {path}", flush=True)
        outcome = check_notebook(path, timeout=args.timeout, job_timeout=args.job_timeout)
        print(format_check(outcome))
        return 0 if outcome.status == "graded" else 1
    import tempfile
    import zipfile

    start = time.perf_counter()
    print(f"aelab grade: {args.submitted} -> {args.out}")
    submitted = Path(args.submitted)
    scratch = None
    if submitted.is_file():
        if not zipfile.is_zipfile(submitted) or len(args.assignments or []) != 1:
            print(
                f"aelab grade: {submitted} is a file; give a folder of <student>/<assignment>/ submissions, or a "
                "Canvas/Moodle zip with its one assignment: --assignments NAME"
            )
            return 2
        from .lms import collect_zip

        scratch = tempfile.TemporaryDirectory(prefix="aelab-collect-")
        try:
            done = collect_zip(
                submitted,
                args.assignments[0],
                Path(scratch.name),
                roster=Path(args.roster) if getattr(args, "roster", None) else None,
            )
        except (ValueError, KeyError) as exc:
            print(f"aelab grade: {exc}")
            return 2
        print(done.summary())
        submitted = Path(scratch.name)
    try:
        outcomes = grade_class(
            submitted,
            Path(args.out),
            assignments=args.assignments,
            students=getattr(args, "students", None),
            export=getattr(args, "export", None),
            deadlines=Path(args.deadlines) if getattr(args, "deadlines", None) else None,
            roster=Path(args.roster) if getattr(args, "roster", None) else None,
            workers=args.workers,
            timeout=args.timeout,
            job_timeout=args.job_timeout,
            scheduler=getattr(args, "scheduler", None),
            allow_unsandboxed=getattr(args, "no_sandbox", False),
        )
    except (SandboxUnavailable, ValueError, FileNotFoundError) as exc:
        print(f"aelab grade: {exc}")
        return 2
    finally:
        if scratch is not None:
            scratch.cleanup()
    print()
    print(format_table(outcomes))
    print(f"\nwrote {Path(args.out) / 'grades.csv'} and feedback/ in {time.perf_counter() - start:.0f} s")
    return 0
