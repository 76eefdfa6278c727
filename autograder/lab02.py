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


def _few(values, limit: int = 4) -> str:
    """The first few of the learner's own values, for a message."""
    flat = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=float).reshape(-1)
    return "[" + ", ".join(f"{v:.4g}" for v in flat[:limit]) + (", ...]" if flat.size > limit else "]")


def _relative(got, want) -> str:
    """The largest relative difference, as a percentage."""
    pct = 100 * float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-6)))
    return f"{pct:.3g} %" if pct < 1000 else f"{pct:,.0f} %"


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
        fail(f"{name} returned shape {tuple(result.shape)}; it must return shape {tuple(shape)}")
    if not result.is_floating_point():
        fail(f"{name} returned dtype {result.dtype}; it must return floating-point values")
    bad = int((~torch.isfinite(result.detach())).sum())
    if bad:
        fail(f"{name} returned {bad} NaN or infinite value(s) out of {result.numel()}; expected finite numbers")
    return result


# ------------------------------------------------------------------------ reparameterize
def _z(fn, mu, log_sigma, what: str) -> torch.Tensor:
    result = call(fn, mu, log_sigma, name="reparameterize", arg_names=("mu", "log_sigma"), what=what)
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
        if float(std[j]) < 1e-6:
            fail(
                f"reparameterize: over {n} draws with {label}, z takes one value ({float(mean[j]):.3f}) in every "
                "draw; expected draws spread around mu with standard deviation exp(log_sigma): add the noise "
                "exp(log_sigma) * eps, with eps drawn afresh for every element (mu's full shape (N, D))"
            )
        # the mean's tolerance uses the larger of the spreads seen and expected, so that a wrong spread is
        # reported as such (below) rather than as an off-centre mean
        if abs(float(mean[j] - mu_row[j])) > 5 * max(float(sigma[j]), float(std[j])) / math.sqrt(n) + 1e-3:
            fail(
                f"reparameterize: over {n} draws with {label}, the mean of z is {float(mean[j]):.3f}; "
                "expected about mu: z must be centred on mu (is eps drawn from a standard normal distribution?)"
            )
        ratio = float(std[j] / sigma[j])
        if abs(ratio - 1) > 0.04:
            hint = ""
            if abs(float(std[j]) - abs(float(ls_row[j]))) < 0.04 * abs(float(ls_row[j])):
                hint = " It is |log_sigma|: sigma = exp(log_sigma), is the exponential missing?"
            if abs(float(std[j]) - math.exp(float(ls_row[j]) / 2)) < 0.04 * math.exp(float(ls_row[j]) / 2):
                hint = " It is exp(log_sigma / 2): log_sigma was read as a log-variance."
            fail(
                f"reparameterize: over {n} draws with {label}, the standard deviation of z is "
                f"{float(std[j]):.3f}; expected about sigma = exp(log_sigma). Read log_sigma as log σ "
                f"(not log σ²) and check how sigma is computed from it.{hint}"
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
    missing = [name for name, t in (("mu", mu), ("log_sigma", log_sigma)) if t.grad is None]
    if missing:
        fail(
            f"after backpropagation through z, {' and '.join(missing)} got no gradient; expected gradients for "
            "both mu and log_sigma (z must depend on both)"
        )
    if not close(mu.grad.numpy(), np.ones(mu.shape), rtol=RTOL, atol=1e-5):
        fail(
            f"the gradient of z.sum() with respect to mu is {_few(mu.grad)}; expected 1 everywhere: z must be "
            "mu plus the scaled noise"
        )
    want = (z.detach() - mu0).double().numpy()
    got = log_sigma.grad.double().numpy()
    if not close(got, want, rtol=1e-3, atol=1e-5):
        hint = ""
        if close(got, 0.5 * want, rtol=1e-3, atol=1e-5):
            hint = " Yours is half of z - mu: log_sigma was read as a log-variance."
        fail(
            "the gradient of z.sum() with respect to log_sigma is not z - mu = exp(log_sigma) * eps, as it must "
            f"be for z = mu + exp(log_sigma) * eps; read log_sigma as log σ (not log σ²).{hint}"
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
    result = call(fn, mu, log_sigma, name="kl_divergence", arg_names=("mu", "log_sigma"), what=what)
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
    if close(got, want + 0.5 * mu.shape[1], rtol=RTOL, atol=ATOL) or close(
        got, want - 0.5 * mu.shape[1], rtol=RTOL, atol=ATOL
    ):
        return " Your values are off by 0.5 per latent dimension: compare the constant term with the task's formula."
    if np.ptp(got) < 1e-9 and np.ptp(want) > 1e-3:
        return " Every sample got the same value: is the KL averaged over the batch before it is returned?"
    if close(got, want / mu.shape[0], rtol=RTOL, atol=ATOL):
        return " Your values look divided by the batch size; the task asks for each sample's own KL."
    return " Compare your formula with the task's term by term."


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
            fail(
                f"kl_divergence gives wrong values for mu of shape {shape}: yours start {_few(got)} and differ "
                f"from the expected KL of each sample by up to {_relative(got, want)}." + _kl_hint(got, mu, log_sigma)
            )


@grader("kl_divergence")
def check_kl_divergence_properties(fn):
    """kl_divergence is 0 at the prior, positive elsewhere, and each sample's value ignores the rest of the batch."""
    zeros = torch.zeros(4, 3)
    got = _kl(fn, zeros, zeros.clone(), "for mu = 0, log_sigma = 0")
    if not close(got, np.zeros(4), atol=1e-6):
        fail(
            f"kl_divergence gave {_few(got)} when q is the prior N(0, I) (mu = 0, log_sigma = 0); expected 0 "
            "for every sample."
        )
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
                f"kl_divergence gives a sample {float(alone[0]):.4g} alone and {float(got[i]):.4g} inside a batch of "
                "10; expected the same value: compute it per sample, without averaging over the batch."
            )


@grader("kl_divergence")
def check_kl_divergence_gradients(fn):
    """kl_divergence is built from torch operations: gradients flow to mu and log_sigma."""
    mu0, ls0 = _params((5, 3), 80)
    mu = mu0.clone().requires_grad_(True)
    log_sigma = ls0.clone().requires_grad_(True)
    result = call(
        fn,
        mu,
        log_sigma,
        name="kl_divergence",
        arg_names=("mu", "log_sigma"),
        what="for mu and log_sigma that require gradients",
    )
    kl = _tensor(result, "kl_divergence for mu and log_sigma of shape (5, 3)", (5,))
    if not kl.requires_grad:
        fail("kl_divergence returned values without gradients: use torch operations (it is part of the training loss)")
    kl.sum().backward()
    missing = [name for name, t in (("mu", mu), ("log_sigma", log_sigma)) if t.grad is None]
    if missing:
        fail(
            f"after backpropagation through kl_divergence, {' and '.join(missing)} got no gradient; expected "
            "gradients for both mu and log_sigma (the KL depends on both)"
        )
    ok_mu = close(mu.grad.double().numpy(), mu0.double().numpy(), rtol=1e-3, atol=1e-5)
    ok_ls = close(log_sigma.grad.double().numpy(), (torch.exp(2 * ls0.double()) - 1).numpy(), rtol=1e-3, atol=1e-5)
    if not (ok_mu and ok_ls):
        wrong = " and ".join(n for n, ok in (("mu", ok_mu), ("log_sigma", ok_ls)) if not ok)
        values_ok = close(
            kl.detach().double().numpy(), ref.kl_divergence(mu0.double(), ls0.double()).numpy(), rtol=RTOL, atol=ATOL
        )
        why = (
            "The values are right, so part of the formula is computed from a detached copy (.detach(), .item(), "
            "numpy) or from a constant where the tensor belongs."
            if values_ok
            else "The values are wrong too: fix the formula first (see the values check)."
        )
        fail(
            f"the gradient of kl_divergence(...).sum() with respect to {wrong} does not match the derivative of the "
            f"task's formula. {why}"
        )


# ------------------------------------------------------------------------ latent_log_density
def _density(fn, z, mu, log_sigma, what: str):
    result = call(fn, z, mu, log_sigma, name="latent_log_density", arg_names=("z", "mu", "log_sigma"), what=what)
    try:
        return as_floats(result, mu.shape[0], f"latent_log_density {what}")
    except AssertionError as exc:
        if "NaN or inf" not in str(exc):
            raise
        fail(
            f"{exc}; expected finite log-densities (a -inf often comes from the logarithm of a density that "
            "underflowed to 0 far from the mean: compute the log-density directly, not log(density))"
        )


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
    if close(got, ref.latent_log_density(z, mu, ls).numpy() / math.log(10), rtol=RTOL, atol=ATOL):
        return " Your values are in base-10 logarithms; the task asks for the natural logarithm."
    if close(got, -ref.latent_log_density(z, mu, ls).numpy(), rtol=RTOL, atol=ATOL):
        return (
            " Your values have the wrong sign: return the log-density itself (the anomaly score, its negative, "
            "comes later)."
        )
    if close(got, (2 * quad - ls - 0.5 * LOG_2PI).sum(-1).numpy(), rtol=RTOL, atol=ATOL):
        return " The quadratic term is twice too large: look at its factor."
    if close(got, (-0.5 * ((z - mu) / (2 * ls).exp()) ** 2 - ls - 0.5 * LOG_2PI).sum(-1).numpy(), rtol=RTOL, atol=ATOL):
        return " The quadratic term divides by sigma² where it divides by sigma."
    return " Compare your formula with the log-density of a diagonal Gaussian in the task, term by term."


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
                f"latent_log_density gives wrong values for z of shape {shape}: yours start {_few(got)} and "
                f"differ from the expected log-densities by up to {_relative(got, want)}."
                + _density_hint(got, z, mu, log_sigma)
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
                        f"dimensions: yours {_few(got)} differ from the expected log-densities by "
                        f"up to {_relative(got, want)}." + _density_hint(got, z, mu, log_sigma)
                    )
