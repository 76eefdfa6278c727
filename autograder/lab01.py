"""Checks of lab 01 (autoencoder basics): ``beta_vae_loss``, ``reconstruction_error`` and ``normalized_scores``.

The specification is the task text of ``source/01_autoencoder_basics``:

- ``beta_vae_loss(x, x_hat, mu, log_var, beta=1.0)``: one loss per sample, shape (N,): the squared
  error summed over the D features plus ``beta`` times KL(N(mu, diag sigma^2) || N(0, I)) summed over
  the latent dimension, with the lecture notes' ``log_var = log sigma^2``.
- ``reconstruction_error(x, x_hat, kind="mse")``: one error per sample, shape (N,), the MEAN over
  every dimension but the first; ``kind`` is "mse" (squared error), "l1" (absolute error) or
  "bce" (binary cross-entropy of probabilities ``x_hat`` against targets ``x`` in [0, 1]); any
  other kind raises ``ValueError``.
- ``normalized_scores(errors, min_err, max_err)``: (errors - min_err) / (max_err - min_err),
  shape (N,), not clipped.

Results may be torch tensors or numpy arrays. A failure says what was seen (the learner's values,
the size of the difference, a likely mistake) and what was expected (the rule of the task text),
never the expected values themselves.
"""

from __future__ import annotations

import numpy as np
import torch

from . import reference as ref
from ._common import as_floats, call, close, fail
from .core import grader

RTOL = ATOL = 1e-4


def _expect_finite(result, label: str, hint: str) -> None:
    """Fail with ``hint`` when ``result`` holds NaN or inf (as_floats would say only that it does)."""
    try:
        arr = result.detach().cpu().numpy() if isinstance(result, torch.Tensor) else np.asarray(result)
        bad = int(np.size(arr) - np.isfinite(arr.astype(np.float64)).sum())
    except Exception:  # noqa: BLE001 - not numbers: as_floats says what it is
        return
    if bad:
        fail(f"{label} returned NaN or inf at {bad} of {np.size(arr)} places; expected finite values. {hint}")


# The course library's code that computes what an exercise asks for, as "module:qualname": an answer
# that calls any of it (directly, through an alias or getattr, or deep inside a helper) fails every
# check of the exercise (autograder.core). Only what a right answer has no use for is listed.
# (ConvVAE.seed_loss and IrisVAE.loss call the KL functions, so they are refused too.)
LIBRARY_ANSWERS = {
    "beta_vae_loss": (
        "aelab.losses:kl_normal_log_var",
        "aelab.losses:_kl_normal_log_sigma",
        "aelab.losses:vae_loss",
        "aelab.losses:reconstruction_term",
    ),
    "reconstruction_error": ("aelab.losses:reconstruction_term",),
    "normalized_scores": (),  # nothing in aelab normalises errors
}


# ------------------------------------------------------------------------ beta_vae_loss
def _vae_case(n: int, features: int, latent: int, seed: int, *, dtype=torch.float32, kl_zero=False, rec_zero=False):
    """(x, x_hat, mu, log_var): x, x_hat (n, features); mu, log_var (n, latent), log_var far from 0."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen, dtype=torch.float64)
    x_hat = x.clone() if rec_zero else x + 0.6 * torch.randn(n, features, generator=gen, dtype=torch.float64)
    if kl_zero:
        mu, log_var = torch.zeros(n, latent, dtype=torch.float64), torch.zeros(n, latent, dtype=torch.float64)
    else:
        mu = 1.2 * torch.randn(n, latent, generator=gen, dtype=torch.float64)
        sign = torch.where(torch.rand(n, latent, generator=gen) < 0.5, -1.0, 1.0).double()
        log_var = sign * (0.4 + 1.4 * torch.rand(n, latent, generator=gen, dtype=torch.float64))
    return tuple(t.to(dtype) for t in (x, x_hat, mu, log_var))


def _vae_label(beta, default: bool) -> str:
    return "beta_vae_loss(x, x_hat, mu, log_var)" if default else f"beta_vae_loss(x, x_hat, mu, log_var, beta={beta:g})"


def _vae_what(case, note: str = "") -> str:
    x, _, mu, _ = case
    return f"for x of shape {tuple(x.shape)} and mu of shape {tuple(mu.shape)}{note}"


def _vae_losses(fn, case, beta, *, default: bool = False, note: str = "") -> np.ndarray:
    x, x_hat, mu, log_var = case
    label, what = _vae_label(beta, default), _vae_what(case, note)
    args = (x.clone(), x_hat.clone(), mu.clone(), log_var.clone()) + (() if default else (beta,))
    result = call(fn, *args, arg_names=("x", "x_hat", "mu", "log_var"), name=label, what=what)
    n, latent = x.shape[0], mu.shape[1]
    if result is None:
        fail(f"{label} returned None {what}; expected one loss per sample, shape ({n},) (a missing return?)")
    try:
        shape = tuple(result.shape) if hasattr(result, "shape") else tuple(np.shape(result))
    except Exception:  # noqa: BLE001 - as_floats says what it is
        shape = None
    if shape is not None and n > 1 and int(np.prod(shape)) == 1:
        fail(
            f"{label} returned one number {what}, a batch of {n} samples; expected one loss per sample, "
            f"shape ({n},): sum over the features and the latent dimensions, not over the batch"
        )
    if shape == (n, latent) and latent != x.shape[1]:
        fail(
            f"{label} returned shape {shape} {what}, one value per latent dimension; expected one loss per "
            f"sample, shape ({n},): the KL term sums over the latent dimensions"
        )
    _expect_finite(
        result,
        f"{label} {what}",
        "log_var may be negative: it is already a logarithm (sigma^2 = exp(log_var)), so take no log or root of it.",
    )
    return as_floats(result, n, f"{label} {what}")


def _vae_parts(case) -> tuple[dict, dict]:
    """The two terms, right and as typical mistakes compute them: ({name: (N,)}, {name: (N,)})."""
    x, x_hat, mu, log_var = (t.double() for t in case)
    squared = (x_hat - x) ** 2
    reconstruction = {
        "right": squared.sum(1),
        "mean": squared.mean(1),
        "half": 0.5 * squared.sum(1),
        "abs": (x_hat - x).abs().sum(1),
        "root": squared.sum(1).sqrt(),
    }
    inner = log_var.exp() + mu**2 - 1 - log_var
    kl = {
        "right": 0.5 * inner.sum(1),
        "log_sigma": 0.5 * (torch.exp(2 * log_var) + mu**2 - 1 - 2 * log_var).sum(1),
        "std": 0.5 * (torch.exp(0.5 * log_var) + mu**2 - 1 - log_var).sum(1),
        "mean": 0.5 * inner.mean(1),
        "no_half": inner.sum(1),
        "negative": -0.5 * inner.sum(1),
        "no_one": 0.5 * (log_var.exp() + mu**2 - log_var).sum(1),
    }
    return {k: v.numpy() for k, v in reconstruction.items()}, {k: v.numpy() for k, v in kl.items()}


_REC_HINTS = {
    "mean": "the reconstruction term is the mean of the squared errors over the features; the task asks for their sum",
    "half": "the reconstruction term is half the summed squared error; the task asks for the sum without a factor 1/2",
    "abs": "the reconstruction term sums absolute errors; the task asks for squared errors",
    "root": "the reconstruction term is the square root of the summed squared error; do not take a root",
}
_KL_HINTS = {
    "log_sigma": (
        "the KL term reads log_var as log sigma (sigma^2 = exp(2 * log_var)); here log_var = log sigma^2, "
        "so sigma^2 = exp(log_var)"
    ),
    "std": "the KL term uses sigma = exp(log_var / 2) where sigma^2 = exp(log_var) belongs",
    "mean": "the KL term is a mean over the latent dimensions; the KL divergence sums over them",
    "no_half": "the KL term is twice too large: the factor 1/2 in front of the sum is missing",
    "negative": "the KL term has the wrong sign (a KL divergence is never negative)",
    "no_one": "the KL term misses the -1 inside the sum (the KL divergence of N(0, I) from itself is 0)",
}


def _kl_hint(got: np.ndarray, case) -> str:
    """The likeliest mistake behind a wrong KL term ``got`` (x_hat = x, beta = 1), or ""."""
    _, kl = _vae_parts(case)
    for name, hint in _KL_HINTS.items():
        if close(got, kl[name], rtol=RTOL, atol=ATOL):
            return f" It looks like {hint}."
    return ""


@grader("beta_vae_loss")
def check_beta_vae_loss_shape(fn):
    """beta_vae_loss returns one loss per sample, shape (N,), also for N = 1 and without beta."""
    for i, (n, features, latent) in enumerate([(6, 5, 3), (1, 4, 2), (9, 30, 4), (5, 3, 8)]):
        case = _vae_case(n, features, latent, seed=200 + i)
        _vae_losses(fn, case, 1.0, default=True)
        _vae_losses(fn, case, 0.5)


@grader("beta_vae_loss")
def check_beta_vae_loss_reconstruction(fn):
    """beta_vae_loss's reconstruction term is the squared error summed over the features."""
    cases = [
        _vae_case(7, 5, 3, 210),
        _vae_case(4, 12, 2, 211, dtype=torch.float64),
        _vae_case(1, 6, 3, 212),
    ]
    for case in cases:
        x, x_hat, mu, log_var = case
        got = _vae_losses(fn, case, 1.0) - _vae_losses(fn, (x, x.clone(), mu, log_var), 1.0, note=", with x_hat = x")
        rec, _ = _vae_parts(case)
        if not close(got, rec["right"], rtol=RTOL, atol=ATOL):
            hint = next((h for name, h in _REC_HINTS.items() if close(got, rec[name], rtol=RTOL, atol=ATOL)), None)
            fail(
                f"beta_vae_loss(x, x_hat, mu, log_var, beta=1) - beta_vae_loss(x, x, mu, log_var, beta=1), the "
                f"reconstruction term alone (the KL term cancels), {_vae_what(case)} differs from the expected "
                f"summed squared errors by up to {np.max(np.abs(got - rec['right'])):.3g}."
                + (
                    f" It looks like {hint}."
                    if hint
                    else " Check the reconstruction term: the squared error "
                    "(x_hat - x)**2 summed over the D features, and 0 when x_hat = x."
                )
            )


@grader("beta_vae_loss")
def check_beta_vae_loss_kl(fn):
    """beta_vae_loss's KL term reads log_var as log sigma^2 (x_hat = x here: no reconstruction error)."""
    note = ", with x_hat = x (a reconstruction term of 0)"
    cases = [
        _vae_case(6, 4, 3, 220, rec_zero=True),
        _vae_case(5, 3, 8, 221, rec_zero=True, dtype=torch.float64),
        _vae_case(1, 4, 2, 222, rec_zero=True),
    ]
    for case in cases:
        got = _vae_losses(fn, case, 1.0, note=note)
        want = ref.beta_vae_loss(*case, 1.0).numpy()
        if close(got, want, rtol=RTOL, atol=ATOL):
            continue
        hint = _kl_hint(got, case)
        if not hint and got.min() < -1e-6:
            hint = f" Your loss is negative ({got.min():.3g}) for some sample, but a KL divergence never is."
        fail(
            f"beta_vae_loss(x, x, mu, log_var, beta=1), the KL term alone, {_vae_what(case)} differs from the "
            f"expected KL divergences by up to {np.max(np.abs(got - want)):.3g}."
            + (
                hint
                or " Check the KL term of section 2 with sigma^2 = exp(log_var), summed over the latent dimensions "
                "(it is 0 exactly when mu = 0 and log_var = 0)."
            )
        )


@grader("beta_vae_loss")
def check_beta_vae_loss_beta(fn):
    """beta_vae_loss weights the KL term, and only the KL term, by beta (beta = 1 by default)."""
    # Compared with the learner's own two terms, so that a mistake inside a term costs that term's
    # check only: with R = loss(x, x_hat, beta=0) and K = loss(x, x, beta=1), loss(beta) = R + beta * K.
    case = _vae_case(8, 6, 3, 230)
    x, x_hat, mu, log_var = case
    what = _vae_what(case)
    own_rec = _vae_losses(fn, case, 0.0)
    own_kl = _vae_losses(fn, (x, x.clone(), mu, log_var), 1.0, note=", with x_hat = x")
    if np.max(np.abs(own_kl)) < 1e-3:
        fail(
            f"beta_vae_loss(x, x, mu, log_var, beta=1) gave 0 for every sample {what}, although mu and log_var "
            "are far from 0, so the weight of the KL term cannot be seen; expected a KL term that is not 0."
        )
    at_one = _vae_losses(fn, case, 1.0)
    for beta in (0.05, 2.5):
        got = _vae_losses(fn, case, beta)
        want = own_rec + beta * own_kl
        if close(got, want, rtol=RTOL, atol=ATOL):
            continue
        if close(got, at_one, rtol=RTOL, atol=ATOL):
            hint = "the result does not change with beta; beta multiplies the KL term"
        elif close(got, beta * (at_one - own_kl) + own_kl, rtol=RTOL, atol=ATOL):
            hint = "beta multiplies the reconstruction term; it weights the KL term"
        elif close(got, beta * at_one, rtol=RTOL, atol=ATOL):
            hint = "beta multiplies both terms; it weights the KL term only"
        else:
            hint = "beta does not simply multiply the KL term"
        fail(
            f"beta_vae_loss(x, x_hat, mu, log_var, beta={beta:g}) {what} differs by up to "
            f"{np.max(np.abs(got - want)):.3g} from R + {beta:g} * K, where R is your loss with beta=0 (the "
            f"reconstruction term alone) and K your loss with x_hat = x and beta=1 (the KL term alone). "
            f"It looks like {hint}."
        )
    got = _vae_losses(fn, case, 1.0, default=True)
    if not close(got, at_one, rtol=RTOL, atol=ATOL):
        fail(
            f"beta_vae_loss(x, x_hat, mu, log_var) without beta {what} differs from your loss with beta=1 by up "
            f"to {np.max(np.abs(got - at_one)):.3g}; expected beta = 1 by default."
        )


# ------------------------------------------------------------------------ reconstruction_error
_KIND_WORDS = {
    "mse": "mean squared error",
    "l1": "mean absolute error",
    "bce": "mean binary cross-entropy",
}


def _pair(shape, seed: int, *, low: float = -2.0, high: float = 2.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * (high - low) + low).to(dtype)
    x_hat = (x.double() + 0.7 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    return x, x_hat


def _re_label(kind, default_kind: bool) -> str:
    return "reconstruction_error(x, x_hat)" if default_kind else f"reconstruction_error(x, x_hat, {kind!r})"


def _errors(fn, x, x_hat, kind, *, default_kind: bool = False):
    shape = tuple(x.shape)
    label = _re_label(kind, default_kind)
    what = f"for x of shape {shape}"
    args = (x.clone(), x_hat.clone()) if default_kind else (x.clone(), x_hat.clone(), kind)
    result = call(fn, *args, arg_names=("x", "x_hat"), name=label, what=what)
    if result is None:
        fail(f"{label} returned None {what}; expected one error per sample, shape ({shape[0]},) (a missing return?)")
    hint = (
        "The inputs are finite; with kind='bce', x_hat holds probabilities in (0, 1) and x targets in [0, 1] "
        "(the log of a target of 0 is -inf: are x and x_hat swapped?)."
        if kind == "bce"
        else "The inputs are finite."
    )
    _expect_finite(result, f"{label} {what}", hint)
    return as_floats(result, shape[0], f"{label} {what}")


def _diagnose(got: np.ndarray, want: np.ndarray, x, x_hat, kind: str) -> str:
    """A hint about a common mistake, without the expected numbers."""
    features = int(np.prod(tuple(x.shape[1:])))
    if features > 1 and close(got, want * features, rtol=RTOL, atol=ATOL):
        return " Your values look like sums over the features; the task asks for the mean."
    if close(got, -want, rtol=RTOL, atol=ATOL):
        return " Your values have the wrong sign; an error is never negative."
    if kind == "mse" and close(got, np.sqrt(want), rtol=RTOL, atol=ATOL):
        return " Your values look like the root of the mean squared error; do not take a square root."
    if kind == "mse" and close(got, ref.reconstruction_error(x, x_hat, "l1").numpy(), rtol=RTOL, atol=ATOL):
        return " Your squared errors equal the absolute errors; 'mse' squares the differences."
    if kind == "mse" and close(got, want / 2, rtol=RTOL, atol=ATOL):
        return " Your values are half the mean squared error; do not multiply by 1/2."
    if kind == "l1":
        signed = (x.double() - x_hat.double()).reshape(len(x), -1).mean(1).numpy()
        if close(np.abs(got), np.abs(signed), rtol=RTOL, atol=ATOL):
            return " Your values look like mean signed differences; the L1 error takes absolute values first."
        if close(got, ref.reconstruction_error(x, x_hat, "mse").numpy(), rtol=RTOL, atol=ATOL):
            return " Your L1 errors equal the squared errors; L1 uses absolute differences."
    if kind == "bce":
        if close(got, ref.reconstruction_error(x_hat, x, "bce").numpy(), rtol=RTOL, atol=ATOL):
            return " It looks like the roles of x (targets) and x_hat (predicted probabilities) are swapped."
        if close(got, want / np.log(2), rtol=RTOL, atol=ATOL) or close(got, want / np.log(10), rtol=RTOL, atol=ATOL):
            return " Your values use another logarithm; the binary cross-entropy uses the natural log."
    return " Check the formula of this kind and the reduction (mean over every dimension but the first)."


def _compare(fn, kind: str, cases, *, default_kind: bool = False) -> None:
    for x, x_hat in cases:
        got = _errors(fn, x, x_hat, kind, default_kind=default_kind)
        want = ref.reconstruction_error(x, x_hat, kind).numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            fail(
                f"{_re_label(kind, default_kind)} gives wrong values for x of shape {tuple(x.shape)}: they differ "
                f"from the expected per-sample {_KIND_WORDS[kind]} by up to {np.max(np.abs(got - want)):.3g}."
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
            fail(
                f"reconstruction_error(x, x_hat, {kind!r}) raised {type(exc).__name__}; expected ValueError "
                "for a kind other than 'mse', 'l1' and 'bce'"
            )
        fail(
            f"reconstruction_error(x, x_hat, {kind!r}) returned a result; expected it to raise ValueError "
            "for a kind other than 'mse', 'l1' and 'bce' (kinds are case-sensitive)"
        )


# ------------------------------------------------------------------------ normalized_scores
_RULE = "(errors - min_err) / (max_err - min_err)"
_FORMULA = f"expected {_RULE}"


def _scores(fn, errors, lo, hi, what: str):
    result = call(fn, errors.clone(), lo, hi, arg_names=("errors",), name="normalized_scores", what=what)
    if result is None:
        fail(f"normalized_scores returned None {what}; expected one score per error (a missing return?)")
    _expect_finite(
        result,
        f"normalized_scores {what}",
        "Here max_err > min_err, so nothing is divided by zero; a division by zero means the bounds came "
        "from `errors` instead of the arguments min_err and max_err.",
    )
    return as_floats(result, len(errors), f"normalized_scores {what}")


def _shown(values: np.ndarray) -> str:
    """The learner's own values, short."""
    return "[" + ", ".join(f"{v:.3g}" for v in values[:6]) + (", ..." if len(values) > 6 else "") + "]"


def _norm_hint(got, errors, lo, hi) -> str:
    e = errors.double().numpy()
    lo, hi = float(lo), float(hi)
    if close(got, 1 - (e - lo) / (hi - lo), rtol=RTOL, atol=ATOL):
        return " Your scores are reversed: the smallest error must get the smallest score."
    if close(got, (e - lo) / hi, rtol=RTOL, atol=ATOL) or close(got, e / hi, rtol=RTOL, atol=ATOL):
        return " Divide by the width of the training range, not by max_err alone."
    if close(got, e / (hi - lo), rtol=RTOL, atol=ATOL):
        return " Subtract min_err before dividing."
    if close(got, np.clip((e - lo) / (hi - lo), 0, 1), rtol=RTOL, atol=ATOL):
        return " Your scores are clipped to [0, 1]; the task asks for no clipping."
    if len(e) > 1 and e.max() > e.min() and close(got, (e - e.min()) / (e.max() - e.min()), rtol=RTOL, atol=ATOL):
        return " Your scores use the minimum and maximum of `errors`; use the arguments min_err and max_err."
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
                f"normalized_scores gives wrong values with min_err={lo}, max_err={hi}: they differ from "
                f"{_RULE} by up to {np.max(np.abs(got - want)):.3g}." + _norm_hint(got, errors, lo, hi)
            )
    # min_err and max_err as 0-d tensors, as produced by train_errors.min() and .max()
    lo, hi = errors.min(), errors.max()
    got = _scores(fn, errors, lo.clone(), hi.clone(), "with min_err and max_err given as 0-d tensors")
    want = ref.normalized_scores(errors, lo, hi).numpy()
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            "normalized_scores gives wrong values when min_err and max_err are 0-d tensors (errors.min(), "
            f"errors.max()): they differ from {_RULE} by up to {np.max(np.abs(got - want)):.3g}."
            + _norm_hint(got, errors, lo, hi)
        )


@grader("normalized_scores")
def check_normalized_scores_training_range(fn):
    """normalized_scores maps the training range onto [0, 1] and does not clip new errors."""
    gen = torch.Generator().manual_seed(22)
    train = torch.rand(12, generator=gen) * 2.0 + 0.5
    lo, hi = float(train.min()), float(train.max())
    got = _scores(fn, train, lo, hi, "on the training errors")
    at_min, at_max = got[int(train.argmin())], got[int(train.argmax())]
    if not (abs(at_min) < 1e-5 and abs(at_max - 1) < 1e-5):
        fail(
            f"normalized_scores gave {at_min:.3g} to the smallest and {at_max:.3g} to the largest training error; "
            "expected 0 and 1 when min_err and max_err are the training errors' minimum and maximum."
            + _norm_hint(got, train, lo, hi)
        )
    if got.min() < -1e-6 or got.max() > 1 + 1e-6:
        fail(
            f"normalized_scores gave training errors scores from {got.min():.3g} to {got.max():.3g}; expected "
            "scores in [0, 1] for errors between min_err and max_err." + _norm_hint(got, train, lo, hi)
        )
    new = torch.tensor([0.1, lo, 0.5 * (lo + hi), hi, 4.0, 10.0])
    got = _scores(fn, new, lo, hi, "on new errors")
    want = ref.normalized_scores(new, lo, hi).numpy()
    if got[0] >= 0 or got[-1] <= 1:
        fail(
            f"normalized_scores gave {got[0]:.3g} to an error below the training minimum and {got[-1]:.3g} to one "
            "far above the training maximum; expected a negative score and a score above 1 (no clipping)."
        )
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            f"normalized_scores gives wrong values for errors outside the training range: they differ from "
            f"{_RULE} by up to {np.max(np.abs(got - want)):.3g}." + _norm_hint(got, new, lo, hi)
        )


@grader("normalized_scores")
def check_normalized_scores_edge_cases(fn):
    """normalized_scores handles one sample, equal errors, float64 errors and numpy-scalar bounds."""
    one = torch.tensor([0.8])
    got = _scores(fn, one, 0.3, 1.3, "for one sample")
    if not close(got, ref.normalized_scores(one, 0.3, 1.3).numpy(), rtol=RTOL, atol=ATOL):
        fail(
            f"normalized_scores(errors=[0.8], min_err=0.3, max_err=1.3) gave {_shown(got)}; {_FORMULA}, "
            "for a single sample too (shape (1,))." + _norm_hint(got, one, 0.3, 1.3)
        )
    equal = torch.full((5,), 0.7)
    got = _scores(fn, equal, 0.2, 1.2, "for five equal errors")
    if not close(got, ref.normalized_scores(equal, 0.2, 1.2).numpy(), rtol=RTOL, atol=ATOL):
        fail(
            f"normalized_scores of five equal errors 0.7 with min_err=0.2, max_err=1.2 gave {_shown(got)}; "
            f"{_FORMULA}: min_err and max_err are arguments (the training range), not the minimum and "
            "maximum of `errors`."
        )
    gen = torch.Generator().manual_seed(23)
    e64 = torch.rand(6, generator=gen, dtype=torch.float64) * 5
    lo, hi = np.float32(0.25), np.float64(4.5)
    got = _scores(fn, e64, lo, hi, "for float64 errors with numpy-scalar min_err and max_err")
    want = ref.normalized_scores(e64, lo, hi).numpy()
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            "normalized_scores gives wrong values for float64 errors with numpy-scalar min_err and max_err: they "
            f"differ from {_RULE} by up to {np.max(np.abs(got - want)):.3g}." + _norm_hint(got, e64, lo, hi)
        )
