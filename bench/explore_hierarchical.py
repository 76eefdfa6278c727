"""Exploration script behind the issue-17 "hierarchical VAE" rows of bench/NOTES.md.

Usage: python bench/explore_hierarchical.py --folds 5 --fold K [--digits 9] [--z1 16] [--z2 8] [--seed N]
[--cache DIR] [--out FILE.jsonl] [--tag NAME]

A VAE with two stochastic layers (Burda et al. 2016's two-layer model; Sønderby et al. 2016), at the
benchmark's cost: the same encoder and decoder widths as the benchmark's BernoulliVAE, a 16-d code z1 that
the decoder renders, and an 8-d code z2 on top of it that carries the prior of z1:

    inference   q(z1 | x): x -> 512 -> 256 -> (mu1, log var1)      q(z2 | z1): z1 -> 64 -> (mu2, log var2)
    generation  p(z2) = N(0, I)    p(z1 | z2): z2 -> 64 -> (m1, log v1)    p(x | z1): z1 -> 256 -> 512 -> 784

-ELBO(x) = E_q[-log p(x|z1) + log q(z1|x) + log q(z2|z1) - log p(z1|z2) - log p(z2)] (one sample in
training, 16 in scoring). The idea: a learned, structured prior over the code the decoder renders
(p(z1) = integral of p(z1|z2) p(z2)) instead of N(0, I), trained with the model rather than fitted after it.
Trained like the benchmark's model (5,000 Adam steps of 128, lr 1e-3, fused, weights averaged with decay 0.999,
1-pixel shifts).

Per held-out digit it loads (or trains) the benchmark's BernoulliVAE from ``--cache`` and trains the
two-layer model on the same fold, then scores the 1,000 test digits: ``elbo_ctx`` / ``agg_ctx`` (the
benchmark's ``bvae_elbo_ctx`` / ``bvae_agg_ctx``), ``h_elbo_ctx`` (the two-layer -ELBO in bits minus the coder's
bits) and ``h_agg_ctx`` (the same with p(z2) replaced by the aggregate posterior of the training digits,
1/M sum_m q(z2 | mu1(x_m)), as ``bvae_agg_ctx`` does for z). The label-free criterion (mean -ELBO of the
fold's normal test digits, nats) is printed for both models, with the top layer's mean KL (nats: is z2 used?).
Rows and scores are saved like ``bench/explore_floor.py``'s (``bench/explore_floor_summary.py DIR --pattern
'..._hier.npz'`` summarises them over folds).
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
from aelab.scores import negative_elbo

LN2 = math.log(2)
LOG2PI = math.log(2 * math.pi)


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(log_var)) summed over the last dimension: (..., d) -> (...)."""
    return (-0.5 * (LOG2PI + log_var + (z - mu) ** 2 * torch.exp(-log_var))).sum(-1)


def _gaussian_head(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, 2 * d_out))


class TwoLayerVAE(nn.Module):
    """Bernoulli VAE with two stochastic layers (see the module text). Input (N, 1, 28, 28) in {0, 1}."""

    def __init__(self, z1: int = 16, z2: int = 8, hidden=(512, 256), top_hidden: int = 64, max_shift: int = 1):
        super().__init__()
        h1, h2 = hidden
        self.z1, self.z2, self.max_shift = z1, z2, max_shift
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(784, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, 2 * z1)
        )
        self.q2 = _gaussian_head(z1, top_hidden, z2)  # q(z2 | z1)
        self.p1 = _gaussian_head(z2, top_hidden, z1)  # p(z1 | z2)
        self.decoder = nn.Sequential(
            nn.Linear(z1, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(), nn.Linear(h1, 784), nn.Unflatten(1, (1, 28, 28))
        )

    @staticmethod
    def _split(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = t.chunk(2, dim=-1)
        return mu, log_var.clamp(-12, 8)

    def terms(self, x: torch.Tensor, n_samples: int = 1, gen: torch.Generator | None = None) -> dict:
        """Per-sample terms of the -ELBO in nats, each (S, N): recon, log q(z1|x), log q(z2|z1), log p(z1|z2),
        log p(z2); and the samples z2 (S, N, z2)."""
        mu1, lv1 = self._split(self.encoder(x))
        eps1 = torch.randn((n_samples, *mu1.shape), generator=gen)
        z1 = mu1 + torch.exp(0.5 * lv1) * eps1  # (S, N, z1)
        mu2, lv2 = self._split(self.q2(z1))
        z2 = mu2 + torch.exp(0.5 * lv2) * torch.randn(mu2.shape, generator=gen)
        pm1, plv1 = self._split(self.p1(z2))
        logits = self.decoder(z1.reshape(-1, self.z1)).reshape(n_samples, *x.shape)
        recon = F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").flatten(2).sum(-1)
        return {
            "recon": recon,
            "log_q1": log_normal(z1, mu1, lv1),
            "log_q2": log_normal(z2, mu2, lv2),
            "log_p1": log_normal(z1, pm1, plv1),
            "log_p2": log_normal(z2, torch.zeros_like(z2), torch.zeros_like(z2)),
            "z2": z2,
        }

    def loss(self, x: torch.Tensor) -> dict:
        if self.training and self.max_shift:
            x = shift_digits(x, self.max_shift)
        t = self.terms(x)
        kl1 = (t["log_q1"] - t["log_p1"]).mean()
        kl2 = (t["log_q2"] - t["log_p2"]).mean()
        recon = t["recon"].mean()
        return {"loss": recon + kl1 + kl2, "loss_recon": recon.detach(), "loss_kl": (kl1 + kl2).detach()}


@torch.no_grad()
def hier_scores(model: TwoLayerVAE, xtr: torch.Tensor, xte: torch.Tensor, n_samples: int, seed: int):
    """(-ELBO under p(z2) = N(0, I), the same under the training digits' aggregate q(z2 | mu1(x_m)), the top
    layer's mean KL): nats, (N,) float64 each, and a float."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    parts = {"nelbo": [], "agg": [], "kl2": []}
    mu1_tr, _ = model._split(model.encoder(xtr))
    loc2, lv2 = model._split(model.q2(mu1_tr))  # the aggregate prior's components, (M, z2)
    scale2 = torch.exp(0.5 * lv2)
    for xb in xte.split(500):
        t = model.terms(xb, n_samples, gen)
        rest = (t["recon"] + t["log_q1"] + t["log_q2"] - t["log_p1"]).double()  # (S, n)
        parts["nelbo"].append((rest - t["log_p2"].double()).mean(0))
        s, n, d = t["z2"].shape
        log_agg = bench.log_mixture_of_diagonals(t["z2"].reshape(-1, d), loc2, scale2).reshape(s, n)
        parts["agg"].append((rest - log_agg).mean(0))
        parts["kl2"].append((t["log_q2"] - t["log_p2"]).double().mean(0))
    nelbo, agg, kl2 = (torch.cat(parts[k]) for k in ("nelbo", "agg", "kl2"))
    return nelbo, agg, float(kl2.mean())


def train_hier(split, seed: int, z1: int, z2: int, path: Path):
    hidden, shift = bench.BVAE_CONFIG["hidden"], bench.BVAE_CONFIG["max_shift"]
    return ef.train_like_benchmark(lambda: TwoLayerVAE(z1, z2, hidden, max_shift=shift), split, seed, path)


def main() -> None:
    p = ef.fold_arguments(argparse.ArgumentParser(), "/tmp/aelab17/hier.jsonl", "_hier")
    p.add_argument("--z1", type=int, default=16)
    p.add_argument("--z2", type=int, default=8)
    a = p.parse_args()
    for where, test, xte, ctx, digit, split, plain, secs_p in ef.fold_models(a):
        y = split.test_labels.numpy()
        xtr = binarize(split.train_images)
        hier, secs_h = train_hier(
            split, a.seed, a.z1, a.z2, a.cache / f"hier{a.z1}x{a.z2}_{where}_d{digit}_s{a.seed}.pt"
        )
        t0 = time.perf_counter()
        nelbo = negative_elbo(plain, xte, n_samples=bench.N_SAMPLES, seed=a.seed).double()
        agg = bench._aggregate_prior_nelbo(plain, xtr, xte, a.seed, bench.N_SAMPLES)
        h_nelbo, h_agg, kl2 = hier_scores(hier, xtr, xte, bench.N_SAMPLES, a.seed)
        scores = {
            "elbo_ctx": nelbo / LN2 - ctx,
            "agg_ctx": agg / LN2 - ctx,
            "h_elbo_ctx": h_nelbo / LN2 - ctx,
            "h_agg_ctx": h_agg / LN2 - ctx,
        }
        normal = torch.as_tensor(y == 0)
        row = {
            "where": where, "digit": digit, "seed": a.seed, "tag": a.tag, "z1": a.z1, "z2": a.z2,
            "train_s": {"plain": secs_p, "hier": secs_h}, "score_s": time.perf_counter() - t0,
            "heldout_nelbo_nats": {"plain": float(nelbo[normal].mean()), "hier": float(h_nelbo[normal].mean()),
                                   "plain_agg": float(agg[normal].mean()), "hier_agg": float(h_agg[normal].mean())},
            "top_kl_nats": kl2,
        }  # fmt: skip
        hn = row["heldout_nelbo_nats"]
        header = (
            f"[{where} digit {digit} seed {a.seed}] train plain {secs_p:.0f} s, two-layer {secs_h:.0f} s; held-out "
            f"normal -ELBO plain {hn['plain']:.1f}, two-layer {hn['hier']:.1f} nats (aggregate prior "
            f"{hn['plain_agg']:.1f}, {hn['hier_agg']:.1f}); top-layer KL {kl2:.1f} nats"
        )
        ef.finish_run(a, where, digit, y, test.labels.numpy(), scores, row, header)


if __name__ == "__main__":
    main()
