"""``python bench/auroc.py``: the leave-one-digit-out benchmark of notebook 04.

For each held-out digit, the nine other digits of the training split train every method once per
seed, and all ten digits of the test split are scored (label 1 for the held-out digit). Methods:

* ``original``: the convolutional VAE of the original leave-one-digit-out notebook (the course's
  source document for lab 04; :class:`aelab.models.ConvVAE`) with its loss as written
  (``ConvVAE.seed_loss``), Adam 1e-4, batch 256, epochs capped for time; scored by the squared
  reconstruction error (continuous scores, not the original's thresholded 0/1 predictions).
* ``bvae_*``: the course's Bernoulli VAE on binarised digits (:class:`aelab.models.BernoulliVAE`), trained once and scored five
  ways: squared reconstruction error, reconstruction probability (An & Cho 2015), the negative
  ELBO, and the negative ELBO in bits minus the input's complexity (Serrà et al. 2020), measured
  as a PNG file's length or as the code length of an adaptive JBIG-style context coder; and a sixth,
  ``bvae_gmm_ctx``: the same complexity-corrected -ELBO with the N(0, I) prior replaced by a
  Gaussian mixture fitted after training to the training digits' codes (a two-stage VAE, Dai &
  Wipf 2019; components chosen by held-out likelihood on training digits), which lifts digit 9;
  and a seventh, ``bvae_agg_ctx``: the prior is the training digits' aggregate posterior itself,
  1/M sum_m q(z | x_m) (nothing fitted; the limit of the mixture with one component per digit).
* ``pca``: squared reconstruction error of a 16-component PCA; ``iforest``: scikit-learn's
  IsolationForest. Both on pixels in [0, 1].

``bench/NOTES.md`` logs the design choices and the measured figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "run_auroc_benchmark",
    "build_parser",
    "main",
    "METHODS",
    "format_table",
    "format_auprc_table",
    "format_ci_table",
    "bootstrap_auroc",
    "bootstrap_auroc_ci",
    "draw_figure",
]

# method name -> (column label, description)
METHODS: dict[str, tuple[str, str]] = {
    "original": (
        "original",
        "ConvVAE of the original notebook (lab 04), its loss as written; squared reconstruction error",
    ),
    "bvae_mse": ("bvae mse", "BernoulliVAE; squared reconstruction error (decoded mean of q(z|x))"),
    "bvae_recon_prob": ("bvae rp", "BernoulliVAE; -reconstruction probability (An & Cho 2015)"),
    "bvae_neg_elbo": ("bvae -elbo", "BernoulliVAE; negative ELBO"),
    "bvae_elbo_png": ("bvae -elbo-png", "BernoulliVAE; -ELBO in bits minus PNG bits (Serra et al. 2020)"),
    "bvae_elbo_ctx": (
        "bvae -elbo-ctx",
        "BernoulliVAE; -ELBO in bits minus a JBIG-style context coder's bits (Serra et al. 2020)",
    ),
    "bvae_gmm_ctx": (
        "bvae gmm-ctx",
        "BernoulliVAE; -ELBO in bits with a Gaussian-mixture prior fitted to the training digits' latents, "
        "minus the context coder's bits",
    ),
    "bvae_agg_ctx": (
        "bvae agg-ctx",
        "BernoulliVAE; -ELBO in bits with the training digits' aggregate posterior (the mixture of their q(z|x)) "
        "as the prior, minus the context coder's bits",
    ),
    "pca": ("pca16", "PCA with 16 components; squared reconstruction error"),
    "iforest": ("iforest", "IsolationForest (200 trees); its anomaly score"),
}
_BVAE = (
    "bvae_mse",
    "bvae_recon_prob",
    "bvae_neg_elbo",
    "bvae_elbo_png",
    "bvae_elbo_ctx",
    "bvae_gmm_ctx",
    "bvae_agg_ctx",
)

# Training budgets. The bundled data has 3,600 training digits per split (9 x 400); full MNIST has
# ~54,000. Training is capped by optimiser steps so that full MNIST costs about the same time.
BVAE_CONFIG = dict(latent_dim=8, hidden=(512, 256), beta=1.0, max_shift=1)
BVAE_BATCH, BVAE_LR, BVAE_STEPS = 128, 1e-3, 5000  # 5,000 steps = 172 epochs of 3,600 digits, 12 of full MNIST
BVAE_EMA = 0.999  # the BernoulliVAE is scored with an exponential moving average of its weights
ORIGINAL_BATCH, ORIGINAL_LR, ORIGINAL_STEPS = 256, 1e-4, 300  # 300 steps = 20 epochs of 3,600
N_SAMPLES = 16  # z samples for the reconstruction probability and the ELBO
# bvae_gmm_ctx: a Gaussian mixture (full covariances) fitted after training to GMM_DRAWS samples of
# q(z|x) per training digit (at most GMM_MAX_POINTS latents): one mixture per number of components in
# GMM_COMPONENTS, fitted on four fifths of the training digits' latents; the one with the best
# log-likelihood on the latents of the other fifth is the prior (not refitted). The cap keeps the fits
# (~2 s) affordable at 8,000 training digits and beyond; the bundled data's 3,600 training digits per
# split (14,400 latents) stay under it. 40 components (the grid had them until issue 17's timing) won on
# 2 of 15 cross-validation models and cost as much as the other fits together (bench/NOTES.md).
GMM_COMPONENTS, GMM_DRAWS, GMM_MAX_POINTS = (1, 10, 20), 4, 16_000
# bvae_agg_ctx: the prior is 1/M sum_m q(z | x_m) over the training digits (at most AGG_MAX_DIGITS of
# them, a seeded random subset beyond that: an unbiased estimate of the same mixture, for full MNIST).
AGG_MAX_DIGITS = 10_000
PCA_COMPONENTS = 16
FAST_TRAIN = 600  # training digits per split in fast mode
BOOTSTRAP, BOOTSTRAP_SEED, CI_LEVEL = 1000, 0, 0.95  # resamples of the test digits for the AUROC intervals
FAST_EPOCHS = {"bvae": 2, "original": 1}


def _epochs_for(n: int, batch: int, steps: int) -> int:
    """Epochs that give about ``steps`` optimiser steps on ``n`` digits (at least one)."""
    per_epoch = math.ceil(n / batch)
    return max(1, round(steps / per_epoch))


@contextlib.contextmanager
def _deterministic(threads: int | None):
    """Deterministic torch kernels and ``threads`` intra-op threads for a run (restored afterwards).

    Deterministic mode also fills every new uninitialised tensor with NaN by default, a debugging aid
    that changes no result of code that writes before it reads (``aten::fill_``, 8 % of the conv VAE's
    step in torch's profiler): it is turned off here."""
    import torch.utils.deterministic as deterministic

    before = torch.are_deterministic_algorithms_enabled()
    fill_before = deterministic.fill_uninitialized_memory
    threads_before = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    deterministic.fill_uninitialized_memory = False
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        deterministic.fill_uninitialized_memory = fill_before
        torch.set_num_threads(threads_before)


def _subsample(n: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:k].sort().values


def _train_bvae(split, seed: int, epochs: int | None, fast: bool, device, progress: bool):
    from aelab.data import binarize
    from aelab.env import seed_everything
    from aelab.models import BernoulliVAE
    from aelab.train import fit

    x = binarize(split.train_images)
    if epochs is None:
        epochs = FAST_EPOCHS["bvae"] if fast else _epochs_for(len(x), BVAE_BATCH, BVAE_STEPS)
    seed_everything(seed)
    model = BernoulliVAE(**BVAE_CONFIG)
    fit(
        model,
        x,
        epochs=epochs,
        batch_size=BVAE_BATCH,
        lr=BVAE_LR,
        seed=seed,
        device=device,
        fused=True,
        ema_decay=BVAE_EMA,
        progress=progress,
        desc=f"BernoulliVAE, digit {split.digit} held out",
    )
    return model


def _score_bvae(
    model, split, seed: int, n_samples: int, png_cache: dict, wanted=_BVAE, fast: bool = False
) -> dict[str, torch.Tensor]:
    from aelab.data import binarize
    from aelab.losses import reconstruction_term
    from aelab.scores import _sampled_scores, context_bits, png_bits, reconstruct

    x = binarize(split.test_images)
    key = id(split.test_images)
    if key not in png_cache:  # the test split is the same for every digit: compress it once
        png_cache[key] = (split.test_images, png_bits(x), context_bits(x))
    _, bits, ctx_bits = png_cache[key]
    log_rp, nelbo = _sampled_scores(model, x, n_samples, 512, seed)  # one pass of decoded samples for both
    out = {
        "bvae_mse": reconstruction_term(x, reconstruct(model, x), kind="mse"),
        "bvae_recon_prob": -log_rp,
        "bvae_neg_elbo": nelbo,
        "bvae_elbo_png": nelbo.double() / math.log(2) - bits,
        "bvae_elbo_ctx": nelbo.double() / math.log(2) - ctx_bits,
    }
    samples = _test_samples(model, x, seed, n_samples) if {"bvae_gmm_ctx", "bvae_agg_ctx"} & set(wanted) else None
    if "bvae_gmm_ctx" in wanted:  # the two priors score the same decoded samples
        gmm_nelbo, _ = _gmm_prior_nelbo(model, binarize(split.train_images), x, seed, n_samples, fast, samples)
        out["bvae_gmm_ctx"] = gmm_nelbo / math.log(2) - ctx_bits
    if "bvae_agg_ctx" in wanted:
        agg_nelbo = _aggregate_prior_nelbo(model, binarize(split.train_images), x, seed, n_samples, samples)
        out["bvae_agg_ctx"] = agg_nelbo / math.log(2) - ctx_bits
    return out


def log_mixture_of_diagonals(z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """log (1/M sum_m N(z; loc_m, diag scale_m^2)) for z (P, d) and loc, scale (M, d): (P,) float64.

    One matrix product gives every component's log density: with w = 1 / scale^2,
    log N(z; loc_m, .) = [z^2, z, 1] . [-w_m / 2, loc_m w_m, c_m] (c_m: the terms without z); then a
    log-sum-exp over m, in place, ``chunk`` rows of z at a time (memory: chunk x M doubles)."""
    loc, scale, z = loc.double(), scale.double(), z.double()
    w = scale**-2  # (M, d)
    const = -torch.log(scale).sum(-1) - 0.5 * loc.shape[1] * math.log(2 * math.pi) - 0.5 * (loc**2 * w).sum(-1)
    weights = torch.cat([-0.5 * w, loc * w, const[:, None]], dim=1).T.contiguous()  # (2d + 1, M)
    out = []
    for zc in z.split(chunk):
        logits = torch.cat([zc**2, zc, torch.ones(len(zc), 1, dtype=zc.dtype)], dim=1) @ weights  # (p, M)
        top = logits.max(dim=1, keepdim=True).values
        out.append(logits.sub_(top).exp_().sum(1).log_() + top[:, 0])
    return torch.cat(out) - math.log(loc.shape[0])


@torch.no_grad()
def _test_samples(model, x: torch.Tensor, seed: int, n_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_samples`` draws z ~ q(z|x) for every digit of ``x`` (N, 1, 28, 28), decoded once for the priors'
    -ELBOs: (z (S, N, d), -log p(x|z) + log q(z|x) in nats (S, N) float64). The -ELBO under a prior p(z) is
    then the mean over S of the second minus log p(z)."""
    from aelab.scores import _loc_scale

    model.eval()
    gen = torch.Generator().manual_seed(seed)
    loc, scale = _loc_scale(model.encode(x))
    zs, rest = [], []
    for _ in range(n_samples):
        eps = torch.randn(loc.shape, generator=gen)
        z = loc + scale * eps
        recon = -model.log_likelihood(x, model.decode(z))
        log_q = (-0.5 * eps**2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
        zs.append(z)
        rest.append(recon.double() + log_q.double())
    return torch.stack(zs), torch.stack(rest)


@torch.no_grad()
def _aggregate_prior_nelbo(
    model, train_x: torch.Tensor, x: torch.Tensor, seed: int, n_samples: int, samples=None
) -> torch.Tensor:
    """-ELBO (nats) of ``x`` (N, 1, 28, 28) with the N(0, I) prior replaced by the training digits' aggregate
    posterior, 1/M sum_m q(z | x_m): the prior that maximises the training digits' ELBO (Hoffman & Johnson
    2016; a VampPrior, Tomczak & Welling 2018, whose pseudo-inputs are the training digits). Nothing is
    fitted or chosen. Codes that fall between the training digits' (a 9 between the 4s and the 7s) get a
    low prior density, where N(0, I) finds them typical. ``samples``: :func:`_test_samples` of ``x``
    (drawn here when None). (N,) float64."""
    from aelab.scores import _loc_scale

    model.eval()
    z, rest = samples if samples is not None else _test_samples(model, x, seed, n_samples)
    if len(train_x) > AGG_MAX_DIGITS:
        train_x = train_x[_subsample(len(train_x), AGG_MAX_DIGITS, seed)]
    loc_tr, scale_tr = _loc_scale(model.encode(train_x))
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for s in range(len(z)):
        total += rest[s] - log_mixture_of_diagonals(z[s], loc_tr, scale_tr)
    return total / len(z)


@torch.no_grad()
def _gmm_prior_nelbo(
    model, train_x: torch.Tensor, x: torch.Tensor, seed: int, n_samples: int, fast: bool, samples=None
):
    """-ELBO (nats) of ``x`` with the N(0, I) prior replaced by a Gaussian mixture fitted to the aggregate
    posterior of the training digits (a two-stage VAE, Dai & Wipf 2019), and the number of components
    chosen by held-out log-likelihood on training digits only (no test digit, no label); the chosen
    mixture is the one fitted for that choice. ``samples``: :func:`_test_samples` of ``x`` (drawn here
    when None). Returns ((N,) float64, the number of components)."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    from aelab.scores import _loc_scale

    model.eval()
    gen = torch.Generator().manual_seed(seed)
    loc, scale = _loc_scale(model.encode(train_x))
    z_train = loc + scale * torch.randn((GMM_DRAWS, *loc.shape), generator=gen)  # (draws, n, d)
    n = z_train.shape[1]
    keep = min(n, max(1, GMM_MAX_POINTS // GMM_DRAWS))
    order = torch.randperm(n, generator=gen)[:keep]
    cut = int(0.8 * keep)
    fit_z = z_train[:, order[:cut]].reshape(-1, loc.shape[-1]).double().numpy()
    held_z = z_train[:, order[cut:]].reshape(-1, loc.shape[-1]).double().numpy()
    components = (1, 2) if fast else GMM_COMPONENTS
    z, rest = samples if samples is not None else _test_samples(model, x, seed, n_samples)

    with threadpool_limits(1):
        fitted = {
            k: GaussianMixture(k, covariance_type="full", random_state=seed, max_iter=300, reg_covar=1e-4).fit(fit_z)
            for k in components
        }
        held = {k: float(gm.score(held_z)) for k, gm in fitted.items()}
        best = max(held, key=held.get)
        total = torch.zeros(x.shape[0], dtype=torch.float64)
        for s in range(len(z)):
            total += rest[s] - torch.from_numpy(fitted[best].score_samples(z[s].double().numpy()))
    return total / len(z), best


def _train_original(split, seed: int, epochs: int | None, fast: bool, device, progress: bool):
    from aelab.data import to_conv_input
    from aelab.env import seed_everything
    from aelab.models import ConvVAE
    from aelab.train import fit

    x = to_conv_input(split.train_images)
    if epochs is None:
        epochs = FAST_EPOCHS["original"] if fast else _epochs_for(len(x), ORIGINAL_BATCH, ORIGINAL_STEPS)
    seed_everything(seed)
    model = ConvVAE()
    fit(
        model,
        x,
        epochs=epochs,
        batch_size=ORIGINAL_BATCH,
        lr=ORIGINAL_LR,
        optimizer="adam",
        seed=seed,
        device=device,
        fused=True,
        progress=progress,
        desc=f"original ConvVAE, digit {split.digit} held out",
    )
    return model


def _score_original(model, split) -> torch.Tensor:
    from aelab.data import to_conv_input
    from aelab.losses import reconstruction_term
    from aelab.scores import reconstruct

    x = to_conv_input(split.test_images)
    return reconstruction_term(x, reconstruct(model, x), kind="mse")


def _flat01(images: torch.Tensor) -> np.ndarray:
    return images.reshape(len(images), -1).numpy().astype(np.float32) / 255.0


def _pca(split, seed: int):
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    pca = PCA(n_components=PCA_COMPONENTS, random_state=seed).fit(_flat01(split.train_images))
    seconds = time.perf_counter() - t0
    x = _flat01(split.test_images)
    recon = pca.inverse_transform(pca.transform(x))
    return torch.from_numpy(((x - recon) ** 2).mean(1).astype(np.float64)), seconds


def _iforest(split, seed: int):
    from sklearn.ensemble import IsolationForest

    t0 = time.perf_counter()
    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(_flat01(split.train_images))
    seconds = time.perf_counter() - t0
    # score_samples is higher for normal points: negate so that higher = more anomalous
    return torch.from_numpy(-forest.score_samples(_flat01(split.test_images)).astype(np.float64)), seconds


# The data of the run, set once per process (in a worker by the pool's initializer).
_DATA: dict = {}


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the benchmark's process dies (killed, Ctrl-C), instead of
    training on for minutes as an orphan (it did, and slowed the next run)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _worker_init(train_data, test_data) -> None:
    _die_with_parent()
    _set_data(train_data, test_data)


def _set_data(train_data, test_data) -> None:
    _DATA.clear()
    if train_data is not None:
        _DATA.update(train=train_data, test=test_data, cache={})


def _job(digit: int, seed: int, spec: dict) -> dict:
    """Train and score every method for one held-out digit and seed; AUROC/AUPRC and seconds."""
    from aelab.data import leave_one_digit_split
    from aelab.metrics import auprc, auroc

    methods, fast, epochs, dev = spec["methods"], spec["fast"], spec["epochs"], torch.device(spec["device"])
    split = leave_one_digit_split(_DATA["train"], digit, test=_DATA["test"])
    if fast and len(split.train_images) > FAST_TRAIN:
        keep = _subsample(len(split.train_images), FAST_TRAIN, 0)
        split.train_images, split.train_labels = split.train_images[keep], split.train_labels[keep]
    if bool((split.train_labels == digit).any()):  # the protocol's one hard rule
        raise RuntimeError(f"digit {digit} leaked into the training split")
    scores: dict[str, torch.Tensor] = {}
    train_s = {m: 0.0 for m in methods}
    score_s = {m: 0.0 for m in methods}
    with _deterministic(spec["threads"]):
        if "original" in methods:
            t0 = time.perf_counter()
            model = _train_original(split, seed, epochs, fast, dev, False)
            t1 = time.perf_counter()
            scores["original"] = _score_original(model, split)
            train_s["original"], score_s["original"] = t1 - t0, time.perf_counter() - t1
        wanted = [m for m in _BVAE if m in methods]
        if wanted:
            t0 = time.perf_counter()
            model = _train_bvae(split, seed, epochs, fast, dev, False)
            t1 = time.perf_counter()
            best = _score_bvae(model, split, seed, spec["n_samples"], _DATA["cache"], wanted, fast)
            t2 = time.perf_counter()
            for m in wanted:
                scores[m] = best[m]
                train_s[m], score_s[m] = t1 - t0, (t2 - t1) / len(wanted)
        if "pca" in methods:
            t0 = time.perf_counter()
            scores["pca"], train_s["pca"] = _pca(split, seed)
            score_s["pca"] = time.perf_counter() - t0 - train_s["pca"]
        if "iforest" in methods:
            t0 = time.perf_counter()
            scores["iforest"], train_s["iforest"] = _iforest(split, seed)
            score_s["iforest"] = time.perf_counter() - t0 - train_s["iforest"]
    y = split.test_labels
    for m in methods:
        if not torch.isfinite(scores[m]).all():
            raise FloatingPointError(f"method {m} gave non-finite scores for digit {digit}")
    return {
        "digit": digit,
        "seed": seed,
        "auroc": {m: float(auroc(y, scores[m])) for m in methods},
        "auprc": {m: float(auprc(y, scores[m])) for m in methods},
        "train_seconds": train_s,
        "score_seconds": score_s,
        "scores": {m: scores[m].double().numpy() for m in methods},
    }


def _resample_weights(strata: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, N) counts: each row draws, within every stratum, as many items as it has, with replacement."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, len(strata)), dtype=np.float64)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        k = len(members)
        draws = rng.integers(0, k, (n_resamples, k)) + np.arange(n_resamples)[:, None] * k
        weights[:, members] = np.bincount(draws.ravel(), minlength=n_resamples * k).reshape(n_resamples, k)
    return weights


def _weighted_auroc(y: np.ndarray, s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of scores ``s`` (N,) for labels ``y`` (N,) with each row of ``weights`` (B, N) as item counts: (B,).

    The Mann-Whitney statistic, ties counted one half: with all weights 1 it is the plain AUROC.
    """
    pos, neg = y == 1, y == 0
    order = np.argsort(s[neg], kind="stable")
    s_neg = s[neg][order]
    w_neg = weights[:, neg][:, order]
    cum = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(w_neg, axis=1)], axis=1)
    left = np.searchsorted(s_neg, s[pos], side="left")
    right = np.searchsorted(s_neg, s[pos], side="right")
    w_pos = weights[:, pos]
    wins = (w_pos * (cum[:, left] + 0.5 * (cum[:, right] - cum[:, left]))).sum(1)
    return wins / (w_pos.sum(1) * w_neg.sum(1))


def bootstrap_auroc(
    y, scores, strata=None, n_resamples: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED, weights=None
) -> np.ndarray:
    """Bootstrap replicates of the AUROC: the test digits are drawn again with replacement, within each
    stratum (default: the two labels), ``n_resamples`` times (seeded).

    Args:
        y: (N,) 0/1 labels (1 = anomaly). scores: (N,) scores, or (S, N) scores of S seeds on the same
            test digits (a replicate is then the mean of their AUROCs on the same resample).
        strata: (N,) groups resampled separately (the benchmark uses the test digits' classes, which
            keeps the number of normal and anomalous digits fixed for every held-out digit).
        weights: precomputed ``(n_resamples, N)`` counts (one resample shared by several calls).
    Returns:
        (n_resamples,) AUROC replicates.
    """
    y = np.asarray(y).astype(np.int64)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.shape[1] != len(y) or not ((y == 0).any() and (y == 1).any()):
        raise ValueError("scores must have one column per label, and labels must hold both 0 and 1")
    if weights is None:
        weights = _resample_weights(y if strata is None else np.asarray(strata), n_resamples, seed)
    return np.mean([_weighted_auroc(y, row, weights) for row in s], axis=0)


def bootstrap_auroc_ci(
    y, scores, strata=None, n_resamples: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap interval of the AUROC (``level``, default 95 %): ``([lo, hi], replicates)``."""
    reps = bootstrap_auroc(y, scores, strata, n_resamples, seed)
    tail = 100 * (1 - level) / 2
    return np.percentile(reps, [tail, 100 - tail]), reps


def _check_digits(digits) -> list[int]:
    out = []
    for d in digits:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= int(d) <= 9:
            raise ValueError(f"digits must be ints 0..9, got {d!r}")
        out.append(int(d))
    if not out:
        raise ValueError("digits must name at least one digit 0..9")
    if len(set(out)) != len(out):
        raise ValueError(f"digits must not repeat, got {out}")
    return out


def _check_seeds(seeds) -> list[int]:
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) < 0:
            raise ValueError(f"seeds must be non-negative ints, got {s!r}")
        out.append(int(s))
    if not out:
        raise ValueError("seeds must hold at least one seed")
    return out


def run_auroc_benchmark(
    digits: Iterable[int] = range(10),
    seeds: Sequence[int] = (0,),
    epochs: int | None = None,
    fast: bool = False,
    device: str | torch.device | None = None,
    methods: Sequence[str] | None = None,
    progress: bool = True,
    *,
    threads: int | None = 1,
    workers: int = 1,
    train_data=None,
    test_data=None,
    log: Callable[[str], None] | None = None,
    bootstrap: int = BOOTSTRAP,
    keep_scores: dict | None = None,
) -> dict:
    """Run the leave-one-digit-out benchmark and return its results.

    Args:
        digits: held-out digits (rows of the table).
        seeds: every method is trained once per digit and seed; with several seeds the per-digit
            figures are means over seeds and ``std_auroc`` holds their standard deviations.
        epochs: epochs of both VAEs (default: a fixed number of optimiser steps, see ``BVAE_STEPS``
            and ``ORIGINAL_STEPS``; fast mode: 2 and 1).
        fast: few epochs on a subsample of the training digits (also on when ``$AELAB_FAST`` is set).
        device: torch device (default CUDA when available, else the CPU).
        methods: names from :data:`METHODS` (default: all).
        progress: one line per digit and seed as the run goes.
        threads: torch intra-op threads during the run (default 1: the models are small, and on 2
            shared cores two threads spin against each other; ``None`` keeps torch's setting).
        workers: processes that run (digit, seed) jobs side by side, each with ``threads`` torch
            threads (the CLI's default: one per CPU core). Each job seeds itself, so the table does
            not depend on how many workers ran it.
        train_data, test_data: :class:`~aelab.data.MNISTData` to use instead of ``load_mnist``.
        log: where the per-digit lines go (default ``print``).
        bootstrap: resamples of the test digits for the 95 % interval of each AUROC (0: none). The
            test digits are drawn with replacement within each class (so every held-out digit keeps
            its number of normal and anomalous digits), one seeded resample shared by every method
            and digit; with several seeds a replicate is the mean over seeds.
        keep_scores: a dict to fill with every job's test scores, ``{"method/digit/seed": (N,) array}``
            (for analyses after the run; the CLI's ``--save-scores``).
    Returns:
        ``{"data_source": str, "methods": {name: {"auroc": [...], "auprc": [...], "mean_auroc":
        float, "train_seconds": float}}, "digits": [...], "seeds": [...], "std_auroc": {...},
        "std_mean_auroc": {...}, "mean_auprc": {...}, "score_seconds": {...}, "settings": {...},
        "total_seconds": float}``, and with ``bootstrap``: ``"ci_auroc": {name: [[lo, hi], ...]}`` (per
        digit), ``"ci_mean_auroc": {name: [lo, hi]}`` and ``"bootstrap": {"resamples", "seed",
        "level", "strata"}``. The ``bvae_*`` methods share one trained model each time;
        each reports that training time.
    """
    from aelab.data import MNISTData, load_mnist
    from aelab.env import fast_mode, get_device

    digits = _check_digits(list(digits))
    seeds = _check_seeds(list(seeds))
    fast = bool(fast) or fast_mode()
    methods = list(METHODS) if methods is None else list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be names from {list(METHODS)}, got {methods}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive int or None, got {epochs!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise ValueError(f"bootstrap must be a non-negative int, got {bootstrap!r}")
    dev = get_device(device)
    say = log or print
    if train_data is None:
        train_data = load_mnist("train", verbose=progress)
    if test_data is None:
        test_data = load_mnist("test", verbose=False, source=train_data.source)
    for name, d in (("train_data", train_data), ("test_data", test_data)):
        if not isinstance(d, MNISTData):
            raise TypeError(f"{name} must be an MNISTData, got {type(d).__name__}")

    spec = {
        "methods": methods,
        "epochs": epochs,
        "fast": fast,
        "device": str(dev),
        "threads": threads,
        "n_samples": 4 if fast else N_SAMPLES,
    }
    jobs = [(digit, seed) for digit in digits for seed in seeds]
    workers = min(workers, len(jobs))
    per = {m: np.full((len(seeds), len(digits)), np.nan) for m in methods}
    per_pr = {m: np.full((len(seeds), len(digits)), np.nan) for m in methods}
    kept: dict[tuple[str, int, int], np.ndarray] = {}  # (method, seed index, digit index) -> test scores
    train_s = {m: 0.0 for m in methods}
    score_s = {m: 0.0 for m in methods}
    start = time.perf_counter()

    def collect(out: dict) -> None:
        di, si = digits.index(out["digit"]), seeds.index(out["seed"])
        for m in methods:
            per[m][si, di] = out["auroc"][m]
            per_pr[m][si, di] = out["auprc"][m]
            train_s[m] += out["train_seconds"][m]
            score_s[m] += out["score_seconds"][m]
            kept[(m, si, di)] = np.asarray(out["scores"][m])
            if keep_scores is not None:
                keep_scores[f"{m}/{out['digit']}/{out['seed']}"] = kept[(m, si, di)]
        if progress:
            cells = " ".join(f"{METHODS[m][0]}={out['auroc'][m]:.3f}" for m in methods)
            say(f"digit {out['digit']} seed {out['seed']} ({time.perf_counter() - start:.0f} s): {cells}")

    if workers <= 1:
        _set_data(train_data, test_data)
        try:
            for digit, seed in jobs:
                collect(_job(digit, seed, spec))
        finally:
            _set_data(None, None)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: a forked child inherits torch's thread pools in an undefined state
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(train_data, test_data),
        ) as pool:
            futures = [pool.submit(_job, digit, seed, spec) for digit, seed in jobs]
            for future in as_completed(futures):
                collect(future.result())
    total = time.perf_counter() - start

    result = {
        "data_source": train_data.source,
        "methods": {
            m: {
                "auroc": [float(v) for v in per[m].mean(0)],
                "auprc": [float(v) for v in per_pr[m].mean(0)],
                "mean_auroc": float(per[m].mean()),
                "train_seconds": float(train_s[m]),
            }
            for m in methods
        },
        "digits": digits,
        "seeds": seeds,
        "std_auroc": {m: [float(v) for v in per[m].std(0)] for m in methods},
        "std_mean_auroc": {m: float(per[m].mean(1).std()) for m in methods},
        "mean_auprc": {m: float(per_pr[m].mean()) for m in methods},
        "score_seconds": {m: float(score_s[m]) for m in methods},
        "descriptions": {m: METHODS[m][1] for m in methods},
        "settings": {
            "fast": fast,
            "epochs": epochs,
            "device": str(dev),
            "torch_threads": threads if threads is not None else torch.get_num_threads(),
            "workers": workers,
            "n_train": int(len(train_data)),
            "n_test": int(len(test_data)),
            "bvae": {
                **{k: list(v) if isinstance(v, tuple) else v for k, v in BVAE_CONFIG.items()},
                "batch": BVAE_BATCH,
                "lr": BVAE_LR,
                "steps": BVAE_STEPS,
                "ema_decay": BVAE_EMA,
                "n_samples": spec["n_samples"],
            },
            "original": {"batch": ORIGINAL_BATCH, "lr": ORIGINAL_LR, "steps": ORIGINAL_STEPS},
        },
        "total_seconds": float(total),
    }
    if bootstrap:
        result.update(_intervals(kept, methods, digits, seeds, test_data.labels.numpy(), bootstrap))
    return result


def _intervals(kept: dict, methods, digits, seeds, strata: np.ndarray, n_resamples: int) -> dict:
    """The result's bootstrap keys: per-digit and mean-AUROC percentile intervals."""
    weights = _resample_weights(strata, n_resamples, BOOTSTRAP_SEED)
    tail = 100 * (1 - CI_LEVEL) / 2
    ci, ci_mean = {}, {}
    for m in methods:
        reps = np.stack(
            [
                bootstrap_auroc(
                    (strata == d).astype(np.int64),
                    np.stack([kept[(m, si, di)] for si in range(len(seeds))]),
                    weights=weights,
                )
                for di, d in enumerate(digits)
            ]
        )  # (digits, resamples)
        ci[m] = [[float(v) for v in np.percentile(r, [tail, 100 - tail])] for r in reps]
        ci_mean[m] = [float(v) for v in np.percentile(reps.mean(0), [tail, 100 - tail])]
    return {
        "ci_auroc": ci,
        "ci_mean_auroc": ci_mean,
        "bootstrap": {
            "resamples": n_resamples,
            "seed": BOOTSTRAP_SEED,
            "level": CI_LEVEL,
            "strata": "test digit class (fixed normal/anomalous counts)",
        },
    }


def format_table(result: dict) -> str:
    """The per-digit AUROC table (digits as rows, methods as columns, a mean row) as text."""
    methods = list(result["methods"])
    digits = result.get("digits", list(range(len(next(iter(result["methods"].values()))["auroc"]))))
    std = result.get("std_auroc", {})
    multi = len(result.get("seeds", [0])) > 1
    labels = [METHODS.get(m, (m,))[0] for m in methods]
    width = max(13 if multi else 8, *(len(s) for s in labels))
    lines = [f"AUROC per held-out digit (data: {result['data_source']}, seeds: {result.get('seeds')})"]
    lines.append("digit " + " ".join(f"{s:>{width}}" for s in labels))

    def cell(value, sd=None):
        return f"{value:.3f}±{sd:.3f}" if multi and sd is not None else f"{value:.3f}"

    for i, d in enumerate(digits):
        row = [cell(result["methods"][m]["auroc"][i], std.get(m, [None] * len(digits))[i]) for m in methods]
        lines.append(f"{d:>5} " + " ".join(f"{c:>{width}}" for c in row))
    sm = result.get("std_mean_auroc", {})
    lines.append(
        " mean " + " ".join(f"{cell(result['methods'][m]['mean_auroc'], sm.get(m)):>{width}}" for m in methods)
    )
    if "mean_auprc" in result:
        lines.append("AUPRC" + " " + " ".join(f"{result['mean_auprc'][m]:>{width}.3f}" for m in methods))
    lines.append("train s " + " ".join(f"{result['methods'][m]['train_seconds']:>{width - 2}.1f}" for m in methods)[2:])
    return "\n".join(lines)


def format_ci_table(result: dict) -> str:
    """The per-digit 95 % bootstrap intervals of the AUROC (``result["ci_auroc"]``) as text ("" without them)."""
    if "ci_auroc" not in result:
        return ""
    methods = list(result["methods"])
    digits = result["digits"]
    labels = [METHODS.get(m, (m,))[0] for m in methods]
    width = max(14, *(len(s) for s in labels))
    b = result.get("bootstrap", {})
    lines = [
        f"AUROC {100 * b.get('level', CI_LEVEL):.0f} % bootstrap interval per held-out digit "
        f"({b.get('resamples')} resamples of the test digits, stratified by class)",
        "digit " + " ".join(f"{s:>{width}}" for s in labels),
    ]

    def cell(lo_hi):
        return f"[{lo_hi[0]:.3f}, {lo_hi[1]:.3f}]"

    for i, d in enumerate(digits):
        lines.append(f"{d:>5} " + " ".join(f"{cell(result['ci_auroc'][m][i]):>{width}}" for m in methods))
    lines.append(" mean " + " ".join(f"{cell(result['ci_mean_auroc'][m]):>{width}}" for m in methods))
    return "\n".join(lines)


def format_auprc_table(result: dict) -> str:
    """The per-digit AUPRC table (means over seeds) as text; chance level is the anomaly share (0.1)."""
    methods = list(result["methods"])
    digits = result.get("digits", list(range(len(next(iter(result["methods"].values()))["auprc"]))))
    labels = [METHODS.get(m, (m,))[0] for m in methods]
    width = max(8, *(len(s) for s in labels))
    lines = [
        f"AUPRC per held-out digit (data: {result['data_source']}, seeds: {result.get('seeds')})",
        "digit " + " ".join(f"{s:>{width}}" for s in labels),
    ]
    for i, d in enumerate(digits):
        lines.append(f"{d:>5} " + " ".join(f"{result['methods'][m]['auprc'][i]:>{width}.3f}" for m in methods))
    means = [sum(result["methods"][m]["auprc"]) / len(digits) for m in methods]
    lines.append(" mean " + " ".join(f"{v:>{width}.3f}" for v in means))
    return "\n".join(lines)


def draw_figure(result: dict, path: str | os.PathLike) -> None:
    """Per-digit AUROC bars of every method in ``result`` (mean in the legend), saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from aelab.plots import plot_digit_bars

    digits = result["digits"]
    fig = plot_digit_bars(
        {METHODS[m][0]: v["auroc"] for m, v in result["methods"].items()},
        title=f"leave-one-digit-out AUROC ({result['data_source']}, seeds {result['seeds']})",
    )
    if digits != list(range(len(digits))):
        fig.axes[0].set_xticklabels([str(d) for d in digits])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)


# ------------------------------------------------------------------------------------------- CLI
def _cpu_count() -> int:
    """CPU cores this process may run on (the CLI's default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/auroc.py",
        description="Leave-one-digit-out AUROC/AUPRC of the original notebook's conv VAE (lab 04), the course's "
        "Bernoulli VAE, PCA and an IsolationForest.",
    )
    p.add_argument("--digits", type=int, nargs="+", default=list(range(10)), help="held-out digits (default 0..9)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds; several give mean ± std")
    p.add_argument(
        "--epochs", type=int, default=None, help="epochs of both VAEs (default: a fixed number of optimiser steps)"
    )
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--fast", action="store_true", help="few epochs on a subsample (also AELAB_FAST=1)")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), default=None, help="subset of methods")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON to this path")
    p.add_argument("--figure", type=Path, default=None, help="draw per-digit AUROC bars to this image")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1; 0 keeps torch's default, one per core)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="processes running digits side by side (default: one per CPU core)"
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP,
        help=f"resamples of the test digits for the AUROC's 95 %% intervals (default {BOOTSTRAP}; 0: none)",
    )
    p.add_argument(
        "--save-scores", type=Path, default=None, help="write every method's test scores (and labels) to this .npz"
    )
    p.add_argument("--quiet", action="store_true", help="no per-digit progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    kept: dict | None = {} if args.save_scores is not None else None
    try:
        result = run_auroc_benchmark(
            digits=args.digits,
            seeds=args.seeds,
            epochs=args.epochs,
            fast=args.fast,
            device=args.device,
            methods=args.methods,
            progress=not args.quiet,
            threads=args.threads or None,
            workers=args.workers or _cpu_count(),
            bootstrap=args.bootstrap,
            keep_scores=kept,
        )
    except (ValueError, TypeError) as exc:
        print(f"bench/auroc.py: {exc}", file=sys.stderr)
        return 2
    print(format_table(result))
    if "ci_auroc" in result:
        print()
        print(format_ci_table(result))
    print()
    print(format_auprc_table(result))
    print(
        f"data source: {result['data_source']} ({result['settings']['n_train']:,} train / "
        f"{result['settings']['n_test']:,} test digits); total {result['total_seconds']:.0f} s"
    )
    print(
        "training seconds per method (the bvae_* columns share one model): "
        + ", ".join(f"{m} {v['train_seconds']:.1f}" for m, v in result["methods"].items())
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.save_scores is not None:
        from aelab.data import load_mnist

        labels = load_mnist("test", verbose=False, source=result["data_source"]).labels.numpy()
        args.save_scores.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save_scores, test_labels=labels, **kept)
        print(f"wrote {args.save_scores}")
    if args.figure is not None:
        draw_figure(result, args.figure)
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
