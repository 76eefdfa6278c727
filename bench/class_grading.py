"""Autograde a class: N students x the course's assignments, serially and with parallel workers.

    .venv/bin/python bench/class_grading.py                    # 30 students, all assignments, 2 workers
    .venv/bin/python bench/class_grading.py --students 6 --assignments 01_autoencoder_basics

Builds a scratch course directory (source/, generate_assignment, a gradebook), makes N submissions
per assignment from the release (two in three answered with the instructor's solutions, one in
three left untouched), then autogrades it twice from the same starting point: once serially
(`aelab class autograde --workers 1`) and once with `--workers W`; prints wall times and
checks that both gradebooks hold the same score for every (assignment, student).

Parallel grading stays correct because no two processes ever write one SQLite file: each worker
autogrades its share of students in its own scratch course directory with its own copy of
gradebook.db (executing the notebooks), and one process then re-runs nbgrader's autograde on the
executed notebooks with execution disabled, writing every grade into the real gradebook.
Not a test: it takes minutes (about 2 x N x assignments autogrades).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import nbformat

from aelab.course import classroom, registry
from aelab.course.config import config_file

ROOT = Path(__file__).resolve().parent.parent


def answered(release_nb: Path, source_nb: Path):
    """The release with the instructor's solutions put into the solution cells (as a student would)."""
    nb = nbformat.read(release_nb, as_version=4)
    ref = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(source_nb, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in ref:
            cell.source = "\n".join(ln for ln in ref[meta["grade_id"]].splitlines() if "### " not in ln)
    return nb


def make_course(root: Path, assignments, n_students: int) -> None:
    from datetime import datetime

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        config_file(root, course_id="bench", timeout=300, db_url=f"sqlite:///{root}/gradebook.db")
    )
    api = classroom._api(root)
    for a in assignments:
        shutil.copytree(ROOT / "source" / a, root / "source" / a)
        r = api.generate_assignment(a, force=True, create=True)
        assert r["success"], r.get("log")
        for i in range(n_students):
            student = f"s{i:03d}"
            folder = root / "submitted" / student / a
            folder.mkdir(parents=True)
            for rel in sorted((root / "release" / a).glob("*.ipynb")):
                if i % 3 == 2:
                    shutil.copy(rel, folder / rel.name)
                else:
                    nbformat.write(answered(rel, root / "source" / a / rel.name), folder / rel.name)
            (folder / "timestamp.txt").write_text(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z"))


def grade(course: Path, assignments, workers: int) -> tuple[float, dict]:
    t0 = time.perf_counter()
    for a in assignments:
        classroom.autograde(course, a, workers=workers, log=lambda *_: None)
    elapsed = time.perf_counter() - t0
    scores = {(r["assignment"], r["student"]): (r["score"], r["max_score"]) for r in classroom.grades(course)}
    return elapsed, scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--assignments", nargs="*", default=[a for a in registry.names() if (ROOT / "source" / a).is_dir()]
    )
    parser.add_argument("--skip-serial", action="store_true", help="only the parallel run")
    args = parser.parse_args(argv)
    os.environ.setdefault("AELAB_OFFLINE", "1")
    # nbgrader runs alembic and the python3 kernel by name: this environment's first on PATH
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    n_nb = args.students * len(args.assignments)
    print(
        f"class grading benchmark: {args.students} students x {len(args.assignments)} assignments "
        f"({', '.join(args.assignments)}) = {n_nb} submissions, {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="aelab-bench-class-") as tmp:
        template = Path(tmp) / "template"
        t0 = time.perf_counter()
        make_course(template, args.assignments, args.students)
        print(f"  course and submissions made in {time.perf_counter() - t0:.1f} s")
        runs = {}
        for label, workers in (("serial", 1), (f"{args.workers} workers", args.workers)):
            if label == "serial" and args.skip_serial:
                continue
            course = Path(tmp) / label.replace(" ", "-")
            shutil.copytree(template, course)
            (course / "nbgrader_config.py").write_text(
                config_file(course, course_id="bench", timeout=300, db_url=f"sqlite:///{course}/gradebook.db")
            )
            elapsed, scores = grade(course, args.assignments, workers)
            runs[label] = (elapsed, scores)
            print(f"  autograde {label}: {elapsed:.1f} s ({elapsed / n_nb:.2f} s per submission)", flush=True)
    if len(runs) == 2:
        (ts, ss), (tp, sp) = runs.values()
        same = ss == sp
        print(f"  speed-up with {args.workers} workers: {ts / tp:.2f}x; same scores in both gradebooks: {same}")
        full = sum(1 for s, m in ss.values() if s == m)
        print(
            f"  full marks: {full} of {len(ss)} submissions (expected {len(ss) - len(ss) // 3 // len(args.assignments) * len(args.assignments)} "
            "by construction: 2 in 3 answered)"
        )
        if not same:
            diff = {k: (ss.get(k), sp.get(k)) for k in set(ss) | set(sp) if ss.get(k) != sp.get(k)}
            print(f"  DIFFERENT: {diff}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
