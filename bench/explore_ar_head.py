"""Exploration script behind the issue-17 "autoregressive decoder head" rows of bench/NOTES.md.

Usage: python bench/explore_ar_head.py --folds 5 --fold K [--digits 9 7 4] [--channels 16] [--seed N]
[--cache DIR] [--out FILE.jsonl] [--tag NAME]

A PixelVAE-style hybrid (Gulrajani et al. 2017) at bounded cost: the benchmark's BernoulliVAE (same
net, steps, shifts and EMA, ``bench/auroc.py``) whose decoder logits are corrected per pixel by a small
head that also sees the 12 already-coded neighbours of the pixel (the causal 5x5 template, JBIG-like):

    logits_ij = decoder(z)_ij + MLP([x_{causal nbrs of ij}, decoder(z)_ij])      (1x1 convolutions)

so p(x|z) = prod_ij p(x_ij | x_<ij, z) is still a normalised distribution over binary images and
-log p(x|z) is exact (teacher forcing, one pass, no sampling). The idea: local stroke statistics
(edge thickness, jaggedness) are coded by the head, the latent code keeps the global shape, and the
per-digit noise that a factorised decoder spends bits on leaves the anomaly score.

Per held-out digit it trains (or loads from ``--cache``) the plain BernoulliVAE and the AR-head VAE
on the same fold and scores the 1,000 test digits: ``elbo_ctx`` / ``gmmsel_ctx`` (the benchmark's
``bvae_elbo_ctx`` / ``bvae_gmm_ctx``), ``ar_elbo_ctx`` / ``ar_gmmsel_ctx`` (the same from the AR-head
model), ``ar_elbo`` (no complexity correction) and ``ens_ctx`` (the mean of the two models' -ELBO
bits minus the coder's bits). The label-free criterion (mean -ELBO of the normal test digits, nats)
is printed for both models. Rows and scores are saved like ``bench/explore_floor.py``'s, so
``bench/explore_floor_summary.py DIR --pattern '..._ar.npz'`` summarises them over folds.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import explore_floor as ef
import torch
import torch.nn.functional as F
from torch import nn

from aelab.data import binarize, shift_digits
from aelab.models import BernoulliVAE
from aelab.scores import _loc_scale, negative_elbo

LN2 = math.log(2)
CAUSAL = ef.TEMPLATES[12]  # rows -2 and -1 (5 columns each), then the two pixels to the left


def causal_neighbours(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) binary images -> (N, 28, 28, 12): each pixel's 12 causal neighbours (0 outside)."""
    pad = F.pad(x[:, 0], (2, 2, 2, 0))  # left, right, top, bottom
    return torch.stack([pad[:, 2 + dr : 30 + dr, 2 + dc : 30 + dc] for dr, dc in CAUSAL], dim=-1)


class ARHeadVAE(BernoulliVAE):
    """BernoulliVAE + a per-pixel autoregressive head on the 12 causal neighbours (see the module text)."""

    def __init__(self, channels: int = 16, **kw):
        super().__init__(**kw)
        self.head = nn.Sequential(nn.Linear(13, channels), nn.ReLU(), nn.Linear(channels, 1))  # per pixel
        nn.init.zeros_(self.head[2].weight)  # starts as the plain VAE
        nn.init.zeros_(self.head[2].bias)

    def ar_logits(self, dec_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Decoder logits (..., 1, 28, 28) and the images x (N, 1, 28, 28) -> corrected logits."""
        lead = dec_logits.shape[:-3]
        d = dec_logits.reshape(-1, 28, 28, 1)
        nb = causal_neighbours(x)
        if d.shape[0] != x.shape[0]:  # several z samples per image: (S, N, ...) flattened
            nb = nb.expand(d.shape[0] // x.shape[0], *nb.shape).reshape(-1, *nb.shape[1:])
        out = d + self.head(torch.cat([nb, d], dim=-1))
        return out.reshape(*lead, 1, 28, 28)

    def loss(self, x):
        if self.training and self.max_shift:
            x = shift_digits(self._check_input(x), self.max_shift)
        mu, log_var = self.encode_params(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        logits = self.ar_logits(self.decode_logits(z), x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp())).sum(1).mean()
        return {"loss": recon + self.beta * kl, "loss_recon": recon.detach(), "loss_kl": kl.detach()}


@torch.no_grad()
def ar_terms(model: ARHeadVAE, x: torch.Tensor, n_samples: int, seed: int):
    """(recon nats (S, N), log q (S, N), z (S, N, d)) with S samples of q(z|x)."""
    gen = torch.Generator().manual_seed(seed)
    loc, scale = _loc_scale(model.encode(x))
    eps = torch.randn((n_samples, *loc.shape), generator=gen)
    z = loc + scale * eps
    logits = model.ar_logits(model.decode_logits(z.reshape(-1, z.shape[-1])), x)
    target = x.expand(n_samples, *x.shape).reshape(-1, 1, 28, 28)
    recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
    log_q = (-0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
    return recon.reshape(n_samples, -1).double(), log_q.double(), z


@torch.no_grad()
def ar_scores(model: ARHeadVAE, xtr: torch.Tensor, xte: torch.Tensor, n_samples: int, seed: int):
    """-ELBO (nats) under N(0, I) and under a Gaussian mixture fitted to the training digits' latents
    (K chosen by held-out log-likelihood, as ``bvae_gmm_ctx``): (nelbo (N,), gmm_nelbo (N,), K)."""
    recon, log_q, z = ar_terms(model, xte, n_samples, seed)
    log_n01 = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1).double()
    nelbo = (recon + log_q - log_n01).mean(0)
    gmm, held = ef.gmm_prior_scores(
        model,
        xtr,
        xte,
        (1, 10, 20, 40),
        n_samples,
        seed,
        decode_logits=lambda zz: model.ar_logits(model.decode_logits(zz), xte),
    )
    best = max(held, key=held.get)
    return nelbo, gmm[best], best


def train_ar(split, seed: int, channels: int, path: Path):
    return ef.train_like_benchmark(lambda: ARHeadVAE(channels, **bench.BVAE_CONFIG), split, seed, path)


def main() -> None:
    p = ef.fold_arguments(argparse.ArgumentParser(), "/tmp/aelab17/ar.jsonl", "_ar")
    p.add_argument("--channels", type=int, default=16)
    a = p.parse_args()
    for where, test, xte, ctx, digit, split, plain, secs_p in ef.fold_models(a):
        y = split.test_labels.numpy()
        xtr = binarize(split.train_images)
        ar, secs_a = train_ar(split, a.seed, a.channels, a.cache / f"ar{a.channels}_{where}_d{digit}_s{a.seed}.pt")
        t0 = time.perf_counter()
        nelbo = negative_elbo(plain, xte, n_samples=bench.N_SAMPLES, seed=a.seed).double()
        gmm, held = ef.gmm_prior_scores(plain, xtr, xte, (1, 10, 20, 40), bench.N_SAMPLES, a.seed)
        ar_nelbo, ar_gmm, ar_k = ar_scores(ar, xtr, xte, bench.N_SAMPLES, a.seed)
        scores = {
            "elbo_ctx": nelbo / LN2 - ctx,
            "gmmsel_ctx": gmm[max(held, key=held.get)] / LN2 - ctx,
            "ar_elbo": ar_nelbo,
            "ar_elbo_ctx": ar_nelbo / LN2 - ctx,
            "ar_gmmsel_ctx": ar_gmm / LN2 - ctx,
            "ens_ctx": (nelbo + ar_nelbo) / 2 / LN2 - ctx,
            "plain_minus_ar": (nelbo - ar_nelbo) / LN2,  # the AR-head model as the "background" of a ratio
        }
        row = {
            "where": where, "digit": digit, "seed": a.seed, "tag": a.tag, "channels": a.channels,
            "train_s": {"plain": secs_p, "ar": secs_a}, "score_s": time.perf_counter() - t0,
            "heldout_nelbo_nats": {"plain": float(nelbo[y == 0].mean()), "ar": float(ar_nelbo[y == 0].mean())},
            "gmm_selected_k": {"plain": max(held, key=held.get), "ar": ar_k},
        }  # fmt: skip
        header = (
            f"[{where} digit {digit} seed {a.seed}] train plain {secs_p:.0f} s, AR head {secs_a:.0f} s; held-out "
            f"normal -ELBO plain {row['heldout_nelbo_nats']['plain']:.1f}, AR {row['heldout_nelbo_nats']['ar']:.1f} nats"
        )
        ef.finish_run(a, where, digit, y, test.labels.numpy(), scores, row, header)


if __name__ == "__main__":
    main()
