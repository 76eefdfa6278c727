"""Exploration script behind the session-4 rows of bench/NOTES.md: regularising BernoulliVAE.

Usage: python bench/explore_regularisation.py [--binarize static|dynamic] [--wd W] [--warmup STEPS]
[--steps N] [--hidden H1 H2] [--latent D] [--ensemble K] [--ema DECAY] [--seed N] [--digits ...] [--tag NAME]

Trains one BernoulliVAE per held-out digit (per-digit 1-pixel shifts, as the benchmark does) and prints,
per digit, the -elbo-ctx AUROC and the mean -ELBO (nats) of the *normal* test digits (a label-free
criterion: how well the model fits normal digits it has not seen). ``--binarize dynamic`` trains on
a fresh Bernoulli draw of the grey pixels every step (scoring stays on the 128-threshold digits).
Other test digits: write a re-split with bench/resplit_mnist.py and set AELAB_DATA.
"""

import argparse
import json
import math
import time

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from aelab.data import binarize, leave_one_digit_split, load_mnist, shift_digits
from aelab.models import BernoulliVAE
from aelab.scores import context_bits, negative_elbo
from aelab.train import fit, seed_everything

p = argparse.ArgumentParser()
p.add_argument("--digits", type=int, nargs="+", default=[9, 7, 1, 3, 8])
p.add_argument("--binarize", choices=("static", "dynamic"), default="static")
p.add_argument("--wd", type=float, default=0.0)
p.add_argument("--warmup", type=int, default=0, help="KL weight rises linearly from 0 to 1 over this many steps")
p.add_argument("--steps", type=int, default=2500)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--hidden", type=int, nargs=2, default=[512, 256])
p.add_argument("--latent", type=int, default=8)
p.add_argument("--shift", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument(
    "--ensemble", type=int, default=1, help="models per digit (seeds seed, seed+1, ...); score = -log of their mixture"
)
p.add_argument("--ema", type=float, default=0.0, help="score with an exponential moving average of the weights (decay)")
p.add_argument("--tag", default="x")
a = p.parse_args()


class ExploreVAE(BernoulliVAE):
    step = 0

    def loss(self, x):
        if not self.training:
            return super().loss(x)
        if a.ema:  # fold the weights of the previous step into the average
            with torch.no_grad():
                if not hasattr(self, "_ema"):
                    self._ema = [p.detach().clone() for p in self.parameters()]
                else:
                    torch._foreach_lerp_(self._ema, [p.detach() for p in self.parameters()], 1 - a.ema)
        if self.max_shift:
            x = shift_digits(x, self.max_shift)
        if a.binarize == "dynamic":
            x = torch.bernoulli(x)
        logits, mu, log_var = self(x)
        recon = (
            torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        )
        kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp())).sum(1).mean()
        w = min(1.0, (self.step + 1) / a.warmup) if a.warmup else 1.0
        self.step += 1
        return {"loss": recon + w * kl, "loss_recon": recon.detach(), "loss_kl": kl.detach()}


torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
tr = load_mnist("train", verbose=False)
te = load_mnist("test", verbose=False, source=tr.source)
xte = binarize(te.images)
ctx = context_bits(xte).numpy()
res = {}
for d in a.digits:
    sp = leave_one_digit_split(tr, d, test=te)
    if a.binarize == "dynamic":
        x = sp.train_images.to(torch.float32).unsqueeze(1) / 255.0
    else:
        x = binarize(sp.train_images)
    y = sp.test_labels.numpy()
    epochs = bench._epochs_for(len(x), a.batch, a.steps)
    t0 = time.perf_counter()
    nes = []
    for k in range(a.ensemble):
        seed = a.seed + k
        seed_everything(seed)
        m = ExploreVAE(latent_dim=a.latent, hidden=tuple(a.hidden), max_shift=a.shift)
        fit(
            m,
            x,
            epochs=epochs,
            batch_size=a.batch,
            lr=a.lr,
            seed=seed,
            progress=False,
            optimizer="adamw" if a.wd else "adam",
            weight_decay=a.wd,
            fused=True,
        )
        if a.ema:
            with torch.no_grad():
                for p_, e in zip(m.parameters(), m._ema):
                    p_.copy_(e)
        m.eval()
        nes.append(negative_elbo(m, xte, n_samples=16, seed=seed).double())  # nats
    t1 = time.perf_counter() - t0
    # -log of the mixture (1/K) sum_k p_k(x), each p_k bounded by its ELBO; in bits
    ne = (-(torch.logsumexp(-torch.stack(nes), 0) - math.log(a.ensemble))).numpy() / math.log(2)
    normal = y == 0
    res[d] = roc_auc_score(y, ne - ctx)
    print(
        f"{a.tag} d{d} elbo-ctx {res[d]:.3f} elbo {roc_auc_score(y, ne):.3f} "
        f"heldout-normal-nelbo {ne[normal].mean() * math.log(2):.1f} train {t1:.0f}s",
        flush=True,
    )
print(a.tag, "mean", round(float(np.mean(list(res.values()))), 4), json.dumps({k: round(v, 3) for k, v in res.items()}))
