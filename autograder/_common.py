"""Helpers shared by the checks: calling the learner's function safely and reading its result
without depending on the learner's choice of type (Python, numpy or torch)."""

from __future__ import annotations

import copy
import numbers
from pathlib import Path

import numpy as np
import torch

from aelab.course.harness import snapshot as _snapshot  # one copy rule for the kernel and the checks

DATA = Path(__file__).resolve().parent / "data"


def fail(message: str) -> None:
    raise AssertionError(message)


def _same(before, value) -> bool:
    if before is None:
        return True
    if isinstance(value, torch.Tensor):
        return value.shape == before.shape and bool(torch.equal(value.detach(), before))
    if isinstance(value, np.ndarray):
        return value.shape == before.shape and bool(np.array_equal(value, before, equal_nan=True))
    if isinstance(value, torch.nn.Module):
        now = value.state_dict()
        return all(torch.equal(now[k].detach(), v) for k, v in before.items())
    return True


def call(fn, *args, name: str | None = None, what: str = "", arg_names: tuple[str, ...] = (), **kwargs):
    """Call the learner's ``fn``; fail with a clear message if it raises or mutates an argument.

    ``arg_names``: the task's names of ``args``, so that an argument changed in place is named."""
    name = name or getattr(fn, "__name__", "your function")
    snaps = [_snapshot(a) for a in args]
    modes = [_modes(a) for a in args]
    torch.manual_seed(0)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except AssertionError as exc:
        fail(f"{name} raised AssertionError{' ' + what if what else ''}: {exc}")
    except Exception as exc:  # noqa: BLE001
        fail(f"{name} raised {type(exc).__name__}{' ' + what if what else ''}: {exc}")
    where = f" {what}" if what else ""
    for i, (snap, mode, arg) in enumerate(zip(snaps, modes, args)):
        if isinstance(arg, torch.nn.Module):
            problem = _model_change(snap, mode, arg)
            if problem:
                fail(f"{name}{where} {problem}")
        elif not _same(snap, arg):
            if i < len(arg_names):
                fail(
                    f"{name} changed its argument {arg_names[i]} (argument {i + 1}) in place{where}; expected "
                    f"{arg_names[i]} unchanged (no in-place operation such as x.exp_(), x.sort() or x += ...): "
                    "work on a copy instead"
                )
            fail(f"{name} changed argument {i + 1} in place{where}; work on a copy instead")
    return result


def _modes(value) -> list[bool] | None:
    """The training flag of a model and each of its submodules (None for anything else)."""
    return [m.training for m in value.modules()] if isinstance(value, torch.nn.Module) else None


def _model_change(before: dict | None, modes: list[bool] | None, model: torch.nn.Module) -> str:
    """What a call did to a model it was given, in words ("" when nothing)."""
    now_modes = _modes(model)
    if modes is not None and now_modes != modes:
        was, now = ("training" if all(modes) else "evaluation"), ("training" if any(now_modes) else "evaluation")
        if now == "training" and was == "evaluation":
            return (
                "left the model in training mode (it was given in evaluation mode, model.eval()): in training "
                "mode dropout and BatchNorm make a score depend on the batch; do not call model.train() in a "
                "function that only uses the model"
            )
        return (
            f"switched the model from {was} to {now} mode and left it so: a function that only uses the model "
            "must hand it back in the mode it was given (remember model.training and restore it)"
        )
    if before is None:
        return ""
    state = model.state_dict()
    changed = [k for k, v in before.items() if k in state and not torch.equal(state[k].detach(), v)]
    if not changed:
        return ""
    parameters = {k for k, _ in model.named_parameters()}
    if not any(k in parameters for k in changed):
        return (
            f"changed the model's running statistics ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}, "
            "not its weights): it ran the model in training mode, where BatchNorm uses and updates the batch's "
            "statistics; run it in evaluation mode"
        )
    return (
        f"changed the model's weights in place ({', '.join(k for k in changed if k in parameters)[:120]}); "
        "a function that only uses the model must not train or modify it (work on a copy if you must)"
    )


def _to_numpy(result, name: str) -> np.ndarray:
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    if isinstance(result, np.ndarray):
        return result
    if isinstance(result, (bool, np.bool_, numbers.Number)):
        return np.asarray(result)
    if isinstance(result, (list, tuple)):
        try:
            return np.asarray([_to_numpy(r, name) for r in result])
        except Exception:  # noqa: BLE001
            pass
    fail(f"{name} returned {type(result).__name__}; expected a tensor (or a number for one sample)")


def as_bools(result, n: int, name: str, *, single: bool = False) -> np.ndarray:
    """Read ``result`` as ``n`` booleans. A single sample may be a bool, numpy bool or 0-d tensor."""
    arr = _to_numpy(result, name)
    if arr.dtype != np.bool_:
        if arr.dtype.kind == "f":
            fail(
                f"{name} returned floating-point values (dtype {arr.dtype}); it must return booleans "
                "(True = outlier), not the loss itself"
            )
        if arr.dtype.kind in "iu" and set(np.unique(arr).tolist()) <= {0, 1}:
            fail(f"{name} returned integers 0/1 (dtype {arr.dtype}); return booleans (True = outlier)")
        fail(f"{name} returned dtype {arr.dtype}; it must return booleans (True = outlier)")
    if single:
        if arr.size != 1:
            fail(f"{name} returned {arr.size} values for one sample; return one boolean")
        return arr.reshape(1)
    if arr.ndim == 0 or arr.size != n or (arr.ndim > 1 and max(arr.shape) != arr.size):
        fail(
            f"{name} returned shape {tuple(arr.shape)} for a batch of {n}; it must return one "
            f"boolean per sample, shape ({n},)"
        )
    return arr.reshape(n)


def as_floats(result, n: int, name: str, *, single: bool = False) -> np.ndarray:
    """Read ``result`` as ``n`` finite floats, shape (n,) (a single sample: () or (1,))."""
    arr = _to_numpy(result, name)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        fail(f"{name} returned dtype {arr.dtype}; it must return floating-point values")
    if single:
        if arr.size != 1:
            fail(f"{name} returned shape {tuple(arr.shape)} for one sample; expected one value")
    elif arr.shape != (n,):
        fail(f"{name} returned shape {tuple(arr.shape)} for a batch of {n}; it must return shape ({n},)")
    arr = arr.astype(np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        fail(f"{name} returned NaN or inf values")
    return arr


def as_scalar(result, name: str) -> float:
    """Read ``result`` as one finite real number (float, numpy scalar, 0-d or 1-element tensor)."""
    arr = _to_numpy(result, name)
    if arr.size != 1 or arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        fail(f"{name} must return one number, got {type(result).__name__} with shape {tuple(arr.shape)}")
    value = float(arr.reshape(-1)[0])
    if not np.isfinite(value):
        fail(f"{name} returned {value}, not a finite number")
    return value


def close(got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-4, atol: float = 1e-4) -> bool:
    return bool(np.allclose(got, want, rtol=rtol, atol=atol))


def deepcopy(value):
    return copy.deepcopy(value)
