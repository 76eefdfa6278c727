"""aelab.plots: every figure draws what it says and returns the Figure."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import aelab


def test_reconstructions_grid():
    x = torch.rand(12, 784)
    fig = aelab.plot_reconstructions(x, x.flip(0), n=6)
    assert isinstance(fig, Figure) and len(fig.axes) == 12
    shown = fig.axes[0].images[0].get_array()
    assert np.allclose(shown, x[0].reshape(28, 28).numpy())


def test_score_histogram_draws_the_threshold():
    fig = aelab.plot_score_histogram({"clean": torch.randn(100), "perturbed": torch.randn(50) + 3}, threshold=1.5)
    ax = fig.axes[0]
    lines = [ln for ln in ax.lines if np.allclose(ln.get_xdata(), 1.5)]
    assert len(lines) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("clean (n=100)" in t for t in labels) and any("threshold" in t for t in labels)


def test_roc_curves_are_labelled_with_auroc():
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    fig = aelab.plot_roc_curves({"perfect": (labels, labels + 0.1 * np.arange(100) / 100)})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "perfect (AUROC 1.000)" in texts


def test_loss_curves_digit_bars_latent_scatter():
    fig = aelab.plot_loss_curves({"train": [3, 2, 1], "test": [4, 3, 2]})
    assert len(fig.axes[0].lines) == 2
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no epoch 1.25
    fig = aelab.plot_digit_bars({f"method {i}": [0.99] * 10 for i in range(8)})
    assert len(fig.axes[0].patches) == 80
    fig.canvas.draw()  # the legend sits below the axes, never over the bars
    legend = fig.axes[0].get_legend().get_window_extent()
    assert legend.y1 <= fig.axes[0].get_window_extent().y0
    assert legend.y0 >= 0  # and inside the figure
    fig = aelab.plot_latent_scatter(torch.randn(30, 3), torch.arange(30) % 3, label_names=["a", "b", "c"])
    assert len(fig.axes[0].collections) == 3


def test_plots_reject_bad_input():
    with pytest.raises(ValueError, match="28x28"):
        aelab.plot_reconstructions(torch.rand(3, 10), torch.rand(3, 10))
    with pytest.raises(ValueError, match="non-empty"):
        aelab.plot_score_histogram({})
    with pytest.raises(ValueError, match="z must have at least 2"):
        aelab.plot_latent_scatter(torch.randn(5, 1))
