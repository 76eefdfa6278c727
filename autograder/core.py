"""The grading core: a registry of checks and ``check(check_id, fn)``, called from grade cells.

A check is a function ``def check_something(fn): ...`` in one of the lab modules
(``autograder/lab01.py`` ... ``lab04.py``), registered with :func:`grader`. It calls the learner's
function on fixed inputs, compares with the reference implementation (``autograder.reference``)
and raises ``AssertionError`` with a message that says what went wrong without giving the answer.

Tamper resistance: :func:`check` imports a fresh copy of the lab module and of the reference
implementations on every call, loads the reference model from its file each time, and passes the
learner's function copies of the inputs, so a notebook that rebinds names, edits the reference
model or mutates its inputs cannot change what the grader compares against.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from aelab.course import registry

__all__ = ["grader", "check", "Check", "all_checks", "check_ids", "failed_checks", "GradingError", "LABS"]

LABS = registry.labs()


class GradingError(AssertionError):
    """A check failed; the message tells the learner what to fix."""


@dataclass(frozen=True)
class Check:
    """One registered check.

    Attributes:
        id: ``"<lab>.<exercise>.<name>"``, e.g. ``"lab03.detect_outlier.ties"``.
        exercise: the learner's function it grades, e.g. ``"detect_outlier"``.
        description: one line shown in reports.
        func: ``func(fn)`` raising ``AssertionError`` when ``fn`` is wrong.
    """

    id: str
    exercise: str
    description: str
    func: Callable


def grader(exercise: str, name: str | None = None):
    """Register the decorated function as the check ``<module>.<exercise>.<name>``.

    The check's docstring (first line) is its description.
    """

    def decorate(func: Callable) -> Callable:
        module = sys.modules[func.__module__]
        lab = func.__module__.rsplit(".", 1)[-1]
        check_name = name or func.__name__.removeprefix("check_").removeprefix(f"{exercise}_")
        check_id = f"{lab}.{exercise}.{check_name}"
        registry = module.__dict__.setdefault("CHECKS", {})
        if check_id in registry:
            raise ValueError(f"duplicate check id {check_id}")
        doc = (func.__doc__ or check_name).strip().splitlines()[0]
        registry[check_id] = Check(check_id, exercise, doc, func)
        return func

    return decorate


def _fresh_module(lab: str):
    """Import ``autograder.<lab>`` anew (and the reference it uses), ignoring cached copies."""
    if lab not in LABS:
        raise ValueError(f"unknown lab {lab!r}; expected one of {LABS}")
    for name in ("autograder._common", "autograder.reference", f"autograder.{lab}"):
        sys.modules.pop(name, None)
    return importlib.import_module(f"autograder.{lab}")


def all_checks(lab: str) -> dict[str, Check]:
    """Every check of ``lab`` by id, in the order they are defined."""
    return dict(_fresh_module(lab).CHECKS)


def check_ids(lab: str, exercise: str) -> list[str]:
    """The ids of the checks that grade ``exercise`` of ``lab``, in order."""
    return [cid for cid, c in all_checks(lab).items() if c.exercise == exercise]


def failed_checks(lab: str, exercise: str, fn) -> list[str]:
    """The ids of the checks of ``exercise`` that ``fn`` fails (empty: full marks)."""
    failed = []
    for cid in check_ids(lab, exercise):
        try:
            check(cid, fn)
        except AssertionError:
            failed.append(cid)
    return failed


@contextlib.contextmanager
def _one_torch_thread():
    """Checks use small inputs; on a busy machine torch's thread pool makes them many times slower."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def check(check_id: str, fn) -> None:
    """Run one check against the learner's function ``fn``; raise ``AssertionError`` if it fails.

    Output of the learner's code (prints, warnings) is swallowed, so that a correct answer is never
    marked down because it wrote to stderr. The check runs on one torch thread.
    """
    if not isinstance(check_id, str) or check_id.count(".") < 2:
        raise ValueError(f"check_id must look like 'lab03.detect_outlier.ties', got {check_id!r}")
    lab = check_id.split(".", 1)[0]
    checks = _fresh_module(lab).CHECKS
    if check_id not in checks:
        raise ValueError(f"no check named {check_id!r}")
    entry = checks[check_id]
    if not callable(fn):
        raise GradingError(
            f"{entry.exercise} must be a function, got {type(fn).__name__}; run the cell that defines it"
        )
    message = None
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        _one_torch_thread(),
    ):
        warnings.simplefilter("ignore")
        try:
            entry.func(fn)
        except AssertionError as exc:
            message = str(exc) or f"{entry.description}: failed"
        except NotImplementedError:
            message = f"{entry.exercise} is not implemented yet (it raises NotImplementedError)"
        except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
            message = f"{entry.exercise} raised {type(exc).__name__}: {exc}"
    if message is not None:
        raise GradingError(message) from None
