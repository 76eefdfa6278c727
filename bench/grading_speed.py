"""Benchmark: seconds to grade one full submission (all four notebooks) and a class of N.

    .venv/bin/python bench/grading_speed.py                 # 1 student, then a class of 30
    .venv/bin/python bench/grading_speed.py --class-size 4  # a smaller class
    .venv/bin/python bench/grading_speed.py --dask          # also through a loopback Dask cluster

Every student submits the source notebooks (right answers), so every cell runs. Prints the
figures; asserts nothing (speed targets live here, not in timed tests).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aelab.course import checkpoints, grading, registry


def make_class(folder: Path, n: int, assignments) -> None:
    root = registry.course_root()
    for i in range(n):
        for a in assignments:
            target = folder / f"student{i:02d}" / a
            target.mkdir(parents=True, exist_ok=True)
            for nb in (root / "source" / a).glob("*.ipynb"):
                shutil.copy(nb, target / nb.name)


@contextlib.contextmanager
def loopback_cluster(workers: int):
    """A ``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="aelab-dask-") as tmp:
        info = Path(tmp) / "scheduler.json"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        procs = [
            subprocess.Popen(
                [
                    bin_dir / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    info,
                ],
                **quiet,
            )
        ]
        try:
            while not (info.exists() and info.stat().st_size):
                time.sleep(0.2)
            address = json.loads(info.read_text())["address"]
            for i in range(workers):
                procs.append(
                    subprocess.Popen(
                        [
                            bin_dir / "dask",
                            "worker",
                            address,
                            "--nthreads",
                            "1",
                            "--no-dashboard",
                            "--memory-limit",
                            "0",
                            "--name",
                            f"w{i}",
                        ],
                        **quiet,
                    )
                )
            from distributed import Client

            with Client(address) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def time_class(n: int, workers: int, assignments, scheduler: str | None = None) -> tuple[float, list]:
    with tempfile.TemporaryDirectory(prefix="aelab-bench-") as tmp:
        tmp = Path(tmp)
        make_class(tmp / "submitted", n, assignments)
        start = time.perf_counter()
        outcomes = grading.grade_class(
            tmp / "submitted",
            tmp / "out",
            assignments=assignments,
            workers=workers,
            scheduler=scheduler,
            log=lambda *_: None,
        )
        return time.perf_counter() - start, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--dask", action="store_true", help="also grade through a loopback Dask cluster")
    parser.add_argument(
        "--dask-class-size", type=int, default=None, help="the class graded on Dask (default: --class-size)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--assignments", nargs="*", default=list(registry.names()))
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, workers: {args.workers}, assignments: {', '.join(args.assignments)}")
    start = time.perf_counter()
    made = []
    for a in args.assignments:  # the course's trained weights: made once per lesson version and machine
        source = registry.assignment(a).source_path(registry.course_root()).read_bytes()
        folder, note = checkpoints.ensure(a, source)
        made += [a] if note else []
    print(
        f"the course's weights for grading: {time.perf_counter() - start:.1f} s "
        f"({'made now for ' + ', '.join(made) if made else 'already made by aelab build'})"
    )
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
    if args.dask:
        with loopback_cluster(args.workers) as address:
            for n in dict.fromkeys([1, args.dask_class_size or args.class_size]):
                seconds, outcomes = time_class(n, args.workers, args.assignments, scheduler=address)
                full = sum(o.score == o.max_score for o in outcomes)
                print(
                    f"Dask, {args.workers} loopback workers, class of {n}: {seconds:.1f} s in all; "
                    f"{full}/{len(outcomes)} notebooks at full marks"
                )


if __name__ == "__main__":
    main()
