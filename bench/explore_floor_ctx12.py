"""The 12-pixel context coder on all ten digits of a benchmark run saved with ``--save-scores``.

Usage: python bench/explore_floor_ctx12.py SCORES.npz --folds 5 --fold K [--split-seed S]

The run must be on that fold's digits (``bench/resplit_mnist.py --folds 5 --fold K``). For each
held-out digit: the AUROC of ``bvae_elbo_ctx``, ``bvae_gmm_ctx`` and both with the 12-pixel adaptive
coder instead of the 10-pixel one, with the paired bootstrap 95 % interval of the difference from
``bvae_elbo_ctx``.
"""

from __future__ import annotations

import argparse
import math

import auroc as bench  # bench/auroc.py
import explore_floor as ef
import numpy as np
from sklearn.metrics import roc_auc_score

from aelab.data import binarize


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("scores")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--split-seed", type=int, default=0)
    a = p.parse_args()
    d = np.load(a.scores)
    lab = d["test_labels"]
    _, te = ef.load_split(a.split_seed, a.folds, a.fold, None)
    if not (te.labels.numpy() == lab).all():
        raise SystemExit("the saved run is not on this fold's test digits")
    c12 = ef.adaptive_bits(binarize(te.images), ef.TEMPLATES[12]).numpy()
    w = bench._resample_weights(lab, 1000, 0)
    for dig in range(10):
        y = (lab == dig).astype(int)
        e, g, n = d[f"bvae_elbo_ctx/{dig}/0"], d[f"bvae_gmm_ctx/{dig}/0"], d[f"bvae_neg_elbo/{dig}/0"]
        c10 = n / math.log(2) - e
        variants = {"elbo_ctx": e, "gmm_ctx": g, "elbo_ctx12": e + c10 - c12, "gmm_ctx12": g + c10 - c12}
        base = bench._weighted_auroc(y, e, w)
        cells = []
        for k, s in variants.items():
            lo, hi = np.percentile(bench._weighted_auroc(y, s, w) - base, [2.5, 97.5])
            auc = roc_auc_score(y, s)
            cells.append(f"{k} {auc:.3f} ({auc - roc_auc_score(y, e):+.3f} [{lo:+.3f}, {hi:+.3f}])")
        print(dig, " | ".join(cells))


if __name__ == "__main__":
    main()
