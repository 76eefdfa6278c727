"""Speed of the class report and the similarity of answers for one assignment's submissions.

    .venv/bin/python bench/report_speed.py                  # 200 submissions of lab 03
    .venv/bin/python bench/report_speed.py --submissions 50 --assignment 03_mnist_outlier_lab

What ``aelab grade`` does after grading (``aelab.course.grading``): ``similarity.compare`` over every
pair of submissions per exercise (copydetect fingerprints), ``similarity.csv``, then
``report.html`` (matplotlib figures embedded). No notebook is run: the submissions are the release
with each solution cell answered by one of the graders' catalogue answers (tests/test_grader_lab0N.py,
right and wrong ones, so the answers differ as a class's do), each copy with its own renamed
variables, comments and blank lines; the grading outcomes are drawn at random (seeded) per test.
Prints the wall time of each step; the target is under 60 s on 2 cores for 200 submissions.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import random
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the graders' catalogues of answers

from aelab.course import registry, similarity  # noqa: E402
from aelab.course.grading import CellOutcome, Outcome  # noqa: E402
from aelab.course.report import write_report  # noqa: E402

MESSAGES = [
    "returned shape (4, 3); expected one value per sample, shape (4,)",
    "the losses differ from the expected ones by up to 3.2 nats; expected within 1e-4",
    "returned a threshold above which 12 % of the losses lie; expected 1 %",
    "changed its argument losses in place; expected losses unchanged",
]


def catalogue(lab: str) -> dict[str, list[str]]:
    """``{exercise: [source of an answer, ...]}`` from the lab's test module (right and wrong answers)."""
    module = importlib.import_module(f"test_grader_{lab}")
    pool: dict[str, list[str]] = {}
    wrong = getattr(module, "WRONG", {})
    for exercise, fns in getattr(module, "RIGHT", {}).items():
        extra = wrong.get(exercise, [])
        extra = (
            list(extra.values()) if isinstance(extra, dict) else [f[0] if isinstance(f, tuple) else f for f in extra]
        )
        for fn in [*fns, *extra]:
            try:
                code = textwrap.dedent(inspect.getsource(fn))
            except (OSError, TypeError):
                continue
            if code.lstrip().startswith("def "):
                pool.setdefault(exercise, []).append(re.sub(r"^def \w+\(", f"def {exercise}(", code, count=1))
    return pool


def disguise(code: str, rng: random.Random) -> str:
    """The same answer with its own local names, comments and blank lines (as a student writes it)."""
    names = sorted(set(re.findall(r"^\s+(\w+)\s*=", code, flags=re.M)))
    for name in names:
        if rng.random() < 0.7:
            code = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(100)}", code)
    lines = []
    for line in code.splitlines():
        lines.append(line)
        if line.strip() and rng.random() < 0.2:
            indent = re.match(r"\s*", line).group(0) or "    "
            lines.append(f"{indent}# step {rng.randrange(1000)}")
        if rng.random() < 0.1:
            lines.append("")
    return "\n".join(lines) + "\n"


def make_class(assignment: str, n: int, seed: int):
    """(submissions {student: notebook bytes}, outcomes, release bytes) for ``n`` students."""
    a = registry.assignment(assignment)
    release_path = ROOT / "release" / a.name / a.notebook
    release = nbformat.read(release_path, as_version=4)
    pool = catalogue(a.lab)
    rng = random.Random(seed)
    graded = [
        (c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"].get("points", 0)))
        for c in release.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]
    max_score = sum(p for _, p in graded)
    submissions, outcomes = {}, []
    for i in range(n):
        student = f"student{i:03d}"
        nb = nbformat.from_dict(nbformat.reads(nbformat.writes(release), as_version=4))
        for cell in nb.cells:
            for ex in a.exercises:
                if (
                    cell.cell_type == "code"
                    and re.search(rf"^def {ex.name}\(", cell.source, re.M)
                    and pool.get(ex.name)
                ):
                    cell.source = disguise(rng.choice(pool[ex.name]), rng)
        submissions[student] = nbformat.writes(nb).encode()
        cells = []
        for gid, points in graded:
            ok = rng.random() < 0.75
            cells.append(
                CellOutcome(
                    gid, gid.removeprefix("test_"), points if ok else 0.0, points, "" if ok else rng.choice(MESSAGES)
                )
            )
        score = sum(c.score for c in cells)
        outcomes.append(
            Outcome(student, a.name, score, max_score, cells=cells, seconds=rng.uniform(15, 40), sandbox="root")
        )
    return submissions, outcomes, release_path.read_bytes()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--submissions", type=int, default=200)
    p.add_argument("--assignment", default="03_mnist_outlier_lab")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    submissions, outcomes, release = make_class(args.assignment, args.submissions, args.seed)
    exercises = [ex.name for ex in registry.assignment(args.assignment).exercises]
    t1 = time.perf_counter()
    pairs = similarity.compare(submissions, release, args.assignment, exercises)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aelab-report-bench-") as out:
        similarity.write_similarity(pairs, Path(out))
        t3 = time.perf_counter()
        page = write_report(outcomes, Path(out), pairs)
        t4 = time.perf_counter()
        size = page.stat().st_size
    flagged = sum(1 for q in pairs if q.score >= similarity.THRESHOLD)
    print(f"{args.submissions} submissions of {args.assignment}, {len(exercises)} exercises (made in {t1 - t0:.1f} s)")
    print(
        f"similarity: {len(pairs):,} pairs compared in {t2 - t1:.1f} s; {flagged:,} at or above {similarity.THRESHOLD}"
    )
    print(f"similarity.csv written in {t3 - t2:.2f} s; report.html ({size / 1024:.0f} KiB) in {t4 - t3:.1f} s")
    print(f"report and similarity together: {t4 - t1:.1f} s (target: under 60 s on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
