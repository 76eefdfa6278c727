"""The instructor's steps: release, collect, autograde, feedback, grades (nbgrader's exchange)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
    """nbgrader collect (each student's latest submission; newer ones replace older). Returns students."""
    _ok(_api(course_dir).collect(assignment, update=True), f"collect {assignment}")
    students = submitted_students(course_dir, assignment)
    log(f"collected {assignment}: {len(students)} students")
    return students


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course_dir / "submitted").glob(f"*/{assignment}") if p.is_dir())


def _autograde_serial(course_dir: Path, assignment: str, students, config=None, log=print) -> dict[str, str]:
    api = _api(course_dir, config)
    failures = {}
    for s in students:
        t0 = time.perf_counter()
        r = api.autograde(assignment, s, force=True, create=True)
        if not r.get("success"):
            failures[s] = (r.get("error") or r.get("log") or "")[-2000:]
        log(f"autograded {assignment}/{s} in {time.perf_counter() - t0:.1f} s{'' if r.get('success') else ' (FAILED)'}")
    return failures


def autograde(course_dir: Path, assignment: str, *, workers: int = 1, students=None, log=print) -> None:
    """Autograde every collected submission of ``assignment`` into the course's gradebook.

    ``workers > 1``: phase 1 splits the students over ``workers`` processes, each in a scratch
    course directory (a copy of source/, gradebook.db and its students' submissions) that only it
    writes, executing the notebooks with nbgrader autograde; phase 2, in this one process, runs
    nbgrader autograde again on the executed notebooks with Execute and ClearOutput disabled (as
    ``--no-execute``), which overwrites the locked cells again and saves every grade into the
    course's gradebook. Only phase 2 writes the real gradebook, and it is a single writer.
    """
    course_dir = Path(course_dir)
    students = list(students or submitted_students(course_dir, assignment))
    if not students:
        raise ClassError(f"no collected submissions of {assignment} under {course_dir / 'submitted'}")
    t0 = time.perf_counter()
    workers = max(1, min(int(workers), len(students)))
    if workers == 1:
        failures = _autograde_serial(course_dir, assignment, students, log=log)
    else:
        failures = _autograde_parallel(course_dir, assignment, students, workers, log=log)
    if failures:
        raise ClassError(
            "autograde failed for "
            + ", ".join(sorted(failures))
            + ":\n"
            + "\n".join(f"--- {s}\n{e}" for s, e in sorted(failures.items()))
        )
    log(
        f"autograded {len(students)} submissions of {assignment} with {workers} worker(s) "
        f"in {time.perf_counter() - t0:.1f} s"
    )


def _autograde_parallel(course_dir: Path, assignment: str, students, workers: int, log=print) -> dict[str, str]:
    config_text = (course_dir / "nbgrader_config.py").read_text()
    scratch = course_dir / ".aelab-parallel" / assignment
    shutil.rmtree(scratch, ignore_errors=True)
    # the gradebook must already hold the assignment (generate_assignment ran at release)
    _api(course_dir).gradebook.find_assignment(assignment)
    procs = []
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for i in range(workers):
        chunk = students[i::workers]
        wdir = scratch / f"worker{i}"
        (wdir / "submitted").mkdir(parents=True)
        shutil.copytree(course_dir / "source" / assignment, wdir / "source" / assignment)
        if (course_dir / "release" / assignment).is_dir():
            shutil.copytree(course_dir / "release" / assignment, wdir / "release" / assignment)
        shutil.copy(course_dir / "gradebook.db", wdir / "gradebook.db")
        for s in chunk:
            shutil.copytree(course_dir / "submitted" / s / assignment, wdir / "submitted" / s / assignment)
        (wdir / "nbgrader_config.py").write_text(
            config_text + "\n# scratch course of one parallel autograde worker\n"
            f"c.CourseDirectory.root = {str(wdir)!r}\n"
            f"c.CourseDirectory.db_url = {'sqlite:///' + str(wdir / 'gradebook.db')!r}\n"
        )
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        log_file = open(wdir / "worker.log", "w")  # noqa: SIM115 - closed when its worker is reaped
        procs.append(
            (
                wdir,
                chunk,
                log_file,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "aelab.course.cli",
                        "class",
                        "autograde",
                        assignment,
                        "--course-dir",
                        str(wdir),
                        "--workers",
                        "1",
                    ],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=str(wdir),
                ),
            )
        )
    failures: dict[str, str] = {}
    executed = scratch / "executed"
    for wdir, chunk, log_file, proc in procs:
        rc = proc.wait()
        log_file.close()
        for s in chunk:
            done = wdir / "autograded" / s / assignment
            if done.is_dir():
                shutil.copytree(done, executed / s / assignment)
            else:
                failures[s] = (
                    f"worker exited {rc}; see {wdir / 'worker.log'}:\n" + (wdir / "worker.log").read_text()[-2000:]
                )
    log(f"phase 1 (execute, {workers} workers) done; phase 2: saving grades into {course_dir / 'gradebook.db'}")
    config = load_config(course_dir)
    config.CourseDirectory.submitted_directory = str(executed.relative_to(course_dir))
    config.Execute.enabled = False
    config.ClearOutput.enabled = False
    graded = [s for s in students if s not in failures]
    failures.update(_autograde_serial(course_dir, assignment, graded, config=config, log=log))
    if not failures:
        shutil.rmtree(course_dir / ".aelab-parallel", ignore_errors=True)
    return failures


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
