"""What every check of every lab must do, whatever the exercise."""

import pytest

import autograder
from autograder.core import LABS

ALL_CHECKS = [cid for lab in LABS for cid in autograder.all_checks(lab)]


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_an_unfilled_stub_is_reported_as_not_implemented(check_id):
    with pytest.raises(AssertionError, match="not implemented"):
        autograder.check(check_id, _stub)


@pytest.mark.parametrize("check_id", ALL_CHECKS)
def test_a_non_function_is_reported(check_id):
    with pytest.raises(AssertionError, match="must be a function"):
        autograder.check(check_id, 42)


def test_every_exercise_has_several_checks():
    for lab in LABS:
        exercises = {c.exercise for c in autograder.all_checks(lab).values()}
        assert len(exercises) >= 2, lab
        for exercise in exercises:
            assert len(autograder.check_ids(lab, exercise)) >= 3, (lab, exercise)
