"""The lab 04 checks are fair: the reference passes, known mistakes lose points, other right answers don't."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from grader_helpers import Lab, message

from autograder import lab04
from autograder import reference as ref

LAB = Lab("lab04")
ids, failures = LAB.ids, LAB.failures
EXERCISES = ("anomaly_scores", "auroc_per_digit")


def test_every_exercise_has_checks():
    for exercise in EXERCISES:
        assert 3 <= len(ids(exercise)) <= 4, exercise


# ============================================================ right answers, written differently
def as_forward(model, x):
    """The forward pass (a sampled z), F.mse_loss without reduction, no torch.no_grad."""
    x_hat, _, _ = model(x)
    return F.mse_loss(x_hat, x, reduction="none").mean(dim=(1, 2, 3))


def as_layers(model, x):
    """The layers by hand: encoder -> fc_mu -> decoder, in torch.no_grad."""
    with torch.no_grad():
        x_hat = model.decoder(model.fc_mu(model.encoder(x)))
    return ((x_hat - x) ** 2).flatten(1).mean(1)


def as_numpy_loop(model, x):
    """One image at a time, numpy, a list of floats."""
    out = []
    with torch.no_grad():
        for xi in x:
            mu, _ = model.encode_params(xi[None])
            out.append(float(np.mean((model.decode(mu)[0].numpy() - xi.numpy()) ** 2)))
    return np.array(out)


def as_reconstruct(model, x):
    """The course library's deterministic reconstruction (allowed: the error is written here)."""
    import aelab

    return ((x - aelab.reconstruct(model, x)) ** 2).flatten(1).mean(1)


def au_sklearn_loop(scores, digits, held_out):
    from sklearn.metrics import roc_auc_score

    out = {}
    for k in torch.unique(digits).tolist():
        if k == held_out:
            continue
        sel = (digits == held_out) | (digits == k)
        out[k] = roc_auc_score((digits[sel] == held_out).numpy(), scores[sel].numpy())
    return out


def au_mann_whitney(scores, digits, held_out):
    """Pairwise comparisons, ties one half; torch values as 0-d tensors, numpy int keys."""
    pos = scores[digits == held_out]
    out = {}
    for k in np.unique(digits.numpy()):
        if k == held_out:
            continue
        neg = scores[digits == k]
        diff = pos[:, None] - neg[None, :]
        out[k] = (diff > 0).double().mean() + 0.5 * (diff == 0).double().mean()
    return out


def au_ranks(scores, digits, held_out):
    """The rank-sum (Mann-Whitney U) formula with average ranks, scipy."""
    from scipy.stats import rankdata

    s, d = scores.numpy().astype(np.float64), digits.numpy()
    out = {}
    for k in sorted(set(d.tolist()) - {held_out}):
        sel = (d == held_out) | (d == k)
        r = rankdata(s[sel])
        is_pos = d[sel] == held_out
        n1, n0 = is_pos.sum(), (~is_pos).sum()
        out[int(k)] = float((r[is_pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    return out


def au_aelab(scores, digits, held_out):
    """aelab.auroc, the course's wrapper of roc_auc_score (allowed, as roc_auc_score is)."""
    import aelab

    return {
        int(k): aelab.auroc(
            (digits[(digits == held_out) | (digits == k)] == held_out).long(),
            scores[(digits == held_out) | (digits == k)],
        )
        for k in set(digits.tolist())
        if k != held_out
    }


RIGHT = {
    "anomaly_scores": [ref.anomaly_scores, as_forward, as_layers, as_numpy_loop, as_reconstruct],
    "auroc_per_digit": [ref.auroc_per_digit, au_sklearn_loop, au_mann_whitney, au_ranks, au_aelab],
}


# ============================================================================== wrong answers
def as_seed_scalar(model, x):
    """The seed's F.mse_loss(x, x_hat): one number for the whole batch."""
    return F.mse_loss(x, model(x)[0])


def as_sum(model, x):
    return ((model(x)[0] - x) ** 2).flatten(1).sum(1)


def as_batch_axis(model, x):
    """Mean over the batch instead of over the pixels."""
    return ((model(x)[0] - x) ** 2).mean(0)


def as_l1(model, x):
    return (model(x)[0] - x).abs().flatten(1).mean(1)


def as_negated(model, x):
    """A log-likelihood-like value: higher = more normal."""
    return -((model(x)[0] - x) ** 2).flatten(1).mean(1)


def as_train_mode(model, x):
    """model.train() before scoring: BatchNorm uses the batch's statistics (and updates its buffers)."""
    model.train()
    return ((model(x)[0] - x) ** 2).flatten(1).mean(1)


def as_batch_normalised(model, x):
    """Min-max normalised by the batch's own scores."""
    e = ((model(x)[0] - x) ** 2).flatten(1).mean(1)
    return (e - e.min()) / (e.max() - e.min() + 1e-12)


def as_signed(model, x):
    return (x - model(x)[0]).flatten(1).mean(1)


def as_squeezed(model, x):
    """.squeeze() at the end: a batch of one image gives a bare number, shape ()."""
    return ((model(x)[0] - x) ** 2).flatten(1).mean(1).squeeze()


def as_keepdim(model, x):
    return ((model(x)[0] - x) ** 2).mean(dim=(1, 2, 3), keepdim=True).flatten(1)


def as_per_pixel(model, x):
    """The squared errors themselves, one per pixel."""
    return (model(x)[0] - x) ** 2


def as_no_return(model, x):
    ((model(x)[0] - x) ** 2).flatten(1).mean(1)


def as_square_of_mean(model, x):
    return (model(x)[0] - x).flatten(1).mean(1) ** 2


def as_rescaled_to_01(model, x):
    """Both images mapped back to [0, 1] first: a quarter of the expected scores."""
    return (((model(x)[0] + 1) / 2 - (x + 1) / 2) ** 2).flatten(1).mean(1)


_NOTEBOOK_MODEL = []


def as_notebook_model(model, x):
    """Scores with a model of the notebook (a global), not the model it is given."""
    import aelab

    if not _NOTEBOOK_MODEL:
        torch.manual_seed(123)
        _NOTEBOOK_MODEL.append(aelab.ConvVAE(latent_dim=100).eval())
    other = _NOTEBOOK_MODEL[0]
    with torch.no_grad():
        return ((other.decode(other.encode_params(x)[0]) - x) ** 2).flatten(1).mean(1)


def au_thresholded(scores, digits, held_out):
    """The seed's pitfall: AUROC of 0/1 predictions (score above the median)."""
    from sklearn.metrics import roc_auc_score

    pred = (scores > scores.median()).numpy()
    return {
        k: roc_auc_score(
            (digits[(digits == held_out) | (digits == k)] == held_out).numpy(),
            pred[((digits == held_out) | (digits == k)).numpy()],
        )
        for k in set(digits.tolist()) - {held_out}
    }


def au_threshold_half(scores, digits, held_out):
    """AUROC of 0/1 predictions at a fixed threshold: passes the notebook's small visible checks."""
    return au_sklearn_loop((scores > 0.5).double(), digits, held_out)


def au_pair_count(scores, digits, held_out):
    """The count of correctly ordered pairs (ties one half), not divided by the number of pairs."""
    pos = scores[digits == held_out]
    out = {}
    for k in set(digits.tolist()) - {held_out}:
        diff = pos[:, None] - scores[digits == k][None, :]
        out[k] = float((diff > 0).sum() + 0.5 * (diff == 0).sum())
    return out


def au_held_out_nan(scores, digits, held_out):
    """The held-out digit not skipped: sklearn gives NaN (and a warning) for its one-class pair."""
    out = au_sklearn_loop(scores, digits, held_out)
    out[held_out] = float("nan")
    return out


def au_ties_as_one(scores, digits, held_out):
    pos = scores[digits == held_out]
    return {
        k: float((pos[:, None] >= scores[digits == k][None, :]).double().mean())
        for k in set(digits.tolist()) - {held_out}
    }


def au_inverted_labels(scores, digits, held_out):
    from sklearn.metrics import roc_auc_score

    return {
        k: roc_auc_score(
            (digits[(digits == held_out) | (digits == k)] != held_out).numpy(),
            scores[(digits == held_out) | (digits == k)].numpy(),
        )
        for k in set(digits.tolist()) - {held_out}
    }


def au_all_normals(scores, digits, held_out):
    """Every entry is the overall AUROC (held-out digit against all other digits)."""
    from sklearn.metrics import roc_auc_score

    overall = roc_auc_score((digits == held_out).numpy(), scores.numpy())
    return {k: overall for k in set(digits.tolist()) - {held_out}}


def au_strict(scores, digits, held_out):
    """P(anomaly scores higher), ties counted as 0."""
    pos = scores[digits == held_out]
    return {
        k: float((pos[:, None] > scores[digits == k][None, :]).double().mean())
        for k in set(digits.tolist()) - {held_out}
    }


def au_includes_held_out(scores, digits, held_out):
    out = au_sklearn_loop(scores, digits, held_out)
    out[held_out] = 0.5
    return out


def au_all_ten(scores, digits, held_out):
    """Assumes every digit 0..9 is present."""
    out = {}
    for k in range(10):
        if k != held_out:
            sel = (digits == held_out) | (digits == k)
            out[k] = au_sklearn_loop(scores[sel], digits[sel], held_out).get(k, 0.5)
    return out


def au_string_keys(scores, digits, held_out):
    return {str(k): v for k, v in au_sklearn_loop(scores, digits, held_out).items()}


def au_accuracy(scores, digits, held_out):
    """Accuracy at the midpoint between the two classes' mean scores, not an AUROC."""
    out = {}
    for k in set(digits.tolist()) - {held_out}:
        sel = (digits == held_out) | (digits == k)
        s, y = scores[sel], (digits[sel] == held_out)
        th = (s[y].mean() + s[~y].mean()) / 2
        out[k] = float(((s > th) == y).double().mean())
    return out


WRONG = {
    "anomaly_scores": [
        (as_seed_scalar, {"shape"}),
        (as_sum, {"values"}),
        (as_batch_axis, {"shape"}),
        (as_l1, {"values"}),
        (as_negated, {"values"}),
        (as_train_mode, {"values", "batch_independent"}),
        (as_batch_normalised, {"values", "batch_independent"}),
        (as_signed, {"values"}),
        (as_squeezed, {"shape"}),
        (as_keepdim, {"shape"}),
        (as_per_pixel, {"shape"}),
        (as_no_return, {"shape"}),
        (as_square_of_mean, {"values"}),
        (as_rescaled_to_01, {"values"}),
        (as_notebook_model, {"values"}),
    ],
    "auroc_per_digit": [
        (au_thresholded, {"values"}),
        (au_inverted_labels, {"values"}),
        (au_all_normals, {"values"}),
        (au_strict, {"ties"}),
        (au_includes_held_out, {"keys"}),
        (au_all_ten, {"keys"}),
        (au_string_keys, {"keys"}),
        (au_accuracy, {"values"}),
        (au_threshold_half, {"values"}),
        (au_pair_count, {"values"}),
        (au_ties_as_one, {"ties"}),
        (au_held_out_nan, {"keys"}),
    ],
}


test_right_answers_pass_every_check, test_wrong_answers_lose_points = LAB.catalogue_tests(RIGHT, WRONG)


# ================================================================================ messages


def test_messages_name_the_mistake():
    assert "sums over the pixels" in message("lab04.anomaly_scores.values", as_sum)
    assert "wrong sign" in message("lab04.anomaly_scores.values", as_negated)
    assert "absolute" in message("lab04.anomaly_scores.values", as_l1)
    assert "left the model in training mode" in message("lab04.anomaly_scores.values", as_train_mode)
    assert "1 - AUROC" in message("lab04.auroc_per_digit.values", au_inverted_labels)
    assert "same value" in message("lab04.auroc_per_digit.values", au_all_normals)
    assert "0/1 predictions" in message("lab04.auroc_per_digit.values", au_thresholded)


@pytest.mark.parametrize(
    "check, fn, words",
    [
        ("shape", as_seed_scalar, ["returned shape ()", "expected one score per image, shape (8,)", "F.mse_loss"]),
        ("shape", as_squeezed, ["x of shape (1, 1, 28, 28)", "returned shape ()", "shape (1,)", ".squeeze()"]),
        ("shape", as_batch_axis, ["returned shape (1, 28, 28)", "over the batch instead of the pixels"]),
        ("shape", as_keepdim, ["returned shape (8, 1)", "extra axes of size 1"]),
        ("shape", as_per_pixel, ["returned shape (8, 1, 28, 28)", "errors per pixel"]),
        ("shape", as_no_return, ["returned None", "shape (8,)", "`return` missing"]),
        ("values", as_square_of_mean, ["wrong values for 48 test images", "square of each image's mean difference"]),
        ("values", as_rescaled_to_01, ["0.25 times the expected ones", "pixels in [-1, 1]"]),
        ("values", as_batch_normalised, ["from exactly 0 to exactly 1", "must not depend on the other images"]),
        ("values", as_notebook_model, ["largest relative difference", "the `model` argument"]),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_anomaly_scores_messages_say_what_was_seen_and_expected(check, fn, words):
    text = message(f"lab04.anomaly_scores.{check}", fn)
    for w in words:
        assert w in text, (w, text)


@pytest.mark.parametrize(
    "check, fn, words",
    [
        ("values", au_pair_count, ["outside [0, 1]", "a fraction of pairs"]),
        ("ties", au_strict, ["counted as 0", "counts one half"]),
        ("ties", au_ties_as_one, ["counted as 1", "counts one half"]),
        ("keys", au_includes_held_out, ["unexpected [0]", "the held-out digit itself has none"]),
        ("keys", au_all_ten, ["on images of the digits [2, 3, 7, 9]", "unexpected [0, 1, 4, 5, 6, 8]"]),
        ("values", au_threshold_half, ["wrong values for the digits", "AUROCs of 0/1 predictions"]),
        ("ties", au_threshold_half, ["AUROCs of 0/1 predictions", "the scores above one threshold"]),
        ("values", au_thresholded, ["AUROCs of 0/1 predictions"]),
        ("values", au_all_normals, ["the AUROC against all the other digits together"]),
        ("keys", au_held_out_nan, ["unexpected [0]", "the held-out digit itself has none"]),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_auroc_per_digit_messages_say_what_was_seen_and_expected(check, fn, words):
    text = message(f"lab04.auroc_per_digit.{check}", fn)
    for w in words:
        assert w in text, (w, text)


# ============================================================================ quiet and fast
def test_checks_are_quiet(capfd):
    LAB.assert_quiet(capfd)


# ============================================================== the grading instances themselves
def test_posterior_is_sharp_so_sampling_does_not_matter():
    model = lab04._model()
    x, _ = lab04._images(16)
    with torch.no_grad():
        _, log_var = model.encode_params(x)
        assert float(log_var.max()) <= -59
        assert torch.allclose(ref.anomaly_scores(model, x), as_forward(model, x), rtol=1e-6, atol=1e-7)


def test_scores_differ_between_images():
    """The values check is not vacuous: the grading model's scores vary between images."""
    model = lab04._model()
    x, _ = lab04._images(48)
    s = ref.anomaly_scores(model, x)
    assert float(s.std() / s.mean()) > 1e-3


def test_auroc_cases_have_informative_values():
    for seed, held_out, present, decimals in ((3, 4, list(range(10)), None), (5, 2, [1, 2, 3, 8], 0)):
        scores, digits = lab04._auroc_case(
            seed, held_out, present, n_per_digit=15 if decimals is None else 20, decimals=decimals
        )
        values = ref.auroc_per_digit(scores, digits, held_out)
        assert all(abs(v - 0.5) > 0.05 for v in values.values())
        assert len({round(v, 6) for v in values.values()}) > 1
    scores, digits = lab04._auroc_case(5, 2, [1, 2, 3, 8], n_per_digit=20, decimals=0)
    assert au_strict(scores, digits, 2) != pytest.approx(ref.auroc_per_digit(scores, digits, 2))
