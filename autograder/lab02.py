"""Checks of lab 02 (the iris VAE): ``reparameterize``, ``kl_divergence``, ``latent_log_density``.

The specification is the task text of ``source/02_iris_vae``; the encoder's second output is
log σ everywhere (σ = exp(log_sigma)), never log σ²:

- ``reparameterize(mu, log_sigma)``: z = mu + exp(log_sigma) * eps, eps ~ N(0, I) drawn afresh,
  shape (N, D); a torch tensor through which gradients flow to mu and log_sigma.
- ``kl_divergence(mu, log_sigma)``: 0.5 * sum_j (exp(2 log σ_j) + μ_j² - 1 - 2 log σ_j), one value
  per sample, shape (N,); torch operations (it is part of the training loss).
- ``latent_log_density(z, mu, log_sigma)``: log N(z; μ, diag σ²) summed over the latent dimension,
  shape (N,); torch or numpy.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import reference as ref
from ._common import as_floats, call, close, fail
from .core import grader

RTOL = ATOL = 1e-4
LOG_2PI = math.log(2 * math.pi)

# The course library's code that computes what an exercise asks for, as "module:qualname": an answer
# that calls any of it (directly, through an alias or getattr, or deep inside a helper) fails every
# check of the exercise (autograder.core). Only what a right answer has no use for is listed.
# (IrisVAE.forward and IrisVAE.loss call two of them; no answer has a reason to call those either.)
LIBRARY_ANSWERS = {
    "reparameterize": (
        "aelab.models:IrisVAE.reparameterize",
        "aelab.models:MLPVAE.reparameterize",
        "aelab.models:ConvVAE.sample_latent_vector",
    ),
    "kl_divergence": ("aelab.losses:_kl_normal_log_sigma", "aelab.losses:kl_normal_log_var"),
    "latent_log_density": (),  # nothing in aelab evaluates it (torch.distributions may be used)
}


def _params(shape, seed: int, *, mu_scale: float = 1.5, ls_low: float = -1.5, ls_high: float = 1.0):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=gen) * mu_scale
    log_sigma = torch.rand(shape, generator=gen) * (ls_high - ls_low) + ls_low
    return mu, log_sigma


def _tensor(result, name: str, shape) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        fail(
            f"{name} returned {type(result).__name__}; it must return a torch tensor built with torch "
            "operations, so that gradients can flow through it during training"
        )
    if tuple(result.shape) != tuple(shape):
        fail(
            f"{name} returned shape {tuple(result.shape)} for inputs of shape {tuple(shape)}; "
            f"it must return shape {tuple(shape)}"
        )
    if not result.is_floating_point():
        fail(f"{name} returned dtype {result.dtype}; it must return floating-point values")
    if not bool(torch.isfinite(result).all()):
        fail(f"{name} returned NaN or inf values")
    return result


# ------------------------------------------------------------------------ reparameterize
def _z(fn, mu, log_sigma, what: str) -> torch.Tensor:
    result = call(fn, mu, log_sigma, name="reparameterize", what=what)
    return _tensor(result, f"reparameterize {what}", mu.shape)


@grader("reparameterize")
def check_reparameterize_shape(fn):
    """reparameterize returns a floating-point torch tensor of mu's shape (N, D)."""
    for i, shape in enumerate([(5, 3), (1, 2), (64, 8), (7, 1)]):
        mu, log_sigma = _params(shape, 30 + i)
        _z(fn, mu, log_sigma, f"for mu of shape {shape}")


@grader("reparameterize")
def check_reparameterize_statistics(fn):
    """reparameterize draws z ~ N(mu, exp(log_sigma)^2): mean, standard deviation and shape of a big sample."""
    n = 20000
    mu_row = torch.tensor([-2.0, 0.5, 3.0, 0.0, 1.0])
    ls_row = torch.tensor([-1.0, 0.0, 0.7, -2.5, 0.4])
    mu = mu_row.expand(n, -1).clone()
    log_sigma = ls_row.expand(n, -1).clone()
    z = _z(fn, mu, log_sigma, f"for a batch of shape {tuple(mu.shape)}").detach().double()
    sigma = torch.exp(ls_row.double())
    mean = z.mean(0)
    std = z.std(0)
    for j in range(len(mu_row)):
        label = f"mu = {float(mu_row[j]):g}, log_sigma = {float(ls_row[j]):g}"
        if abs(float(mean[j] - mu_row[j])) > 5 * float(sigma[j]) / math.sqrt(n) + 1e-3:
            fail(
                f"reparameterize: over {n} draws with {label}, the mean of z is {float(mean[j]):.3f}; "
                "z must be centred on mu (is eps drawn from a standard normal distribution?)"
            )
        ratio = float(std[j] / sigma[j])
        if abs(ratio - 1) > 0.04:
            fail(
                f"reparameterize: over {n} draws with {label}, the standard deviation of z is "
                f"{float(std[j]):.3f}, which is not sigma. Read log_sigma as log σ (not log σ²) and "
                "check how sigma is computed from it."
            )
        inside = float(((z[:, j] - mu_row[j]).abs() < sigma[j]).double().mean())
        if abs(inside - 0.6827) > 0.02:
            fail(
                f"reparameterize: over {n} draws with {label}, {100 * inside:.1f} % of z lie within one "
                "sigma of mu; a normal distribution has 68.3 % there. Draw eps from N(0, I)."
            )


@grader("reparameterize")
def check_reparameterize_gradients(fn):
    """reparameterize lets gradients flow to mu (dz/dmu = 1) and log_sigma (dz/dlog_sigma = z - mu)."""
    mu0, ls0 = _params((6, 3), 40)
    mu = mu0.clone().requires_grad_(True)
    log_sigma = ls0.clone().requires_grad_(True)
    z = _z(fn, mu, log_sigma, "for mu and log_sigma that require gradients")
    if not z.requires_grad:
        fail(
            "reparameterize returned a z that does not require gradients: build z from mu and log_sigma "
            "with torch operations (this is the point of the reparameterisation trick)"
        )
    try:
        z.sum().backward()
    except Exception as exc:  # noqa: BLE001
        fail(f"backpropagating through reparameterize's z failed: {type(exc).__name__}: {exc}")
    if mu.grad is None or log_sigma.grad is None:
        fail("after backpropagation through z, mu or log_sigma has no gradient; z must depend on both")
    if not close(mu.grad.numpy(), np.ones(mu.shape), rtol=RTOL, atol=1e-5):
        fail("the gradient of z with respect to mu is not 1: z must be mu plus the scaled noise")
    want = (z.detach() - mu0).double().numpy()
    if not close(log_sigma.grad.double().numpy(), want, rtol=1e-3, atol=1e-5):
        fail(
            "the gradient of z with respect to log_sigma does not match z = mu + exp(log_sigma) * eps; "
            "read log_sigma as log σ (not log σ²)"
        )


@grader("reparameterize")
def check_reparameterize_stochastic(fn):
    """reparameterize draws fresh noise for every element and on every call (it is not deterministic)."""
    mu = torch.zeros(50, 3)
    log_sigma = torch.zeros(50, 3)
    z1 = _z(fn, mu, log_sigma, "for mu = 0, log_sigma = 0 of shape (50, 3)").detach()
    if bool(torch.allclose(z1, mu)):
        fail("reparameterize returned z = mu: the sample must include the noise term")
    if bool(torch.allclose(z1, z1[:1].expand_as(z1))):
        fail("reparameterize gave every sample of the batch the same z: draw eps with mu's full shape (N, D)")
    if bool(torch.allclose(z1, z1[:, :1].expand_as(z1))):
        fail("reparameterize gave every latent dimension the same value: draw eps with mu's full shape (N, D)")
    torch.manual_seed(12345)
    try:
        z2 = fn(mu.clone(), log_sigma.clone())
    except Exception as exc:  # noqa: BLE001
        fail(f"reparameterize raised {type(exc).__name__} on a second call: {exc}")
    z2 = _tensor(z2, "reparameterize (second call)", mu.shape).detach()
    if bool(torch.allclose(z1.double(), z2.double())):
        fail(
            "two calls of reparameterize with different random states gave the same z: draw new noise "
            "on every call (no fixed seed or generator inside the function)"
        )


# ------------------------------------------------------------------------ kl_divergence
def _kl(fn, mu, log_sigma, what: str):
    result = call(fn, mu, log_sigma, name="kl_divergence", what=what)
    return as_floats(result, mu.shape[0], f"kl_divergence {what}")


def _kl_hint(got, mu, log_sigma) -> str:
    want = ref.kl_divergence(mu.double(), log_sigma.double()).numpy()
    logvar = (-0.5 * (1 + log_sigma.double() - mu.double() ** 2 - log_sigma.double().exp()).sum(-1)).numpy()
    if close(got, logvar, rtol=RTOL, atol=ATOL):
        return " Your values treat log_sigma as a log-variance; here it is log σ."
    if close(got, 2 * want, rtol=RTOL, atol=ATOL):
        return " Your values are twice too large (look at the factor in front of the sum)."
    if close(got, -want, rtol=RTOL, atol=ATOL):
        return " Your values have the wrong sign: a KL divergence is never negative."
    if close(got, want / mu.shape[1], rtol=RTOL, atol=ATOL):
        return " Your values look averaged over the latent dimension; the task sums over it."
    return " Check the formula in the task text."


@grader("kl_divergence")
def check_kl_divergence_shape(fn):
    """kl_divergence returns one value per sample, shape (N,), also for N = 1."""
    for i, shape in enumerate([(6, 3), (1, 2), (4, 10), (9, 1)]):
        mu, log_sigma = _params(shape, 50 + i)
        _kl(fn, mu, log_sigma, f"for mu of shape {shape}")


@grader("kl_divergence")
def check_kl_divergence_values(fn):
    """kl_divergence matches 0.5 * sum(exp(2 log_sigma) + mu^2 - 1 - 2 log_sigma) per sample."""
    for i, shape in enumerate([(8, 3), (5, 6), (1, 4)]):
        mu, log_sigma = _params(shape, 60 + i)
        got = _kl(fn, mu, log_sigma, f"for mu of shape {shape}")
        want = ref.kl_divergence(mu.double(), log_sigma.double()).numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            fail(f"kl_divergence gives wrong values for mu of shape {shape}." + _kl_hint(got, mu, log_sigma))


@grader("kl_divergence")
def check_kl_divergence_properties(fn):
    """kl_divergence is 0 at the prior, positive elsewhere, and each sample's value ignores the rest of the batch."""
    zeros = torch.zeros(4, 3)
    got = _kl(fn, zeros, zeros.clone(), "for mu = 0, log_sigma = 0")
    if not close(got, np.zeros(4), atol=1e-6):
        fail("kl_divergence must be 0 when q is the prior N(0, I) (mu = 0, log_sigma = 0).")
    mu, log_sigma = _params((10, 3), 70)
    got = _kl(fn, mu, log_sigma, "for random mu and log_sigma")
    if np.any(got < -1e-6):
        fail(
            "kl_divergence returned negative values: a KL divergence is never negative." + _kl_hint(got, mu, log_sigma)
        )
    for i in (0, 7):
        alone = _kl(fn, mu[i : i + 1].clone(), log_sigma[i : i + 1].clone(), "for one sample")
        if not close(alone, got[i : i + 1], rtol=RTOL, atol=ATOL):
            fail(
                "kl_divergence gives a sample a different value alone than inside a batch: compute it per "
                "sample, without averaging over the batch."
            )


@grader("kl_divergence")
def check_kl_divergence_gradients(fn):
    """kl_divergence is built from torch operations: gradients flow to mu and log_sigma."""
    mu0, ls0 = _params((5, 3), 80)
    mu = mu0.clone().requires_grad_(True)
    log_sigma = ls0.clone().requires_grad_(True)
    result = call(fn, mu, log_sigma, name="kl_divergence", what="for mu and log_sigma that require gradients")
    kl = _tensor(result, "kl_divergence", (5,))
    if not kl.requires_grad:
        fail("kl_divergence returned values without gradients: use torch operations (it is part of the training loss)")
    kl.sum().backward()
    if mu.grad is None or log_sigma.grad is None:
        fail("after backpropagation, mu or log_sigma has no gradient; the KL depends on both")
    ok_mu = close(mu.grad.double().numpy(), mu0.double().numpy(), rtol=1e-3, atol=1e-5)
    ok_ls = close(log_sigma.grad.double().numpy(), (torch.exp(2 * ls0.double()) - 1).numpy(), rtol=1e-3, atol=1e-5)
    if not (ok_mu and ok_ls):
        fail(
            "the gradients of kl_divergence with respect to mu and log_sigma do not match the formula in the task text."
        )


# ------------------------------------------------------------------------ latent_log_density
def _density(fn, z, mu, log_sigma, what: str):
    result = call(fn, z, mu, log_sigma, name="latent_log_density", what=what)
    return as_floats(result, mu.shape[0], f"latent_log_density {what}")


def _density_hint(got, z, mu, log_sigma) -> str:
    z, mu, ls = z.double(), mu.double(), log_sigma.double()
    quad = -0.5 * ((z - mu) / ls.exp()) ** 2
    d = mu.shape[1]
    if close(got, (quad - 0.5 * LOG_2PI).sum(-1).numpy(), rtol=RTOL, atol=ATOL):
        return " The normalisation of each Gaussian factor depends on sigma: a term is missing."
    if close(got, (quad - ls).sum(-1).numpy(), rtol=RTOL, atol=ATOL):
        return " The normalising constant of the standard normal density is missing."
    if close(got, ref.latent_log_density(z, mu, 2 * ls).numpy(), rtol=RTOL, atol=ATOL):
        return " Your values use sigma² where sigma belongs (sigma = exp(log_sigma))."
    if close(got, ref.latent_log_density(z, mu, 0.5 * ls).numpy(), rtol=RTOL, atol=ATOL):
        return " Your values read log_sigma as a log-variance; here it is log σ."
    if close(got, ref.latent_log_density(z, mu, ls).numpy() / d, rtol=RTOL, atol=ATOL):
        return " Your values look averaged over the latent dimension; the task sums over it."
    if close(got, np.exp(ref.latent_log_density(z, mu, ls).numpy()), rtol=RTOL, atol=1e-8):
        return " Return the log-density, not the density."
    return " Check the formula of the log-density of a diagonal Gaussian."


@grader("latent_log_density")
def check_latent_log_density_shape(fn):
    """latent_log_density returns one value per sample, shape (N,), also for N = 1."""
    for i, shape in enumerate([(6, 3), (1, 2), (4, 10), (9, 1)]):
        mu, log_sigma = _params(shape, 90 + i)
        z = mu + torch.randn(shape, generator=torch.Generator().manual_seed(i))
        _density(fn, z, mu, log_sigma, f"for z of shape {shape}")


@grader("latent_log_density")
def check_latent_log_density_values(fn):
    """latent_log_density matches log N(z; mu, diag exp(log_sigma)^2) summed over the latent dimension."""
    for i, shape in enumerate([(8, 3), (5, 6), (1, 4)]):
        mu, log_sigma = _params(shape, 100 + i)
        gen = torch.Generator().manual_seed(200 + i)
        z = mu + 2.0 * torch.randn(shape, generator=gen)
        got = _density(fn, z, mu, log_sigma, f"for z of shape {shape}")
        want = ref.latent_log_density(z, mu, log_sigma).numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            fail(
                f"latent_log_density gives wrong values for z of shape {shape}." + _density_hint(got, z, mu, log_sigma)
            )


@grader("latent_log_density")
def check_latent_log_density_constants(fn):
    """latent_log_density has the right normalisation: values at z = mu and one sigma away, for several sigma and D."""
    for d in (1, 3, 5):
        for c in (0.0, -1.2, 0.8):
            mu = torch.linspace(-1, 1, 2 * d).reshape(2, d)
            log_sigma = torch.full((2, d), c)
            for k, label in ((0.0, "z = mu"), (1.0, "z one sigma above mu")):
                z = mu + k * torch.exp(log_sigma)
                got = _density(fn, z, mu, log_sigma, f"at {label} with log_sigma = {c:g}, D = {d}")
                want = ref.latent_log_density(z, mu, log_sigma).numpy()
                if not close(got, want, rtol=RTOL, atol=ATOL):
                    fail(
                        f"latent_log_density is wrong at {label} with every log_sigma = {c:g} in D = {d} "
                        f"dimensions." + _density_hint(got, z, mu, log_sigma)
                    )
