"""aelab.train: the training loop learns, is reproducible, clips, and checkpoints."""

import json
import os

import pytest
import torch
import torch.nn as nn

import aelab


def _low_rank_data(n=512, d=20, rank=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, rank, generator=g) @ torch.randn(rank, d, generator=g)


def _mse_loss(model, batch):
    return ((model(batch)[0] - batch) ** 2).mean()


def test_fit_learns_a_low_rank_autoencoder():
    data = _low_rank_data()
    model = aelab.DeepAutoEncoder(20, 4)
    history = aelab.fit(model, data, epochs=60, batch_size=64, lr=1e-2, loss_fn=_mse_loss, progress=False)
    assert len(history.epoch_loss) == 60 and len(history.step_loss) == 60 * 8
    assert history.epoch_loss[-1] < 0.02 * history.epoch_loss[0]
    assert not model.training  # left in eval mode


def test_fit_is_reproducible_and_seed_dependent():
    data = _low_rank_data()
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        model = aelab.DeepAutoEncoder(20, 4)
        h = aelab.fit(model, data, epochs=3, batch_size=32, loss_fn=_mse_loss, seed=seed, progress=False)
        runs.append((h.step_loss, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])
    assert runs[0][0] != runs[2][0]


def test_fit_records_vae_loss_terms():
    x = torch.rand(64, 784) - 0.5
    model = aelab.MLPVAE(784, 64, 4)
    h = aelab.fit(model, x, epochs=2, batch_size=32, grad_clip=1.0, progress=False)
    assert set(h.extra) == {"loss_recon", "loss_kl"} and len(h.extra["loss_kl"]) == 2
    for total, recon, kl in zip(h.epoch_loss, h.extra["loss_recon"], h.extra["loss_kl"]):
        assert total == pytest.approx(recon + kl, rel=1e-5)


def test_gradient_clipping_bounds_the_update():
    data = torch.full((8, 4), 100.0)
    model = nn.Linear(4, 4)
    before = model.weight.detach().clone()
    aelab.fit(
        model,
        data,
        epochs=1,
        batch_size=8,
        lr=1.0,
        optimizer="sgd",
        grad_clip=0.5,
        loss_fn=lambda m, b: ((m(b) - b) ** 2).sum(),
        progress=False,
    )
    step = (model.weight.detach() - before).flatten()
    assert float(step.norm()) <= 0.5 + 1e-5


def test_fused_adam_takes_the_same_steps_as_plain_adam(monkeypatch):
    """fused=True is a faster kernel for the same update: the weights agree to rounding, not exactly."""
    data = _low_rank_data(n=128)
    built = []

    class SpyAdam(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(bool(self.defaults.get("fused")))

    monkeypatch.setattr(torch.optim, "Adam", SpyAdam)
    weights = {}
    for fused in (False, True):
        torch.manual_seed(0)
        model = aelab.DeepAutoEncoder(20, 4)
        aelab.fit(model, data, epochs=5, batch_size=32, lr=1e-2, loss_fn=_mse_loss, fused=fused, progress=False)
        weights[fused] = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.manual_seed(0)
    start = torch.cat([p.detach().flatten() for p in aelab.DeepAutoEncoder(20, 4).parameters()])
    moved = float((weights[False] - start).abs().max())
    assert moved > 1e-2  # training moved the weights...
    assert torch.allclose(weights[True], weights[False], atol=1e-4 * moved, rtol=0)  # ...the same way
    assert built == [False, True]  # and fused=True did reach the optimiser


def test_ema_decay_leaves_the_moving_average_of_the_weights():
    """Full-batch steps are deterministic, so runs of 1, 2, 3 epochs give the weights after each step."""
    data = _low_rank_data(n=64)

    def trained(epochs, **kw):
        torch.manual_seed(0)
        model = aelab.DeepAutoEncoder(20, 4)
        aelab.fit(model, data, epochs=epochs, batch_size=64, lr=1e-2, loss_fn=_mse_loss, progress=False, **kw)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    w1, w2, w3 = trained(1), trained(2), trained(3)
    d = 0.6
    expected = d * (d * w1 + (1 - d) * w2) + (1 - d) * w3  # the first step starts the average
    got = trained(3, ema_decay=d)
    assert float((w3 - w1).abs().max()) > 1e-3  # the steps did move the weights
    assert torch.allclose(got, expected, atol=1e-6, rtol=0)
    assert not torch.allclose(got, w3, atol=1e-4, rtol=0)


def test_ema_decay_keeps_batchnorm_counters():
    """Running statistics are averaged like weights; an integer step counter is not averaged."""
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    aelab.fit(
        model,
        torch.randn(64, 4, generator=torch.Generator().manual_seed(0)),
        epochs=3,
        batch_size=16,
        ema_decay=0.9,
        loss_fn=lambda m, b: m(b).pow(2).mean(),
        progress=False,
    )
    assert int(model[1].num_batches_tracked) == 12


def test_fit_stops_on_a_non_finite_loss():
    model = nn.Linear(2, 2)
    with pytest.raises(FloatingPointError, match="loss"):
        aelab.fit(model, torch.ones(4, 2), epochs=1, loss_fn=lambda m, b: m(b).sum() * float("inf"), progress=False)


def _counted_training(model, data, calls):
    def run():
        calls.append(1)
        return aelab.fit(model, data, epochs=2, loss_fn=_mse_loss, progress=False)

    return run


def test_fit_or_load_trains_once(tmp_path):
    data = _low_rank_data(n=64)
    calls = []
    first = aelab.DeepAutoEncoder(20, 4)
    path = tmp_path / "ae.pt"
    h1 = aelab.fit_or_load(first, path, _counted_training(first, data, calls), depends_on=(data, 2))
    second = aelab.DeepAutoEncoder(20, 4)
    h2 = aelab.fit_or_load(second, path, _counted_training(second, data, calls), depends_on=(data, 2))
    assert calls == [1]
    assert h2.epoch_loss == h1.epoch_loss
    assert all(torch.equal(first.state_dict()[k], second.state_dict()[k]) for k in first.state_dict())
    assert json.loads(path.with_suffix(".json").read_text())["history"]["epoch_loss"] == h1.epoch_loss
    aelab.fit_or_load(second, path, _counted_training(second, data, calls), depends_on=(data, 2), retrain=True)
    assert calls == [1, 1]


def test_fit_or_load_trains_again_when_the_data_the_settings_or_the_model_changed(tmp_path, capsys):
    data = _low_rank_data(n=64)
    calls = []
    path = tmp_path / "ae.pt"
    model = aelab.DeepAutoEncoder(20, 4)
    aelab.fit_or_load(model, path, _counted_training(model, data, calls), depends_on=(data, 2))
    other_data = data.clone()
    other_data[0, 0] += 1e-3  # one value of the training tensor differs
    for changed, deps in [
        (aelab.DeepAutoEncoder(20, 4), (other_data, 2)),
        (aelab.DeepAutoEncoder(20, 4), (data, 3)),
        (aelab.DeepAutoEncoder(20, 3), (data, 2)),  # another layout: its weights would not fit
    ]:
        before = len(calls)
        aelab.fit_or_load(changed, path, _counted_training(changed, data, calls), depends_on=deps)
        assert len(calls) == before + 1, deps
    assert "not loading the checkpoint ae.pt: it was saved from another model" in capsys.readouterr().out


def test_fit_or_load_trains_when_the_checkpoint_is_unreadable_and_the_folder_read_only(tmp_path, capsys):
    data = _low_rank_data(n=64)
    calls = []
    path = tmp_path / "ro" / "ae.pt"
    model = aelab.DeepAutoEncoder(20, 4)
    aelab.fit_or_load(model, path, _counted_training(model, data, calls), depends_on=data)
    path.write_bytes(b"not a checkpoint")
    path.parent.chmod(0o555)
    path.chmod(0o444)
    try:
        again = aelab.DeepAutoEncoder(20, 4)
        history = aelab.fit_or_load(again, path, _counted_training(again, data, calls), depends_on=data)
    finally:
        path.parent.chmod(0o755)
    assert calls == [1, 1] and len(history.epoch_loss) == 2
    out = capsys.readouterr().out
    assert "could not be read" in out
    if os.geteuid() != 0:  # root writes through the permissions
        assert "were not saved" in out


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(epochs=1.5), TypeError, "epochs"),
        (dict(epochs=1, batch_size=0), ValueError, "batch_size"),
        (dict(epochs=1, optimizer="lbfgs"), ValueError, "optimizer"),
        (dict(epochs=1, lr=-1), ValueError, "lr"),
        (dict(epochs=1, fused=1), TypeError, "fused"),
        (dict(epochs=1, ema_decay=1.0), ValueError, "ema_decay"),
        (dict(epochs=1, ema_decay=True), ValueError, "ema_decay"),
        (dict(epochs=1, fused=True, optimizer="sgd"), ValueError, "fused"),
        (dict(epochs=1, data=torch.ones(4, 2, dtype=torch.long)), TypeError, "data"),
        (dict(epochs=1, data=torch.tensor([[1.0, float("nan")]])), ValueError, "data.*NaN"),
    ],
)
def test_fit_bad_arguments(kwargs, exc, words):
    data = kwargs.pop("data", torch.ones(4, 2))
    with pytest.raises(exc, match=words):
        aelab.fit(nn.Linear(2, 2), data, progress=False, **kwargs)


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, False),
        ({"AELAB_FAST": "1"}, True),
        ({"AELAB_FAST": "0", "NBGRADER_EXECUTION": "autograde"}, False),
        ({"NBGRADER_EXECUTION": "autograde"}, True),
        ({"NBGRADER_EXECUTION": "validate"}, True),
    ],
)
def test_fast_mode(monkeypatch, env, expected):
    monkeypatch.delenv("AELAB_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert aelab.fast_mode() is expected


def test_device_choice():
    assert aelab.get_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert aelab.get_device() == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA"):
            aelab.get_device("cuda")
