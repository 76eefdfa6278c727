"""aelab.metrics: AUROC/AUPRC through scikit-learn and the per-digit table."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

import aelab


def test_perfect_and_reversed_scores():
    labels = torch.tensor([0, 0, 0, 1, 1])
    scores = torch.tensor([0.1, 0.2, 0.3, 0.8, 0.9])
    assert aelab.auroc(labels, scores) == 1.0
    assert aelab.auroc(labels, -scores) == 0.0
    assert aelab.auprc(labels, scores) == 1.0


def test_matches_sklearn_on_overlapping_scores():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = rng.normal(size=500) + labels
    assert aelab.auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    assert aelab.auprc(torch.from_numpy(labels).bool(), scores) == pytest.approx(
        average_precision_score(labels, scores)
    )
    assert 0.7 < aelab.auroc(labels, scores) < 0.85


def test_thresholded_predictions_understate_auroc():
    # seed 003 scored 0/1 predictions: the ROC curve then has one corner, and its area is lower
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(900, int), np.ones(100, int)]
    scores = rng.normal(size=1000) + 2.0 * labels
    continuous = aelab.auroc(labels, scores)
    thresholded = aelab.auroc(labels, (scores > 2.5).astype(float))
    assert continuous > 0.9 and thresholded < continuous - 0.1


@pytest.mark.parametrize(
    "labels, scores, exc, words",
    [
        (np.zeros(4, int), np.arange(4.0), ValueError, "both classes"),
        (np.array([0, 1, 2, 1]), np.arange(4.0), ValueError, "0 \\(normal\\) or 1"),
        (np.array([0.0, 1.0]), np.arange(2.0), TypeError, "labels"),
        (np.array([0, 1, 1]), np.arange(2.0), ValueError, "same length"),
        (np.array([0, 1]), np.array([0.0, np.nan]), ValueError, "scores.*NaN"),
    ],
)
def test_bad_inputs(labels, scores, exc, words):
    with pytest.raises(exc, match=words):
        aelab.auroc(labels, scores)


def test_per_digit_table_has_a_mean_row():
    table = aelab.per_digit_table({0: {"vae": 0.9, "pca": 0.7}, 1: {"vae": 0.5, "pca": 0.3}})
    assert list(table.columns) == ["vae", "pca"]
    assert table.loc["mean", "vae"] == pytest.approx(0.7)
    assert table.loc["mean", "pca"] == pytest.approx(0.5)


def test_detection_rate():
    assert aelab.detection_rate(torch.tensor([True, False, False, True])) == 0.5
    with pytest.raises(TypeError, match="flags"):
        aelab.detection_rate(torch.tensor([1.0, 0.0]))
