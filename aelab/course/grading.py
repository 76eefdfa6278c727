"""``aelab grade`` (a class) and ``aelab check`` (one notebook, self-study).

Both run nbgrader's autograde with the course's graders, so the points are exactly what nbgrader
gives. Robustness:

- every (student, assignment) is autograded in its own subprocess with a wall-clock limit, on top of
  nbgrader's per-cell timeout, so a submission that loops forever costs its own grade only;
- a missing submission, a file that is not a notebook, or an autograde that crashes is recorded
  (score 0, with the reason) and the others go on;
- deleted or edited locked cells are restored by nbgrader (``OverwriteCells``, with
  ``add_missing_cells``);
- each job gets a private copy of the ``autograder`` package (first on ``PYTHONPATH``); after the
  job the copy is compared with the original, and a submission that changed it scores 0 and is
  flagged. Notebooks whose own cells mention the autograder are flagged for a human look.
- grading runs in parallel worker processes, each with its own scratch course directory and SQLite
  gradebook, so no two processes ever write the same database.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .build import ASSIGNMENTS
from .config import nbgrader_config
from .registry import course_root

CHECK_CALL = re.compile(r"""autograder\.check\(\s*["']([\w.]+)["']""")
# Code in a learner's own cells that reaches for the graders or patches libraries in place. The
# release never mentions the autograder, so a submission that does is zeroed and flagged for review.
TAMPERING = re.compile(
    r"\bautograder\b|\bsys\.modules\b|\bimportlib\b|\b__builtins__\b|\bbuiltins\b"
    r"|\b__import__\b|(?<![.\w])exec\s*\(|(?<![.\w])eval\s*\("
    r"|\b(?:torch|np|numpy|F|nn|sklearn)(?:\.\w+)+\s*=(?!=)|\bsetattr\(\s*(?:torch|np|numpy|F|nn)\b"
)


# ------------------------------------------------------------------------------------- data records
@dataclass
class CellResult:
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
    status: str = "graded"  # graded | missing | not a notebook | timed out | error | tampered
    detail: str = ""
    flags: list[str] = field(default_factory=list)
    cells: list[CellResult] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""


# -------------------------------------------------------------------------------- course structure
def grade_cells(source_nb: Path) -> list[dict]:
    """The graded cells of a source notebook: grade_id, points, exercise (from its checks)."""
    nb = nbformat.read(source_nb, as_version=4)
    solutions = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            solutions += re.findall(r"^def (\w+)\(", cell.source, flags=re.M)
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        checks = CHECK_CALL.findall(cell.source)
        exercise = (
            checks[0].split(".")[1] if checks else next((f for f in solutions if f in cell.source), meta["grade_id"])
        )
        out.append(
            dict(grade_id=meta["grade_id"], points=float(meta.get("points", 0)), exercise=exercise, checks=checks)
        )
    return out


def notebook_name(root: Path, assignment: str) -> str:
    names = sorted(p.stem for p in (root / "source" / assignment).glob("*.ipynb"))
    if len(names) != 1:
        raise RuntimeError(f"assignment {assignment} must have exactly one notebook, found {names}")
    return names[0]


def _config(course: Path, timeout: int):
    return nbgrader_config(course, timeout=timeout)


def prepare_course(root: Path, course: Path, assignments, timeout: int) -> None:
    """A course directory with the assignments generated (the gradebook knows their cells)."""
    from nbgrader.apps import NbGraderAPI

    from ._env import tools_on_path

    tools_on_path()
    course.mkdir(parents=True, exist_ok=True)
    api = NbGraderAPI(config=_config(course, timeout))
    for a in assignments:
        shutil.copytree(
            root / "source" / a,
            course / "source" / a,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
        result = api.generate_assignment(a, force=True, create=True)
        if not result.get("success"):
            raise RuntimeError(f"generate_assignment failed for {a}:\n{result.get('log')}")


# --------------------------------------------------------------------------------- one grading job
def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _pristine_autograder() -> Path:
    """The course's graders (a folder of the course directory; aelab never imports them)."""
    return course_root() / "autograder"


def _check_submission_file(path: Path) -> str | None:
    """None when ``path`` is a readable notebook, else the reason it is not."""
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is "not a notebook"
        return f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def _strip_comments(source: str) -> str:
    import io
    import tokenize

    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in (tokenize.COMMENT, tokenize.STRING)
        ]
        return " ".join(t.string for t in tokens).replace(" . ", ".").replace(" .", ".").replace(". ", ".")
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source


def tampering(path: Path) -> list[str]:
    """What in the learner's own (unlocked) code cells reaches for the graders or patches libraries."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        for m in TAMPERING.finditer(_strip_comments(cell.source)):
            found.append(m.group(0).strip())
    return sorted(set(found))


def _autograde_job(course: Path, student: str, assignment: str, timeout: int) -> dict:
    """Run in a subprocess: autograde one submission, generate its feedback, report as JSON."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=_config(course, timeout))
    result = api.autograde(assignment, student, force=True, create=True)
    if not result.get("success"):
        log = (result.get("log") or "") + "\n" + (result.get("error") or "")
        return {"status": "error", "detail": _last_error(log), "log": log[-5000:]}
    feedback = api.generate_feedback(assignment, student, force=True)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "aelab") as gb:
        sub = gb.find_submission(assignment, student)
        cells = [
            dict(grade_id=g.name, score=float(g.score), max_score=float(g.max_score))
            for nb in sub.notebooks
            for g in nb.grades
            if g.max_score
        ]
        score, max_score = float(sub.score), float(sub.max_score)
    messages = _failure_messages(course / "autograded" / student / assignment)
    for c in cells:
        c["message"] = messages.get(c["grade_id"], "")
    html = sorted(str(p) for p in (course / "feedback" / student / assignment).glob("*.html"))
    return {
        "status": "graded",
        "score": score,
        "max_score": max_score,
        "cells": cells,
        "feedback": html,
        "feedback_ok": bool(feedback.get("success")),
    }


def _last_error(log: str) -> str:
    """The most telling line of a failure log: the last exception line, else the last error line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    exceptions = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line)]
    errors = [line for line in lines if "Error" in line and "see the the above traceback" not in line]
    return (exceptions or errors or lines or ["autograde failed"])[-1][:300]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failure_messages(folder: Path) -> dict[str, str]:
    """grade_id -> the error a graded cell raised, from the autograded notebook."""
    out: dict[str, str] = {}
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("grade") or cell.cell_type != "code":
                continue
            for o in cell.get("outputs", []):
                if o.output_type == "error":
                    text = f"{o.ename}: {o.evalue}".strip()
                    out[meta["grade_id"]] = ANSI.sub("", text)[:500]
    return out


def _run_job(
    root: Path,
    course: Path,
    student: str,
    assignment: str,
    notebook: Path | None,
    timeout: int,
    job_timeout: int,
    max_score: float,
) -> Outcome:
    start = time.perf_counter()
    outcome = Outcome(student, assignment, 0.0, max_score)
    name = notebook_name(root, assignment)
    if notebook is None:
        outcome.status, outcome.detail = "missing", f"no {assignment}/{name}.ipynb submitted"
        return outcome
    reason = _check_submission_file(notebook)
    if reason:
        outcome.status, outcome.detail = "not a notebook", reason
        return outcome
    suspicious = tampering(notebook)
    if suspicious:
        outcome.flags = [f"learner code touches the graders or patches libraries: {', '.join(suspicious)[:80]}"]
    target = course / "submitted" / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(notebook, target / f"{name}.ipynb")
    with tempfile.TemporaryDirectory(prefix="aelab-job-") as tmp:
        tmp = Path(tmp)
        pristine = _pristine_autograder()
        shutil.copytree(pristine, tmp / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
        before = _tree_hash(tmp / "autograder")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tmp)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.setdefault("AELAB_OFFLINE", "1")
        env["AELAB_CHECKPOINTS"] = str(course / "checkpoints")
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        env.pop("AELAB_FAST", None)  # nbgrader sets NBGRADER_EXECUTION=autograde: fast mode
        env.setdefault("OMP_NUM_THREADS", "1")  # parallel jobs share the cores: one torch thread each
        cmd = [sys.executable, "-m", "aelab.course.grading", "_job", str(course), student, assignment, str(timeout)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=job_timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            outcome.status = "timed out"
            outcome.detail = f"grading took longer than {job_timeout} s; the submission scores 0"
            outcome.seconds = time.perf_counter() - start
            _kill_kernels_of(course)
            return outcome
        tampered = _tree_hash(tmp / "autograder") != before
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        outcome.status = "error"
        outcome.detail = _last_error(proc.stderr or proc.stdout)
    else:
        data = json.loads(lines[-1])
        outcome.status = data["status"]
        outcome.detail = data.get("detail", "")
        outcome.log = data.get("log", "")
        if data["status"] == "graded":
            outcome.score, outcome.max_score = data["score"], data["max_score"]
            outcome.feedback = data["feedback"]
            outcome.cells = [
                CellResult(c["grade_id"], "", c["score"], c["max_score"], c["message"]) for c in data["cells"]
            ]
    if tampered:
        outcome.status, outcome.score = "tampered", 0.0
        outcome.detail = "the submission changed the graders' files; it scores 0 (look at it)"
    elif suspicious and outcome.status == "graded":
        outcome.status, outcome.score = "tampered", 0.0
        outcome.detail = "scored 0 for review: the learner's code reaches for the graders or patches libraries"
    outcome.seconds = time.perf_counter() - start
    return outcome


def _kill_kernels_of(course: Path) -> None:
    """Best effort: stop kernels left behind by a job that was killed for running too long."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if "ipykernel_launcher" in cmd and str(course) in cmd:
            proc.kill()


# -------------------------------------------------------------------------------------- the class
def find_submissions(submitted: Path, assignments) -> tuple[list[str], dict[tuple[str, str], Path | None]]:
    """Students (folders of ``submitted``) and, per (student, assignment), the notebook or None."""
    if not submitted.is_dir():
        raise FileNotFoundError(f"no folder {submitted}")
    students = sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
    found: dict[tuple[str, str], Path | None] = {}
    for s in students:
        for a in assignments:
            folder = submitted / s / a
            nbs = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
            found[s, a] = nbs[0] if nbs else None
    return students, found


def grade_class(
    submitted: Path,
    out: Path,
    *,
    assignments=None,
    workers: int = 2,
    timeout: int = 60,
    job_timeout: int = 900,
    log=print,
) -> list[Outcome]:
    """Autograde every submission under ``submitted``; write feedback and grades.csv under ``out``."""
    root = course_root()
    assignments = list(assignments or ASSIGNMENTS)
    students, found = find_submissions(Path(submitted), assignments)
    if not students:
        raise ValueError(f"no student folders in {submitted} (expected <student>/<assignment>/<notebook>.ipynb)")
    out = Path(out)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    template = work / "template"
    prepare_course(root, template, assignments, timeout)
    max_scores = _max_scores(root, assignments)
    workers = max(1, min(workers, len(students) * len(assignments)))
    courses = []
    for i in range(workers):
        course = work / f"worker-{i}"
        shutil.copytree(template, course)
        courses.append(course)
    free = list(courses)
    lock = threading.Lock()

    def job(key):
        student, assignment = key
        with lock:
            course = free.pop()
        try:
            outcome = _run_job(
                root, course, student, assignment, found[key], timeout, job_timeout, max_scores[assignment]
            )
        finally:
            with lock:
                free.append(course)
        log(
            f"  {student:<20} {assignment:<26} {outcome.score:>5g}/{outcome.max_score:<5g} "
            f"{outcome.status} ({outcome.seconds:.0f} s)"
        )
        return outcome

    keys = [(s, a) for s in students for a in assignments]
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(job, keys))
    _collect_feedback(outcomes, out)
    write_grades(outcomes, out)
    return outcomes


def _max_scores(root: Path, assignments) -> dict[str, float]:
    out = {}
    for a in assignments:
        nb = root / "source" / a / f"{notebook_name(root, a)}.ipynb"
        out[a] = sum(c["points"] for c in grade_cells(nb))
    return out


def _collect_feedback(outcomes: list[Outcome], out: Path) -> None:
    for o in outcomes:
        copied = []
        for html in o.feedback:
            target = out / "feedback" / o.student / o.assignment / Path(html).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(html, target)
            copied.append(str(target))
        o.feedback = copied


def write_grades(outcomes: list[Outcome], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "grades.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", "score", "max_score"])
        for o in outcomes:
            writer.writerow([o.student, o.assignment, f"{o.score:g}", f"{o.max_score:g}"])
    (out / "report.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    return path


def format_table(outcomes: list[Outcome]) -> str:
    rows = [("student", "assignment", "score", "status", "note")]
    for o in outcomes:
        note = "; ".join([o.detail] + o.flags) if (o.detail or o.flags) else ""
        rows.append((o.student, o.assignment, f"{o.score:g}/{o.max_score:g}", o.status, note[:90]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + ("  " + r[4] if r[4] else "") for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ one notebook (self)
def assignment_of(path: Path, root: Path) -> str:
    """Which assignment a notebook belongs to: by its folder, its name, or its nbgrader cell ids."""
    for a in ASSIGNMENTS:
        if a in path.parts or path.stem == a:
            return a
    try:
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(path, as_version=4).cells}
    except Exception:  # noqa: BLE001
        ids = set()
    for a in ASSIGNMENTS:
        src = root / "source" / a / f"{notebook_name(root, a)}.ipynb"
        if {c["grade_id"] for c in grade_cells(src)} <= ids:
            return a
    raise ValueError(f"cannot tell which assignment {path} is; name it like one of {', '.join(ASSIGNMENTS)}")


def check_notebook(path: Path, *, timeout: int = 60, job_timeout: int = 900) -> Outcome:
    """Autograde one notebook with the course's graders; the outcome lists every graded cell."""
    root = course_root()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no notebook at {path}")
    assignment = assignment_of(path, root)
    with tempfile.TemporaryDirectory(prefix="aelab-check-") as tmp:
        course = Path(tmp) / "course"
        prepare_course(root, course, [assignment], timeout)
        outcome = _run_job(
            root, course, "self", assignment, path, timeout, job_timeout, _max_scores(root, [assignment])[assignment]
        )
    src = root / "source" / assignment / f"{notebook_name(root, assignment)}.ipynb"
    exercise_of = {c["grade_id"]: c["exercise"] for c in grade_cells(src)}
    for cell in outcome.cells:
        cell.exercise = exercise_of.get(cell.grade_id, cell.grade_id)
    return outcome


def format_check(outcome: Outcome) -> str:
    lines = [f"{outcome.assignment}: {outcome.score:g} of {outcome.max_score:g} points ({outcome.status})"]
    if outcome.status != "graded":
        lines.append(f"  {outcome.detail}")
        return "\n".join(lines)
    by_exercise: dict[str, list[CellResult]] = {}
    for cell in outcome.cells:
        by_exercise.setdefault(cell.exercise, []).append(cell)
    for exercise, cells in by_exercise.items():
        got = sum(c.score for c in cells)
        total = sum(c.max_score for c in cells)
        mark = "passed" if got == total else "to fix"
        lines.append(f"\n{exercise}: {got:g}/{total:g} — {mark}")
        for c in cells:
            if c.score < c.max_score:
                msg = c.message or "this test failed"
                lines.append(f"  - {c.grade_id}: {msg}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- CLI
def run(args) -> int:
    if getattr(args, "notebook", None) is not None:
        outcome = check_notebook(Path(args.notebook), timeout=args.timeout, job_timeout=args.job_timeout)
        print(format_check(outcome))
        return 0 if outcome.status == "graded" else 1
    start = time.perf_counter()
    print(f"aelab grade: {args.submitted} -> {args.out}")
    outcomes = grade_class(
        Path(args.submitted),
        Path(args.out),
        assignments=args.assignments,
        workers=args.workers,
        timeout=args.timeout,
        job_timeout=args.job_timeout,
    )
    print()
    print(format_table(outcomes))
    print(f"\nwrote {Path(args.out) / 'grades.csv'} and feedback/ in {time.perf_counter() - start:.0f} s")
    return 0


def _main_job(argv: list[str]) -> int:
    course, student, assignment, timeout = argv
    result = _autograde_job(Path(course), student, assignment, int(timeout))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_job":
        sys.exit(_main_job(sys.argv[2:]))
    sys.exit(2)
