"""Every registered check, on the learner's functions (graded by the engine) or the reference (see conftest.py)."""

import pytest


def test_check(check_id, verdict):
    passed, message = verdict
    if not passed:
        pytest.fail(f"{check_id}: {message}", pytrace=False)
