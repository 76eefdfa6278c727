"""Plain data across the sandbox's wall: values as typed JSON, messages as length-prefixed frames.

The grading engine (trusted) and the harness in a learner's kernel (untrusted) talk over a Unix
socket. What comes from the kernel is decoded by :func:`decode` with a closed list of types:
tensors and arrays of fixed dtypes (rebuilt as plain ``torch.Tensor`` / ``numpy.ndarray``, so a
subclass that overrides comparison arrives as bare numbers), numpy scalars, Python numbers, bools,
strings, None, and lists, tuples and dicts of those; anything else is rejected. Nothing from the
kernel is ever unpickled or evaluated. Models travel the other way only (``encode(...,
allow_modules=True)``), pickled by torch, and come back as handles.

This module imports only the standard library, numpy and torch (the harness uses it in the kernel).
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import torch

from .frames import MAX_FRAME, WireError, recv, send

__all__ = ["MAX_FRAME", "WireError", "Unsupported", "Handle", "encode", "decode", "send", "recv", "DTYPES"]

# dtypes that may cross, by name (numpy and torch agree on these names)
DTYPES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
_TORCH = {name: getattr(torch, name) for name in DTYPES if hasattr(torch, name)}
MAX_ELEMENTS = 20_000_000  # elements of one array
MAX_ITEMS = 100_000  # items of one list, tuple or dict
MAX_DEPTH = 8
MAX_STR = 20_000


class Unsupported:
    """A value of a type that cannot cross (the kernel names its type; the grader says what to return)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<unsupported {self.type_name}>"


class Handle:
    """A model the grader gave the kernel, referred to by number on the way back."""

    def __init__(self, number: int):
        self.number = number

    def __repr__(self) -> str:
        return f"<handle {self.number}>"


def _type_name(value) -> str:
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ not in ("builtins", None) else t.__qualname__


def _array_payload(arr: np.ndarray) -> dict:
    return {
        "dtype": arr.dtype.name,
        "shape": list(arr.shape),
        "data": base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii"),
    }


def encode(value, *, handles: dict | None = None, allow_modules: bool = False, depth: int = 0):
    """``value`` as JSON-able typed data.

    Args:
        handles: ``{id(model): number}`` of the models the grader sent; such models travel back as
            handles (the kernel's side).
        allow_modules: pickle ``torch.nn.Module`` values (the grader's side, towards the kernel).
    """
    if depth > MAX_DEPTH:
        return {"t": "unsupported", "type": "nesting deeper than 8"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, torch.Tensor):
        t = value.detach()
        name = str(t.dtype).removeprefix("torch.")
        if name not in DTYPES or t.is_complex() or t.layout != torch.strided:
            return {"t": "unsupported", "type": f"torch.Tensor of dtype {t.dtype}"}
        arr = t.cpu().contiguous().numpy()
        return {"t": "tensor", "rg": bool(value.requires_grad), **_array_payload(arr)}
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            return {"t": "unsupported", "type": f"numpy.ndarray of dtype {value.dtype}"}
        return {"t": "ndarray", **_array_payload(np.asarray(value))}
    if isinstance(value, np.generic):
        dtype = np.dtype(type(value))
        if dtype.name not in DTYPES:
            return {"t": "unsupported", "type": f"numpy scalar {dtype}"}
        return {"t": "npscalar", **_array_payload(np.asarray(value).reshape(()))}
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            return {"t": "unsupported", "type": "int beyond 64 bits"}
        return {"t": "int", "v": int(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": value[:MAX_STR]}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            return {"t": "unsupported", "type": f"{type(value).__name__} of {len(value)} items"}
        kind = "list" if isinstance(value, list) else "tuple"
        items = [encode(v, handles=handles, allow_modules=allow_modules, depth=depth + 1) for v in value]
        return {"t": kind, "v": items}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return {"t": "unsupported", "type": f"dict of {len(value)} items"}
        items = [
            [
                encode(k, handles=handles, allow_modules=allow_modules, depth=depth + 1),
                encode(v, handles=handles, allow_modules=allow_modules, depth=depth + 1),
            ]
            for k, v in value.items()
        ]
        return {"t": "dict", "v": items}
    if isinstance(value, torch.nn.Module):
        if handles is not None and id(value) in handles:
            return {"t": "handle", "h": handles[id(value)]}
        if allow_modules:
            buf = io.BytesIO()
            torch.save(value, buf)
            return {"t": "module", "pickle": base64.b64encode(buf.getvalue()).decode("ascii")}
    if isinstance(value, Handle):
        return {"t": "handle", "h": value.number}
    return {"t": "unsupported", "type": _type_name(value)[:200]}


def _array(obj: dict) -> np.ndarray:
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if dtype not in DTYPES:
        raise WireError(f"dtype {dtype!r} may not cross")
    if not isinstance(shape, list) or len(shape) > 16 or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise WireError("bad shape")
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        raise WireError(f"array of {n} elements is too large")
    if not isinstance(data, str):
        raise WireError("bad array data")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    if len(raw) != n * np.dtype(dtype).itemsize:
        raise WireError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(obj, *, modules: bool = False, depth: int = 0):
    """The value that :func:`encode` wrote. Accepts only the protocol's types.

    ``modules=True`` accepts pickled models (the kernel's side, from the grader only). Tensors come
    back as plain tensors with ``_wire_requires_grad`` telling whether the sender's tensor required
    gradients.
    """
    if depth > MAX_DEPTH + 1:
        raise WireError("nesting too deep")
    if not isinstance(obj, dict) or not isinstance(obj.get("t"), str):
        raise WireError("not a typed value")
    t = obj["t"]
    if t == "none":
        return None
    if t == "bool":
        if not isinstance(obj.get("v"), bool):
            raise WireError("bad bool")
        return obj["v"]
    if t == "int":
        v = obj.get("v")
        if not isinstance(v, int) or isinstance(v, bool) or not -(2**63) <= v < 2**63:
            raise WireError("bad int")
        return v
    if t == "float":
        v = obj.get("v")
        if not isinstance(v, str) or len(v) > 40:
            raise WireError("bad float")
        try:
            return float(v)
        except ValueError:
            raise WireError("bad float") from None
    if t == "str":
        v = obj.get("v")
        if not isinstance(v, str) or len(v) > MAX_STR:
            raise WireError("bad str")
        return v
    if t == "tensor":
        arr = _array(obj)
        tensor = torch.from_numpy(arr).to(_TORCH[arr.dtype.name])
        tensor._wire_requires_grad = bool(obj.get("rg", False))
        return tensor
    if t == "ndarray":
        return _array(obj)
    if t == "npscalar":
        arr = _array(obj)
        if arr.shape != ():
            raise WireError("bad numpy scalar")
        return arr[()]
    if t in ("list", "tuple"):
        items = obj.get("v")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError(f"bad {t}")
        values = [decode(v, modules=modules, depth=depth + 1) for v in items]
        return values if t == "list" else tuple(values)
    if t == "dict":
        items = obj.get("v")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("bad dict")
        out = {}
        for pair in items:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("bad dict item")
            key = decode(pair[0], modules=modules, depth=depth + 1)
            if isinstance(key, (torch.Tensor, np.ndarray, list, dict, Unsupported, Handle)):
                raise WireError("unhashable dict key")
            out[key] = decode(pair[1], modules=modules, depth=depth + 1)
        return out
    if t == "handle":
        h = obj.get("h")
        if not isinstance(h, int) or isinstance(h, bool):
            raise WireError("bad handle")
        return Handle(h)
    if t == "unsupported":
        return Unsupported(str(obj.get("type", "?"))[:200])
    if t == "module" and modules:
        raw = base64.b64decode(obj["pickle"].encode("ascii"))
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    raise WireError(f"type {t!r} may not cross")
