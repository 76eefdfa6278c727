"""Summarise bench/explore_floor.py's saved scores over folds: per held-out digit and score, the AUROC
of every fold, their mean ± std, and the paired bootstrap 95 % interval of the mean difference from a
reference score (each fold's test digits resampled within class, the same resample for both scores).

Usage: python bench/explore_floor_summary.py DIR [--ref elbo_ctx] [--pattern 'ss0_f*of5_n4000_d{digit}_s0.npz']
[--digits 9 7 4] [--scores ...]
"""

from __future__ import annotations

import argparse
import glob
import math
import re
from functools import cache
from pathlib import Path

import auroc as bench  # bench/auroc.py
import numpy as np
from sklearn.metrics import roc_auc_score


@cache
def _split(ss: int, folds: int, fold: int, n: int):
    from explore_floor import load_split

    return load_split(ss, folds, fold, n)


@cache
def _adaptive(ss: int, folds: int, fold: int, n: int, t: int):
    import explore_floor as ef

    from aelab.data import binarize

    return ef.adaptive_bits(binarize(_split(ss, folds, fold, n)[1].images), ef.TEMPLATES[t]).numpy()


def derived(path: str, run: dict) -> dict:
    """Scores computed from a saved run and its fold's digits (complexity variants need no model)."""
    import explore_floor as ef

    from aelab.data import binarize
    from aelab.scores import _TEMPLATE

    m = re.search(r"ss(\d+)_f(\d+)of(\d+)_n(\d+)_d(\d)_s", Path(path).name)
    ss, fold, folds, n, digit = (int(g) for g in m.groups())
    train, test = _split(ss, folds, fold, n)
    bits = run["elbo"] / math.log(2)
    out = {"recon_minus_kl_ctx": run["recon_ctx"] - run["kl"] / math.log(2)}
    ctx10 = bits - run["elbo_ctx"]
    for t in ef.TEMPLATES:
        out[f"elbo_ctx{t}"] = bits - _adaptive(ss, folds, fold, n, t)
        if "gmmsel_ctx" in run:
            out[f"gmmsel_ctx{t}"] = run["gmmsel_ctx"] + ctx10 - _adaptive(ss, folds, fold, n, t)
    xtr = binarize(train.images[train.labels != digit])
    xte = binarize(test.images)
    for strength in (2.0, 16.0):
        prior = ef.static_prior_counts(xtr, _TEMPLATE, strength)
        out[f"elbo_ctxmix{strength:g}"] = bits - ef.adaptive_bits(xte, _TEMPLATE, prior).numpy()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", type=Path)
    p.add_argument("--ref", default="elbo_ctx")
    p.add_argument("--pattern", default="ss0_f*of5_n4000_d{digit}_s0.npz")
    p.add_argument("--digits", type=int, nargs="+", default=[9, 7, 4])
    p.add_argument("--scores", nargs="+", default=None)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--derived", action="store_true", help="add complexity variants computed from the fold's digits")
    a = p.parse_args()
    for digit in a.digits:
        files = sorted(glob.glob(str(a.dir / a.pattern.format(digit=digit))))
        if not files:
            continue
        runs = [dict(np.load(f)) for f in files]
        if a.derived:
            for f, r in zip(files, runs):
                r.update(derived(f, r))
        names = a.scores or [k for k in runs[0] if k not in ("y", "strata")]
        names = [n for n in names if all(n in r for r in runs)]
        print(f"digit {digit}: {len(runs)} folds ({', '.join(Path(f).name for f in files)})")
        print(f"{'score':>20} {'mean':>6} {'std':>6}  per fold{'':<28} delta vs {a.ref} [95 % CI]")
        weights = [bench._resample_weights(r["strata"], a.resamples, i) for i, r in enumerate(runs)]
        ref_reps = np.mean([bench._weighted_auroc(r["y"], r[a.ref], w) for r, w in zip(runs, weights)], axis=0)
        ref_mean = np.mean([roc_auc_score(r["y"], r[a.ref]) for r in runs])
        for n in names:
            aucs = np.array([roc_auc_score(r["y"], r[n]) for r in runs])
            reps = np.mean([bench._weighted_auroc(r["y"], r[n], w) for r, w in zip(runs, weights)], axis=0)
            lo, hi = np.percentile(reps - ref_reps, [2.5, 97.5])
            folds = " ".join(f"{v:.3f}" for v in aucs)
            print(
                f"{n:>20} {aucs.mean():.3f} {aucs.std():.3f}  {folds:<36} "
                f"{aucs.mean() - ref_mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            )
        print()


if __name__ == "__main__":
    main()
