"""The lab 02 checks are fair: the reference passes, known mistakes lose points, other right answers don't."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from grader_helpers import Lab, message

import autograder
from autograder import reference as ref

LAB = Lab("lab02")
ids, failures = LAB.ids, LAB.failures
LOG_2PI = math.log(2 * math.pi)


# ----------------------------------------------------------------- reparameterize
def rp_distribution(mu, log_sigma):
    return torch.distributions.Normal(mu, torch.exp(log_sigma)).rsample()


def rp_numpy_eps(mu, log_sigma):
    eps = torch.from_numpy(np.random.standard_normal(tuple(mu.shape))).to(mu.dtype)
    return mu + log_sigma.exp() * eps


def rp_loop(mu, log_sigma):
    rows = [m + torch.exp(s) * torch.randn(m.shape) for m, s in zip(mu, log_sigma)]
    return torch.stack(rows)


def rp_noisy(mu, log_sigma):
    print("sampling z")
    warnings.warn("a learner's warning")
    return ref.reparameterize(mu, log_sigma)


RIGHT_RP = [ref.reparameterize, rp_distribution, rp_numpy_eps, rp_loop, rp_noisy]

WRONG_RP = {
    "log_variance_reading": lambda mu, ls: mu + torch.exp(0.5 * ls) * torch.randn_like(mu),
    "post_as_written": lambda mu, ls: mu + torch.randn_like(mu) * torch.sqrt(torch.exp(ls)),
    "missing_exp": lambda mu, ls: mu + ls * torch.randn_like(mu),
    "deterministic": lambda mu, ls: mu.clone(),
    "deterministic_plus_sigma": lambda mu, ls: mu + torch.exp(ls),
    "uniform_eps": lambda mu, ls: mu + torch.exp(ls) * torch.rand_like(mu),
    "uniform_eps_centred": lambda mu, ls: mu + torch.exp(ls) * (torch.rand_like(mu) * 2 - 1),
    "uniform_eps_unit_variance": lambda mu, ls: mu + torch.exp(ls) * (torch.rand_like(mu) * 2 - 1) * math.sqrt(3),
    "variance_as_std": lambda mu, ls: mu + torch.exp(2 * ls) * torch.randn_like(mu),
    "shared_eps": lambda mu, ls: mu + torch.exp(ls) * torch.randn(mu.shape[-1]),
    "no_gradient_sample": lambda mu, ls: torch.distributions.Normal(mu, torch.exp(ls)).sample(),
    "detached": lambda mu, ls: (mu + torch.exp(ls) * torch.randn_like(mu)).detach(),
    "numpy_result": lambda mu, ls: (mu + torch.exp(ls) * torch.randn_like(mu)).detach().numpy(),
    "fixed_generator": lambda mu, ls: (
        mu + torch.exp(ls) * torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    ),
    # in-place mistakes: the training loss passes the same tensors to kl_divergence right after sampling
    "in_place_mu": lambda mu, ls: mu.add_(torch.exp(ls) * torch.randn_like(mu)),
    "in_place_log_sigma": lambda mu, ls: mu + ls.exp_() * torch.randn_like(mu),
}


# ----------------------------------------------------------------- kl_divergence
def kl_distributions(mu, log_sigma):
    q = torch.distributions.Normal(mu, torch.exp(log_sigma))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(-1)


def kl_logvar_rewritten(mu, log_sigma):
    log_var = 2 * log_sigma
    return -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp(), dim=1)


def kl_loop(mu, log_sigma):
    out = []
    for m, s in zip(mu, log_sigma):
        total = 0.0
        for j in range(m.shape[0]):
            total = total + 0.5 * (torch.exp(2 * s[j]) + m[j] ** 2 - 1 - 2 * s[j])
        out.append(total)
    return torch.stack(out)


RIGHT_KL = [ref.kl_divergence, kl_distributions, kl_logvar_rewritten, kl_loop]

WRONG_KL = {
    "log_variance_formula": lambda mu, ls: -0.5 * (1 + ls - mu**2 - ls.exp()).sum(-1),
    "missing_half": lambda mu, ls: (torch.exp(2 * ls) + mu**2 - 1 - 2 * ls).sum(-1),
    "batch_mean": lambda mu, ls: ref.kl_divergence(mu, ls).mean(),
    "batch_mean_broadcast": lambda mu, ls: ref.kl_divergence(mu, ls).mean().expand(mu.shape[0]),
    "sign_error": lambda mu, ls: -ref.kl_divergence(mu, ls),
    "mean_over_latent": lambda mu, ls: 0.5 * (torch.exp(2 * ls) + mu**2 - 1 - 2 * ls).mean(-1),
    "no_sum": lambda mu, ls: 0.5 * (torch.exp(2 * ls) + mu**2 - 1 - 2 * ls),
    "numpy": lambda mu, ls: ref.kl_divergence(mu, ls).detach().numpy(),
    "missing_minus_one": lambda mu, ls: 0.5 * (torch.exp(2 * ls) + mu**2 - 2 * ls).sum(-1),
    "divided_by_batch": lambda mu, ls: ref.kl_divergence(mu, ls) / mu.shape[0],  # the post's "/ len", per sample
    "keepdim": lambda mu, ls: ref.kl_divergence(mu, ls)[:, None],
    "detached_sigma": lambda mu, ls: 0.5 * (torch.exp(2 * ls.detach()) + mu**2 - 1 - 2 * ls).sum(-1),
    "in_place": lambda mu, ls: ref.kl_divergence(mu, ls.mul_(2) / 2),
    "clamped_log_sigma": lambda mu, ls: ref.kl_divergence(mu, ls.clamp(min=-1.0)),
}


# ----------------------------------------------------------------- latent_log_density
def lld_distribution(z, mu, log_sigma):
    return torch.distributions.Normal(mu, torch.exp(log_sigma)).log_prob(z).sum(-1)


def lld_mvn(z, mu, log_sigma):
    mvn = torch.distributions.MultivariateNormal(mu, scale_tril=torch.diag_embed(torch.exp(log_sigma)))
    return mvn.log_prob(z)


def lld_numpy(z, mu, log_sigma):
    z, mu, ls = (np.asarray(a, dtype=np.float64) for a in (z, mu, log_sigma))
    sigma = np.exp(ls)
    return np.sum(-0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi)), axis=1)


def lld_scipy(z, mu, log_sigma):
    from scipy.stats import norm

    return norm.logpdf(np.asarray(z), loc=np.asarray(mu), scale=np.exp(np.asarray(log_sigma))).sum(axis=1)


def lld_loop(z, mu, log_sigma):
    out = []
    for zi, mi, si in zip(z.tolist(), mu.tolist(), log_sigma.tolist()):
        out.append(sum(-0.5 * ((a - b) / math.exp(s)) ** 2 - s - 0.5 * LOG_2PI for a, b, s in zip(zi, mi, si)))
    return out


RIGHT_LLD = [ref.latent_log_density, lld_distribution, lld_mvn, lld_numpy, lld_scipy, lld_loop]

WRONG_LLD = {
    "missing_log_sigma": lambda z, mu, ls: (-0.5 * ((z - mu) / ls.exp()) ** 2 - 0.5 * LOG_2PI).sum(-1),
    "missing_2pi": lambda z, mu, ls: (-0.5 * ((z - mu) / ls.exp()) ** 2 - ls).sum(-1),
    "variance_as_sigma": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(2 * ls)).log_prob(z).sum(-1),
    "log_variance_reading": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(0.5 * ls)).log_prob(z).sum(-1),
    "density_not_log": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(ls)).log_prob(z).sum(-1).exp(),
    "mean_over_latent": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(ls)).log_prob(z).mean(-1),
    "no_sum": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(ls)).log_prob(z),
    "batch_sum": lambda z, mu, ls: torch.distributions.Normal(mu, torch.exp(ls)).log_prob(z).sum(),
    "missing_half": lambda z, mu, ls: (-(((z - mu) / ls.exp()) ** 2) - ls - 0.5 * LOG_2PI).sum(-1),
    "sign_error": lambda z, mu, ls: -ref.latent_log_density(z, mu, ls),  # the anomaly score, not the log-density
    "variance_in_quadratic": lambda z, mu, ls: (-0.5 * ((z - mu) / (2 * ls).exp()) ** 2 - ls - 0.5 * LOG_2PI).sum(-1),
    "log10": lambda z, mu, ls: ref.latent_log_density(z, mu, ls) / math.log(10),
    "in_place": lambda z, mu, ls: ref.latent_log_density(z.sub_(mu), torch.zeros_like(mu), ls),
    "clamped_log_sigma": lambda z, mu, ls: ref.latent_log_density(z, mu, ls.clamp(min=-1.0)),  # "for stability"
}


# ----------------------------------------------------------------- tests
RIGHT = {"reparameterize": RIGHT_RP, "kl_divergence": RIGHT_KL, "latent_log_density": RIGHT_LLD}
WRONG = {"reparameterize": WRONG_RP, "kl_divergence": WRONG_KL, "latent_log_density": WRONG_LLD}
test_right_answers_pass_every_check, test_wrong_answers_lose_points = LAB.catalogue_tests(RIGHT, WRONG)


def test_ids_and_registry():
    assert ids("reparameterize") == [
        "lab02.reparameterize.shape",
        "lab02.reparameterize.statistics",
        "lab02.reparameterize.gradients",
        "lab02.reparameterize.stochastic",
    ]
    assert ids("kl_divergence") == [
        "lab02.kl_divergence.shape",
        "lab02.kl_divergence.values",
        "lab02.kl_divergence.properties",
        "lab02.kl_divergence.gradients",
    ]
    assert ids("latent_log_density") == [
        "lab02.latent_log_density.shape",
        "lab02.latent_log_density.values",
        "lab02.latent_log_density.constants",
    ]


@pytest.mark.parametrize("seed", range(5))
def test_reparameterize_statistics_do_not_depend_on_global_rng(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    for fn in (ref.reparameterize, rp_numpy_eps, rp_distribution):
        autograder.check("lab02.reparameterize.statistics", fn)


def test_checks_are_quiet(capfd):
    right = {ex: fns[1:2] + ([rp_noisy] if ex == "reparameterize" else []) for ex, fns in RIGHT.items()}
    LAB.assert_quiet(capfd, right, WRONG)


def test_log_variance_reading_is_named_in_the_message():
    assert "log σ" in message("lab02.reparameterize.statistics", WRONG_RP["log_variance_reading"])
    assert "log-variance" in message("lab02.kl_divergence.values", WRONG_KL["log_variance_formula"])


def test_messages_say_what_was_seen_and_what_was_expected():
    msg = message("lab02.reparameterize.statistics", WRONG_RP["log_variance_reading"])
    assert "expected about sigma = exp(log_sigma)" in msg and "exp(log_sigma / 2)" in msg
    assert "half of z - mu" in message("lab02.reparameterize.gradients", WRONG_RP["post_as_written"])
    assert "in place" in message("lab02.reparameterize.shape", WRONG_RP["in_place_log_sigma"])
    assert "in place" in message("lab02.kl_divergence.shape", WRONG_KL["in_place"])
    assert "in place" in message("lab02.latent_log_density.shape", WRONG_LLD["in_place"])
    msg = message("lab02.kl_divergence.gradients", WRONG_KL["detached_sigma"])
    assert "with respect to log_sigma" in msg and "mu and" not in msg and "values are right" in msg
    assert "values are wrong too" in message("lab02.kl_divergence.gradients", WRONG_KL["log_variance_formula"])
    assert "0.5 per latent dimension" in message("lab02.kl_divergence.values", WRONG_KL["missing_minus_one"])
    assert "divided by the batch size" in message("lab02.kl_divergence.values", WRONG_KL["divided_by_batch"])
    assert "returned shape (6, 1)" in message("lab02.kl_divergence.shape", WRONG_KL["keepdim"])
    assert "wrong sign" in message("lab02.latent_log_density.values", WRONG_LLD["sign_error"])
    assert "sigma²" in message("lab02.latent_log_density.values", WRONG_LLD["variance_in_quadratic"])
    assert "twice too large" in message("lab02.latent_log_density.values", WRONG_LLD["missing_half"])
    msg = message("lab02.kl_divergence.properties", WRONG_KL["batch_mean_broadcast"])
    assert "alone and" in msg and "inside a batch" in msg


def test_value_messages_show_the_learners_values_not_the_expected_ones():
    """A wrong value's message quotes the learner's own numbers and a relative difference, never the reference's."""
    import autograder.lab02 as lab02

    mu, log_sigma = lab02._params((8, 3), 60)
    want = ref.kl_divergence(mu.double(), log_sigma.double()).numpy()
    msg = message("lab02.kl_divergence.values", WRONG_KL["missing_half"])
    assert "yours start [" in msg and "%" in msg
    for v in want[:4]:
        assert f"{v:.4g}" not in msg
