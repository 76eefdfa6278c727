"""The visible tests' checks: each failure says what was seen and what was expected.

A notebook's visible tests call these instead of a bare ``assert``, so that a failing test reads
``reconstruction_error(x, x_hat) gave [5.0, 0.5]; expected [5.0, 0.0] (rtol 1e-05)`` rather than
``AssertionError:``. They only ever compare with values the test itself shows; they are for the
learner, not for grading (the course's own checks give the points).

    aelab.expect_close(reconstruction_error(x, x_hat), [5.0, 0.0], "reconstruction_error(x, x_hat)")
    aelab.expect_shape(z, (5, 3), "reparameterize(mu, log_sigma)")
    aelab.expect_dtype(flags, "bool", "detect_outlier(model, x_test[:8], threshold)")
    aelab.expect(mu.grad is not None, "no gradient reached mu: ...")
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["expect", "expect_close", "expect_shape", "expect_dtype", "expect_true", "expect_false"]

_KINDS = {
    "float": ("floating-point numbers (float32 or float64)", "f"),
    "bool": ("booleans (dtype bool)", "b"),
    "int": ("integers", "iu"),
}


class SelfCheckFailed(AssertionError):
    """A visible test failed: the message says what was seen and what was expected."""


def _seen(value) -> str:
    if value is None:
        return "None (did the function forget to return its result?)"
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (bool, int, float, np.generic)):
        return f"the {type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def _array(value, what: str) -> np.ndarray:
    """``value`` as a numpy array of numbers, or a failure that says what it was."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.numpy()
    if value is None or isinstance(value, (str, bytes, dict, set)):
        raise SelfCheckFailed(f"{what} returned {_seen(value)}; expected numbers (a tensor, an array or a number)")
    try:
        out = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it is not numbers
        raise SelfCheckFailed(f"{what} returned {_seen(value)}, which is not numbers ({exc})") from None
    if out.dtype == object:
        raise SelfCheckFailed(f"{what} returned {_seen(value)}, which is not an array of numbers")
    return out


def _short(a: np.ndarray, limit: int = 8) -> str:
    flat = np.asarray(a, dtype=float).reshape(-1)
    text = ", ".join(f"{v:.6g}" for v in flat[:limit]) + (", ..." if flat.size > limit else "")
    return f"[{text}]" if np.ndim(a) else text


def expect(condition, message: str) -> None:
    """Fail with ``message`` (say what was seen and what was expected) unless ``condition``."""
    if not bool(condition):
        raise SelfCheckFailed(message)


def expect_shape(value, shape, what: str) -> np.ndarray:
    """``value`` (tensor, array or number) has the shape ``shape``; returns it as an array."""
    arr = _array(value, what)
    if tuple(arr.shape) != tuple(shape):
        raise SelfCheckFailed(f"{what} has shape {tuple(arr.shape)}; expected {tuple(shape)}")
    return arr


def expect_dtype(value, kind: str, what: str) -> None:
    """``value`` holds ``kind`` values: ``"float"``, ``"bool"`` or ``"int"``."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    words, codes = _KINDS[kind]
    arr = _array(value, what)
    if arr.dtype.kind not in codes:
        raise SelfCheckFailed(f"{what} holds values of dtype {arr.dtype}; expected {words}")


def expect_close(value, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """``value`` equals ``expected`` (same shape, or a number for all) within ``rtol``/``atol``."""
    arr = _array(value, what)
    want = np.asarray(expected, dtype=float)
    if arr.dtype.kind not in "fiub":
        raise SelfCheckFailed(f"{what} holds values of dtype {arr.dtype}; expected real numbers")
    got = arr.astype(float)
    if want.ndim and got.shape != want.shape:
        raise SelfCheckFailed(f"{what} has shape {got.shape}; expected {want.shape}")
    if np.isnan(got).any():
        raise SelfCheckFailed(f"{what} gave NaN (not a number) at {int(np.isnan(got).sum())} place(s): {_short(got)}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        diff = np.abs(got - want)
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        at = f" (the largest difference, {float(diff[worst]):.3g}, at index {tuple(int(i) for i in worst)})"
        raise SelfCheckFailed(
            f"{what} gave {_short(got)}; expected {_short(np.broadcast_to(want, got.shape))}"
            f"{at if got.size > 1 else ''} (tolerance rtol={rtol:g}, atol={atol:g})"
        )


def _truth(value, what: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    arr = _array(value, what)
    if arr.size != 1:
        raise SelfCheckFailed(f"{what} returned {_seen(value)}; expected a single True or False")
    if arr.dtype.kind != "b":
        raise SelfCheckFailed(f"{what} returned {_seen(value)}; expected a boolean (True or False)")
    return bool(arr.reshape(-1)[0])


def expect_true(value, what: str, why: str = "") -> None:
    """``value`` is True (a bool, or a one-element boolean tensor or array)."""
    if not _truth(value, what):
        raise SelfCheckFailed(f"{what} gave False; expected True" + (f": {why}" if why else ""))


def expect_false(value, what: str, why: str = "") -> None:
    """``value`` is False (a bool, or a one-element boolean tensor or array)."""
    if _truth(value, what):
        raise SelfCheckFailed(f"{what} gave True; expected False" + (f": {why}" if why else ""))
