"""Every registered check, run against the learner's function (see conftest.py)."""

import pytest

import autograder


def test_check(check_id, learner_function):
    try:
        autograder.check(check_id, learner_function)
    except AssertionError as exc:
        pytest.fail(str(exc), pytrace=False)
