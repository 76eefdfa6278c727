"""pytest graders: ``pytest autograder --submission NOTEBOOK [--submission ...]``.

Without ``--submission`` the reference implementations are graded (a self-test of the graders).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--submission", action="append", default=[], help="a learner's notebook to grade (repeatable)")
    parser.addoption("--cell-timeout", type=int, default=60, help="seconds a solution cell may run")


def pytest_generate_tests(metafunc):
    if "check_id" not in metafunc.fixturenames:
        return
    from autograder.core import LABS, all_checks
    from autograder.submission import lab_of

    paths = metafunc.config.getoption("submission")
    targets = [(str(Path(p)), lab_of(Path(p))) for p in paths] or [("reference", lab) for lab in LABS]
    params, ids = [], []
    for source, lab in targets:
        for check_id in all_checks(lab):
            params.append((source, check_id))
            ids.append(f"{Path(source).stem}::{check_id}")
    metafunc.parametrize("source, check_id", params, ids=ids)


_CACHE: dict[str, tuple[dict, dict]] = {}


@pytest.fixture
def learner_function(request, source, check_id):
    """The function that ``check_id`` grades, from the submission (or the reference)."""
    exercise = check_id.split(".")[1]
    if source == "reference":
        import autograder.reference as reference

        return getattr(reference, exercise)
    from autograder.submission import load_functions

    if source not in _CACHE:
        _CACHE[source] = load_functions(Path(source), timeout=request.config.getoption("cell_timeout"))
    namespace, problems = _CACHE[source]
    if exercise in problems:
        pytest.fail(problems[exercise], pytrace=False)
    if exercise not in namespace:
        pytest.fail(f"the notebook defines no function {exercise}", pytrace=False)
    return namespace[exercise]
