"""The lab 01 checks are fair: the reference passes, known mistakes lose points, other right answers don't."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from grader_helpers import Lab, message

from autograder import reference as ref

LAB = Lab("lab01")
ids, failures = LAB.ids, LAB.failures


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
RIGHT = {"reconstruction_error": RIGHT_RE, "normalized_scores": RIGHT_NS}
WRONG = {"reconstruction_error": WRONG_RE, "normalized_scores": WRONG_NS}
test_right_answers_pass_every_check, test_wrong_answers_lose_points = LAB.catalogue_tests(RIGHT, WRONG)


def test_ids_and_registry():
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
