"""Argument checks shared by every public function of :mod:`aelab`.

Each check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong shape,
NaN/inf, empty, out of range) with a message that names the argument and says what was expected.
Nothing is silently coerced: integer tensors are not turned into floats, lists are not turned into
tensors.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "tensor_arg",
    "check_finite",
    "check_fraction",
    "check_positive_int",
    "check_choice",
]


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a torch.Tensor of dtype {x.dtype} and shape {tuple(x.shape)}"
    if isinstance(x, np.ndarray):
        return f"a numpy array of dtype {x.dtype} and shape {x.shape}"
    return f"an object of type {type(x).__name__}"


def tensor_arg(
    x,
    name: str,
    *,
    floating: bool = True,
    ndims: Sequence[int] | None = None,
    finite: bool = True,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Return ``x`` as a tensor after checking it.

    ``x`` must be a ``torch.Tensor`` or a ``numpy.ndarray`` (converted without copying the
    values' meaning). With ``floating`` its dtype must be a floating-point type; ``ndims`` lists the
    accepted numbers of dimensions; ``finite`` rejects NaN and inf.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name} must be a numeric tensor or array, got {_describe(x)}")
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, torch.Tensor):
        t = x
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {_describe(x)}")
    if floating and not t.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point values (float32 or float64), got dtype {t.dtype}; "
            f"convert it explicitly, e.g. {name}.float()"
        )
    if ndims is not None and t.dim() not in tuple(ndims):
        wanted = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {wanted} dimensions, got shape {tuple(t.shape)}")
    if not allow_empty and t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if finite:
        check_finite(t, name)
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` when ``t`` holds NaN or inf.

    A NaN or an inf anywhere makes the sum NaN or inf, so a finite sum proves every value finite in one
    pass (``isfinite(t).all()`` takes four: a training step checks its batch every time); only a
    non-finite sum (or one that overflowed) looks at the values one by one."""
    if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        raise ValueError(f"{name} must be finite, but it holds {n_nan} NaN and {n_inf} inf value(s)")


def check_fraction(value, name: str, *, low_open: bool = True, high_open: bool = True) -> float:
    """Return ``value`` as a float after checking that it lies in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if (
            isinstance(value, torch.Tensor)
            and value.numel() == 1
            and value.is_floating_point()
            or isinstance(value, np.floating)
        ):
            value = float(value)
        else:
            raise TypeError(f"{name} must be a real number in (0, 1), got {_describe(value)}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a real number in (0, 1), got NaN")
    lo_ok = value > 0 if low_open else value >= 0
    hi_ok = value < 1 if high_open else value <= 1
    if not (lo_ok and hi_ok):
        lo = "(0" if low_open else "[0"
        hi = "1)" if high_open else "1]"
        raise ValueError(f"{name} must lie in {lo}, {hi}, got {value}")
    return value


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` after checking it is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {opts}, got {value!r}")
    return value
