"""Checks of lab 01 (autoencoder basics): ``reconstruction_error`` and ``normalized_scores``.

The specification is the task text of ``source/01_autoencoder_basics``:

- ``reconstruction_error(x, x_hat, kind="mse")``: one error per sample, shape (N,), the MEAN over
  every dimension but the first; ``kind`` is "mse" (squared error), "l1" (absolute error) or
  "bce" (binary cross-entropy of probabilities ``x_hat`` against targets ``x`` in [0, 1]); any
  other kind raises ``ValueError``.
- ``normalized_scores(errors, min_err, max_err)``: (errors - min_err) / (max_err - min_err),
  shape (N,), not clipped.

Results may be torch tensors or numpy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from . import reference as ref
from ._common import as_floats, call, close, fail
from .core import grader

RTOL = ATOL = 1e-4

# The course library's code that computes what an exercise asks for, as "module:qualname": an answer
# that calls any of it (directly, through an alias or getattr, or deep inside a helper) fails every
# check of the exercise (autograder.core). Only what a right answer has no use for is listed.
LIBRARY_ANSWERS = {
    "reconstruction_error": ("aelab.losses:reconstruction_term",),
    "normalized_scores": (),  # nothing in aelab normalises errors
}


def _pair(shape, seed: int, *, low: float = -2.0, high: float = 2.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * (high - low) + low).to(dtype)
    x_hat = (x.double() + 0.7 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    return x, x_hat


def _errors(fn, x, x_hat, kind, *, default_kind: bool = False):
    shape = tuple(x.shape)
    label = "reconstruction_error(x, x_hat)" if default_kind else f"reconstruction_error(x, x_hat, {kind!r})"
    what = f"for x of shape {shape}"
    args = (x.clone(), x_hat.clone()) if default_kind else (x.clone(), x_hat.clone(), kind)
    result = call(fn, *args, name=label, what=what)
    return as_floats(result, shape[0], f"{label} {what}")


def _diagnose(got: np.ndarray, want: np.ndarray, x, x_hat, kind: str) -> str:
    """A hint about a common mistake, without the expected numbers."""
    features = int(np.prod(tuple(x.shape[1:])))
    if features > 1 and close(got, want * features, rtol=RTOL, atol=ATOL):
        return " Your values look like sums over the features; the task asks for the mean."
    if kind == "mse" and close(got, np.sqrt(want), rtol=RTOL, atol=ATOL):
        return " Your values look like the root of the mean squared error; do not take a square root."
    if kind == "l1":
        signed = (x.double() - x_hat.double()).reshape(len(x), -1).mean(1).numpy()
        if close(np.abs(got), np.abs(signed), rtol=RTOL, atol=ATOL):
            return " Your values look like mean signed differences; the L1 error takes absolute values first."
        if close(got, ref.reconstruction_error(x, x_hat, "mse").numpy(), rtol=RTOL, atol=ATOL):
            return " Your L1 errors equal the squared errors; L1 uses absolute differences."
    if kind == "bce" and close(got, ref.reconstruction_error(x_hat, x, "bce").numpy(), rtol=RTOL, atol=ATOL):
        return " It looks like the roles of x (targets) and x_hat (predicted probabilities) are swapped."
    return " Check the formula of this kind and the reduction (mean over every dimension but the first)."


def _compare(fn, kind: str, cases, *, default_kind: bool = False) -> None:
    for x, x_hat in cases:
        got = _errors(fn, x, x_hat, kind, default_kind=default_kind)
        want = ref.reconstruction_error(x, x_hat, kind).numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            label = "reconstruction_error(x, x_hat)" if default_kind else f"reconstruction_error(x, x_hat, {kind!r})"
            fail(
                f"{label} gives wrong values for x of shape {tuple(x.shape)} "
                f"(largest difference from the expected errors: {np.max(np.abs(got - want)):.3g})."
                + _diagnose(got, want, x, x_hat, kind)
            )


def _bce_cases():
    gen = torch.Generator().manual_seed(11)
    cases = []
    for shape in [(6, 5), (4, 1, 3, 3)]:
        x_hat = torch.rand(shape, generator=gen) * 0.9 + 0.05
        x = (torch.rand(shape, generator=gen) > 0.5).float()
        cases.append((x, x_hat))
    x_hat = torch.rand((5, 4), generator=gen) * 0.9 + 0.05
    x = torch.rand((5, 4), generator=gen)  # soft targets in [0, 1]
    cases.append((x, x_hat))
    return cases


# ------------------------------------------------------------------------ reconstruction_error
@grader("reconstruction_error")
def check_reconstruction_error_shape(fn):
    """reconstruction_error returns one value per sample, shape (N,), for 2-D and 4-D batches and N = 1."""
    for kind in ("mse", "l1"):
        for i, shape in enumerate([(7, 5), (6, 1, 4, 3), (1, 5), (3, 2, 8)]):
            x, x_hat = _pair(shape, seed=100 + i)
            _errors(fn, x, x_hat, kind)


@grader("reconstruction_error")
def check_reconstruction_error_mse(fn):
    """reconstruction_error(kind="mse") is the mean squared error of each sample (also the default kind)."""
    cases = [_pair((8, 6), 1), _pair((5, 2, 3, 3), 2), _pair((4, 7), 3, dtype=torch.float64), _pair((1, 9), 4)]
    _compare(fn, "mse", cases)
    _compare(fn, "mse", cases[:2], default_kind=True)


@grader("reconstruction_error")
def check_reconstruction_error_l1(fn):
    """reconstruction_error(kind="l1") is the mean absolute error of each sample."""
    cases = [_pair((8, 6), 5), _pair((5, 2, 3, 3), 6), _pair((4, 7), 7, dtype=torch.float64), _pair((1, 9), 8)]
    _compare(fn, "l1", cases)


@grader("reconstruction_error")
def check_reconstruction_error_bce(fn):
    """reconstruction_error(kind="bce") is the mean binary cross-entropy of each sample (targets x, probabilities x_hat)."""
    _compare(fn, "bce", _bce_cases())


@grader("reconstruction_error")
def check_reconstruction_error_unknown_kind(fn):
    """reconstruction_error raises ValueError for a kind other than "mse", "l1" and "bce"."""
    x, x_hat = _pair((4, 3), 9)
    for kind in ("huber", "MSE", ""):
        try:
            fn(x.clone(), x_hat.clone(), kind)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001
            fail(f"reconstruction_error(x, x_hat, {kind!r}) raised {type(exc).__name__}; it must raise ValueError")
        fail(f"reconstruction_error(x, x_hat, {kind!r}) returned a result; an unknown kind must raise ValueError")


# ------------------------------------------------------------------------ normalized_scores
def _scores(fn, errors, lo, hi, what: str):
    result = call(fn, errors.clone(), lo, hi, name="normalized_scores", what=what)
    return as_floats(result, len(errors), f"normalized_scores {what}")


def _norm_hint(got, errors, lo, hi) -> str:
    e = errors.double().numpy()
    lo, hi = float(lo), float(hi)
    if close(got, 1 - (e - lo) / (hi - lo), rtol=RTOL, atol=ATOL):
        return " Your scores are reversed: the smallest error must get the smallest score."
    if close(got, (e - lo) / hi, rtol=RTOL, atol=ATOL) or close(got, e / hi, rtol=RTOL, atol=ATOL):
        return " Divide by the width of the training range, not by max_err alone."
    return " Check the formula in the task text."


@grader("normalized_scores")
def check_normalized_scores_values(fn):
    """normalized_scores matches (errors - min_err) / (max_err - min_err) on fixed errors."""
    gen = torch.Generator().manual_seed(21)
    errors = torch.rand(9, generator=gen) * 3.0 + 0.05
    for lo, hi in [(0.1, 2.3), (0.5, 4.0)]:
        got = _scores(fn, errors, lo, hi, f"with min_err={lo}, max_err={hi}")
        want = ref.normalized_scores(errors, lo, hi).numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            fail(
                f"normalized_scores gives wrong values with min_err={lo}, max_err={hi}."
                + _norm_hint(got, errors, lo, hi)
            )
    # min_err and max_err as 0-d tensors, as produced by train_errors.min() and .max()
    lo, hi = errors.min(), errors.max()
    got = _scores(fn, errors, lo.clone(), hi.clone(), "with min_err and max_err given as 0-d tensors")
    if not close(got, ref.normalized_scores(errors, lo, hi).numpy(), rtol=RTOL, atol=ATOL):
        fail(
            "normalized_scores gives wrong values when min_err and max_err are 0-d tensors (errors.min(), errors.max())."
            + _norm_hint(got, errors, lo, hi)
        )


@grader("normalized_scores")
def check_normalized_scores_training_range(fn):
    """normalized_scores maps the training range onto [0, 1] and does not clip new errors."""
    gen = torch.Generator().manual_seed(22)
    train = torch.rand(12, generator=gen) * 2.0 + 0.5
    lo, hi = float(train.min()), float(train.max())
    got = _scores(fn, train, lo, hi, "on the training errors")
    if not (abs(got[int(train.argmin())]) < 1e-5 and abs(got[int(train.argmax())] - 1) < 1e-5):
        fail(
            "normalized_scores must give 0 to the smallest and 1 to the largest training error "
            "when min_err and max_err are the training errors' minimum and maximum." + _norm_hint(got, train, lo, hi)
        )
    if got.min() < -1e-6 or got.max() > 1 + 1e-6:
        fail("normalized_scores gives training errors scores outside [0, 1]." + _norm_hint(got, train, lo, hi))
    new = torch.tensor([0.1, lo, 0.5 * (lo + hi), hi, 4.0, 10.0])
    got = _scores(fn, new, lo, hi, "on new errors")
    want = ref.normalized_scores(new, lo, hi).numpy()
    if got[0] >= 0 or got[-1] <= 1:
        fail(
            "normalized_scores must not clip: an error below the training minimum gets a negative score and "
            "one above the training maximum a score above 1."
        )
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            "normalized_scores gives wrong values for errors outside the training range." + _norm_hint(got, new, lo, hi)
        )


@grader("normalized_scores")
def check_normalized_scores_edge_cases(fn):
    """normalized_scores handles one sample, equal errors, float64 errors and numpy-scalar bounds."""
    one = torch.tensor([0.8])
    got = _scores(fn, one, 0.3, 1.3, "for one sample")
    if not close(got, ref.normalized_scores(one, 0.3, 1.3).numpy(), rtol=RTOL, atol=ATOL):
        fail("normalized_scores gives a wrong value for a single sample (shape (1,)).")
    equal = torch.full((5,), 0.7)
    got = _scores(fn, equal, 0.2, 1.2, "for five equal errors")
    if not close(got, ref.normalized_scores(equal, 0.2, 1.2).numpy(), rtol=RTOL, atol=ATOL):
        fail(
            "normalized_scores gives wrong values when all errors are equal: min_err and max_err are "
            "arguments (the training range), not the minimum and maximum of `errors`."
        )
    gen = torch.Generator().manual_seed(23)
    e64 = torch.rand(6, generator=gen, dtype=torch.float64) * 5
    lo, hi = np.float32(0.25), np.float64(4.5)
    got = _scores(fn, e64, lo, hi, "for float64 errors with numpy-scalar min_err and max_err")
    if not close(got, ref.normalized_scores(e64, lo, hi).numpy(), rtol=RTOL, atol=ATOL):
        fail("normalized_scores gives wrong values for float64 errors with numpy-scalar min_err and max_err.")
