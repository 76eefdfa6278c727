"""Exploration script behind the issue-17 "training budget" rows of bench/NOTES.md.

Usage: python bench/explore_training_budget.py --folds 5 --fold K --digits 9 --steps 3500 [--schedule cosine] [--lr 2e-3]
[--batch 256 --ema 0.998] [--latent 16] [--hidden 512 256] [--out FILE.jsonl]

Could the BernoulliVAE reach the benchmark's quality in fewer optimiser steps (the benchmark's time is
mostly its 5,000 steps)? Trains the benchmark's model (``bench/auroc.py``'s config, EMA, shifts) for
``--steps`` steps, with the constant learning rate (``--lr``) or a cosine decay to zero over the run (stepped
per epoch), and prints the label-free criterion (the -ELBO in nats of the fold's normal test digits)
with the AUROC of ``bvae_elbo_ctx`` and ``bvae_agg_ctx`` for the held-out digit and its 95 % interval
(1,000 within-class resamples of the fold's test digits). One row per run,
appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import explore_floor as ef
import torch
from sklearn.metrics import roc_auc_score

from aelab.data import binarize, leave_one_digit_split
from aelab.env import seed_everything
from aelab.models import BernoulliVAE
from aelab.scores import context_bits, negative_elbo
from aelab.train import fit


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--fold", type=int, required=True)
    p.add_argument("--digits", type=int, nargs="+", default=[9])
    p.add_argument("--steps", type=int, default=bench.BVAE_STEPS)
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--lr", type=float, default=bench.BVAE_LR)
    p.add_argument("--batch", type=int, default=bench.BVAE_BATCH)
    p.add_argument("--ema", type=float, default=bench.BVAE_EMA, help="EMA decay of the weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latent", type=int, default=bench.BVAE_CONFIG["latent_dim"], help="size of z")
    p.add_argument("--hidden", type=int, nargs=2, default=bench.BVAE_CONFIG["hidden"], help="the two hidden widths")
    p.add_argument("--out", type=Path, default=Path("/tmp/aelab17/budget.jsonl"))
    a = p.parse_args()
    train, test = ef.load_split(0, a.folds, a.fold, None)
    xt = binarize(test.images)
    ctx = context_bits(xt)
    for digit in a.digits:
        split = leave_one_digit_split(train, digit, test=test)
        x, y = binarize(split.train_images), (test.labels == digit).numpy()
        epochs = bench._epochs_for(len(x), a.batch, a.steps)

        def cosine(opt, epochs=epochs):
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

        with bench._deterministic(1):
            seed_everything(a.seed)
            model = BernoulliVAE(**{**bench.BVAE_CONFIG, "latent_dim": a.latent, "hidden": tuple(a.hidden)})
            t0 = time.perf_counter()
            fit(model, x, epochs=epochs, batch_size=a.batch, lr=a.lr, seed=a.seed, device="cpu",
                fused=True, ema_decay=a.ema, progress=False,
                scheduler=cosine if a.schedule == "cosine" else None)  # fmt: skip
            secs = time.perf_counter() - t0
            nelbo = negative_elbo(model, xt, n_samples=bench.N_SAMPLES, seed=a.seed).double()
            agg = bench._aggregate_prior_nelbo(model, x, xt, a.seed, bench.N_SAMPLES)
        row = {
            "fold": a.fold,
            "digit": digit,
            "seed": a.seed,
            "steps": a.steps,
            "schedule": a.schedule,
            "lr": a.lr,
            "batch": a.batch,
            "ema": a.ema,
            "latent": a.latent,
            "hidden": list(a.hidden),
            "train_s": round(secs, 1),
            "heldout_nelbo_nats": round(float(nelbo[~y].mean()), 2),
            "heldout_agg_nelbo_nats": round(float(agg[~y].mean()), 2),
        }
        strata = test.labels.numpy()
        for name, score in (("elbo_ctx", nelbo / math.log(2) - ctx), ("agg_ctx", agg / math.log(2) - ctx)):
            lo, hi = ef.bootstrap_ci(y, score.numpy(), strata)[0]
            row[name] = round(float(roc_auc_score(y, score)), 4)
            row[name + "_ci"] = [round(float(lo), 3), round(float(hi), 3)]
        print(json.dumps(row), flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with a.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
