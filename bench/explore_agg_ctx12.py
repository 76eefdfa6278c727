"""The 12-pixel context coder with the aggregate-posterior prior, on saved fold scores.

Usage: python bench/explore_agg_ctx12.py [DIR]   (DIR: ``bench/explore_aggregate_prior.py``'s saved
scores, default /tmp/aelab17/agg)

For every (fold, digit) whose ``agg1_ctx`` scores were saved: the AUROC of ``agg1_ctx`` (the
benchmark's ``bvae_agg_ctx``: 10-pixel coder) and of the same -ELBO minus the 12-pixel adaptive
coder's bits instead, with the paired bootstrap 95 % interval of the difference; then the mean per
digit over folds; and how well each adaptive template compresses fold 0's training digits (mean
bits per digit: the label-free reading of a complexity coder). No model is run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import explore_floor as ef
import numpy as np
from sklearn.metrics import roc_auc_score

from aelab.data import binarize
from aelab.scores import context_bits


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/aelab17/agg")
    per_digit: dict[int, list[tuple[float, float]]] = {}
    for fold in range(5):
        _, test = ef.load_split(0, 5, fold, None)
        x = binarize(test.images)
        swap = (context_bits(x) - ef.adaptive_bits(x, ef.TEMPLATES[12])).numpy()  # bits10 - bits12
        for digit in range(10):
            path = folder / f"ss0_f{fold}of5_n4000_d{digit}_s0_agg.npz"
            if not path.exists():
                continue
            saved = np.load(path)
            y = saved["y"]
            if not (y == (test.labels.numpy() == digit)).all():
                raise SystemExit(f"{path} is not on fold {fold}'s test digits")
            agg, agg12 = saved["agg1_ctx"], saved["agg1_ctx"] + swap
            w = bench._resample_weights(saved["strata"], 1000, 0)
            lo, hi = np.percentile(bench._weighted_auroc(y, agg12, w) - bench._weighted_auroc(y, agg, w), [2.5, 97.5])
            pair = (roc_auc_score(y, agg), roc_auc_score(y, agg12))
            per_digit.setdefault(digit, []).append(pair)
            print(f"fold {fold} digit {digit}: agg_ctx {pair[0]:.3f}  agg_ctx12 {pair[1]:.3f}  [{lo:+.3f}, {hi:+.3f}]")
    print("digit  folds  agg_ctx  agg_ctx12  difference")
    for digit, pairs in sorted(per_digit.items()):
        v = np.array(pairs)
        print(f"{digit:5d}  {len(v):5d}  {v[:, 0].mean():.4f}  {v[:, 1].mean():.4f}  {(v[:, 1] - v[:, 0]).mean():+.4f}")
    train_x = binarize(ef.load_split(0, 5, 0, None)[0].images)
    bits = {10: float(context_bits(train_x).mean())}
    bits |= {k: float(ef.adaptive_bits(train_x, ef.TEMPLATES[k]).mean()) for k in (4, 6, 8, 12)}
    bits[16] = float(ef.adaptive_bits(train_x, ef.TEMPLATE16).mean())
    print("mean bits per training digit (fold 0), by template size:", {k: round(v, 1) for k, v in sorted(bits.items())})


if __name__ == "__main__":
    main()
