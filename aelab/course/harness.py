"""The kernel's side of grading: answer the grading engine's calls of the learner's functions.

In a notebook that the engine runs (inside the sandbox), each graded test cell ends with
``grade_cell("<grade_id>")`` in place of its hidden tests. It connects to the engine's socket
(``$AELAB_HARNESS_SOCKET``) and serves the engine's requests: describe a name of the notebook, call
a learner's function on the arguments the engine sends, backpropagate through a result. Results go
back as plain data (:mod:`aelab.course.wire`); the expected values, the reference implementations
and the comparisons stay with the engine, outside this process. While a learner's function runs,
the names of the other exercises it may call (``uses``) are bound to the engine's reference
versions, so one wrong function costs one exercise.

Nothing here is trusted by the engine: a notebook may replace this module, and gains nothing by it.
This module imports only the standard library, numpy and torch.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import socket
import sys

import numpy as np
import torch

from . import wire

__all__ = ["grade_cell", "snapshot", "SOCKET_ENV"]

SOCKET_ENV = "AELAB_HARNESS_SOCKET"


class GradedCellFailed(AssertionError):
    """The engine's verdict on this cell: what is wrong (never the expected values)."""


def _namespace() -> dict:
    try:
        ip = get_ipython()
        return ip.user_ns
    except NameError:
        return sys.modules["__main__"].__dict__


def _rng_state() -> dict:
    state = np.random.get_state()
    return {
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
        "numpy": [state[0], wire.encode(state[1]), int(state[2]), int(state[3]), float(state[4])],
    }


def _set_rng_state(rng: dict | None) -> None:
    if not rng:
        return
    raw = base64.b64decode(rng["torch"])
    torch.set_rng_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone())
    name, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((name, wire.decode(keys), pos, has_gauss, cached))


def snapshot(value):
    """A copy of a tensor, array or model's weights, to tell afterwards whether a call changed it."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, torch.nn.Module):
        return {k: v.detach().clone() for k, v in value.state_dict().items()}
    return None


def _post(before, value, handles) -> dict | None:
    """What a call did to an argument: its new value when it changed, a model's mode and weights."""
    if isinstance(value, torch.Tensor):
        same = before is not None and value.shape == before.shape and torch.equal(value.detach(), before)
        return None if same else {"value": wire.encode(value.detach())}
    if isinstance(value, np.ndarray):
        same = before is not None and value.shape == before.shape and np.array_equal(value, before, equal_nan=True)
        return None if same else {"value": wire.encode(value)}
    if isinstance(value, torch.nn.Module):
        now = value.state_dict()
        same = before is not None and now.keys() == before.keys()
        same = same and all(torch.equal(now[k].detach(), v) for k, v in before.items())
        state = None if same else wire.encode({k: v.detach() for k, v in now.items()})
        return {"training": bool(value.training), "state": state}
    return None


class _Delegation(BaseException):
    """Stops the learner's function at a call of library code that computes the exercise's answer."""


def _watch(forbid) -> tuple[dict, object]:
    """``({(file, qualname): name shown}, profiler)`` for the library code a call must not reach."""
    import importlib
    import inspect

    codes = {}
    for item in forbid or []:
        try:
            module_name, qualname, shown = (str(x) for x in item)
            obj = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            code = inspect.unwrap(obj).__code__
            codes[(code.co_filename, code.co_qualname)] = shown
        except Exception:  # noqa: BLE001 - a name this library does not have: nothing to watch
            continue

    def profile(frame, event, arg):
        if event == "call":
            shown = codes.get((frame.f_code.co_filename, frame.f_code.co_qualname))
            if shown is not None:
                raise _Delegation(shown)
        elif event == "c_call" and arg is sys.setprofile and frame.f_code is not _Server.call.__code__:
            raise _Delegation("sys.setprofile")

    return codes, profile


class _Server:
    def __init__(self, sock: socket.socket, namespace: dict):
        self.sock = sock
        self.ns = namespace
        self.handles: dict[int, int] = {}  # id(model) -> the engine's number for it
        self.graphs: dict[int, tuple] = {}  # call id -> (result, inputs that require grad)

    def send(self, message: dict) -> None:
        wire.send(self.sock, message)

    def recv(self) -> dict:
        return wire.recv(self.sock)

    # ------------------------------------------------------------------------------ requests
    def describe(self, msg: dict) -> None:
        name = str(msg.get("fn", ""))
        exists = name in self.ns
        value = self.ns.get(name)
        self.send({"op": "described", "exists": exists, "callable": callable(value), "type": type(value).__name__})

    def _decode_args(self, msg: dict):
        args, kwargs = [], {}
        for item in msg.get("args", []):
            args.append(self._decode_arg(item))
        for key, item in (msg.get("kwargs") or {}).items():
            kwargs[key] = self._decode_arg(item)
        return args, kwargs

    def _decode_arg(self, item):
        value = wire.decode(item, modules=True)
        if isinstance(value, torch.Tensor) and getattr(value, "_wire_requires_grad", False):
            value = value.requires_grad_(True)
        if isinstance(value, torch.nn.Module) and "h" in item:
            self.handles[id(value)] = int(item["h"])
        return value

    def _stub(self, name: str, own=None):
        def reference(*args, **kwargs):
            self.send(
                {
                    "op": "callback",
                    "fn": name,
                    "args": [wire.encode(a, handles=self.handles) for a in args],
                    "kwargs": {k: wire.encode(v, handles=self.handles) for k, v in kwargs.items()},
                }
            )
            reply = self.recv()
            if reply.get("op") == "callback_result":
                return wire.decode(reply.get("value"))
            if own is not None and "once its own tests" in str(reply.get("message", "")):
                return own(*args, **kwargs)  # (the notebook moved this test before the other's)
            raise RuntimeError(str(reply.get("message", f"the course's {name} could not run")))

        reference.__name__ = reference.__qualname__ = name
        return reference

    def call(self, msg: dict) -> None:
        name = str(msg.get("fn", ""))
        fn = self.ns.get(name)
        args, kwargs = self._decode_args(msg)
        before = [snapshot(a) for a in args]
        before_kw = {k: snapshot(v) for k, v in kwargs.items()}
        uses = [str(u) for u in msg.get("uses", [])]
        saved = {u: self.ns[u] for u in uses if u in self.ns}
        for u in uses:
            self.ns[u] = self._stub(u, saved.get(u))
        _set_rng_state(msg.get("rng"))
        sink = io.StringIO()
        raised = None
        codes, profile = _watch(msg.get("forbid"))
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                if codes:
                    sys.setprofile(profile)
                try:
                    result = fn(*args, **kwargs)
                finally:
                    sys.setprofile(None)
        except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything, SystemExit too
            raised = exc
        finally:
            for u in uses:
                if u in saved:
                    self.ns[u] = saved[u]
                else:
                    self.ns.pop(u, None)
        post = [_post(b, a, self.handles) for b, a in zip(before, args)]
        post_kw = {k: _post(before_kw[k], v, self.handles) for k, v in kwargs.items()}
        common = {"post": post, "post_kwargs": post_kw, "rng": _rng_state()}
        if isinstance(raised, _Delegation):
            self.send({"op": "raised", "type": "AelabDelegation", "message": str(raised), **common})
            return
        if raised is not None:
            self.send({"op": "raised", "type": type(raised).__name__[:80], "message": str(raised)[:2000], **common})
            return
        value = wire.encode(result, handles=self.handles)
        if isinstance(result, torch.Tensor) and result.requires_grad:
            inputs = [a for a in [*args, *kwargs.values()] if isinstance(a, torch.Tensor) and a.requires_grad]
            self.graphs[int(msg.get("id", 0))] = (result, inputs)
        self.send({"op": "result", "value": value, **common})

    def vjp(self, msg: dict) -> None:
        result, inputs = self.graphs.get(int(msg.get("call", -1)), (None, []))
        grads: list = [None] * len(inputs)
        error = ""
        if result is not None and inputs:
            try:
                grad_out = wire.decode(msg.get("grad"))
                got = torch.autograd.grad(result, inputs, grad_outputs=grad_out, allow_unused=True, retain_graph=True)
                grads = list(got)
            except Exception as exc:  # noqa: BLE001 - a broken graph is the learner's
                error = f"{type(exc).__name__}: {exc}"[:2000]
        self.send({"op": "vjp_result", "grads": [wire.encode(g) for g in grads], "error": error})

    def serve(self) -> str | None:
        """Answer requests until the engine's verdict; return its message when the cell failed."""
        while True:
            msg = self.recv()
            op = msg["op"]
            if op == "describe":
                self.describe(msg)
            elif op == "call":
                try:
                    self.call(msg)
                except (OSError, ConnectionError, wire.WireError):
                    raise
                except Exception as exc:  # noqa: BLE001 - the harness itself failed: say so, keep serving
                    self.send({"op": "raised", "type": "RuntimeError", "message": f"the grading harness failed: {exc}"})
            elif op == "vjp":
                self.vjp(msg)
            elif op == "verdict":
                return None if msg.get("passed") else str(msg.get("message", "failed"))
            else:
                self.send({"op": "error", "message": f"unknown request {op!r}"})


def grade_cell(grade_id: str, namespace: dict | None = None) -> None:
    """Have the engine grade this cell's exercise; raise :class:`GradedCellFailed` when it fails."""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        raise RuntimeError(
            "this cell is graded by the course's grading engine (aelab check NOTEBOOK runs it); "
            "outside it there is nothing to check"
        )
    ns = namespace if namespace is not None else _namespace()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    with sock:
        wire.send(sock, {"op": "hello", "role": "cell", "cell": str(grade_id)})
        failure = _Server(sock, ns).serve()
    if failure is not None:
        raise GradedCellFailed(failure)
    print(f"{grade_id}: passed")
