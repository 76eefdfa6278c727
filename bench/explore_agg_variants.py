"""Exploration script behind the issue-17 "aggregate prior, scoring variants" rows of bench/NOTES.md.

Usage: python bench/explore_agg_variants.py --folds 5 --fold K [--digits 9] [--seed N] [--cache DIR]
[--out FILE.jsonl]

Scores the SAME cached BernoulliVAE as ``bench/explore_aggregate_prior.py`` (no training when the model is
in ``--cache``) with variants of the benchmark's ``bvae_agg_ctx`` that change only how a test digit is
scored (nothing fitted, no label used):

* ``agg_ctx``: the benchmark's score (16 samples of q(z|x), the ELBO: mean over samples);
* ``agg64_ctx``: the same with 64 samples (less Monte Carlo noise in each digit's score);
* ``aggiw_ctx``: the importance-weighted bound (log-mean-exp over the 16 samples instead of the mean:
  a tighter estimate of -log p(x) under the aggregate prior);
* ``aggshift_ctx``: the aggregate posterior of the training digits AND their nine one-pixel shifts (the
  distribution the model was trained on, ``max_shift=1``) as the prior.

With ``--mog K`` also a second model, the same net trained with a learned K-component mixture prior
(``explore_floor.MoGVAE``, cached like the first): ``mog_ctx`` (its own -ELBO minus coder bits) and
``mogagg_ctx`` (the aggregate posterior of ITS codes as the prior); the row then holds both models'
held-out normal -ELBO under the aggregate prior (the label-free criterion).
"""

from __future__ import annotations

import argparse
import math
import time

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import explore_floor as ef
import torch

from aelab.data import binarize
from aelab.scores import _loc_scale

LN2 = math.log(2)


def _per_sample_nelbo(samples, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(S, N) -log p(x|z) + log q(z|x) - log p(z) per sample of :func:`auroc._test_samples`, with the prior
    1/M sum_m N(loc_m, diag scale_m^2); its mean over S is the -ELBO."""
    z, rest = samples
    return torch.stack([rest[s] - bench.log_mixture_of_diagonals(z[s], loc, scale) for s in range(len(z))])


@torch.no_grad()
def variant_scores(model, xtr: torch.Tensor, xte: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """-log p(x) estimates in nats (N,) float64 under the aggregate posterior of the training digits."""
    samples = bench._test_samples(model, xte, seed, bench.N_SAMPLES)
    per = _per_sample_nelbo(samples, *_loc_scale(model.encode(xtr)))
    shifted = torch.cat([torch.roll(xtr, (dy, dx), dims=(2, 3)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return {
        "agg": per.mean(0),
        "aggiw": -(torch.logsumexp(-per, 0) - math.log(len(per))),
        "agg64": bench._aggregate_prior_nelbo(model, xtr, xte, seed + 1000, 64),
        # every shifted copy (9 x the training digits: past the benchmark's AGG_MAX_DIGITS cap, so not its function)
        "aggshift": _per_sample_nelbo(samples, *_loc_scale(model.encode(shifted))).mean(0),
    }


def main() -> None:
    p = ef.fold_arguments(argparse.ArgumentParser(), "/tmp/aelab17/aggvar.jsonl", "_aggvar")
    p.add_argument("--mog", type=int, default=None, help="also a VAE trained with a K-component mixture prior")
    a = p.parse_args()
    for where, _test, xte, ctx, digit, split, model, secs in ef.fold_models(a):
        y = split.test_labels.numpy()
        xtr = binarize(split.train_images)
        t0 = time.perf_counter()
        nats = variant_scores(model, xtr, xte, a.seed)
        scores = {f"{k}_ctx": v / LN2 - ctx for k, v in nats.items()}
        row = {"where": where, "digit": digit, "seed": a.seed, "tag": a.tag, "train_s": secs}
        if a.mog:
            normal = torch.from_numpy(y == 0)
            mog, row["mog_train_s"] = ef.train_cached(
                split, a.seed, a.cache / f"mog{a.mog}_{where}_d{digit}_s{a.seed}.pt", mog=a.mog
            )
            mog.eval()
            mog_agg = bench._aggregate_prior_nelbo(mog, xtr, xte, a.seed, bench.N_SAMPLES)
            scores["mog_ctx"] = ef.mog_nelbo(mog, xte, bench.N_SAMPLES, a.seed) / LN2 - ctx
            scores["mogagg_ctx"] = mog_agg / LN2 - ctx
            row["heldout_agg_nelbo"] = {
                "plain": float(nats["agg"][normal].mean()),
                "mog": float(mog_agg[normal].mean()),
            }
        row["score_s"] = time.perf_counter() - t0
        header = f"[{where} digit {digit} seed {a.seed}] train {secs:.0f} s, score {row['score_s']:.0f} s"
        ef.finish_run(a, where, digit, y, split.test_labels.numpy(), scores, row, header)


if __name__ == "__main__":
    main()
