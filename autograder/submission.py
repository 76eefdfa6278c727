"""Load a learner's graded functions from a notebook without running the whole notebook.

Runs the notebook's setup cell (the one with ``import aelab``) and every solution cell, in that
order, in a fresh namespace, with a time limit; returns the functions the lab's checks grade.
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import warnings
from pathlib import Path

import nbformat

from aelab.course import registry

from .core import LABS


def lab_of(path: Path) -> str:
    """The lab a notebook belongs to, from its file or folder name (``03_...`` -> ``lab03``)."""
    return registry.assignment_of(path).lab


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    def handler(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def load_functions(path: Path, *, timeout: int = 60) -> tuple[dict, dict[str, str]]:
    """Run setup + solution cells of ``path``; return (namespace, {exercise: problem}).

    A problem is recorded (not raised) when a cell fails or runs past ``timeout`` seconds.
    """
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = [c for c in code if re.search(r"^import aelab\s*$", c.source, flags=re.M)][:1]
    solutions = [c for c in code if c.metadata.get("nbgrader", {}).get("solution")]
    namespace: dict = {"__name__": "__main__"}
    problems: dict[str, str] = {}
    sink = io.StringIO()
    for cell in setup + solutions:
        names = re.findall(r"^def (\w+)\(", cell.source, flags=re.M) or ["setup"]
        try:
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(sink),
                contextlib.redirect_stderr(sink),
                _time_limit(timeout),
            ):
                warnings.simplefilter("ignore")
                exec(compile(cell.source, f"<{Path(path).name}: {names[0]}>", "exec"), namespace)
        except _Timeout:
            for n in names:
                problems[n] = f"the cell defining {n} ran longer than {timeout} s"
        except BaseException as exc:  # noqa: BLE001 - a learner's cell may raise anything
            for n in names:
                problems[n] = f"the cell defining {n} raised {type(exc).__name__}: {exc}"
    return namespace, problems


def exercises(lab: str) -> list[str]:
    if lab not in LABS:
        raise ValueError(f"unknown lab {lab!r}")
    return [ex.name for ex in registry.assignment(lab).exercises]
