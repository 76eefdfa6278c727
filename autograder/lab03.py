"""Checks of lab 03 (the MNIST outlier lab): ``reconstruction_loss``, ``compute_threshold``,
``detect_outlier``.

The specification is the task text of ``source/03_mnist_outlier_lab``:

- ``reconstruction_loss(vae, x)``: seed 001's per-sample loss, the binary cross-entropy of the
  reconstruction against ``x + 0.5`` summed over the 784 pixels; ``x`` shaped (784,), (N, 784),
  (N, 28, 28) or (N, 28, 28, 1) -> shape (N,) ((1,) or () for a single digit). The reconstruction
  may decode the mean of q(z|x) or a sample (the forward pass): the grading model's posterior is
  a near point mass (``make_reference.sharpen_mlpvae``), so both agree to ~1e-6.
- ``compute_threshold(losses, outlier_fraction=TASK.outlier_fraction)``: the (1 - outlier_fraction)
  quantile of the per-sample losses, one number; the default fraction is the task's
  (``aelab.task_settings("03_mnist_outlier_lab")``, read when a check runs). Any standard quantile definition is accepted (numpy's methods,
  Hyndman & Fan types 1-9): the value must lie between the neighbouring order statistics.
- ``detect_outlier(vae, x, th)``: True where the loss is strictly above ``th``; a bool for one
  digit (784,), one bool per digit for a batch (N, 784).

Every check uses the fixed model ``data/lab03_vae.pt`` and data ``data/lab03_data.pt`` built by
``make_reference.make_lab03``; none of them trains anything.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aelab.tasks import task_settings

from . import reference as ref
from ._common import DATA, as_bools, as_floats, as_scalar, call, close, fail
from .core import grader
from .make_reference import TIE_BIAS, TIE_LOSS

RTOL = 1e-4
ATOL = 1e-3  # losses are ~50..400 nats

# The course library's code that computes what an exercise asks for, as "module:qualname": an answer
# that calls any of it (directly, through an alias or getattr, or deep inside a helper) fails every
# check of the exercise (autograder.core). Only what a right answer has no use for is listed.
# The model's own methods (forward, encode, decode, log_likelihood) and aelab.reconstruct are not
# listed: the task text offers them. reconstruction_probability is: on the grading model, whose
# posterior is a point mass, minus it equals the loss.
_RECONSTRUCTION = (
    "aelab.losses:reconstruction_term",
    "aelab.scores:reconstruction_probability",
    "aelab.models:BernoulliVAE.log_likelihood",
)
LIBRARY_ANSWERS = {
    "reconstruction_loss": _RECONSTRUCTION,
    "compute_threshold": ("aelab.scores:percentile_threshold",),
    "detect_outlier": _RECONSTRUCTION,
}


def _few(values, limit: int = 4) -> str:
    """The first few of the learner's own values, for a message."""
    flat = np.asarray(values, dtype=float).reshape(-1)
    return "[" + ", ".join(f"{v:.5g}" for v in flat[:limit]) + (", ...]" if flat.size > limit else "]")


def _percent(ratio: float) -> str:
    pct = 100 * float(ratio)
    return f"{pct:.3g} %" if pct < 1000 else f"{pct:,.0f} %"


def _model():
    import aelab

    model = aelab.MLPVAE(784, 512, 16)
    model.load_state_dict(torch.load(DATA / "lab03_vae.pt", map_location="cpu", weights_only=True))
    return model.eval()


def _data() -> dict:
    return torch.load(DATA / "lab03_data.pt", map_location="cpu", weights_only=True)


def _tie_model():
    """The grading model with a constant decoder: every pixel gets p = sigmoid(TIE_BIAS)."""
    model = _model()
    last = model.decoder[-2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(TIE_BIAS)
    return model


# ------------------------------------------------------------------------- reconstruction_loss
def _losses(fn, model, x, *, single: bool = False) -> np.ndarray:
    shape = tuple(x.shape)
    what = f"for x of shape {shape}"
    try:
        result = call(fn, model, x.clone(), name="reconstruction_loss", arg_names=("vae", "x"), what=what)
    except AssertionError as exc:
        if "between 0 and 1" in str(exc):  # torch's binary_cross_entropy refuses targets outside [0, 1]
            fail(
                f"{exc} (the targets of the binary cross-entropy must lie in [0, 1]; the pixels of x lie in "
                "[-0.5, 0.5]: is the target x + 0.5?)"
            )
        raise
    n = 1 if single else shape[0]
    return as_floats(result, n, f"reconstruction_loss {what}", single=single)


def _kl(model, x) -> np.ndarray:
    with torch.no_grad():
        q = model.encode(x.reshape(-1, 784))
        p = torch.distributions.MultivariateNormal(
            torch.zeros_like(q.mean), scale_tril=torch.eye(q.mean.shape[-1]).expand(*q.mean.shape, -1)
        )
        return torch.distributions.kl_divergence(q, p).double().numpy()


def _diagnose(got: np.ndarray, want: np.ndarray, model, x) -> str:
    """A hint about a common mistake, without the expected numbers."""
    flat = x.reshape(-1, 784)
    with torch.no_grad():
        recon = model.decode(model.encode(flat).mean).double()
    target = flat.double() + 0.5
    if close(got, want + _kl(model, x), rtol=RTOL, atol=ATOL):
        return (
            " Your values look like they include the KL term: the reconstruction loss is only the "
            "binary cross-entropy part of the VAE's loss."
        )
    if close(got, want / 784, rtol=RTOL, atol=1e-6):
        return " Your values look like means over the pixels; the task asks for the sum over the 784 pixels."
    for guess in (((recon - target) ** 2), ((recon - flat.double()) ** 2)):
        if close(got, guess.sum(-1).numpy(), rtol=RTOL, atol=ATOL) or close(
            got, guess.mean(-1).numpy(), rtol=RTOL, atol=1e-6
        ):
            return " Your values look like squared errors; the task asks for the binary cross-entropy."
    clamped = F.binary_cross_entropy(recon, flat.double().clamp(0, 1), reduction="none").sum(-1).numpy()
    if close(got, clamped, rtol=RTOL, atol=ATOL):
        return (
            " Your values use the pixels themselves, clamped to [0, 1], as the targets; the target is the pixels "
            "shifted into [0, 1], x + 0.5."
        )
    with torch.no_grad():
        shifted = model.decode(model.encode(flat + 0.5).mean).double()
    if close(got, F.binary_cross_entropy(shifted, target, reduction="none").sum(-1).numpy(), rtol=RTOL, atol=ATOL):
        return (
            " Your reconstruction looks computed from x + 0.5: the model takes the pixels as they are, in "
            "[-0.5, 0.5]; only the target of the binary cross-entropy is shifted."
        )
    if np.ptp(got) < 1e-6 * max(1.0, abs(float(got[0]))) and np.ptp(want) > 1.0:
        return " Every digit got the same value: is the loss averaged over the batch before it is returned?"
    return (
        " Check the target (the pixels shifted by +0.5 into [0, 1]), the loss (binary cross-entropy of "
        "the reconstruction) and the reduction (sum over the pixels, one value per digit)."
    )


def _compare(fn, model, x, *, single: bool = False, label: str = "") -> None:
    got = _losses(fn, model, x, single=single)
    want = ref.reconstruction_loss(model, x).double().numpy()
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            f"reconstruction_loss gives wrong values{label} for x of shape {tuple(x.shape)} "
            f"(yours start {_few(got)}; they differ from the expected losses by up to "
            f"{_percent(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)))})."
            + _diagnose(got, want, model, x)
        )


@grader("reconstruction_loss")
def check_reconstruction_loss_shape(fn):
    """reconstruction_loss returns one value per digit for a batch (N, 784)."""
    model, data = _model(), _data()
    for n in (5, 1):
        _losses(fn, model, data["x_test"][:n])


@grader("reconstruction_loss")
def check_reconstruction_loss_values(fn):
    """reconstruction_loss matches the reference on a fixed model and 64 test digits."""
    model, data = _model(), _data()
    _compare(fn, model, data["x_test"][:64])


@grader("reconstruction_loss")
def check_reconstruction_loss_image_shapes(fn):
    """reconstruction_loss accepts image-shaped batches (N, 28, 28) and (N, 28, 28, 1)."""
    model, data = _model(), _data()
    x = data["x_test"][64:80]
    for shape in ((16, 28, 28), (16, 28, 28, 1)):
        xs = x.reshape(shape).clone()
        got = _losses(fn, model, xs)
        want = ref.reconstruction_loss(model, xs).double().numpy()
        if not close(got, want, rtol=RTOL, atol=ATOL):
            fail(
                f"reconstruction_loss gives wrong values for image-shaped x of shape {shape}; "
                "each image holds the same 784 pixels as a flattened digit." + _diagnose(got, want, model, xs)
            )


@grader("reconstruction_loss")
def check_reconstruction_loss_single(fn):
    """reconstruction_loss of one digit of shape (784,) is one value, the digit's loss."""
    model, data = _model(), _data()
    for i in (0, 7):
        _compare(fn, model, data["x_test"][i], single=True, label=" for a single digit")


@grader("reconstruction_loss")
def check_reconstruction_loss_perturbed(fn):
    """reconstruction_loss matches the reference on digits with an 8x8 noise patch."""
    model, data = _model(), _data()
    _compare(fn, model, data["x_pert"][:64], label=" on perturbed digits")


# --------------------------------------------------------------------------- compute_threshold
def _bracket(values: np.ndarray, fraction: float) -> tuple[float, float]:
    """Smallest and largest value any standard definition of the (1 - fraction) quantile can give."""
    s = np.sort(np.asarray(values, dtype=np.float64))
    n = len(s)
    pos = (1.0 - fraction) * n
    lo = min(max(math.floor(pos) - 1, 0), n - 1)
    hi = min(max(math.ceil(pos), 0), n - 1)
    return float(s[lo]), float(s[hi])


def _threshold(fn, losses: torch.Tensor, fraction: float | None, *, keyword: bool = True) -> float:
    if fraction is None:
        label = "compute_threshold(losses)"
        result = call(
            fn, losses.clone(), name="compute_threshold", arg_names=("losses",), what=f"for {len(losses)} losses"
        )
    elif keyword:
        label = f"compute_threshold(losses, outlier_fraction={fraction})"
        result = call(
            fn,
            losses.clone(),
            outlier_fraction=fraction,
            name="compute_threshold",
            arg_names=("losses",),
            what=f"for {len(losses)} losses",
        )
    else:
        label = f"compute_threshold(losses, {fraction})"
        result = call(
            fn,
            losses.clone(),
            fraction,
            name="compute_threshold",
            arg_names=("losses", "outlier_fraction"),
            what=f"for {len(losses)} losses",
        )
    return as_scalar(result, label)


def _task():
    return task_settings("03_mnist_outlier_lab")


def _check_quantile(fn, losses: torch.Tensor, fraction: float | None, *, keyword: bool = True) -> None:
    f = _task().outlier_fraction if fraction is None else fraction
    th = _threshold(fn, losses, fraction, keyword=keyword)
    lo, hi = _bracket(losses.numpy(), f)
    tol = 1e-6 * max(1.0, abs(lo), abs(hi))
    if not (lo - tol <= th <= hi + tol):
        n_above = int(np.sum(losses.double().numpy() > th))
        flagged = n_above / len(losses)
        call_text = "the default outlier_fraction" if fraction is None else f"outlier_fraction={fraction}"
        hint = ""
        if flagged > 0.5 + f:
            hint = (
                " Most losses lie above your threshold: the threshold for a fraction f is the "
                "(1 - f) quantile, near the top of the losses (is the fraction used as a "
                "percentage, or is the quantile taken at f instead of 1 - f?)."
            )
        elif 0 < abs(flagged - f) < 0.5 * f:
            hint = (
                " Close, but not a quantile of these losses: any standard definition of the (1 - f) quantile "
                "lies between two neighbouring sorted losses (is the threshold rounded, estimated from the "
                "mean and spread, or taken from part of the losses?)."
            )
        fail(
            f"compute_threshold with {call_text} on {len(losses)} per-sample losses returned a threshold "
            f"above which {n_above} of those losses ({flagged:.1%}) lie; expected {round(f * len(losses))} "
            f"({f:.1%}), give or take one.{hint}"
        )


@grader("compute_threshold")
def check_compute_threshold_returns_number(fn):
    """compute_threshold returns one number."""
    _threshold(fn, _data()["train_losses"][:500], None)


@grader("compute_threshold")
def check_compute_threshold_default(fn):
    """compute_threshold's default is the task's percentile of the per-sample losses."""
    losses = _data()["train_losses"]
    _check_quantile(fn, losses, None)
    perm = torch.randperm(len(losses), generator=torch.Generator().manual_seed(1))
    _check_quantile(fn, losses[perm][:1000], None)


@grader("compute_threshold")
def check_compute_threshold_fraction(fn):
    """compute_threshold honours outlier_fraction (0.05 and 0.2, keyword and positional; others if
    the task's default is one of them)."""
    losses = _data()["train_losses"][:2000]
    keyword, positional = [f for f in (0.05, 0.2, 0.1, 0.3) if not math.isclose(f, _task().outlier_fraction)][:2]
    _check_quantile(fn, losses, keyword)
    _check_quantile(fn, losses, positional, keyword=False)


@grader("compute_threshold")
def check_compute_threshold_median(fn):
    """compute_threshold with outlier_fraction=0.5 is the median, also for few losses."""
    gen = torch.Generator().manual_seed(5)
    for n in (11, 10, 4):
        losses = (100 + 50 * torch.rand(n, generator=gen)).to(torch.float32)
        _check_quantile(fn, losses, 0.5)


@grader("compute_threshold")
def check_compute_threshold_equal_losses(fn):
    """compute_threshold of losses that are all equal is that value (nothing is above it)."""
    for value, n in ((123.25, 50), (7.5, 3)):
        losses = torch.full((n,), value, dtype=torch.float32)
        th = _threshold(fn, losses, None)
        if not abs(th - value) <= 1e-6 * value:
            fail(f"compute_threshold of {n} losses that all equal {value} returned {th}; expected {value}")


# ------------------------------------------------------------------------------ detect_outlier
def _flags(fn, model, x, th, *, single: bool = False) -> np.ndarray:
    shape = tuple(x.shape)
    what = f"for x of shape {shape} and th={th:.6g}"
    result = call(fn, model, x.clone(), th, name="detect_outlier", arg_names=("vae", "x", "th"), what=what)
    return as_bools(result, 1 if single else shape[0], f"detect_outlier {what}", single=single)


def _separated_threshold(losses: np.ndarray, lo_q: float = 0.4, hi_q: float = 0.6) -> float:
    """A threshold between two consecutive reference losses with the widest gap near the median."""
    s = np.sort(losses)
    i0, i1 = int(lo_q * (len(s) - 1)), int(hi_q * (len(s) - 1))
    gaps = s[i0 + 1 : i1 + 1] - s[i0:i1]
    k = i0 + int(np.argmax(gaps))
    return float((s[k] + s[k + 1]) / 2)


def _compare_flags(fn, model, x, th, label: str) -> None:
    want_losses = ref.reconstruction_loss(model, x).double().numpy()
    want = want_losses > th
    got = _flags(fn, model, x, th)
    clear = np.abs(want_losses - th) > 1e-4 * abs(th)  # never grade a near-tie here (see check_ties)
    wrong = (got != want) & clear
    if wrong.any():
        n_wrong = int(wrong.sum())
        hint = ""
        if np.all(got[clear] == ~want[clear]):
            hint = " Every decision is the opposite of the expected one: True must mean 'outlier' (loss above th)."
        fail(
            f"detect_outlier gives {n_wrong} wrong decision(s) out of {len(want)} {label} "
            f"(flagged {got.mean():.1%}, expected {want.mean():.1%}).{hint}"
        )


@grader("detect_outlier")
def check_detect_outlier_single(fn):
    """detect_outlier of one digit (784,) is one boolean: True far below its loss, False far above."""
    model, data = _model(), _data()
    for i in (0, 9):
        x = data["x_test"][i]
        loss = float(ref.reconstruction_loss(model, x)[0])
        for th, expected in ((0.8 * loss, True), (1.25 * loss, False)):
            got = bool(_flags(fn, model, x, th, single=True)[0])
            if got != expected:
                where = "above" if expected else "below"
                fail(
                    f"detect_outlier returned {got} for a single digit whose reconstruction loss lies "
                    f"well {where} th; expected {expected} (True = outlier = loss above th)."
                )


@grader("detect_outlier")
def check_detect_outlier_batch(fn):
    """detect_outlier of a batch (N, 784) returns one boolean per digit, as for single digits."""
    model, data = _model(), _data()
    x = data["x_test"][:64]
    th = _separated_threshold(ref.reconstruction_loss(model, x).double().numpy())
    _compare_flags(fn, model, x, th, "on a batch of clean test digits")
    got_batch = _flags(fn, model, x[:6], th)
    for i in range(6):
        got_one = bool(_flags(fn, model, x[i], th, single=True)[0])
        if got_one != bool(got_batch[i]):
            fail(
                "detect_outlier decides differently for a digit alone (shape (784,)) and the same "
                "digit inside a batch; the decision of a digit must not depend on the rest of the batch."
            )


@grader("detect_outlier")
def check_detect_outlier_ties(fn):
    """detect_outlier: a loss exactly at the threshold is not an outlier (strictly above only)."""
    model = _tie_model()
    white = torch.full((784,), 0.5)  # BCE target 1 everywhere: loss exactly TIE_LOSS
    ref_loss = float(ref.reconstruction_loss(model, white)[0])
    if ref_loss != TIE_LOSS:  # pragma: no cover - instructors' guard, see make_reference.TIE_BIAS
        raise RuntimeError(f"the ties instance is not exact on this machine ({ref_loss!r})")
    below = float(np.nextafter(np.float32(TIE_LOSS), np.float32(0)))
    if bool(_flags(fn, model, white, TIE_LOSS, single=True)[0]):
        fail(
            "detect_outlier returned True for a digit whose loss equals th exactly; expected False: only a loss "
            "strictly above th is an outlier."
        )
    if not bool(_flags(fn, model, white, below, single=True)[0]):
        fail(
            "detect_outlier returned False for a digit whose loss lies just above th (by one float32 step); "
            "expected True: a loss above th is an outlier, however small the difference."
        )
    mixed = torch.stack([white, -white, white, white.clone().index_fill_(0, torch.arange(0, 784, 7), -0.5)])
    got = _flags(fn, model, mixed, TIE_LOSS)
    want = np.array([False, True, False, True])
    if not np.array_equal(got, want):
        tied, above = int(got[~want].sum()), int(got[want].sum())
        fail(
            f"detect_outlier gives wrong decisions on a batch of 4 digits: it flagged {tied} of the 2 whose loss "
            f"equals th exactly (expected none: they are not outliers) and {above} of the 2 whose loss lies above "
            "th (expected both)."
        )


@grader("detect_outlier")
def check_detect_outlier_perturbed(fn):
    """detect_outlier agrees with the reference on clean and 8x8-patched digits at the task's percentile."""
    model, data = _model(), _data()
    th = ref.compute_threshold(data["train_losses"])
    at = f"the {_task().percentile_name}-percentile threshold"
    _compare_flags(fn, model, data["x_test"], th, f"on clean test digits at {at}")
    _compare_flags(fn, model, data["x_pert"], th, f"on perturbed test digits at {at}")
