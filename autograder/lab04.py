"""Checks of lab 04 (leave one digit out, AUROC): ``anomaly_scores`` and ``auroc_per_digit``.

The specification is the task text of ``source/04_leave_one_digit_auroc``:

- ``anomaly_scores(model, x)``: for a ConvVAE in eval mode and images x (N, 1, 28, 28), the mean
  squared error over the pixels between x and its reconstruction, shape (N,), higher = more
  anomalous. The reconstruction may decode the mean of q(z|x) or a sample (``model(x)[0]``): the
  grading model's posterior is a near point mass (``make_reference.sharpen_convvae``).
- ``auroc_per_digit(scores, digits, held_out)``: a dict ``{k: AUROC}`` with one entry for every
  digit k != held_out present in ``digits``: the area under the ROC curve of ``scores`` for telling
  the images of ``held_out`` (positive class) from the images of k; ties count one half (as
  ``sklearn.metrics.roc_auc_score``).

The checks use the fixed model ``data/lab04_convvae.pt`` and images ``data/lab04_data.pt`` built by
``make_reference.make_lab04``, and synthetic scores; none of them trains anything.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from . import reference as ref
from ._common import DATA, as_floats, as_scalar, call, close, fail
from .core import grader

RTOL = 1e-4
ATOL = 1e-6

# The course library's code that computes what an exercise asks for, as "module:qualname": an answer
# that calls any of it (directly, through an alias or getattr, or deep inside a helper) fails every
# check of the exercise (autograder.core). Only what a right answer has no use for is listed.
# The model's own methods (forward, encode_params, encode, decode, log_likelihood) and aelab.reconstruct
# are not listed: the task text offers them.
LIBRARY_ANSWERS = {
    "anomaly_scores": ("aelab.losses:reconstruction_term", "aelab.scores:reconstruction_probability"),
    # aelab.auroc may be used: it wraps sklearn's roc_auc_score, which the task allows
    "auroc_per_digit": (),
}


def _model():
    import aelab

    model = aelab.ConvVAE(latent_dim=100)
    model.load_state_dict(torch.load(DATA / "lab04_convvae.pt", map_location="cpu", weights_only=True))
    return model.eval()


def _images(n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    import aelab

    data = torch.load(DATA / "lab04_data.pt", map_location="cpu", weights_only=True)
    images, digits = data["images"], data["digits"]
    if n is not None:
        images, digits = images[:n], digits[:n]
    return aelab.to_conv_input(images), digits


# ------------------------------------------------------------------------------ anomaly_scores
def _shape_of(result) -> tuple[int, ...] | None:
    """The shape of a tensor, array, number or nested list; None for anything else."""
    if isinstance(result, (torch.Tensor, np.ndarray)):
        return tuple(result.shape)
    if isinstance(result, (bool, numbers.Number, np.generic)):
        return ()
    if isinstance(result, (list, tuple)):
        try:
            return tuple(np.shape(np.asarray([np.asarray(torch.as_tensor(r).detach()) for r in result])))
        except Exception:  # noqa: BLE001 - not numbers: as_floats says so
            return None
    return None


def _shape_hint(shape: tuple[int, ...], n: int) -> str:
    """What a wrong shape of anomaly_scores' result usually means (never the values)."""
    if shape == () and n == 1:
        return (
            " A batch of one image needs shape (1,), not a bare number: keep the batch axis "
            "(a .squeeze() removes it when N is 1)."
        )
    if shape == ():
        return (
            " That is one number for the whole batch: average over each image's pixels only (the original "
            "notebook's F.mse_loss(x, x_hat) averages over the batch too)."
        )
    if len(shape) >= 2 and shape[-2:] == (28, 28) and shape[0] != n:
        return " That is an image, not one score per image: the mean was taken over the batch instead of the pixels."
    if len(shape) >= 2 and shape[0] == n and shape[-2:] == (28, 28):
        return " These are errors per pixel: take their mean over each image's pixels."
    if len(shape) >= 2 and shape[0] == n and all(k == 1 for k in shape[1:]):
        return f" Drop the extra axes of size 1: one number per image, shape ({n},)."
    return ""


def _scores(fn, model, x) -> np.ndarray:
    n = x.shape[0]
    what = f"for x of shape {tuple(x.shape)}"
    result = call(fn, model, x.clone(), name="anomaly_scores", what=what)
    if result is None:
        fail(f"anomaly_scores {what} returned None; expected a float tensor of shape ({n},) (is a `return` missing?)")
    shape = _shape_of(result)
    if shape is not None and shape != (n,):
        fail(
            f"anomaly_scores {what} returned shape {shape}; expected one score per image, shape ({n},)."
            + _shape_hint(shape, n)
        )
    return as_floats(result, n, f"anomaly_scores {what}")


def _diagnose(got: np.ndarray, want: np.ndarray, model, x) -> str:
    with torch.no_grad():
        x_hat = model.decode(model.encode_params(x)[0]).double()
    diff = (x.double() - x_hat).reshape(len(x), -1)
    if close(got, want * 784, rtol=RTOL, atol=1e-3):
        return " Your scores look like sums over the pixels; the task asks for the mean."
    if close(got, -want, rtol=RTOL, atol=ATOL):
        return " Your scores have the wrong sign: higher must mean more anomalous."
    if close(got, diff.abs().mean(1).numpy(), rtol=RTOL, atol=ATOL):
        return " Your scores look like mean absolute errors; the task asks for the mean squared error."
    if close(got, np.sqrt(want), rtol=RTOL, atol=ATOL):
        return " Your scores look like the root of the mean squared error; do not take a square root."
    if close(got, diff.mean(1).numpy(), rtol=RTOL, atol=ATOL):
        return " Your scores look like mean signed differences; square the differences first."
    if close(got, (diff.mean(1) ** 2).numpy(), rtol=RTOL, atol=ATOL):
        return (
            " Your scores look like the square of each image's mean difference; square each pixel's "
            "difference first, then take the mean."
        )
    spread = want.max() - want.min()
    if spread > 0 and close(got, (want - want.min()) / spread, rtol=RTOL, atol=1e-4):
        return (
            " Your scores run from exactly 0 to exactly 1 over the batch: they look rescaled by the batch's "
            "own smallest and largest error. Return the errors themselves; an image's score must not "
            "depend on the other images."
        )
    ratio = got / want
    if np.all(np.isfinite(ratio)) and np.allclose(ratio, np.median(ratio), rtol=1e-3) and abs(np.median(ratio)) > 0:
        return (
            f" Your scores are {float(np.median(ratio)):.4g} times the expected ones for every image: the "
            "ranking is right but the scale is not. Compare x, with its pixels in [-1, 1] as given, with "
            "the reconstruction, and average over the 784 pixels."
        )
    return (
        " Check the error (squared difference between x and the reconstruction), its mean over the "
        "pixels, and that the reconstruction comes from the `model` argument (not from a model of "
        "your notebook)."
    )


@grader("anomaly_scores")
def check_anomaly_scores_shape(fn):
    """anomaly_scores returns one score per image, shape (N,)."""
    model = _model()
    x, _ = _images(8)
    for n in (8, 1):
        _scores(fn, model, x[:n])


@grader("anomaly_scores")
def check_anomaly_scores_values(fn):
    """anomaly_scores matches the reference (mean squared error per image) on a fixed model."""
    model = _model()
    x, _ = _images(48)
    got = _scores(fn, model, x)
    want = ref.anomaly_scores(model, x).double().numpy()
    if not close(got, want, rtol=RTOL, atol=ATOL):
        fail(
            f"anomaly_scores gives wrong values for {len(x)} test images (largest relative difference "
            f"from the expected scores: {np.max(np.abs(got - want) / np.abs(want)):.3g})."
            + _diagnose(got, want, model, x)
        )


@grader("anomaly_scores")
def check_anomaly_scores_batch_independent(fn):
    """anomaly_scores of an image does not depend on the other images of the batch."""
    model = _model()
    x, _ = _images(64)
    together = _scores(fn, model, x[48:64])
    alone = np.concatenate([_scores(fn, model, x[i : i + 1]) for i in range(48, 52)])
    swapped = _scores(fn, model, torch.cat([x[48:52], x[:12]]))[:4]
    if not (close(alone, together[:4], rtol=RTOL, atol=ATOL) and close(swapped, together[:4], rtol=RTOL, atol=ATOL)):
        fail(
            "anomaly_scores gives an image a different score depending on the other images in the "
            "batch. Score each image on its own (keep the model in eval mode, do not normalise the "
            "scores by the batch, reduce over the pixels only)."
        )


# ----------------------------------------------------------------------------- auroc_per_digit
def _auroc_case(seed: int, held_out: int, present: list[int], n_per_digit: int = 12, *, decimals: int | None = None):
    """Synthetic scores: the held-out digit scores higher on average, by a different margin per digit."""
    gen = torch.Generator().manual_seed(seed)
    digits = torch.tensor([d for d in present for _ in range(n_per_digit)], dtype=torch.int64)
    digits = digits[torch.randperm(len(digits), generator=gen)]
    shift = torch.where(digits == held_out, torch.tensor(1.0), 0.15 * (digits.double() % 5).float())
    scores = (shift + torch.randn(len(digits), generator=gen)).to(torch.float32)
    if decimals is not None:
        scores = torch.round(scores * 10**decimals) / 10**decimals
    return scores, digits


def _aurocs(fn, scores, digits, held_out) -> dict[int, float]:
    label = f"auroc_per_digit(scores, digits, held_out={held_out})"
    result = call(
        fn, scores.clone(), digits.clone(), held_out, name="auroc_per_digit", what=f"for {len(scores)} scores"
    )
    if not isinstance(result, dict):
        fail(f"{label} returned {type(result).__name__}; it must return a dict {{digit: AUROC}}")
    items = []
    for key, value in result.items():
        if isinstance(key, torch.Tensor) and key.numel() == 1:
            key = key.item()
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            fail(f"{label} returned the key {key!r}; the keys must be the digits as ints")
        items.append((int(key), value))
    keys = sorted(k for k, _ in items)
    if held_out in keys:  # before its value, which is often NaN (one class only)
        fail(
            f"{label} returned the keys {keys}; unexpected [{held_out}]: the held-out digit itself has none "
            "(expected one entry for every digit present in digits except the held-out one)."
        )
    return {key: as_scalar(value, f"{label}[{key}]") for key, value in items}


def _pair_counts(scores, digits, held_out) -> tuple[dict[int, float], dict[int, float]]:
    """Per normal digit, the share of (held-out, normal) pairs ranked right, ties counted 0 and counted 1."""
    s, d = scores.double(), digits
    pos = s[d == held_out]
    strict, lenient = {}, {}
    for k in sorted(set(d.tolist()) - {held_out}):
        diff = pos[:, None] - s[d == k][None, :]
        strict[k] = float((diff > 0).double().mean())
        lenient[k] = float((diff >= 0).double().mean())
    return strict, lenient


def _overall_auroc(scores, digits, held_out) -> float:
    """The AUROC of the held-out digit against all the other digits together."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score((digits == held_out).numpy(), scores.double().numpy()))


def _thresholded(scores, digits, held_out) -> dict[int, np.ndarray]:
    """Per normal digit k, the AUROC of the 0/1 predictions ``scores > t`` for every threshold t that
    splits the scores (between two distinct values): (1 + TPR - FPR) / 2, one value per threshold."""
    s, d = scores.double().numpy(), digits.numpy()
    thresholds = np.unique(s)[:-1]
    tpr = (s[d == held_out][None, :] > thresholds[:, None]).mean(1)
    return {
        k: (1 + tpr - (s[d == k][None, :] > thresholds[:, None]).mean(1)) / 2
        for k in sorted(set(d.tolist()) - {held_out})
    }


def _looks_thresholded(got: dict[int, float], scores, digits, held_out) -> bool:
    """True when one threshold turns the scores into 0/1 predictions whose AUROCs are ``got``."""
    per_threshold = _thresholded(scores, digits, held_out)
    if not per_threshold or not next(iter(per_threshold.values())).size:
        return False
    match = np.ones_like(next(iter(per_threshold.values())), dtype=bool)
    for k, values in per_threshold.items():
        match &= np.abs(values - got[k]) <= 1e-6
    return bool(match.any())


def _compare_aurocs(fn, scores, digits, held_out, what: str) -> None:
    got = _aurocs(fn, scores, digits, held_out)
    want = ref.auroc_per_digit(scores, digits, held_out)
    if set(got) != set(want):
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        fail(
            f"auroc_per_digit(..., held_out={held_out}) returned the keys {sorted(got)} for {what}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
            + ". There is one entry for every digit present in digits except the held-out one."
        )
    wrong = [k for k in want if abs(got[k] - want[k]) > 1e-6]
    if wrong:
        hint = ""
        outside = [k for k in got if not 0.0 <= got[k] <= 1.0]
        strict, lenient = _pair_counts(scores, digits, held_out)
        overall = _overall_auroc(scores, digits, held_out)
        if outside:
            k = outside[0]
            hint = (
                f" Some values lie outside [0, 1] (digit {k}: {got[k]:.4g}); an AUROC is a fraction of pairs "
                "(a held-out image and a normal one), between 0 and 1."
            )
        elif all(abs(got[k] - (1 - want[k])) <= 1e-6 for k in wrong):
            hint = " The values look like 1 - AUROC: the held-out digit is the positive class (label 1)."
        elif len({round(got[k], 9) for k in got}) == 1 and abs(next(iter(got.values())) - overall) <= 1e-6:
            hint = (
                " Every digit got the same value, the AUROC against all the other digits together: each entry "
                "compares the held-out digit with that one digit only."
            )
        elif _looks_thresholded(got, scores, digits, held_out):
            hint = (
                " The values are the AUROCs of 0/1 predictions (the scores above one threshold), not of the "
                "continuous scores: pass the scores themselves."
            )
        elif len({round(got[k], 9) for k in got}) == 1 and len({round(v, 9) for v in want.values()}) > 1:
            hint = " Every digit got the same value: each entry compares the held-out digit with that one digit only."
        elif all(abs(got[k] - strict[k]) <= 1e-6 for k in wrong):
            hint = " Ties between a held-out image and a normal one look counted as 0; a tie counts one half."
        elif all(abs(got[k] - lenient[k]) <= 1e-6 for k in wrong):
            hint = " Ties between a held-out image and a normal one look counted as 1; a tie counts one half."
        fail(
            f"auroc_per_digit(..., held_out={held_out}) gives wrong values for the digits {wrong} on {what}."
            + (
                hint
                or " Use the continuous scores (not thresholded 0/1 predictions), label 1 for the "
                "held-out digit, and only the images of the two digits compared."
            )
        )


@grader("auroc_per_digit")
def check_auroc_per_digit_keys(fn):
    """auroc_per_digit has one entry per digit present other than the held-out one (also held_out=0)."""
    for seed, held_out, present in ((1, 0, list(range(10))), (2, 7, [2, 3, 7, 9])):
        scores, digits = _auroc_case(seed, held_out, present)
        got = _aurocs(fn, scores, digits, held_out)
        want = set(present) - {held_out}
        if set(got) != want:
            missing, extra = sorted(want - set(got)), sorted(set(got) - want)
            fail(
                f"auroc_per_digit(..., held_out={held_out}) on images of the digits {present} returned the "
                f"keys {sorted(got)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unexpected {extra}" if extra else "")
                + ". Expected one entry for every digit present in digits except the held-out one"
                + (" (the held-out digit itself has none)." if held_out in extra else ".")
            )


@grader("auroc_per_digit")
def check_auroc_per_digit_values(fn):
    """auroc_per_digit matches the reference on continuous scores."""
    scores, digits = _auroc_case(3, 4, list(range(10)), n_per_digit=15)
    _compare_aurocs(fn, scores, digits, 4, "150 continuous scores")
    scores, digits = _auroc_case(4, 0, [0, 5, 6], n_per_digit=9)
    _compare_aurocs(fn, scores, digits, 0, "27 continuous scores")


@grader("auroc_per_digit")
def check_auroc_per_digit_ties(fn):
    """auroc_per_digit counts tied scores of the held-out digit and another digit as one half."""
    scores, digits = _auroc_case(5, 2, [1, 2, 3, 8], n_per_digit=20, decimals=0)
    _compare_aurocs(fn, scores, digits, 2, "scores with many ties")
