"""Helpers shared by the graders' fairness tests (tests/test_grader_lab0*.py)."""

from __future__ import annotations

import pytest

import autograder


def message(check_id: str, fn) -> str:
    """The message of the AssertionError that ``fn`` earns on ``check_id`` (it must fail)."""
    with pytest.raises(AssertionError) as info:
        autograder.check(check_id, fn)
    return str(info.value)


def wrong_answer_cases(wrong: dict) -> list:
    """``{exercise: [(fn, {check names it must fail, one at least}), ...]}`` as pytest params."""
    return [pytest.param(ex, fn, must, id=f"{ex}-{fn.__name__}") for ex, cases in wrong.items() for fn, must in cases]


def assert_loses_points(lab: str, exercise: str, fn, must_fail: set[str]) -> None:
    failed = {cid.rsplit(".", 1)[-1] for cid in autograder.failed_checks(lab, exercise, fn)}
    assert failed & must_fail, f"{fn.__name__} failed only {sorted(failed)}; expected one of {sorted(must_fail)}"
