"""The course's best VAE for leave-one-digit-out anomaly detection on MNIST (notebook 04).

A fully connected VAE with a Bernoulli likelihood on *binarised* digits, trained on the true
ELBO (β = 1, reconstruction summed over pixels, KL summed over the latent dimension, both
averaged over the batch). Binarised pixels make ``-log p(x)`` a proper discrete code length over
{0, 1}^784, which is what the complexity-corrected score of Serrà et al. (2020) needs:

    S(x) = -log2 p(x) - L(x),

with ``L(x)`` the number of bits a generic lossless compressor (PNG, 1 bit per pixel) needs for the
same binary image. See :func:`png_bits` and ``bench/NOTES.md`` for the measured effect.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_positive_int, tensor_arg

__all__ = ["DigitVAE", "binarize", "shift_digits", "png_bits", "context_bits", "LIKELIHOODS"]

LIKELIHOODS = ("bernoulli",)


def binarize(images, threshold: int = 128) -> torch.Tensor:
    """uint8 digits (N, 28, 28) -> float32 (N, 1, 28, 28) with pixels 1.0 where value >= threshold.

    Deterministic (no stochastic binarisation), so a benchmark run is reproducible.
    """
    t = tensor_arg(images, "images", floating=False, ndims=(3,))
    if t.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 pixels 0..255, got dtype {t.dtype}")
    if tuple(t.shape[-2:]) != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {tuple(t.shape)}")
    check_positive_int(threshold, "threshold")
    if threshold > 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    return (t >= threshold).to(torch.float32).unsqueeze(1)


def png_bits(x) -> torch.Tensor:
    """Bits of each binary image saved as a 1-bit PNG (the complexity L(x) of Serrà et al. 2020).

    Args:
        x: (N, 1, 28, 28) or (N, 28, 28) tensor of 0/1 pixels (from :func:`binarize`).
    Returns:
        (N,) float64 tensor: 8 x the PNG file's length in bytes (the constant header included; it
        shifts every score by the same amount and so does not change a ranking).
    """
    from PIL import Image

    t = tensor_arg(x, "x", floating=False, ndims=(3, 4))
    arr = t.detach().cpu().reshape(t.shape[0], t.shape[-2], t.shape[-1]).numpy()
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("x must hold binary pixels (0 or 1); binarize the digits first")
    out = np.empty(arr.shape[0], dtype=np.float64)
    for i, img in enumerate(arr.astype(bool)):
        buf = io.BytesIO()
        Image.fromarray(img).convert("1").save(buf, format="PNG", optimize=True)
        out[i] = 8.0 * buf.getbuffer().nbytes
    return torch.from_numpy(out)


# JBIG's 10-pixel causal template (row offset, column offset) around the pixel being coded.
_TEMPLATE = ((-2, -1), (-2, 0), (-2, 1), (-1, -2), (-1, -1), (-1, 0), (-1, 1), (-1, 2), (0, -2), (0, -1))


def context_bits(x) -> torch.Tensor:
    """Code length in bits of each binary image under an adaptive context coder (as JBIG does).

    A generic lossless compressor for bilevel images, used as the complexity L(x) of Serrà et al.
    (2020): pixels are coded in raster order, each with the probability that a Krichevsky-Trofimov
    estimator gives for its 10-pixel causal context, counts starting from zero in every image.
    Unlike a PNG file's length it has no byte granularity and no container overhead, so its
    variation across digits reflects their complexity. Nothing is learned from any data set.

    Args:
        x: (N, 1, 28, 28) or (N, 28, 28) tensor of 0/1 pixels (from :func:`binarize`).
    Returns:
        (N,) float64 tensor of ideal code lengths in bits.
    """
    t = tensor_arg(x, "x", floating=False, ndims=(3, 4))
    arr = t.detach().cpu().reshape(t.shape[0], t.shape[-2], t.shape[-1]).numpy()
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("x must hold binary pixels (0 or 1); binarize the digits first")
    n, h, w = arr.shape
    pad = np.zeros((n, h + 2, w + 4), dtype=np.int64)
    pad[:, 2:, 2:-2] = arr
    ctx = np.zeros((n, h, w), dtype=np.int64)
    for k, (dr, dc) in enumerate(_TEMPLATE):
        ctx |= pad[:, 2 + dr : 2 + dr + h, 2 + dc : 2 + dc + w] << k
    ctx = ctx.reshape(n, -1)
    bits_in = arr.reshape(n, -1).astype(np.int64)
    counts = np.zeros((n, 1 << len(_TEMPLATE), 2), dtype=np.float64)
    rows = np.arange(n)
    total = np.zeros(n, dtype=np.float64)
    for j in range(h * w):
        c, b = ctx[:, j], bits_in[:, j]
        cnt = counts[rows, c]  # (n, 2)
        total -= np.log2((cnt[rows, b] + 0.5) / (cnt.sum(1) + 1.0))
        counts[rows, c, b] += 1.0
    return torch.from_numpy(total)


def shift_digits(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each image by its own random (dy, dx) in -max_shift..max_shift pixels, filling with 0.

    (N, C, H, W) -> (N, C, H, W). Offsets come from ``generator`` (torch's global generator when
    None), so a seeded run is reproducible. MNIST digits have blank borders, so a shift of one or
    two pixels loses no ink.
    """
    t = tensor_arg(x, "x", ndims=(4,))
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative int (pixels), got {max_shift!r}")
    if max_shift == 0:
        return t
    n, _, h, w = t.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).to(t.device)
    padded = F.pad(t, (max_shift, max_shift, max_shift, max_shift))
    rows = torch.arange(h, device=t.device) + max_shift - offsets[:, :1]  # (N, H): out[i] = x[i - dy]
    cols = torch.arange(w, device=t.device) + max_shift - offsets[:, 1:]  # (N, W)
    batch = torch.arange(n, device=t.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


class DigitVAE(nn.Module):
    """Fully connected VAE with a Bernoulli decoder for binarised 28x28 digits.

    Encoder: (N, 1, 28, 28) -> flatten (N, 784) -> Linear+ReLU (N, h1) -> Linear+ReLU (N, h2)
    -> Linear -> (mu, log_var), each (N, latent_dim).
    Decoder mirrors it: (N, latent_dim) -> h2 -> h1 -> 784 -> (N, 1, 28, 28) logits;
    :meth:`decode` returns pixel probabilities (sigmoid of the logits).

    A fully connected net is the classic VAE of Kingma & Welling (2014) for binarised MNIST; on a
    CPU it trains about twice as fast per step as the small convolutional net it replaced, and
    scored better (``bench/NOTES.md``).

    Args:
        latent_dim: size of z (small latents generalise less to unseen digit shapes).
        hidden: the two hidden widths (h1, h2).
        beta: weight of the KL term in :meth:`loss` (1.0 = the ELBO).
        likelihood: ``"bernoulli"`` (pixels must be 0/1 or in [0, 1]).
        max_shift: in training mode, :meth:`loss` first moves every digit of the batch by its own
            (dy, dx) pixels drawn from -max_shift..max_shift (:func:`shift_digits`, torch's global
            generator, seeded by ``aelab.fit``): data augmentation that lowers the -ELBO of held-out
            normal digits. 0 turns it off; scoring (eval mode) never shifts.
    """

    def __init__(
        self,
        latent_dim: int = 8,
        hidden: tuple[int, int] = (512, 256),
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        max_shift: int = 0,
    ):
        super().__init__()
        check_positive_int(latent_dim, "latent_dim")
        if (
            not isinstance(hidden, (tuple, list))
            or len(hidden) != 2
            or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)
        ):
            raise ValueError(f"hidden must be two positive ints (h1, h2), got {hidden!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"beta must be a positive finite number, got {beta!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift <= 4:
            raise ValueError(f"max_shift must be an int in 0..4 (pixels), got {max_shift!r}")
        self.max_shift = max_shift
        h1, h2 = int(hidden[0]), int(hidden[1])
        self.latent_dim, self.hidden = latent_dim, (h1, h2)
        self.beta, self.likelihood = float(beta), likelihood
        self.encoder = nn.Sequential(
            nn.Flatten(),  # (N, 1, 28, 28) => (N, 784)
            nn.Linear(784, h1), nn.ReLU(),
            nn.Linear(h1, h2), nn.ReLU(),
            nn.Linear(h2, 2 * latent_dim),  # mu and log σ²
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, h2), nn.ReLU(),
            nn.Linear(h2, h1), nn.ReLU(),
            nn.Linear(h1, 784),
            nn.Unflatten(1, (1, 28, 28)),  # logits
        )

    def _check_input(self, x) -> torch.Tensor:
        x = tensor_arg(x, "x", ndims=(4,))
        if tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (N, 1, 28, 28), got {tuple(x.shape)}")
        return x

    def encode_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) -> (mu, log_var), each (N, latent_dim); log_var is clamped to [-12, 8]."""
        mu, log_var = self.encoder(self._check_input(x)).chunk(2, dim=-1)
        return mu, log_var.clamp(-12.0, 8.0)

    def encode(self, x: torch.Tensor) -> torch.distributions.Distribution:
        """q(z|x): a diagonal Normal with batch shape (N,) and event shape (latent_dim,)."""
        mu, log_var = self.encode_params(x)
        return torch.distributions.Independent(torch.distributions.Normal(mu, torch.exp(0.5 * log_var)), 1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, 1, 28, 28) Bernoulli logits."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, 1, 28, 28) pixel probabilities in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def log_likelihood(self, x: torch.Tensor, x_recon: torch.Tensor) -> torch.Tensor:
        """log p(x | probabilities ``x_recon``) in nats, summed over pixels. (N, 1, 28, 28) x2 -> (N,)."""
        p = x_recon.clamp(1e-6, 1 - 1e-6)
        return -F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) -> (logits (N, 1, 28, 28), mu (N, D), log_var (N, D)), with z ~ q(z|x)."""
        mu, log_var = self.encode_params(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return self.decode_logits(z), mu, log_var

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Negative ELBO (with β on the KL) per digit, averaged over the batch (shifted: ``max_shift``).

        Returns ``{"loss": scalar, "loss_recon": scalar, "loss_kl": scalar}`` (aelab.fit logs the
        two parts per epoch).
        """
        if self.training and self.max_shift:
            x = shift_digits(self._check_input(x), self.max_shift)
        logits, mu, log_var = self(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp())).sum(1).mean()
        return {"loss": recon + self.beta * kl, "loss_recon": recon.detach(), "loss_kl": kl.detach()}
