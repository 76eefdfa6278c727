"""aelab.models: the seeds' architectures, shapes, losses and interfaces."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import aelab


@pytest.mark.parametrize(
    "d, h, plan",
    [
        (30, 4, [30, 16, 8, 4]),
        (784, 16, [784, 512, 256, 128, 64, 32, 16]),
        (4, 2, [4, 2]),
        (100, 10, [100, 64, 32, 16, 10]),
    ],
)
def test_layer_plan_follows_the_seed(d, h, plan):
    assert aelab.layer_plan(d, h) == plan


def test_layer_plan_rejects_hidden_at_least_input():
    with pytest.raises(ValueError, match="hidden_size"):
        aelab.layer_plan(8, 8)


def test_deep_autoencoder_without_activation_is_linear():
    model = aelab.DeepAutoEncoder(30, 4)
    a, b = torch.randn(5, 30), torch.randn(5, 30)
    zero = torch.zeros(5, 30)
    out = lambda t: model(t)[0]
    assert torch.allclose(out(a + b), out(a) + out(b) - out(zero), atol=1e-5)
    recon, hidden = model(a)
    assert recon.shape == (5, 30) and hidden.shape == (5, 4)
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 6


def test_deep_autoencoder_with_activation_is_not_linear():
    model = aelab.DeepAutoEncoder(30, 4, activation=nn.ReLU)
    a, b = torch.randn(5, 30), torch.randn(5, 30)
    zero = torch.zeros(5, 30)
    out = lambda t: model(t)[0]
    assert not torch.allclose(out(a + b), out(a) + out(b) - out(zero), atol=1e-3)
    with pytest.raises(ValueError, match="30 features"):
        model(torch.randn(5, 29))


def test_iris_vae_sizes_and_loss():
    model = aelab.IrisVAE()
    assert model.encoder.linear1.in_features == 4 and model.encoder.linear1.out_features == 2
    assert model.encoder.mu.out_features == 3 and model.encoder.log_sigma.out_features == 3
    x = aelab.load_iris().features[:8]
    torch.manual_seed(3)
    x_hat, mu, log_sigma = model(x)
    assert x_hat.shape == (8, 4) and mu.shape == (8, 3)
    torch.manual_seed(3)
    loss = model.loss(x)
    kl = 0.5 * (torch.exp(2 * log_sigma) + mu**2 - 1 - 2 * log_sigma).sum() / 8
    assert torch.allclose(loss, F.mse_loss(x_hat, x) + 0.1 * kl)


def test_iris_reparameterize_uses_log_sigma():
    mu = torch.zeros(200_000, 1)
    z = aelab.IrisVAE.reparameterize(mu, torch.full_like(mu, 0.5))
    assert abs(float(z.std()) - torch.e**0.5) < 0.02  # σ = e^0.5, not e^0.25


def test_mlp_vae_keeps_the_seed_interface():
    model = aelab.MLPVAE(784, 512, 16)
    n_params = sum(p.numel() for p in model.parameters())
    widths = [784, 512, 256, 128, 64]
    enc = sum(a * b + b for a, b in zip(widths[:-1], widths[1:])) + 64 * 32 + 32
    dec = 16 * 64 + 64 + sum(b * a + a for a, b in zip(widths[:-1], widths[1:]))
    assert n_params == enc + dec
    x = torch.rand(5, 784) - 0.5
    dist = model.encode(x)
    assert isinstance(dist, torch.distributions.MultivariateNormal)
    assert dist.batch_shape == (5,) and dist.event_shape == (16,)
    recon = model.decode(dist.mean).detach()
    assert recon.shape == (5, 784) and float(recon.min()) >= 0 and float(recon.max()) <= 1
    out = model(x, compute_loss=False)
    assert out.loss is None and out.z_sample.shape == (5, 16) and out.x_recon.shape == (5, 784)
    torch.manual_seed(0)
    out = model(x)
    recon_loss = F.binary_cross_entropy(out.x_recon, x + 0.5, reduction="none").sum(-1).mean()
    kl = torch.distributions.kl_divergence(
        out.z_dist, torch.distributions.MultivariateNormal(torch.zeros(16), torch.eye(16))
    ).mean()
    assert torch.allclose(out.loss_recon, recon_loss) and torch.allclose(out.loss_kl, kl, rtol=1e-5)
    assert torch.allclose(out.loss, out.loss_recon + out.loss_kl)


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 783)])
def test_mlp_vae_rejects_unflattened_input(shape):
    with pytest.raises(ValueError, match="flatten"):
        aelab.MLPVAE().encode(torch.zeros(shape))


def test_conv_vae_shapes_and_seed_loss():
    model = aelab.ConvVAE()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    x_hat, mu, log_var = model(x)
    assert x_hat.shape == x.shape and mu.shape == (4, 100) and log_var.shape == (4, 100)
    loss = model.seed_loss(x, x_hat, mu, log_var)
    want = F.mse_loss(x_hat, x) - 0.5 * torch.sum(1 + log_var - mu**2 - log_var.exp())
    assert torch.allclose(loss, want)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(torch.zeros(4, 784))


@pytest.mark.parametrize("model", [aelab.MLPVAE(784, 64, 4), aelab.ConvVAE(latent_dim=8), aelab.IrisVAE()])
def test_vaes_share_the_scoring_protocol(model):
    x = {
        aelab.MLPVAE: torch.rand(3, 784) - 0.5,
        aelab.ConvVAE: torch.rand(3, 1, 28, 28),
        aelab.IrisVAE: torch.randn(3, 4),
    }[type(model)]
    model.eval()
    q = model.encode(x)
    recon = model.decode(q.mean)
    ll = model.log_likelihood(x, recon)
    assert ll.shape == (3,) and torch.all(torch.isfinite(ll))
