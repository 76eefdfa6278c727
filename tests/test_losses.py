"""aelab.losses: KL in both parameterisations against torch, reconstruction terms, β-VAE loss."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

import aelab
from aelab.losses import _kl_normal_log_sigma


@pytest.fixture
def gaussian():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(7, 5, generator=g, dtype=torch.float64)
    log_sigma = 0.5 * torch.randn(7, 5, generator=g, dtype=torch.float64)
    return mu, log_sigma


def test_kl_log_sigma_matches_torch(gaussian):
    mu, log_sigma = gaussian
    want = kl_divergence(Normal(mu, log_sigma.exp()), Normal(0.0, 1.0)).sum(-1)
    got = _kl_normal_log_sigma(mu, log_sigma)
    assert got.shape == (7,)
    assert torch.allclose(got, want, atol=1e-10)


def test_kl_log_var_matches_torch(gaussian):
    mu, log_var = gaussian
    want = kl_divergence(Normal(mu, (0.5 * log_var).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(aelab.kl_normal_log_var(mu, log_var), want, atol=1e-10)


def test_the_two_parameterisations_differ(gaussian):
    mu, log_sigma = gaussian
    # the iris post's pitfall: the same number read as log σ and as log σ² gives different KLs
    assert not torch.allclose(_kl_normal_log_sigma(mu, log_sigma), aelab.kl_normal_log_var(mu, log_sigma))
    assert torch.allclose(_kl_normal_log_sigma(mu, log_sigma), aelab.kl_normal_log_var(mu, 2 * log_sigma))


def test_kl_is_zero_at_the_prior():
    assert torch.all(_kl_normal_log_sigma(torch.zeros(3, 4), torch.zeros(3, 4)) == 0)


def test_reconstruction_terms():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(6, 3, 4, generator=g)
    x_hat = torch.rand(6, 3, 4, generator=g).clamp(0.01, 0.99)
    mse = aelab.reconstruction_term(x, x_hat, "mse")
    assert mse.shape == (6,)
    assert torch.allclose(mse, ((x_hat - x) ** 2).flatten(1).mean(1))
    assert torch.allclose(aelab.reconstruction_term(x, x_hat, "l1", "sum"), (x_hat - x).abs().flatten(1).sum(1))
    bce = aelab.reconstruction_term(x, x_hat, "bce", "sum")
    assert torch.allclose(bce, F.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1))


def test_reconstruction_term_takes_the_data_first():
    """(x, x_hat), as lab 01's reconstruction_error: BCE is not symmetric, so the order shows."""
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    x_hat = torch.tensor([[0.5, 0.25], [0.9, 0.6]])
    assert torch.allclose(
        aelab.reconstruction_term(x, x_hat, "bce"), F.binary_cross_entropy(x_hat, x, reduction="none").mean(1)
    )
    with pytest.raises(ValueError, match="x must lie in"):
        aelab.reconstruction_term(x_hat + 0.5, x, "bce")
    x = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    x_hat = torch.tensor([[0.5, 0.0], [1.0, 0.0]])
    assert aelab.reconstruction_term(x, x_hat, "mse").tolist() == [0.625, 0.5]
    assert aelab.reconstruction_term(x, x_hat, "l1").tolist() == [0.75, 0.5]
    assert aelab.reconstruction_term(x, x_hat, "l1", reduction="sum").tolist() == [1.5, 1.0]


def test_bce_rejects_targets_outside_unit_interval():
    x = torch.rand(4, 784) - 0.5  # the MLP lab's inputs, before the +0.5 shift
    with pytest.raises(ValueError, match=r"\+0\.5"):
        aelab.reconstruction_term(x, torch.full_like(x, 0.5), "bce")


def test_vae_loss_weights_kl():
    recon, kl = torch.tensor([1.0, 3.0]), torch.tensor([10.0, 30.0])
    assert float(aelab.vae_loss(recon, kl, beta=0.1)) == pytest.approx(4.0)
    assert float(aelab.vae_loss(recon, kl)) == pytest.approx(22.0)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: _kl_normal_log_sigma(torch.zeros(3, 2), torch.zeros(3, 3)), ValueError, "same shape"),
        (lambda: _kl_normal_log_sigma(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2)), TypeError, "mu"),
        (lambda: aelab.kl_normal_log_var(torch.full((2, 2), float("nan")), torch.zeros(2, 2)), ValueError, "mu.*NaN"),
        (lambda: aelab.reconstruction_term(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, "same shape"),
        (lambda: aelab.reconstruction_term(torch.zeros(2, 3), torch.zeros(2, 3), "huber"), ValueError, "kind"),
        (lambda: aelab.reconstruction_term([0.0], torch.zeros(1)), TypeError, "^x must"),
        (lambda: aelab.reconstruction_term(torch.zeros(1), [0.0]), TypeError, "^x_hat must"),
        (lambda: aelab.vae_loss(torch.ones(2), torch.ones(2), beta=-1), ValueError, "beta"),
    ],
)
def test_bad_inputs(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
