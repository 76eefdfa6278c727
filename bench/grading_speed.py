"""Benchmark: seconds to grade one full submission (all four notebooks) and a class of N.

    .venv/bin/python bench/grading_speed.py                 # 1 student, then a class of 20
    .venv/bin/python bench/grading_speed.py --class-size 4  # a smaller class

Every student submits the source notebooks (right answers), so every cell runs. Prints the
figures; asserts nothing (speed targets live here, not in timed tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from aelab.course import grading, registry


def make_class(folder: Path, n: int, assignments) -> None:
    root = registry.course_root()
    for i in range(n):
        for a in assignments:
            target = folder / f"student{i:02d}" / a
            target.mkdir(parents=True, exist_ok=True)
            for nb in (root / "source" / a).glob("*.ipynb"):
                shutil.copy(nb, target / nb.name)


def time_class(n: int, workers: int, assignments) -> tuple[float, list]:
    with tempfile.TemporaryDirectory(prefix="aelab-bench-") as tmp:
        tmp = Path(tmp)
        make_class(tmp / "submitted", n, assignments)
        start = time.perf_counter()
        outcomes = grading.grade_class(
            tmp / "submitted", tmp / "out", assignments=assignments, workers=workers, log=lambda *_: None
        )
        return time.perf_counter() - start, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=20)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--assignments", nargs="*", default=list(registry.names()))
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, workers: {args.workers}, assignments: {', '.join(args.assignments)}")
    seconds, outcomes = time_class(1, 1, args.assignments)
    per_nb = {o.assignment: o.seconds for o in outcomes}
    print(f"one submission, serial: {seconds:.1f} s in all ({', '.join(f'{a}: {s:.1f} s' for a, s in per_nb.items())})")
    assert all(o.score == o.max_score for o in outcomes), [(o.assignment, o.status, o.detail) for o in outcomes]
    if args.workers > 1:
        seconds, _ = time_class(1, args.workers, args.assignments)
        print(f"one submission, {args.workers} workers (its notebooks graded side by side): {seconds:.1f} s")
    if args.class_size > 1:
        seconds, outcomes = time_class(args.class_size, args.workers, args.assignments)
        full = sum(o.score == o.max_score for o in outcomes)
        print(
            f"class of {args.class_size}, {args.workers} workers: {seconds:.1f} s in all, "
            f"{seconds / args.class_size:.1f} s per submission; {full}/{len(outcomes)} notebooks at full marks"
        )


if __name__ == "__main__":
    main()
