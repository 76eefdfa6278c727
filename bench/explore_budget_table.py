"""Tables of the rows ``bench/explore_training_budget.py`` appends to its JSONL file.

Usage: python bench/explore_budget_table.py FILE.jsonl [--latent 4] [--seed 0] [--scores elbo_ctx agg_ctx]

Prints, for the rows of one configuration (latent size, seed; the last row wins when a (fold, digit) was
run twice), a markdown table per score: one line per fold with the AUROC of every held-out digit and its
95 % interval (as the rows carry it), the mean over the digits present, then the mean and the lowest fold
per digit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("jsonl", type=Path)
    p.add_argument("--latent", type=int, default=None, help="only rows with this latent size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scores", nargs="+", default=["elbo_ctx", "agg_ctx"])
    a = p.parse_args()
    rows = {}
    for line in a.jsonl.read_text().splitlines():
        r = json.loads(line)
        if r.get("seed") != a.seed or (a.latent is not None and r.get("latent", 8) != a.latent):
            continue
        rows[r["fold"], r["digit"]] = r
    folds = sorted({f for f, _ in rows})
    digits = sorted({d for _, d in rows})
    for score in a.scores:
        print(f"\n{score} (latent {a.latent or 'any'}, seed {a.seed})\n")
        print("| fold | " + " | ".join(f"digit {d}" for d in digits) + " | mean |")
        print("|---" * (len(digits) + 2) + "|")
        for f in folds:
            cells, vals = [], []
            for d in digits:
                r = rows.get((f, d))
                if r is None:
                    cells.append("-")
                    continue
                lo, hi = r[score + "_ci"]
                cells.append(f"{r[score]:.3f} [{lo:.2f}, {hi:.2f}]")
                vals.append(r[score])
            print(f"| {f} | " + " | ".join(cells) + f" | **{np.mean(vals):.3f}** |")
        per_digit = {d: [rows[f, d][score] for f in folds if (f, d) in rows] for d in digits}
        print(
            "\nper digit, mean / lowest fold: "
            + ", ".join(f"{d}: {np.mean(v):.3f}/{min(v):.3f}" for d, v in per_digit.items())
        )
        complete = [f for f in folds if all((f, d) in rows for d in digits)]
        if complete:
            means = [np.mean([rows[f, d][score] for d in digits]) for f in complete]
            print(
                f"mean over digits, folds {complete}: {np.mean(means):.3f} (per fold "
                + " ".join(f"{m:.3f}" for m in means)
                + ")"
            )


if __name__ == "__main__":
    main()
