"""Figures of the course. Every function returns the matplotlib ``Figure`` it drew."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ._validate import tensor_arg

__all__ = [
    "plot_reconstructions",
    "plot_loss_curves",
    "plot_score_histogram",
    "plot_roc_curves",
    "plot_latent_scatter",
    "plot_digit_bars",
    "plot_image_pairs",
]


def _figure(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _as_images(x, name: str) -> np.ndarray:
    """(N, 784), (N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1) -> (N, 28, 28) numpy."""
    t = tensor_arg(x, name, floating=False, ndims=(2, 3, 4)).detach().cpu()
    n = t.shape[0]
    if t[0].numel() != 784:
        raise ValueError(f"{name} must hold 28x28 images, got shape {tuple(t.shape)}")
    return t.reshape(n, 28, 28).float().numpy()


def plot_image_pairs(top, bottom, *, n: int = 10, titles: tuple[str, str] = ("input", "reconstruction")):
    """Two rows of digits: ``top[i]`` above ``bottom[i]`` for the first ``n``."""
    a, b = _as_images(top, "top"), _as_images(bottom, "bottom")
    n = min(n, len(a), len(b))
    fig, axes = _figure(2, n, figsize=(1.3 * n, 3), squeeze=False)
    for i in range(n):
        for row, imgs in enumerate((a, b)):
            ax = axes[row, i]
            ax.imshow(imgs[i], cmap="gray")
            ax.set_xticks([])
            ax.set_yticks([])
        if i == 0:
            axes[0, 0].set_ylabel(titles[0])
            axes[1, 0].set_ylabel(titles[1])
    fig.tight_layout()
    return fig


def plot_reconstructions(x, x_recon, n: int = 10):
    """Originals (top row) and their reconstructions (bottom row)."""
    return plot_image_pairs(x, x_recon, n=n, titles=("input", "reconstruction"))


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]] | Sequence[float],
    *,
    xlabel: str = "epoch",
    log: bool = False,
    title: str | None = None,
):
    """Loss per epoch; ``curves`` is one sequence or ``{name: sequence}``."""
    if not isinstance(curves, Mapping):
        curves = {"training loss": curves}
    fig, ax = _figure(figsize=(6, 3.5))
    for name, values in curves.items():
        values = np.asarray(list(values), dtype=float)
        if values.size == 0:
            raise ValueError(f"curve {name!r} is empty")
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_score_histogram(
    scores: Mapping[str, object],
    threshold: float | None = None,
    *,
    bins: int = 50,
    xlabel: str = "anomaly score",
    title: str | None = None,
    log: bool = False,
):
    """Overlaid histograms of ``{name: (N,) scores}`` with a vertical threshold line."""
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores must be a non-empty mapping {name: (N,) scores}")
    fig, ax = _figure(figsize=(7, 3.8))
    arrays = {k: tensor_arg(v, f"scores[{k!r}]", ndims=(1,)).detach().cpu().double().numpy() for k, v in scores.items()}
    lo = min(a.min() for a in arrays.values())
    hi = max(a.max() for a in arrays.values())
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    for name, a in arrays.items():
        ax.hist(a, bins=edges, alpha=0.55, label=f"{name} (n={len(a)})", density=True)
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label=f"threshold = {threshold:.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if log:
        ax.set_yscale("log")
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_roc_curves(curves: Mapping[str, tuple[object, object]], *, title: str | None = None):
    """ROC curves of ``{name: (labels, scores)}``, each labelled with its AUROC."""
    from .metrics import auroc, roc_curve

    fig, ax = _figure(figsize=(4.8, 4.5))
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auroc(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(loc="lower right", fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_latent_scatter(z, labels=None, *, label_names: Sequence[str] | None = None, title: str | None = None):
    """Scatter of the first two latent dimensions of (N, D) codes, coloured by ``labels``."""
    z = tensor_arg(z, "z", ndims=(2,)).detach().cpu().numpy()
    if z.shape[1] < 2:
        raise ValueError(f"z must have at least 2 latent dimensions, got shape {z.shape}")
    fig, ax = _figure(figsize=(5, 4.5))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=8)
    else:
        lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        for v in np.unique(lab):
            name = label_names[int(v)] if label_names is not None else str(v)
            sel = lab == v
            ax.scatter(z[sel, 0], z[sel, 1], s=8, label=name)
        ax.legend(fontsize="small", markerscale=2)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_digit_bars(
    values: Mapping[str, Sequence[float]],
    *,
    ylabel: str = "AUROC",
    reference: float | None = 0.5,
    title: str | None = None,
):
    """Grouped bars per held-out digit: ``{method: [value for digit 0..9]}``."""
    if not isinstance(values, Mapping) or not values:
        raise ValueError("values must be a non-empty mapping {method: per-digit values}")
    names = list(values)
    n_digits = len(next(iter(values.values())))
    width = 0.8 / len(names)
    legend_rows = math.ceil(len(names) / 4)
    fig, ax = _figure(figsize=(max(7, n_digits * 0.9), 3.4 + 0.25 * legend_rows))
    x = np.arange(n_digits)
    for i, name in enumerate(names):
        v = np.asarray(values[name], dtype=float)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, v, width, label=f"{name} (mean {np.nanmean(v):.3f})")
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle=":")
    ax.set_xticks(x)
    ax.set_xticklabels([str(d) for d in range(n_digits)])
    ax.set_xlabel("held-out digit")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    # below the axes: inside, the legend would hide the bars of the middle digits
    ax.legend(fontsize="small", ncol=min(4, len(names)), loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
