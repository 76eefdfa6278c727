"""The grading core: a registry of checks and ``check(check_id, fn)``, called from grade cells.

A check is a function ``def check_something(fn): ...`` in one of the lab modules
(``autograder/lab01.py`` ... ``lab04.py``), registered with :func:`grader`. It calls the learner's
function on fixed inputs, compares with the reference implementation (``autograder.reference``)
and raises ``AssertionError`` with a message that says what went wrong without giving the answer.

Tamper resistance: :func:`check` imports a fresh copy of the lab module and of the reference
implementations on every call, loads the reference model from its file each time, and passes the
learner's function copies of the inputs, so a notebook that rebinds names, edits the reference
model or mutates its inputs cannot change what the grader compares against.

No delegation: each lab module lists, per exercise, the course library's functions and methods that
compute what the exercise asks for (``LIBRARY_ANSWERS``, ``"module:qualname"`` strings). While a
check runs the learner's function, a profiler (:func:`sys.setprofile`, also set for threads started
meanwhile) records every Python call whose code object is one of them: by the code itself, so an
alias, a ``getattr`` with a built string, a private name, a reloaded module or a call made deep
inside a helper is seen as well. Such a call fails the check, whatever the result.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from aelab.course import registry

__all__ = [
    "grader",
    "check",
    "Check",
    "all_checks",
    "check_ids",
    "failed_checks",
    "library_answers",
    "GradingError",
    "LABS",
]

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


def library_answers(lab: str, exercise: str) -> dict[tuple[str, str], str]:
    """The library code that ``exercise`` must not call: ``{(file, qualname): name shown}``.

    Read from ``LIBRARY_ANSWERS`` of the lab module; an entry ``"aelab.models:IrisVAE.reparameterize"``
    names a function or method of the student library (decorators such as ``torch.no_grad`` are
    looked through, so the function's own code is watched, not the decorator's).
    """
    return _library_answers(_fresh_module(lab), lab, exercise)


def _library_answers(module, lab: str, exercise: str) -> dict[tuple[str, str], str]:
    import aelab

    found = {}
    for entry in getattr(module, "LIBRARY_ANSWERS", {}).get(exercise, ()):
        module_name, _, qualname = entry.partition(":")
        if not module_name.startswith("aelab.") or module_name.startswith("aelab.course") or not qualname:
            raise ValueError(f"{lab}.LIBRARY_ANSWERS: {entry!r} must read 'aelab.<module>:<qualname>'")
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        code = getattr(inspect.unwrap(obj), "__code__", None)
        if code is None or code.co_qualname != qualname:
            raise ValueError(f"{lab}.LIBRARY_ANSWERS: {entry!r} is not a Python function of the library")
        top = qualname.split(".", 1)[0]
        shown = f"aelab.{qualname}" if top in aelab.__all__ else f"{module_name}.{qualname}"
        found[(code.co_filename, code.co_qualname)] = shown
    return found


def _entry(module, lab: str, exercise: str, key: tuple[str, str]) -> list[str]:
    """The ``[module, qualname]`` of the LIBRARY_ANSWERS entry behind ``key`` (file, qualname)."""
    for text in getattr(module, "LIBRARY_ANSWERS", {}).get(exercise, ()):
        module_name, _, qualname = text.partition(":")
        if qualname == key[1]:
            return [module_name, qualname]
    raise KeyError(key)


class _Refused(BaseException):
    """Stops the learner's function at a forbidden call (a BaseException: ``except Exception`` in
    the learner's code or in a check does not swallow it)."""


class Delegated(_Refused):
    """Raised by a learner's function that ran elsewhere (the grading engine's kernel) when that
    process saw it call the forbidden library code; the message is the name shown."""


class _Watch:
    """Wraps the learner's function; stops it at its first call into ``forbidden`` code."""

    def __init__(self, forbidden: dict[tuple[str, str], str]):
        self.forbidden = forbidden
        self.files = {path for path, _ in forbidden}
        self.seen: list[str] = []
        self.tampered = False
        self._own = set()
        self._caller = threading.get_ident()

    def _profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_filename in self.files:
                name = self.forbidden.get((code.co_filename, code.co_qualname))
                if name is not None:
                    self.seen.append(name)
                    if threading.get_ident() == self._caller:  # another thread's call is only recorded
                        raise _Refused(name)  # CPython unsets the profiler; ``watched`` sets it back
        elif event == "c_call" and arg is sys.setprofile and frame.f_code not in self._own:
            self.tampered = True
            if threading.get_ident() == self._caller:
                raise _Refused("sys.setprofile")

    def wrap(self, fn):
        """``fn`` itself when nothing is forbidden, else ``fn`` run under the profiler."""
        if not self.forbidden:
            return fn

        @functools.wraps(fn)
        def watched(*args, **kwargs):
            before, before_threads = sys.getprofile(), threading.getprofile()
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.setprofile(before)
                threading.setprofile(before_threads)

        self._own.add(watched.__code__)
        return watched

    def message(self, exercise: str) -> str | None:
        if self.seen:
            return (
                f"{exercise} calls the course library's {self.seen[0]}, which computes what this exercise "
                "asks for; write that computation yourself with torch operations instead of calling it"
            )
        if self.tampered:
            return (
                f"{exercise} calls sys.setprofile, which the grader needs to see what your code calls; remove that call"
            )
        return None


def check(check_id: str, fn) -> None:
    """Run one check against the learner's function ``fn``; raise ``AssertionError`` if it fails.

    Output of the learner's code (prints, warnings) is swallowed, so that a correct answer is never
    marked down because it wrote to stderr. The check runs on one torch thread. An answer that calls
    the library code listed for its exercise (:func:`library_answers`) fails, whatever it returns.
    """
    if not isinstance(check_id, str) or check_id.count(".") < 2:
        raise ValueError(f"check_id must look like 'lab03.detect_outlier.ties', got {check_id!r}")
    lab = check_id.split(".", 1)[0]
    module = _fresh_module(lab)
    checks = module.CHECKS
    if check_id not in checks:
        raise ValueError(f"no check named {check_id!r}")
    entry = checks[check_id]
    if not callable(fn):
        raise GradingError(
            f"{entry.exercise} must be a function, got {type(fn).__name__}; run the cell that defines it"
        )
    forbidden = _library_answers(module, lab, entry.exercise)
    watch = _Watch(forbidden)
    if getattr(fn, "runs_remotely", False):
        # the learner's function runs in the kernel: that process watches for the same code
        fn.forbid = [[*_entry(module, lab, entry.exercise, key), shown] for key, shown in forbidden.items()]
        watch = _Watch({})
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
            entry.func(watch.wrap(fn))
        except Delegated as exc:
            watch.seen.append(str(exc))
        except _Refused:
            pass  # watch.message says why
        except AssertionError as exc:
            message = str(exc) or f"{entry.description}: failed"
        except NotImplementedError:
            message = f"{entry.exercise} is not implemented yet (it raises NotImplementedError)"
        except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
            message = f"{entry.exercise} raised {type(exc).__name__}: {exc}"
    message = watch.message(entry.exercise) or message
    if message is not None:
        raise GradingError(message) from None
