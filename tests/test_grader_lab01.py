"""The lab 01 checks are fair: the reference passes, known mistakes lose points, other right answers don't."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from grader_helpers import Lab, message

from autograder import reference as ref

LAB = Lab("lab01")
ids, failures = LAB.ids, LAB.failures


# ----------------------------------------------------------------- beta_vae_loss
def bvl_numpy(x, x_hat, mu, log_var, beta=1.0):
    x, x_hat, mu, log_var = (np.asarray(t, dtype=np.float64) for t in (x, x_hat, mu, log_var))
    kl = -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=1)
    return np.sum((x - x_hat) ** 2, axis=1) + beta * kl


def bvl_distributions(x, x_hat, mu, log_var, beta=1.0):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = torch.distributions.kl_divergence(q, prior).sum(dim=1)
    return F.mse_loss(x_hat, x, reduction="none").sum(dim=1) + beta * kl


def bvl_loops(x, x_hat, mu, log_var, beta=1.0):
    out = []
    for xi, hi, mi, li in zip(x.tolist(), x_hat.tolist(), mu.tolist(), log_var.tolist()):
        rec = sum((h - v) ** 2 for v, h in zip(xi, hi))
        kl = sum(0.5 * (math.exp(lv) + m * m - 1 - lv) for m, lv in zip(mi, li))
        out.append(rec + beta * kl)
    return torch.tensor(out, dtype=torch.float64)


def bvl_std(x, x_hat, mu, log_var, beta=1.0):
    std = torch.exp(0.5 * log_var)
    kl = 0.5 * (std**2 + mu**2 - 1 - 2 * torch.log(std)).sum(-1)
    return (x_hat - x).pow(2).sum(-1) + kl * beta


RIGHT_BVL = [ref.beta_vae_loss, bvl_numpy, bvl_distributions, bvl_loops, bvl_std]


def _rec(x, x_hat):
    return ((x_hat - x) ** 2).sum(1)


def _kl(mu, log_var):
    return 0.5 * (log_var.exp() + mu**2 - 1 - log_var).sum(1)


def bvl_log_var_as_log_sigma(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (torch.exp(2 * log_var) + mu**2 - 1 - 2 * log_var).sum(1)


def bvl_sigma_for_variance(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (torch.exp(0.5 * log_var) + mu**2 - 1 - log_var).sum(1)


def bvl_mean_over_features(x, x_hat, mu, log_var, beta=1.0):
    return ((x_hat - x) ** 2).mean(1) + beta * _kl(mu, log_var)


def bvl_kl_mean_over_latent(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (log_var.exp() + mu**2 - 1 - log_var).mean(1)


def bvl_lecture_notes_means(x, x_hat, mu, log_var, beta=1.0):
    return ((x_hat - x) ** 2).mean(1) - beta * 0.5 * (1 + log_var - mu**2 - log_var.exp()).mean(1)


def bvl_batch_mean(x, x_hat, mu, log_var, beta=1.0):
    return (_rec(x, x_hat) + beta * _kl(mu, log_var)).mean()


def bvl_batch_sum(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat).sum() + beta * _kl(mu, log_var).sum()


def bvl_squeezed(x, x_hat, mu, log_var, beta=1.0):
    return (_rec(x, x_hat) + beta * _kl(mu, log_var)).squeeze()


def bvl_no_half(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * (log_var.exp() + mu**2 - 1 - log_var).sum(1)


def bvl_no_minus_one(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (log_var.exp() + mu**2 - log_var).sum(1)


def bvl_sign_error(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(1)


def bvl_beta_on_reconstruction(x, x_hat, mu, log_var, beta=1.0):
    return beta * _rec(x, x_hat) + _kl(mu, log_var)


def bvl_beta_ignored(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + _kl(mu, log_var)


def bvl_beta_on_both(x, x_hat, mu, log_var, beta=1.0):
    return beta * (_rec(x, x_hat) + _kl(mu, log_var))


def bvl_half_squared_error(x, x_hat, mu, log_var, beta=1.0):
    return 0.5 * _rec(x, x_hat) + beta * _kl(mu, log_var)


def bvl_absolute_error(x, x_hat, mu, log_var, beta=1.0):
    return (x_hat - x).abs().sum(1) + beta * _kl(mu, log_var)


def bvl_log_of_log_var(x, x_hat, mu, log_var, beta=1.0):
    return _rec(x, x_hat) + beta * 0.5 * (log_var.exp() + mu**2 - 1 - torch.log(log_var)).sum(1)


def bvl_beta_default_zero(x, x_hat, mu, log_var, beta=0.0):
    return _rec(x, x_hat) + beta * _kl(mu, log_var)


def bvl_in_place(x, x_hat, mu, log_var, beta=1.0):
    variance = log_var.exp_()  # changes the caller's log_var
    return _rec(x, x_hat) + beta * 0.5 * (variance + mu**2 - 1 - variance.log()).sum(1)


def bvl_no_return(x, x_hat, mu, log_var, beta=1.0):
    _rec(x, x_hat) + beta * _kl(mu, log_var)


WRONG_BVL = [
    (bvl_log_var_as_log_sigma, {"kl"}),
    (bvl_log_of_log_var, {"shape"}),
    (bvl_beta_default_zero, {"beta"}),
    (bvl_sigma_for_variance, {"kl"}),
    (bvl_mean_over_features, {"reconstruction"}),
    (bvl_kl_mean_over_latent, {"kl"}),
    (bvl_lecture_notes_means, {"reconstruction", "kl"}),
    (bvl_batch_mean, {"shape"}),
    (bvl_batch_sum, {"shape"}),
    (bvl_squeezed, {"shape"}),
    (bvl_no_half, {"kl"}),
    (bvl_no_minus_one, {"kl"}),
    (bvl_sign_error, {"kl"}),
    (bvl_beta_on_reconstruction, {"beta"}),
    (bvl_beta_ignored, {"beta"}),
    (bvl_beta_on_both, {"beta"}),
    (bvl_half_squared_error, {"reconstruction"}),
    (bvl_absolute_error, {"reconstruction"}),
    (bvl_in_place, {"shape"}),
    (bvl_no_return, {"shape"}),
]


# ----------------------------------------------------------------- reconstruction_error
def _check_kind(kind):
    if kind not in ("mse", "l1", "bce"):
        raise ValueError(kind)


def re_numpy(x, x_hat, kind="mse"):
    _check_kind(kind)
    a, b = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    axes = tuple(range(1, a.ndim))
    if kind == "mse":
        return np.mean((a - b) ** 2, axis=axes)
    if kind == "l1":
        return np.mean(np.abs(a - b), axis=axes)
    return np.mean(-(a * np.log(b) + (1 - a) * np.log(1 - b)), axis=axes)


def re_functional(x, x_hat, kind="mse"):
    _check_kind(kind)
    loss = {
        "mse": F.mse_loss,
        "l1": F.l1_loss,
        "bce": lambda p, t, reduction: F.binary_cross_entropy(p, t, reduction=reduction),
    }[kind]
    return loss(x_hat, x, reduction="none").flatten(1).mean(1)


def re_loop(x, x_hat, kind="mse"):
    _check_kind(kind)
    out = []
    for a, b in zip(x, x_hat):
        d = (a - b).reshape(-1)
        if kind == "mse":
            out.append(float((d * d).sum()) / d.numel())
        elif kind == "l1":
            out.append(float(d.abs().sum()) / d.numel())
        else:
            out.append(float(F.binary_cross_entropy(b.reshape(-1), a.reshape(-1))))
    return torch.tensor(out)


def re_dims(x, x_hat, kind="mse"):
    _check_kind(kind)
    dims = tuple(range(1, x.dim()))
    if kind == "mse":
        return ((x_hat - x) ** 2).mean(dim=dims)
    if kind == "l1":
        return (x_hat - x).abs().mean(dim=dims)
    return (-(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat))).mean(dim=dims)


RIGHT_RE = [ref.reconstruction_error, re_numpy, re_functional, re_loop, re_dims]


def _wrong(body):
    def fn(x, x_hat, kind="mse"):
        _check_kind(kind)
        return body(x, x_hat, kind)

    return fn


WRONG_RE = {
    "batch_mean_scalar": _wrong(lambda x, xh, k: ref.reconstruction_error(x, xh, k).mean()),
    "sum_not_mean": _wrong(lambda x, xh, k: ref.reconstruction_error(x, xh, k) * x[0].numel()),
    "l1_squared": _wrong(lambda x, xh, k: ref.reconstruction_error(x, xh, "mse" if k == "l1" else k)),
    "l1_no_abs": _wrong(
        lambda x, xh, k: (x - xh).flatten(1).mean(1) if k == "l1" else ref.reconstruction_error(x, xh, k)
    ),
    "wrong_axis": _wrong(
        lambda x, xh, k: (
            F.mse_loss(xh, x, reduction="none").mean(0) if k == "mse" else F.l1_loss(xh, x, reduction="none").mean(0)
        )
    ),
    "only_dim1": _wrong(lambda x, xh, k: ((x - xh) ** 2 if k == "mse" else (x - xh).abs()).mean(1)),
    "rmse": _wrong(
        lambda x, xh, k: ref.reconstruction_error(x, xh, k).sqrt() if k == "mse" else ref.reconstruction_error(x, xh, k)
    ),
    "squeezed_single": _wrong(lambda x, xh, k: ref.reconstruction_error(x, xh, k).squeeze()),
    "bce_swapped": _wrong(
        lambda x, xh, k: ref.reconstruction_error(xh, x, k) if k == "bce" else ref.reconstruction_error(x, xh, k)
    ),
    "bce_sum": _wrong(lambda x, xh, k: ref.reconstruction_error(x, xh, k) * (x[0].numel() if k == "bce" else 1)),
}


def unknown_kind_falls_back(x, x_hat, kind="mse"):
    return ref.reconstruction_error(x, x_hat, kind if kind in ("mse", "l1", "bce") else "mse")


def unknown_kind_keyerror(x, x_hat, kind="mse"):
    return {"mse": 0, "l1": 1, "bce": 2}[kind] * 0 + ref.reconstruction_error(x, x_hat, kind)


WRONG_RE["unknown_kind_accepted"] = unknown_kind_falls_back
WRONG_RE["unknown_kind_keyerror"] = unknown_kind_keyerror


# ----------------------------------------------------------------- normalized_scores
def ns_numpy(errors, min_err, max_err):
    return (np.asarray(errors, dtype=np.float64) - float(min_err)) / (float(max_err) - float(min_err))


def ns_torch(errors, min_err, max_err):
    return (errors - min_err) / (max_err - min_err)


def ns_mul(errors, min_err, max_err):
    span = max_err - min_err
    return errors.sub(min_err).mul(1.0 / span)


RIGHT_NS = [ref.normalized_scores, ns_numpy, ns_torch, ns_mul]

WRONG_NS = {
    "divide_by_max": lambda e, lo, hi: (e - lo) / hi,
    "only_divide_by_max": lambda e, lo, hi: e / hi,
    "swapped": lambda e, lo, hi: (e - hi) / (lo - hi),
    "clipped": lambda e, lo, hi: ((e - lo) / (hi - lo)).clamp(0, 1),
    "own_min_max": lambda e, lo, hi: (e - e.min()) / (e.max() - e.min()),
    "in_place": lambda e, lo, hi: e.sub_(lo).div_(hi - lo),
    "no_shift": lambda e, lo, hi: e / (hi - lo),
}


# ----------------------------------------------------------------- tests
RIGHT = {"beta_vae_loss": RIGHT_BVL, "reconstruction_error": RIGHT_RE, "normalized_scores": RIGHT_NS}
WRONG = {"beta_vae_loss": WRONG_BVL, "reconstruction_error": WRONG_RE, "normalized_scores": WRONG_NS}
test_right_answers_pass_every_check, test_wrong_answers_lose_points = LAB.catalogue_tests(RIGHT, WRONG)


def test_ids_and_registry():
    assert ids("beta_vae_loss") == [
        "lab01.beta_vae_loss.shape",
        "lab01.beta_vae_loss.reconstruction",
        "lab01.beta_vae_loss.kl",
        "lab01.beta_vae_loss.beta",
    ]
    assert ids("reconstruction_error") == [
        "lab01.reconstruction_error.shape",
        "lab01.reconstruction_error.mse",
        "lab01.reconstruction_error.l1",
        "lab01.reconstruction_error.bce",
        "lab01.reconstruction_error.unknown_kind",
    ]
    assert ids("normalized_scores") == [
        "lab01.normalized_scores.values",
        "lab01.normalized_scores.training_range",
        "lab01.normalized_scores.edge_cases",
    ]


def test_checks_are_quiet(capfd):
    LAB.assert_quiet(capfd, wrong=WRONG)


def test_failure_messages_do_not_leak_expected_values():
    assert "mean" in message("lab01.reconstruction_error.mse", WRONG_RE["sum_not_mean"])
    assert "clip" in message("lab01.normalized_scores.training_range", WRONG_NS["clipped"])


@pytest.mark.parametrize(
    "check, fn, words",
    [
        ("kl", bvl_log_var_as_log_sigma, ["reads log_var as log sigma", "sigma^2 = exp(log_var)"]),
        ("kl", bvl_sigma_for_variance, ["sigma = exp(log_var / 2) where sigma^2"]),
        ("kl", bvl_kl_mean_over_latent, ["mean over the latent dimensions"]),
        ("kl", bvl_no_half, ["factor 1/2"]),
        ("kl", bvl_no_minus_one, ["-1 inside the sum"]),
        ("kl", bvl_sign_error, ["wrong sign"]),
        ("reconstruction", bvl_mean_over_features, ["mean of the squared errors over the features", "sum"]),
        ("reconstruction", bvl_half_squared_error, ["without a factor 1/2"]),
        ("reconstruction", bvl_absolute_error, ["absolute errors"]),
        ("beta", bvl_beta_on_reconstruction, ["beta multiplies the reconstruction term"]),
        ("beta", bvl_beta_ignored, ["does not change with beta"]),
        ("beta", bvl_beta_on_both, ["beta multiplies both terms"]),
        ("beta", bvl_beta_default_zero, ["expected beta = 1 by default"]),
        ("shape", bvl_log_of_log_var, ["NaN or inf", "already a logarithm"]),
        ("shape", bvl_batch_mean, ["returned one number", "a batch of 6 samples", "shape (6,)"]),
        ("shape", bvl_squeezed, ["returned shape () for a batch of 1", "shape (1,)"]),
        ("shape", bvl_in_place, ["changed its argument log_var (argument 4) in place", "work on a copy"]),
        ("shape", bvl_no_return, ["returned None"]),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_beta_vae_loss_messages_say_what_was_seen_and_what_was_expected(check, fn, words):
    text = message(f"lab01.beta_vae_loss.{check}", fn)
    for w in words:
        assert w in text, (w, text)
    assert "by up to" in text or check == "shape", text


_ONE_CHECK = {
    "bvl_log_var_as_log_sigma": ["kl"],
    "bvl_no_minus_one": ["kl"],
    "bvl_sign_error": ["kl"],
    "bvl_mean_over_features": ["reconstruction"],
}


def test_beta_vae_loss_messages_name_the_wrong_term_only():
    """A mistake in one term is not blamed on the other, and costs that term's check only."""
    assert "It looks like the KL" not in message("lab01.beta_vae_loss.reconstruction", bvl_mean_over_features)
    assert "It looks like the reconstruction" not in message("lab01.beta_vae_loss.kl", bvl_log_var_as_log_sigma)
    for fn in (bvl_log_var_as_log_sigma, bvl_no_minus_one, bvl_sign_error, bvl_mean_over_features):
        assert LAB.failures("beta_vae_loss", fn) == [f"lab01.beta_vae_loss.{c}" for c in _ONE_CHECK[fn.__name__]]


@pytest.mark.parametrize(
    "check_id, fn, words",
    [
        (
            "lab01.reconstruction_error.mse",
            WRONG_RE["rmse"],
            ["differ from the expected per-sample mean squared error", "root"],
        ),
        ("lab01.reconstruction_error.l1", WRONG_RE["l1_no_abs"], ["mean absolute error", "absolute values first"]),
        ("lab01.reconstruction_error.bce", WRONG_RE["bce_swapped"], ["swapped"]),
        ("lab01.reconstruction_error.unknown_kind", unknown_kind_keyerror, ["raised KeyError", "expected ValueError"]),
        ("lab01.reconstruction_error.shape", WRONG_RE["squeezed_single"], ["returned shape ()", "shape (1,)"]),
        ("lab01.normalized_scores.values", WRONG_NS["divide_by_max"], ["differ from (errors - min_err)", "width"]),
        ("lab01.normalized_scores.values", WRONG_NS["no_shift"], ["Subtract min_err"]),
        ("lab01.normalized_scores.training_range", WRONG_NS["clipped"], ["expected a negative score", "clipping"]),
        (
            "lab01.normalized_scores.edge_cases",
            WRONG_NS["own_min_max"],
            ["NaN or inf", "arguments min_err and max_err"],
        ),
        ("lab01.normalized_scores.values", WRONG_NS["in_place"], ["changed its argument errors (argument 1) in place"]),
        ("lab01.reconstruction_error.mse", _wrong(lambda x, xh, k: (xh.sub_(x) ** 2).flatten(1).mean(1)), ["x_hat"]),
    ],
)
def test_messages_of_the_other_exercises(check_id, fn, words):
    text = message(check_id, fn)
    for w in words:
        assert w in text, (w, text)
