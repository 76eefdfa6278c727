"""Reference implementations of every graded function of the course.

The checks in ``autograder/labNN.py`` compare the learner's functions with these. Each section
belongs to one lab; the task text in the lab's notebook is the specification they implement.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aelab.tasks import task_settings


def _t(x) -> torch.Tensor:
    """A float64 tensor copy of a tensor or array (the references compute in double precision)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).clone()
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


# ---- lab01
def kl_log_var(mu, log_var) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per sample with the lecture notes' log_var = log sigma^2.

    0.5 * sum_j (exp(log_var_j) + mu_j^2 - 1 - log_var_j), summed over the latent dimension.
    (N, d) x2 -> (N,).
    """
    mu, log_var = _t(mu), _t(log_var)
    return 0.5 * (log_var.exp() - log_var + mu.pow(2) - 1).sum(dim=-1)


def beta_vae_loss(x, x_hat, mu, log_var, beta=1.0) -> torch.Tensor:
    """Per-sample beta-VAE loss: the squared error summed over the features plus beta times the
    KL divergence of q(z|x) = N(mu, diag exp(log_var)) from N(0, I), summed over the latent dimension.

    x, x_hat: (N, D); mu, log_var: (N, d); beta: a number >= 0. Returns (N,).
    """
    squared_error = (_t(x) - _t(x_hat)).pow(2).sum(dim=-1)
    return squared_error + float(beta) * kl_log_var(mu, log_var)


RECON_KINDS = ("mse", "l1", "bce")
LAB03 = "03_mnist_outlier_lab"  # its task's numbers: aelab/tasks.py


def reconstruction_error(x, x_hat, kind: str = "mse") -> torch.Tensor:
    """Per-sample reconstruction error, the MEAN over every dimension but the first.

    kind: "mse" (squared error), "l1" (absolute error), "bce" (binary cross-entropy of the
    probabilities ``x_hat`` against targets ``x`` in [0, 1]). (N, ...) x2 -> (N,).
    Raises ValueError for any other kind.
    """
    if kind not in RECON_KINDS:
        raise ValueError(f"kind must be one of {RECON_KINDS}, got {kind!r}")
    x, x_hat = _t(x), _t(x_hat)
    if kind == "mse":
        per = (x - x_hat) ** 2
    elif kind == "l1":
        per = (x - x_hat).abs()
    else:
        per = -(x * torch.log(x_hat) + (1 - x) * torch.log1p(-x_hat))
    return per.reshape(per.shape[0], -1).mean(dim=1)


def normalized_scores(errors, min_err, max_err) -> torch.Tensor:
    """The blog post's min-max normalisation (errors - min_err) / (max_err - min_err), no clipping. (N,) -> (N,)."""
    errors = _t(errors)
    lo, hi = float(min_err), float(max_err)
    return (errors - lo) / (hi - lo)


# ---- lab02
def reparameterize(mu, log_sigma) -> torch.Tensor:
    """z = mu + exp(log_sigma) * eps with eps ~ N(0, I) of mu's shape. (N, D) x2 -> (N, D)."""
    return mu + torch.exp(log_sigma) * torch.randn_like(mu)


def kl_divergence(mu, log_sigma) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per sample with sigma = exp(log_sigma). (N, D) x2 -> (N,).

    0.5 * sum_j (exp(2 log_sigma_j) + mu_j^2 - 1 - 2 log_sigma_j), summed over the latent dimension.
    """
    return 0.5 * (torch.exp(2 * log_sigma) + mu**2 - 1 - 2 * log_sigma).sum(dim=-1)


def latent_log_density(z, mu, log_sigma) -> torch.Tensor:
    """log N(z; mu, diag sigma^2) with sigma = exp(log_sigma), summed over the latent dimension.

    (N, D) x3 -> (N,).
    """
    z, mu, log_sigma = _t(z), _t(mu), _t(log_sigma)
    return (-0.5 * ((z - mu) / torch.exp(log_sigma)) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


# ---- lab03
def _digits_784(x) -> torch.Tensor:
    """Digits shaped (784,), (N, 784), (N, 28, 28) or (N, 28, 28, 1) -> a float32 (N, 784) copy."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(torch.float32).reshape(-1, 784).clone()


def reconstruction_loss(vae, x) -> torch.Tensor:
    """Seed 001's per-sample reconstruction loss: BCE of the reconstruction against x + 0.5,
    summed over the 784 pixels. The reconstruction decodes the mean of q(z|x).

    x: (784,), (N, 784), (N, 28, 28) or (N, 28, 28, 1) with pixels in [-0.5, 0.5] -> (N,)
    (N = 1 for a single digit).
    """
    x = _digits_784(x)
    with torch.no_grad():
        recon = vae.decode(vae.encode(x).mean)
        return F.binary_cross_entropy(recon, x + 0.5, reduction="none").sum(dim=-1)


def compute_threshold(losses, outlier_fraction: float | None = None) -> float:
    """The (1 - outlier_fraction) quantile of the per-sample losses (numpy's linear definition);
    the default fraction is the task's (``aelab.task_settings("03_mnist_outlier_lab")``)."""
    if outlier_fraction is None:
        outlier_fraction = task_settings(LAB03).outlier_fraction
    values = _t(losses).reshape(-1).numpy()
    return float(np.quantile(values, 1.0 - outlier_fraction))


def detect_outlier(vae, x, th):
    """True where the reconstruction loss is strictly above ``th``.

    x of shape (784,) -> a Python bool; a batch -> a (N,) bool tensor.
    """
    flags = reconstruction_loss(vae, x) > th
    single = isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 1
    return bool(flags[0]) if single else flags


# ---- lab04
def anomaly_scores(model, x) -> torch.Tensor:
    """Mean squared error over the pixels between x and the ConvVAE's reconstruction of the mean
    of q(z|x). (N, 1, 28, 28) -> (N,); higher means more anomalous. The model is in eval mode."""
    x = x.detach().to(torch.float32).clone()
    with torch.no_grad():
        mu, _ = model.encode_params(x)
        x_hat = model.decode(mu)
    return ((x - x_hat) ** 2).reshape(x.shape[0], -1).mean(dim=1)


def auroc_per_digit(scores, digits, held_out) -> dict:
    """AUROC of the held-out digit (label 1) against each other digit k present (label 0).

    scores: (N,) anomaly scores, higher = more anomalous; digits: (N,) ints; held_out: int.
    Returns {k: AUROC} for every digit k != held_out that occurs in ``digits``, with ties in the
    scores counted as one half (the area under the ROC curve, as scikit-learn computes it).
    """
    from sklearn.metrics import roc_auc_score

    s = _t(scores).reshape(-1).numpy()
    d = np.asarray(digits.detach().cpu() if isinstance(digits, torch.Tensor) else digits).astype(np.int64)
    out = {}
    for k in sorted(set(d.tolist()) - {int(held_out)}):
        sel = (d == held_out) | (d == k)
        out[int(k)] = float(roc_auc_score((d[sel] == held_out).astype(np.int64), s[sel]))
    return out
