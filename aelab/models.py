"""The seeds' architectures as reusable PyTorch modules.

- :class:`DeepAutoEncoder` — seed 004's fully connected autoencoder with its power-of-two layer plan.
- :class:`IrisEncoder`, :class:`IrisDecoder`, :class:`IrisVAE` — seed 000's iris VAE (Julia/Flux).
- :class:`MLPVAE` — seed 001's MLP VAE for MNIST, with the seed's interface.
- :class:`ConvVAE` — seed 003's convolutional VAE for MNIST.
- :class:`BernoulliVAE` — a fully connected VAE with a Bernoulli likelihood on binarised digits
  (the leave-one-digit-out benchmark's model, ``bench/NOTES.md``).

Every VAE here offers ``encode(x) -> torch.distributions.Distribution`` over z, ``decode(z)`` and
``log_likelihood(x, x_recon) -> (N,)``, which :mod:`aelab.scores` uses for reconstruction
probability and the ELBO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_positive_int, tensor_arg
from .data import _shift_checked
from .losses import _kl_normal_log_sigma, kl_normal_log_var

__all__ = [
    "layer_plan",
    "DeepAutoEncoder",
    "IrisEncoder",
    "IrisDecoder",
    "IrisVAE",
    "MLPVAE",
    "VAEOutput",
    "ConvVAE",
    "BernoulliVAE",
]


# ------------------------------------------------------------------------------------ seed 004
def layer_plan(input_dim: int, hidden_size: int) -> list[int]:
    """Seed 004's widths from the input down to the hidden state.

    The encoder halves the width through powers of two between the hidden size and the input:
    ``layer_plan(30, 4) == [30, 16, 8, 4]``; the decoder mirrors it. Unlike the seed, the last
    width is always ``hidden_size``: the seed stopped at the power of two at or above it (a hidden
    size of 10 became 16) and built no layer at all for ``layer_plan(4, 2)``.
    """
    check_positive_int(input_dim, "input_dim", minimum=2)
    check_positive_int(hidden_size, "hidden_size")
    if hidden_size >= input_dim:
        raise ValueError(
            f"hidden_size must be smaller than input_dim, got hidden_size={hidden_size}, input_dim={input_dim}"
        )
    steps = [int(w) for w in 2 ** np.arange(max(np.ceil(np.log2(hidden_size)), 2), np.log2(input_dim))]
    widths = [int(input_dim)] + steps[::-1]
    if widths[-1] != hidden_size:  # the seed stopped at the power of two, ignoring hidden_size
        widths.append(int(hidden_size))
    return widths


class DeepAutoEncoder(nn.Module):
    """Seed 004's deep autoencoder: Linear layers whose widths follow :func:`layer_plan`.

    The seed stacks Linear layers with no nonlinearity, which makes the whole network linear (it
    can do no better than PCA). ``activation`` (default ``None``, as in the seed) inserts a
    nonlinearity between layers; the last layer of each half stays linear.

    Args:
        input_dim: number of input features D.
        hidden_size: width H of the hidden state.
        activation: a module class such as ``nn.ReLU``, or ``None``.
    Shapes:
        forward: (N, D) -> (reconstruction (N, D), hidden state (N, H)).
    """

    def __init__(self, input_dim: int, hidden_size: int, activation: type[nn.Module] | None = None):
        super().__init__()
        widths = layer_plan(input_dim, hidden_size)
        self.input_dim, self.hidden_size = input_dim, hidden_size
        self.widths = widths
        self._encoder = self._stack(widths, activation)
        self._decoder = self._stack(widths[::-1], activation)

    @staticmethod
    def _stack(widths: list[int], activation) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if activation is not None and i < len(widths) - 2:
                layers.append(activation())
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.input_dim:
            raise ValueError(f"x must have {self.input_dim} features per sample, got shape {tuple(x.shape)}")
        enc = self._encoder(flat)
        return self._decoder(enc).reshape(x.shape), enc


# ------------------------------------------------------------------------------------ seed 000
def _glorot(module: nn.Module) -> None:
    """Flux's default initialisation for Dense: Glorot-uniform weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class IrisEncoder(nn.Module):
    """Seed 000's encoder: x -> ReLU hidden layer -> (mu, log_sigma).

    Shapes: (N, input_dim) -> two (N, latent_dim) tensors. The second output is read as log σ
    everywhere in the course (the post's KL does so; its ``reparameterize`` did not).
    """

    def __init__(self, input_dim: int = 4, latent_dim: int = 3, hidden_dim: int = 2):
        super().__init__()
        self.linear1 = nn.Linear(input_dim, hidden_dim)
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.log_sigma = nn.Linear(hidden_dim, latent_dim)
        _glorot(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.linear1(x))
        return self.mu(h), self.log_sigma(h)


class IrisDecoder(nn.Sequential):
    """Seed 000's decoder: z -> ReLU hidden layer -> x_hat. Shapes: (N, latent_dim) -> (N, input_dim)."""

    def __init__(self, input_dim: int = 4, latent_dim: int = 3, hidden_dim: int = 2):
        super().__init__(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim))
        _glorot(self)


class IrisVAE(nn.Module):
    """Seed 000's iris VAE: encoder (4 -> 2 -> 3), reparameterisation with log σ, decoder (3 -> 2 -> 4).

    ``forward(x)`` returns ``(x_hat, mu, log_sigma)`` as the post's model does; ``loss(x)`` is the
    post's loss: mean squared error over all entries + β · KL summed over the latent dimension and
    averaged over the batch, with β = 0.1.
    """

    def __init__(self, input_dim: int = 4, latent_dim: int = 3, hidden_dim: int = 2, beta: float = 0.1):
        super().__init__()
        self.encoder = IrisEncoder(input_dim, latent_dim, hidden_dim)
        self.decoder = IrisDecoder(input_dim, latent_dim, hidden_dim)
        self.beta = beta

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
        """z = mu + σ·ε with σ = exp(log_sigma) and ε ~ N(0, I). Shapes: (N, D) -> (N, D)."""
        return mu + torch.exp(log_sigma) * torch.randn_like(mu)

    def encode(self, x: torch.Tensor) -> torch.distributions.Distribution:
        mu, log_sigma = self.encoder(x)
        return torch.distributions.Independent(torch.distributions.Normal(mu, torch.exp(log_sigma)), 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, x_recon: torch.Tensor) -> torch.Tensor:
        """Gaussian log-likelihood with unit variance, summed over features: (N,)."""
        return -0.5 * ((x - x_recon) ** 2).sum(-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.encoder(x)
        z = self.reparameterize(mu, log_sigma)
        return self.decoder(z), mu, log_sigma

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat, mu, log_sigma = self(x)
        return F.mse_loss(x_hat, x) + self.beta * _kl_normal_log_sigma(mu, log_sigma).mean()


# ------------------------------------------------------------------------------------ seed 001
@dataclass
class VAEOutput:
    """What :class:`MLPVAE` returns (the seed's record).

    Attributes:
        z_dist: the encoder's distribution q(z|x) (MultivariateNormal, batch shape (N,)).
        z_sample: (N, latent_dim) sample of z.
        x_recon: (N, input_dim) reconstruction, probabilities in [0, 1].
        loss, loss_recon, loss_kl: 0-d tensors (``None`` when ``compute_loss=False``).
    """

    z_dist: torch.distributions.Distribution
    z_sample: torch.Tensor
    x_recon: torch.Tensor
    loss: torch.Tensor | None
    loss_recon: torch.Tensor | None
    loss_kl: torch.Tensor | None


class MLPVAE(nn.Module):
    """Seed 001's MLP VAE for flattened MNIST digits with pixels in [-0.5, 0.5].

    Encoder input_dim -> h -> h/2 -> h/4 -> h/8 -> 2·latent_dim with SiLU; the scale is
    softplus(·) + eps, giving a diagonal MultivariateNormal. Decoder mirrors it and ends in a
    sigmoid. Loss: binary cross-entropy of the reconstruction against ``x + 0.5`` summed over
    pixels, plus KL to N(0, I), both averaged over the batch.

    Args:
        input_dim: 784 for MNIST. hidden_dim: 512 in the seed. latent_dim: 16 in the seed.
    Shapes:
        encode: (N, input_dim) -> distribution over (N, latent_dim); decode: (N, latent_dim) ->
        (N, input_dim); forward returns :class:`VAEOutput`.
    """

    VAEOutput = VAEOutput

    def __init__(self, input_dim: int = 784, hidden_dim: int = 512, latent_dim: int = 16):
        super().__init__()
        check_positive_int(input_dim, "input_dim")
        check_positive_int(hidden_dim, "hidden_dim", minimum=8)
        check_positive_int(latent_dim, "latent_dim")
        self.input_dim, self.hidden_dim, self.latent_dim = input_dim, hidden_dim, latent_dim
        h = hidden_dim
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, h),
            nn.SiLU(),
            nn.Linear(h, h // 2),
            nn.SiLU(),
            nn.Linear(h // 2, h // 4),
            nn.SiLU(),
            nn.Linear(h // 4, h // 8),
            nn.SiLU(),
            nn.Linear(h // 8, 2 * latent_dim),  # mean and (pre-softplus) scale
        )
        self.softplus = nn.Softplus()
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, h // 8),
            nn.SiLU(),
            nn.Linear(h // 8, h // 4),
            nn.SiLU(),
            nn.Linear(h // 4, h // 2),
            nn.SiLU(),
            nn.Linear(h // 2, h),
            nn.SiLU(),
            nn.Linear(h, input_dim),
            nn.Sigmoid(),
        )

    def _check_input(self, x) -> torch.Tensor:
        x = tensor_arg(x, "x")
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_dim:
            raise ValueError(
                f"x must have {self.input_dim} features in its last dimension (flatten images "
                f"first, e.g. x.reshape(len(x), -1)), got shape {tuple(x.shape)}"
            )
        return x

    def encode(self, x: torch.Tensor, eps: float = 1e-8) -> torch.distributions.MultivariateNormal:
        """q(z|x) as a MultivariateNormal with diagonal scale: (N, input_dim) -> batch (N,)."""
        x = self._check_input(x)
        mu, raw_scale = torch.chunk(self.encoder(x), 2, dim=-1)
        scale = self.softplus(raw_scale) + eps
        return torch.distributions.MultivariateNormal(mu, scale_tril=torch.diag_embed(scale))

    def reparameterize(self, dist: torch.distributions.Distribution) -> torch.Tensor:
        return dist.rsample()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, input_dim) pixel probabilities in [0, 1]."""
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, x_recon: torch.Tensor) -> torch.Tensor:
        """Bernoulli log-likelihood of x + 0.5 under ``x_recon``, summed over pixels: (N,)."""
        target = (x + 0.5).clamp(0.0, 1.0)
        return -F.binary_cross_entropy(x_recon, target, reduction="none").sum(-1)

    def forward(self, x: torch.Tensor, compute_loss: bool = True) -> VAEOutput:
        dist = self.encode(x)
        z = self.reparameterize(dist)
        recon_x = self.decode(z)
        if not compute_loss:
            return VAEOutput(dist, z, recon_x, None, None, None)
        loss_recon = F.binary_cross_entropy(recon_x, x + 0.5, reduction="none").sum(-1).mean()
        std_normal = torch.distributions.MultivariateNormal(
            torch.zeros_like(z),
            scale_tril=torch.eye(z.shape[-1], device=z.device).expand(*z.shape[:-1], -1, -1),
        )
        loss_kl = torch.distributions.kl_divergence(dist, std_normal).mean()
        return VAEOutput(dist, z, recon_x, loss_recon + loss_kl, loss_recon, loss_kl)


# ------------------------------------------------------------------------------------ seed 003
class _ConvCell(nn.Sequential):
    """Conv 3x3 stride 2 + BatchNorm + ReLU: (N, C_in, H, W) -> (N, C_out, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int):
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False)
        nn.init.xavier_uniform_(conv.weight)
        super().__init__(conv, nn.BatchNorm2d(c_out), nn.ReLU())


class _DeconvCell(nn.Sequential):
    """ConvTranspose 4x4 stride 2 + BatchNorm + ReLU: (N, C_in, H, W) -> (N, C_out, 2H, 2W)."""

    def __init__(self, c_in: int, c_out: int):
        deconv = nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=False)
        nn.init.xavier_uniform_(deconv.weight)
        super().__init__(deconv, nn.BatchNorm2d(c_out), nn.ReLU())


class ConvVAE(nn.Module):
    """Seed 003's convolutional VAE for (N, 1, 28, 28) digits normalised to [-1, 1].

    Encoder: 28x28x1 -> 14x14x16 -> 7x7x32 -> flatten 1568 -> mu, log σ² (latent_dim = 100).
    Decoder: latent -> 1568 -> 7x7x32 -> 14x14x16 -> 28x28x1 (linear output, no squashing).
    ``forward(x)`` returns ``(x_hat, mu, log_var)`` as in the seed.
    """

    def __init__(self, input_size: int = 1, latent_dim: int = 100):
        super().__init__()
        check_positive_int(latent_dim, "latent_dim")
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(_ConvCell(input_size, 16), _ConvCell(16, 32), nn.Flatten())
        self.fc_mu = nn.Linear(1568, latent_dim)
        self.fc_logvariance = nn.Linear(1568, latent_dim)
        deconv = nn.ConvTranspose2d(16, input_size, kernel_size=4, stride=2, padding=1, bias=False)
        nn.init.xavier_uniform_(deconv.weight)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 1568),
            nn.Unflatten(1, (32, 7, 7)),
            _DeconvCell(32, 16),
            deconv,
        )

    def _check_input(self, x) -> torch.Tensor:
        x = tensor_arg(x, "x")
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"x must have shape (N, 1, 28, 28), got {tuple(x.shape)}")
        return x

    def encode_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 28, 28) -> (mu, log_var), each (N, latent_dim)."""
        h = self.encoder(self._check_input(x))
        return self.fc_mu(h), self.fc_logvariance(h)

    def encode(self, x: torch.Tensor) -> torch.distributions.Distribution:
        mu, log_var = self.encode_params(x)
        return torch.distributions.Independent(torch.distributions.Normal(mu, torch.exp(0.5 * log_var)), 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, 1, 28, 28)."""
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, x_recon: torch.Tensor) -> torch.Tensor:
        """Gaussian log-likelihood with unit variance, summed over pixels: (N,)."""
        d = x[0].numel()
        return -0.5 * ((x - x_recon) ** 2).flatten(1).sum(1) - 0.5 * d * math.log(2 * math.pi)

    @staticmethod
    def sample_latent_vector(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, log_var = self.encode_params(x)
        z = self.sample_latent_vector(mu, log_var)
        return self.decoder(z), mu, log_var

    @staticmethod
    def seed_loss(x, x_hat, mu, log_var) -> torch.Tensor:
        """Seed 003's loss as written: MSE averaged over pixels + KL summed over the batch.

        The two terms are on very different scales (the KL dominates); kept for the lesson.
        """
        return F.mse_loss(x_hat, x) + kl_normal_log_var(mu, log_var).sum()

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x_hat, mu, log_var = self(x)
        return self.seed_loss(x, x_hat, mu, log_var)


# ------------------------------------------------------- the benchmark's binarised-digit VAE
LIKELIHOODS = ("bernoulli",)  # BernoulliVAE's decoders


class BernoulliVAE(nn.Module):
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
            nn.Linear(784, h1),
            nn.ReLU(),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Linear(h2, 2 * latent_dim),  # mu and log σ²
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, h2),
            nn.ReLU(),
            nn.Linear(h2, h1),
            nn.ReLU(),
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
        return self._encode_checked(self._check_input(x))

    def _encode_checked(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(-12.0, 8.0)

    def _forward_checked(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward` of an input :meth:`_check_input` has already passed (one check per training step)."""
        mu, log_var = self._encode_checked(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return self.decode_logits(z), mu, log_var

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
        return self._forward_checked(self._check_input(x))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Negative ELBO (with β on the KL) per digit, averaged over the batch (shifted: ``max_shift``).

        Returns ``{"loss": scalar, "loss_recon": scalar, "loss_kl": scalar}`` (aelab.fit logs the
        two parts per epoch).
        """
        x = self._check_input(x)  # once per step: the shift and the encoder skip their own checks
        if self.training and self.max_shift:
            x = _shift_checked(x, self.max_shift, None)
        logits, mu, log_var = self._forward_checked(x)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + log_var - mu**2 - log_var.exp())).sum(1).mean()
        return {"loss": recon + self.beta * kl, "loss_recon": recon.detach(), "loss_kl": kl.detach()}
