"""Exploration script behind bench/NOTES.md session-3 rows: augmentation variants of BernoulliVAE.

Usage: python bench/explore_augmentation.py --mode {batchshift,sampleshift,affine} [--shift S --rot DEG
--scale F --seed N --digits ...]. Prints -elbo-ctx AUROC and the mean -ELBO (nats) of the normal test
digits per held-out digit. The sampleshift mode here uses grid_sample; BernoulliVAE uses shift_digits.
"""

import argparse
import json
import math
import time

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from aelab.data import binarize, leave_one_digit_split, load_mnist
from aelab.models import BernoulliVAE
from aelab.scores import context_bits, negative_elbo
from aelab.train import fit, seed_everything

p = argparse.ArgumentParser()
p.add_argument("--digits", type=int, nargs="+", default=[9, 7, 1, 3, 8])
p.add_argument("--mode", default="batchshift")
p.add_argument("--shift", type=float, default=1.0)
p.add_argument("--rot", type=float, default=0.0)
p.add_argument("--scale", type=float, default=0.0)
p.add_argument("--shear", type=float, default=0.0)
p.add_argument("--steps", type=int, default=2500)
p.add_argument("--hidden", type=int, nargs=2, default=[512, 256])
p.add_argument("--latent", type=int, default=8)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--tag", default="x")
a = p.parse_args()


class AugVAE(BernoulliVAE):
    def loss(self, x):
        if self.training:
            if a.mode == "batchshift":
                s = int(a.shift)
                dy, dx = torch.randint(-s, s + 1, (2,)).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            elif a.mode == "sampleshift":
                n = x.shape[0]
                s = int(a.shift)
                t = torch.randint(-s, s + 1, (n, 2)).float() * (2.0 / 28)
                theta = torch.zeros(n, 2, 3)
                theta[:, 0, 0] = 1
                theta[:, 1, 1] = 1
                theta[:, :, 2] = -t
                grid = F.affine_grid(theta, x.shape, align_corners=False)
                x = F.grid_sample(x, grid, mode="nearest", align_corners=False)
            elif a.mode == "affine":
                n = x.shape[0]
                u = lambda: torch.rand(n) * 2 - 1
                ang = u() * math.radians(a.rot)
                sc = 1 + u() * a.scale
                sh = u() * a.shear
                tx, ty = u() * a.shift * 2 / 28, u() * a.shift * 2 / 28
                c, s_ = torch.cos(ang) / sc, torch.sin(ang) / sc
                theta = torch.zeros(n, 2, 3)
                theta[:, 0, 0] = c
                theta[:, 0, 1] = -s_ + sh
                theta[:, 1, 0] = s_
                theta[:, 1, 1] = c
                theta[:, 0, 2] = tx
                theta[:, 1, 2] = ty
                grid = F.affine_grid(theta, x.shape, align_corners=False)
                x = (F.grid_sample(x, grid, mode="bilinear", align_corners=False) >= 0.5).float()
        return super().loss(x)


torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
tr = load_mnist("train", verbose=False)
te = load_mnist("test", verbose=False, source=tr.source)
xte = binarize(te.images)
ctx = context_bits(xte).numpy()
res = {}
for d in a.digits:
    sp = leave_one_digit_split(tr, d, test=te)
    x = binarize(sp.train_images)
    y = sp.test_labels.numpy()
    epochs = bench._epochs_for(len(x), 128, a.steps)
    seed_everything(a.seed)
    m = AugVAE(latent_dim=a.latent, hidden=tuple(a.hidden))
    t0 = time.perf_counter()
    fit(m, x, epochs=epochs, batch_size=128, lr=1e-3, seed=a.seed, progress=False)
    t1 = time.perf_counter() - t0
    m.eval()
    ne = negative_elbo(m, xte, n_samples=16, seed=a.seed).double().numpy() / math.log(2)
    normal = y == 0
    res[d] = roc_auc_score(y, ne - ctx)
    print(
        f"{a.tag} d{d} elbo-ctx {res[d]:.3f} elbo {roc_auc_score(y, ne):.3f} heldout-normal-nelbo {ne[normal].mean() * math.log(2):.1f} train {t1:.0f}s",
        flush=True,
    )
print(a.tag, "mean", round(float(np.mean(list(res.values()))), 4), json.dumps({k: round(v, 3) for k, v in res.items()}))
