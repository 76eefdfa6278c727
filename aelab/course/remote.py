"""The engine's side of a graded cell: the learner's functions as callables that run in the kernel.

A check (``autograder/labNN.py``) is given a :class:`RemoteFunction` in place of the learner's
function. Calling it sends the arguments to the kernel, which calls the learner's function there
and sends back its result, what it did to the arguments (changed in place, a model's mode) and the
random-number state, as plain data; the check compares in this process. Gradients flow back
through a result as if the function ran here (a vector-Jacobian product computed in the kernel).
While the learner's function runs, it may call the engine's reference versions of the other
exercises it uses (and only those).
"""

from __future__ import annotations

import base64
import builtins
import socket
import time

import numpy as np
import torch

from . import wire

__all__ = ["CellSession", "RemoteFunction", "KernelGone", "CallTimeout"]


class KernelGone(AssertionError):
    """The kernel stopped answering (it exited, was killed, or broke the protocol)."""


class CallTimeout(AssertionError):
    """A call of the learner's function ran past its time limit."""


def _exception(type_name: str, message: str) -> Exception:
    """An exception of the learner's type name (a builtin one when it is one, never a BaseException)."""
    cls = getattr(builtins, type_name, None) if type_name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(type_name if type_name.isidentifier() else "Exception", (Exception,), {})
    try:
        return cls(message)
    except Exception:  # noqa: BLE001 - an exception class with another signature
        return type(type_name, (Exception,), {})(message)


def _rng_state() -> dict:
    state = np.random.get_state()
    return {
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
        "numpy": [state[0], wire.encode(state[1]), int(state[2]), int(state[3]), float(state[4])],
    }


def _set_rng_state(rng) -> None:
    """Adopt the kernel's random state after a call (as if the call had run here); ignore nonsense."""
    try:
        raw = base64.b64decode(rng["torch"], validate=True)
        state = torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()
        if state.numel() == torch.get_rng_state().numel():
            torch.set_rng_state(state)
        name, keys, pos, has_gauss, cached = rng["numpy"]
        keys = wire.decode(keys)
        if name == "MT19937" and isinstance(keys, np.ndarray) and keys.shape == (624,) and keys.dtype == np.uint32:
            np.random.set_state((name, keys, int(pos), int(has_gauss), float(cached)))
    except Exception:  # noqa: BLE001 - a kernel that sends garbage only loses reproducibility
        pass


class _RemoteGrad(torch.autograd.Function):
    """A kernel's result with a backward pass that asks the kernel for the vector-Jacobian product."""

    @staticmethod
    def forward(ctx, session, call_id, value, *inputs):
        ctx.session, ctx.call_id, ctx.specs = session, call_id, [(tuple(i.shape), i.dtype) for i in inputs]
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        grads = ctx.session.vjp(ctx.call_id, grad, ctx.specs)
        return (None, None, None, *grads)


class CellSession:
    """One graded cell's connection to the kernel."""

    def __init__(self, sock: socket.socket, references: dict, call_timeout: float, delegated=None, deadline=None):
        self.sock = sock
        self.deadline = deadline  # time.monotonic() by which the whole job must end
        self.delegated = delegated  # the graders' exception for "called the library's answer"
        self.references = references  # exercise name -> reference implementation
        self.call_timeout = call_timeout
        self.modules: dict[int, torch.nn.Module] = {}
        self.calls = 0
        self.broken: str | None = None

    # ------------------------------------------------------------------------------- plumbing
    def _send(self, message: dict) -> None:
        if self.broken:
            raise KernelGone(self.broken)
        try:
            wire.send(self.sock, message)
        except OSError as exc:
            self.broken = f"the notebook's kernel stopped answering ({exc.__class__.__name__})"
            raise KernelGone(self.broken) from None

    def _recv(self) -> dict:
        if self.broken:
            raise KernelGone(self.broken)
        left = self.call_timeout if self.deadline is None else min(self.call_timeout, self.deadline - time.monotonic())
        if left <= 0:
            self.broken = "the job reached its time limit while a check ran"
            raise CallTimeout(self.broken)
        self.sock.settimeout(left)
        try:
            return wire.recv(self.sock)
        except TimeoutError:
            self.broken = (
                f"the call did not return within {self.call_timeout:.0f} s"
                if left == self.call_timeout
                else "the job reached its time limit while a check ran"
            )
            raise CallTimeout(self.broken) from None
        except (OSError, ConnectionError):
            self.broken = "the notebook's kernel stopped (it exited or was killed) while a check ran"
            raise KernelGone(self.broken) from None
        except wire.WireError as exc:
            self.broken = f"the kernel broke the grading protocol ({exc})"
            raise KernelGone(self.broken) from None

    def describe(self, name: str) -> dict:
        self._send({"op": "describe", "fn": name})
        reply = self._recv()
        if reply.get("op") != "described":
            self.broken = "the kernel broke the grading protocol"
            raise KernelGone(self.broken)
        return {
            "exists": reply.get("exists") is True,
            "callable": reply.get("callable") is True,
            "type": str(reply.get("type", "?"))[:80],
        }

    def verdict(self, passed: bool, message: str) -> None:
        try:
            self._send({"op": "verdict", "passed": bool(passed), "message": message})
        except KernelGone:
            pass

    def function(self, name: str, uses=()) -> RemoteFunction:
        return RemoteFunction(self, name, tuple(uses))

    # ----------------------------------------------------------------------------- the calls
    def _encode_arg(self, value):
        if isinstance(value, torch.nn.Module):
            number = next((n for n, m in self.modules.items() if m is value), None)
            if number is None:
                number = len(self.modules) + 1
                self.modules[number] = value
            enc = wire.encode(value, allow_modules=True)
            enc["h"] = number
            return enc
        return wire.encode(value, allow_modules=True)

    def _resolve(self, value):
        """A decoded callback argument, with handles turned back into the check's models."""
        if isinstance(value, wire.Handle):
            if value.number not in self.modules:
                raise ValueError("it was called with a model that the check did not give")
            return self.modules[value.number]
        if isinstance(value, wire.Unsupported):
            raise ValueError(f"it was called with a {value.type_name}")
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    def _callback(self, msg: dict, uses: tuple) -> None:
        name = str(msg.get("fn", ""))
        if name not in uses or name not in self.references:
            why = "is not available here" if name not in uses else "is available once its own tests have run"
            self._send({"op": "callback_error", "message": f"the course's {name} {why}"})
            return
        try:
            args = [self._resolve(wire.decode(a)) for a in msg.get("args", [])]
            kwargs = {str(k): self._resolve(wire.decode(v)) for k, v in (msg.get("kwargs") or {}).items()}
            with torch.no_grad():
                value = self.references[name](*args, **kwargs)
            self._send({"op": "callback_result", "value": wire.encode(value)})
        except KernelGone:
            raise
        except Exception as exc:  # noqa: BLE001 - bad arguments from the learner's code
            self._send({"op": "callback_error", "message": f"the course's {name} could not run: {exc}"[:500]})

    def _apply_post(self, arg, post) -> None:
        """Do to the check's argument what the learner's function did to its copy."""
        if not isinstance(post, dict):
            return
        with torch.no_grad():
            if isinstance(arg, torch.nn.Module):
                arg.train(post.get("training") is True)
                if post.get("state") is not None:
                    state = wire.decode(post["state"])
                    if isinstance(state, dict):
                        own = arg.state_dict()
                        for key, value in state.items():
                            if key in own and isinstance(value, torch.Tensor) and value.shape == own[key].shape:
                                own[key].copy_(value.to(own[key].dtype))
                            elif key in own:  # changed beyond repair: make it differ for sure
                                own[key].add_(1.0) if own[key].is_floating_point() else None
                return
            if "value" not in post:
                return
            value = wire.decode(post["value"])
            if isinstance(arg, torch.Tensor) and isinstance(value, torch.Tensor):
                if value.shape == arg.shape:
                    arg.copy_(value.to(arg.dtype))
                else:
                    arg.data = value.to(arg.dtype)
            elif isinstance(arg, np.ndarray) and isinstance(value, np.ndarray):
                if value.shape == arg.shape:
                    arg[...] = value
                else:
                    arg.resize(value.shape, refcheck=False)
                    arg[...] = value

    def call(self, name: str, uses: tuple, args: tuple, kwargs: dict, forbid=()):
        self.calls += 1
        call_id = self.calls
        self._send(
            {
                "op": "call",
                "id": call_id,
                "fn": name,
                "args": [self._encode_arg(a) for a in args],
                "kwargs": {k: self._encode_arg(v) for k, v in kwargs.items()},
                "uses": list(uses),
                "forbid": [list(map(str, f)) for f in forbid],
                "rng": _rng_state(),
            }
        )
        while True:
            msg = self._recv()
            op = msg.get("op")
            if op == "callback":
                self._callback(msg, uses)
                continue
            if op not in ("result", "raised"):
                self.broken = f"the kernel broke the grading protocol (answered {op!r})"
                raise KernelGone(self.broken)
            posts = msg.get("post") if isinstance(msg.get("post"), list) else []
            for arg, post in zip(args, posts):
                self._apply_post(arg, post)
            post_kw = msg.get("post_kwargs") if isinstance(msg.get("post_kwargs"), dict) else {}
            for key, arg in kwargs.items():
                self._apply_post(arg, post_kw.get(key))
            _set_rng_state(msg.get("rng"))
            if op == "raised" and msg.get("type") == "AelabDelegation" and self.delegated is not None:
                raise self.delegated(str(msg.get("message", "the course library"))[:200])
            if op == "raised":
                raise _exception(str(msg.get("type", "Exception"))[:80], str(msg.get("message", ""))[:2000])
            try:
                value = wire.decode(msg.get("value"))
            except wire.WireError as exc:
                self.broken = f"the kernel broke the grading protocol ({exc})"
                raise KernelGone(self.broken) from None
            inputs = [a for a in [*args, *kwargs.values()] if isinstance(a, torch.Tensor) and a.requires_grad]
            if isinstance(value, torch.Tensor) and getattr(value, "_wire_requires_grad", False) and inputs:
                value = _RemoteGrad.apply(self, call_id, value, *inputs)
            return value

    def vjp(self, call_id: int, grad: torch.Tensor, specs: list) -> list:
        self._send({"op": "vjp", "call": call_id, "grad": wire.encode(grad.detach())})
        msg = self._recv()
        if msg.get("op") != "vjp_result":
            self.broken = "the kernel broke the grading protocol"
            raise KernelGone(self.broken)
        if msg.get("error"):
            raise RuntimeError(str(msg["error"])[:500])
        out = []
        grads = msg.get("grads") if isinstance(msg.get("grads"), list) else []
        for (shape, dtype), enc in zip(specs, grads + [None] * (len(specs) - len(grads))):
            g = wire.decode(enc) if enc is not None else None
            out.append(g.to(dtype) if isinstance(g, torch.Tensor) and tuple(g.shape) == shape else None)
        return out


class RemoteFunction:
    """The learner's function ``name`` of the kernel, callable here."""

    runs_remotely = True  # the graders pass it ``forbid``: library code the kernel must refuse

    def __init__(self, session: CellSession, name: str, uses: tuple = ()):
        self.session = session
        self.uses = uses
        self.forbid: list = []
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self.session.call(self.__name__, self.uses, args, kwargs, self.forbid)

    def __repr__(self) -> str:
        return f"<the learner's {self.__name__}>"
