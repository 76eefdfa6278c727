"""Exploration script behind the issue-17 "aggregate-posterior prior" rows of bench/NOTES.md.

Usage: python bench/explore_aggregate_prior.py --folds 5 --fold K [--digits 9 7 4] [--seed N]
[--cache DIR] [--out FILE.jsonl] [--tag NAME]

``bvae_gmm_ctx`` replaces the N(0, I) prior by a Gaussian mixture (K <= 40) fitted to samples of the
training digits' posteriors. The limit of that idea needs no fitting at all: the *aggregate
posterior* of the training digits, q(z) = 1/N sum_n q(z | x_n), a mixture of N diagonal Gaussians
(the prior that maximises the training ELBO, Hoffman & Johnson 2016; the VampPrior of Tomczak &
Welling 2018 with the training digits as pseudo-inputs). Scored here on the SAME trained
BernoulliVAE as the benchmark's columns (cached by ``bench/explore_floor.py``'s ``train_cached``):

* ``elbo_ctx``, ``gmmsel_ctx``: the benchmark's ``bvae_elbo_ctx`` and ``bvae_gmm_ctx``;
* ``agg{s}_ctx``: -ELBO in bits with the prior 1/N sum_n N(mu_n, (s sigma_n)^2) minus the coder's
  bits, s = 1 (the aggregate posterior itself), s = 0.5 (narrowed) and s = 1.5, 2 (widened);
* ``aggsel_ctx``: of the GMMs and the aggregate posteriors, the prior with the best held-out
  log-likelihood (fitted on 80 % of the training digits, scored on samples of the other 20 %'s
  posteriors; no label, no test digit).

Rows and scores are saved like ``bench/explore_floor.py``'s (summarise with
``bench/explore_floor_summary.py DIR --pattern '..._agg.npz'``).
"""

from __future__ import annotations

import argparse
import math
import time

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import explore_floor as ef
import numpy as np
import torch

from aelab.data import binarize
from aelab.scores import _loc_scale, negative_elbo

LN2 = math.log(2)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@torch.no_grad()
def prior_scores(model, xtr: torch.Tensor, xte: torch.Tensor, n_samples: int, seed: int):
    """{name: -ELBO nats (N,)} for the aggregate-posterior priors, and {name: held-out log-lik per latent}
    (the aggregate posterior of 80 % of the training digits, scored on samples of the other 20 %'s posteriors)."""
    gen = torch.Generator().manual_seed(seed)
    loc_tr, sc_tr = _loc_scale(model.encode(xtr))
    n = loc_tr.shape[0]
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    fit_i, hold_i = perm[: int(0.8 * n)], perm[int(0.8 * n) :]
    z_hold = (loc_tr[hold_i] + sc_tr[hold_i] * torch.randn((4, len(hold_i), loc_tr.shape[1]), generator=gen)).reshape(
        -1, loc_tr.shape[1]
    )
    # a draw the scores do not use, kept so that the test digits' samples (and so every figure of
    # bench/NOTES.md, session 2026-12-07) stay those of the logged runs
    torch.randn((4, len(fit_i), loc_tr.shape[1]), generator=gen)
    held = {}
    for s in (0.5, 1.0, 1.5, 2.0):
        held[f"agg{s:g}"] = float(bench.log_mixture_of_diagonals(z_hold, loc_tr[fit_i], s * sc_tr[fit_i]).mean())
    loc, scale = _loc_scale(model.encode(xte))
    eps = torch.randn((n_samples, *loc.shape), generator=gen)
    z = loc + scale * eps  # (S, N, d)
    recon = torch.stack([-model.log_likelihood(xte, model.decode(z[i])) for i in range(n_samples)]).double()
    log_q = (-0.5 * eps**2 - torch.log(scale) - HALF_LOG_2PI).sum(-1).double()
    out = {}
    flat = z.reshape(-1, z.shape[-1])
    for s in (0.5, 1.0, 1.5, 2.0):
        log_p = bench.log_mixture_of_diagonals(flat, loc_tr, s * sc_tr).reshape(z.shape[:2])
        out[f"agg{s:g}"] = (recon + log_q - log_p).mean(0)
    return out, held


def main() -> None:
    a = ef.fold_arguments(argparse.ArgumentParser(), "/tmp/aelab17/agg.jsonl", "_agg").parse_args()
    for where, test, xte, ctx, digit, split, model, secs in ef.fold_models(a):
        y = split.test_labels.numpy()
        xtr = binarize(split.train_images)
        t0 = time.perf_counter()
        nelbo = negative_elbo(model, xte, n_samples=bench.N_SAMPLES, seed=a.seed).double()
        gmm, gmm_held = ef.gmm_prior_scores(model, xtr, xte, (1, 10, 20, 40), bench.N_SAMPLES, a.seed)
        agg, held = prior_scores(model, xtr, xte, bench.N_SAMPLES, a.seed)
        held.update({f"gmm{k}": v for k, v in gmm_held.items()})  # the mixtures' held-out fits, same split
        scores = {"elbo_ctx": nelbo / LN2 - ctx, "gmmsel_ctx": gmm[max(gmm_held, key=gmm_held.get)] / LN2 - ctx}
        for name, v in agg.items():
            scores[f"{name}_ctx"] = v / LN2 - ctx
        best = max(held, key=held.get)
        scores["aggsel_ctx"] = scores[f"{best}_ctx"] if best.startswith("agg") else scores["gmmsel_ctx"]
        row = {
            "where": where, "digit": digit, "seed": a.seed, "tag": a.tag, "train_s": secs,
            "score_s": time.perf_counter() - t0, "heldout_loglik": held, "selected": best,
        }  # fmt: skip
        header = (
            f"[{where} digit {digit} seed {a.seed}] train {secs:.0f} s, score {row['score_s']:.0f} s; held-out "
            "log-lik per latent " + ", ".join(f"{k} {v:.2f}" for k, v in held.items()) + f" -> {best}"
        )
        ef.finish_run(a, where, digit, y, test.labels.numpy(), scores, row, header)


if __name__ == "__main__":
    main()
