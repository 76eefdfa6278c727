"""``call`` of ``autograder._common``, with an argument changed in place named by the task's parameter
name ("changed its argument log_sigma in place") instead of its position."""

from __future__ import annotations

import re

from ._common import call, fail

_CHANGED = re.compile(r"changed argument (\d+) in place")


def call_named(fn, *args, name: str, params: tuple[str, ...], what: str = "", **kwargs):
    """``call(fn, *args, name=name, what=what, **kwargs)``; ``params`` are the names of ``args`` in the task."""
    try:
        return call(fn, *args, name=name, what=what, **kwargs)
    except AssertionError as exc:
        text = str(exc)
        found = _CHANGED.search(text)
        if not found or not 1 <= int(found.group(1)) <= len(params):
            raise
        param = params[int(found.group(1)) - 1]
        rest = text[found.end() :].replace(
            "; work on a copy instead",
            f"; expected {param} unchanged (no in-place operation such as x.exp_(), x.sort() or x += ...): "
            "work on new tensors",
        )
        fail(f"{text[: found.start()]}changed its argument {param} in place{rest}")
