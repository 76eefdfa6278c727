"""The per-fold, per-digit AUROC table (with 95 % bootstrap intervals) of saved exploration scores.

Usage: python bench/explore_floor_table.py DIR [--pattern 'ss0_f{fold}of5_n4000_d{digit}_s0_agg.npz']
[--folds 0 1 2 3 4] [--scores elbo_ctx gmmsel_ctx agg1_ctx] [--resamples 1000]

Reads the ``.npz`` files that ``bench/explore_floor.py`` and ``bench/explore_aggregate_prior.py`` save (one
per fold and held-out digit: labels, strata and one score array per method) and prints, for every
fold that has all ten digits, one markdown row per score: AUROC and its 95 % interval per held-out
digit, then the mean over the ten digits with its interval. The intervals resample each fold's test
digits within their class (1,000 times, seed 0, as ``bench/auroc.py``), the SAME resamples for
every digit and score, so the mean's interval is the percentile interval of the replicates' means.
Then, per score, the mean over folds of the ten-digit mean and of each fold's lowest digit.
A score named ``A+B`` is the mean of the saved scores A and B (e.g. ``agg1_ctx+gmmsel_ctx``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import numpy as np
from sklearn.metrics import roc_auc_score


def fold_rows(runs: dict[int, dict], scores, resamples: int):
    """{score: (aurocs (10,), cis (10, 2), mean, mean_ci (2,))} for one fold's ten runs {digit: npz dict}."""
    weights = bench._resample_weights(runs[0]["strata"], resamples, 0)
    out = {}
    for name in scores:
        aurocs, reps = [], []
        for digit in range(10):
            r = runs[digit]
            aurocs.append(roc_auc_score(r["y"], r[name]))
            reps.append(bench._weighted_auroc(r["y"], r[name], weights))
        reps = np.array(reps)  # (10, resamples)
        cis = np.percentile(reps, [2.5, 97.5], axis=1).T
        out[name] = (np.array(aurocs), cis, float(np.mean(aurocs)), np.percentile(reps.mean(0), [2.5, 97.5]))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", type=Path)
    p.add_argument("--pattern", default="ss0_f{fold}of5_n4000_d{digit}_s0_agg.npz")
    p.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--scores", nargs="+", default=["elbo_ctx", "gmmsel_ctx", "agg1_ctx"])
    p.add_argument("--resamples", type=int, default=1000)
    a = p.parse_args()
    header = "| fold | score | " + " | ".join(f"digit {d}" for d in range(10)) + " | mean |"
    print(header)
    print("|" + "---|" * (12 + 1))
    per_score = {name: [] for name in a.scores}
    for fold in a.folds:
        paths = [a.dir / a.pattern.format(fold=fold, digit=d) for d in range(10)]
        if not all(path.exists() for path in paths):
            continue
        runs = {d: dict(np.load(path)) for d, path in enumerate(paths)}
        for run in runs.values():
            for name in (n for n in a.scores if "+" in n):
                run[name] = np.mean([run[part] for part in name.split("+")], axis=0)
        for name, (aurocs, cis, mean, mean_ci) in fold_rows(runs, a.scores, a.resamples).items():
            cells = " | ".join(f"{v:.3f} [{lo:.2f}, {hi:.2f}]" for v, (lo, hi) in zip(aurocs, cis))
            print(f"| {fold} | {name} | {cells} | **{mean:.3f}** [{mean_ci[0]:.3f}, {mean_ci[1]:.3f}] |")
            per_score[name].append((fold, mean, aurocs))
    print()
    for name, rows in per_score.items():
        if not rows:
            continue
        folds = [f for f, _, _ in rows]
        means = " ".join(f"{m:.3f}" for _, m, _ in rows)
        lows = " ".join(f"{au.min():.3f} (digit {int(au.argmin())})" for _, _, au in rows)
        print(
            f"{name}: folds {folds}: mean {np.mean([m for _, m, _ in rows]):.3f} (per fold {means}); "
            f"lowest digit per fold {lows}"
        )


if __name__ == "__main__":
    main()
