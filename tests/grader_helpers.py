"""Helpers shared by the graders' tests (tests/test_grader_common.py, tests/test_grader_lab0*.py).

Each lab's test module holds catalogues of answers: ``RIGHT = {exercise: [fn, ...]}`` (every check
passes them) and ``WRONG = {exercise: [(fn, {check names}), ...]}`` or ``{exercise: {name: fn}}``
(they lose points: at least one of the named checks fails, or any check when none is named).
"""

from __future__ import annotations

import pytest

import autograder
from autograder import reference as ref


class Lab:
    """One lab's checks: ``LAB = Lab("lab03")``, then ``LAB.ids(exercise)``, ``LAB.failures(exercise, fn)``,
    ``LAB.assert_loses_points(...)``, ``LAB.assert_quiet(...)``."""

    def __init__(self, lab: str):
        self.lab = lab

    def ids(self, exercise: str) -> list[str]:
        return autograder.check_ids(self.lab, exercise)

    def failures(self, exercise: str, fn) -> list[str]:
        return autograder.failed_checks(self.lab, exercise, fn)

    def assert_loses_points(self, exercise: str, fn, must_fail: set[str] | None = None) -> None:
        assert_loses_points(self.lab, exercise, fn, must_fail)

    def assert_quiet(self, capfd, right: dict | None = None, wrong: dict | None = None) -> None:
        assert_checks_are_quiet(capfd, self.lab, right, wrong)

    def catalogue_tests(self, right: dict, wrong: dict):
        """The two tests of a lab's catalogues, to bind at module level in its test file: every right
        answer passes every check of its exercise, every wrong one loses points."""

        @pytest.mark.parametrize("exercise, fn", right_answer_cases(right))
        def test_right_answers_pass_every_check(exercise, fn):
            assert self.failures(exercise, fn) == []

        @pytest.mark.parametrize("exercise, fn, must_fail", wrong_answer_cases(wrong))
        def test_wrong_answers_lose_points(exercise, fn, must_fail):
            self.assert_loses_points(exercise, fn, must_fail)

        return test_right_answers_pass_every_check, test_wrong_answers_lose_points


def message(check_id: str, fn) -> str:
    """The message of the AssertionError that ``fn`` earns on ``check_id`` (it must fail)."""
    with pytest.raises(AssertionError) as info:
        autograder.check(check_id, fn)
    return str(info.value)


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def right_answer_cases(right: dict) -> list:
    """``{exercise: [fn, ...]}`` as pytest params ``(exercise, fn)``."""
    return [pytest.param(ex, fn, id=f"{ex}-{_name(fn)}") for ex, fns in right.items() for fn in fns]


def _wrong_items(cases) -> list[tuple[str, object, set[str] | None]]:
    if isinstance(cases, dict):
        return [(name, fn, None) for name, fn in cases.items()]
    return [(_name(fn), fn, must) for fn, must in cases]


def wrong_answer_cases(wrong: dict) -> list:
    """``{exercise: [(fn, {check names}), ...] or {name: fn}}`` as pytest params ``(exercise, fn, must_fail)``."""
    return [
        pytest.param(ex, fn, must, id=f"{ex}-{name}")
        for ex, cases in wrong.items()
        for name, fn, must in _wrong_items(cases)
    ]


def assert_loses_points(lab: str, exercise: str, fn, must_fail: set[str] | None = None) -> None:
    """``fn`` fails at least one check of ``exercise``; one of ``must_fail`` when it is given."""
    failed = {cid.rsplit(".", 1)[-1] for cid in autograder.failed_checks(lab, exercise, fn)}
    if must_fail is None:
        assert failed, f"{_name(fn)} passed every check of {exercise}"
    else:
        assert failed & must_fail, f"{_name(fn)} failed only {sorted(failed)}; expected one of {sorted(must_fail)}"


def assert_checks_are_quiet(capfd, lab: str, right: dict | None = None, wrong: dict | None = None) -> None:
    """Every check of ``lab`` passes the reference and the ``right`` answers of its exercise, and
    passes or fails the ``wrong`` ones, without a byte on stdout or stderr (even when the answers
    print or warn)."""
    for cid, entry in autograder.all_checks(lab).items():
        for fn in [getattr(ref, entry.exercise), *(right or {}).get(entry.exercise, ())]:
            autograder.check(cid, fn)
        for _, fn, _ in _wrong_items((wrong or {}).get(entry.exercise, ())):
            try:
                autograder.check(cid, fn)
            except AssertionError:
                pass
        out, err = capfd.readouterr()
        assert (out, err) == ("", ""), cid
