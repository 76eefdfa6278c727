"""Losses of the course's autoencoders.

Per-sample functions return a (N,) tensor; the training losses reduce it to a scalar.
Two parameterisations of the encoder's Gaussian appear in the seeds:
``log_sigma`` (log σ, the iris post's KL) and ``log_var`` (log σ², seed 003 and the lecture notes).
The log σ form is private: it is what lab 02's ``kl_divergence`` exercise asks the learner to write,
and only :class:`~aelab.models.IrisVAE` uses it.

Argument order: data first, then its reconstruction, ``(x, x_hat)``, as in lab 01's exercise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._validate import check_choice, tensor_arg

__all__ = [
    "kl_normal_log_var",
    "reconstruction_term",
    "vae_loss",
]


def _pair(mu, other, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    mu = tensor_arg(mu, "mu", ndims=(1, 2))
    other = tensor_arg(other, name, ndims=(1, 2))
    if mu.shape != other.shape:
        raise ValueError(f"mu and {name} must have the same shape, got {tuple(mu.shape)} and {tuple(other.shape)}")
    return mu, other


def _kl_normal_log_sigma(mu, log_sigma) -> torch.Tensor:
    """KL( N(mu, diag σ²) || N(0, I) ) with the encoder's output read as log σ.

    0.5 · Σ_j (σ_j² + μ_j² − 1 − 2·log σ_j), summed over the latent dimension.

    Args:
        mu, log_sigma: (N, D) or (D,) tensors.
    Returns:
        (N,) tensor (or a 0-d tensor for (D,) inputs).
    """
    mu, log_sigma = _pair(mu, log_sigma, "log_sigma")
    return 0.5 * (torch.exp(2 * log_sigma) + mu**2 - 1 - 2 * log_sigma).sum(-1)


def kl_normal_log_var(mu, log_var) -> torch.Tensor:
    """KL( N(mu, diag σ²) || N(0, I) ) with the encoder's output read as log σ².

    −0.5 · Σ_j (1 + log σ_j² − μ_j² − σ_j²), summed over the latent dimension.

    Args:
        mu, log_var: (N, D) or (D,) tensors.
    Returns:
        (N,) tensor (or a 0-d tensor for (D,) inputs).
    """
    mu, log_var = _pair(mu, log_var, "log_var")
    return -0.5 * (1 + log_var - mu**2 - torch.exp(log_var)).sum(-1)


RECON_KINDS = ("mse", "l1", "bce", "smooth_l1")


def reconstruction_term(x, x_hat, kind: str = "mse", reduction: str = "mean") -> torch.Tensor:
    """Per-sample reconstruction error between the data ``x`` and its reconstruction ``x_hat``.

    Args:
        x: (N, ...) data, the target (for ``"bce"``: values in [0, 1]).
        x_hat: (N, ...) reconstruction of the same shape (for ``"bce"``: probabilities in [0, 1]).
        kind: ``"mse"`` (squared error), ``"l1"`` (absolute error), ``"bce"`` (binary
            cross-entropy), ``"smooth_l1"`` (Huber with δ=1, the lecture notes' choice).
        reduction: ``"mean"`` or ``"sum"`` over every dimension but the first.
    Returns:
        (N,) tensor; higher means worse reconstructed.
    """
    check_choice(kind, "kind", RECON_KINDS)
    check_choice(reduction, "reduction", ("mean", "sum"))
    x = tensor_arg(x, "x", ndims=range(1, 6))
    x_hat = tensor_arg(x_hat, "x_hat", ndims=range(1, 6))
    if x_hat.shape != x.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if kind == "mse":
        per = F.mse_loss(x_hat, x, reduction="none")
    elif kind == "l1":
        per = F.l1_loss(x_hat, x, reduction="none")
    elif kind == "smooth_l1":
        per = F.smooth_l1_loss(x_hat, x, reduction="none")
    else:
        if float(x.min()) < 0 or float(x.max()) > 1:
            raise ValueError(
                "x must lie in [0, 1] for kind='bce' (did you forget the +0.5 shift of seed 001's "
                f"inputs?), got values in [{float(x.min()):.3g}, {float(x.max()):.3g}]"
            )
        per = F.binary_cross_entropy(x_hat, x, reduction="none")
    if per.dim() == 1:
        per = per.unsqueeze(-1)
    per = per.flatten(1)
    return per.mean(1) if reduction == "mean" else per.sum(1)


def vae_loss(recon, kl, beta: float = 1.0) -> torch.Tensor:
    """β-weighted VAE loss: mean over the batch of ``recon + beta * kl``.

    Args:
        recon: (N,) per-sample reconstruction losses.
        kl: (N,) per-sample KL divergences.
        beta: weight of the KL term (β-VAE); the iris post uses 0.1.
    Returns:
        0-d tensor.
    """
    recon = tensor_arg(recon, "recon", ndims=(0, 1))
    kl = tensor_arg(kl, "kl", ndims=(0, 1))
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
        raise ValueError(f"beta must be a number >= 0, got {beta!r}")
    return (recon + beta * kl).mean()
