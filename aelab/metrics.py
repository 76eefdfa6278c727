"""Detection metrics through scikit-learn, and the per-digit table of the leave-one-digit-out lab."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ._validate import tensor_arg

__all__ = ["auroc", "auprc", "roc_curve", "detection_rate", "per_digit_table"]


def _labels_scores(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels_t = tensor_arg(labels, "labels", floating=False, ndims=(1,))
    if labels_t.dtype == torch.bool:
        labels_t = labels_t.to(torch.int64)
    if labels_t.is_floating_point() or labels_t.is_complex():
        raise TypeError(f"labels must be integers or booleans (1 = anomaly), got dtype {labels_t.dtype}")
    scores_t = tensor_arg(scores, "scores", ndims=(1,))
    if labels_t.shape != scores_t.shape:
        raise ValueError(
            f"labels and scores must have the same length, got {labels_t.shape[0]} and {scores_t.shape[0]}"
        )
    y = labels_t.cpu().numpy()
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly), got the values {sorted(values)}")
    if values != {0, 1}:
        raise ValueError("labels must contain both classes (0 and 1) for AUROC/AUPRC to be defined")
    return y, scores_t.detach().cpu().double().numpy()


def auroc(labels, scores) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) for 0/1 ``labels``: (N,), (N,) -> float."""
    from sklearn.metrics import roc_auc_score

    y, s = _labels_scores(labels, scores)
    return float(roc_auc_score(y, s))


def auprc(labels, scores) -> float:
    """Area under the precision-recall curve (average precision), anomaly = positive class."""
    from sklearn.metrics import average_precision_score

    y, s = _labels_scores(labels, scores)
    return float(average_precision_score(y, s))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False-positive rates, true-positive rates and thresholds (scikit-learn's ``roc_curve``)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    y, s = _labels_scores(labels, scores)
    return sk_roc_curve(y, s)


def detection_rate(flags) -> float:
    """Fraction of True entries of a boolean (N,) tensor or array."""
    t = tensor_arg(flags, "flags", floating=False, ndims=(1,))
    if t.dtype != torch.bool:
        raise TypeError(f"flags must be booleans, got dtype {t.dtype}")
    return float(t.double().mean())


def per_digit_table(results: Mapping[int, Mapping[str, float]], digits: Sequence[int] | None = None):
    """A pandas DataFrame with one row per held-out digit, one column per method, and a mean row.

    Args:
        results: ``{digit: {method: value}}``.
    """
    import pandas as pd

    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping {digit: {method: value}}")
    digits = sorted(results) if digits is None else list(digits)
    frame = pd.DataFrame({d: dict(results[d]) for d in digits}).T
    frame.index.name = "digit"
    frame.loc["mean"] = frame.mean(numeric_only=True)
    return frame
