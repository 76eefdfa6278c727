"""pytest graders: ``pytest autograder --submission NOTEBOOK [--submission ...]``.

A submission is graded by the course's grading engine (:func:`aelab.course.engine.run_job`), as
``aelab check`` and ``aelab grade`` grade it: the notebook runs in the sandbox, each check runs here
against the learner's functions in the kernel, and each test below reports one check's verdict.
Without ``--submission`` the reference implementations are graded (a self-test of the graders).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--submission", action="append", default=[], help="a learner's notebook to grade (repeatable)")
    parser.addoption("--cell-timeout", type=int, default=None, help="seconds a cell may run (default: the course's)")
    parser.addoption(
        "--sandbox",
        default="auto",
        choices=("auto", "root", "user", "none"),
        help="how the notebook is isolated (auto: the strongest this machine has)",
    )


def pytest_generate_tests(metafunc):
    if "check_id" not in metafunc.fixturenames:
        return
    from aelab.course import registry
    from autograder.core import LABS, all_checks

    paths = metafunc.config.getoption("submission")
    targets = [(str(Path(p)), registry.assignment_of(Path(p)).lab) for p in paths] or [
        ("reference", lab) for lab in LABS
    ]
    params, ids = [], []
    for source, lab in targets:
        for check_id in all_checks(lab):
            params.append((source, check_id))
            ids.append(f"{Path(source).parent.name}/{Path(source).stem}::{check_id}" if paths else check_id)
    metafunc.parametrize("source, check_id", params, ids=ids)


_JOBS: dict[str, object] = {}


@pytest.fixture
def verdict(request, source, check_id):
    """(passed, message) of ``check_id`` on the submission ``source`` (or on the reference)."""
    if source == "reference":
        import autograder
        import autograder.reference as reference

        try:
            autograder.check(check_id, getattr(reference, check_id.split(".")[1]))
        except AssertionError as exc:
            return False, str(exc) or "failed"
        return True, ""
    from aelab.course import engine, registry

    if source not in _JOBS:
        path = Path(source)
        spec = engine.job_from_paths(
            path,
            registry.assignment_of(path).name,
            sandbox=request.config.getoption("sandbox"),
            cell_timeout=request.config.getoption("cell_timeout"),
        )
        _JOBS[source] = engine.run_job(spec)
    result = _JOBS[source]
    for cell in result.cells:
        for check in cell.checks:
            if check.id == check_id:
                return check.passed, check.message
    cell = next((c for c in result.cells if check_id in _checks_of_cell(result, c.grade_id)), None)
    why = (cell.message if cell is not None and cell.message else "") or "; ".join(result.reasons)
    return False, f"the check did not run ({result.status}){': ' + why if why else ''}"


def _checks_of_cell(result, grade_id: str) -> list[str]:
    import nbformat

    from aelab.course.engine import CHECK_CALL

    nb = nbformat.reads(result.notebook, as_version=4) if result.notebook else None
    for c in nb.cells if nb else []:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return [check_id for check_id, _ in CHECK_CALL.findall(c.source)]
    return []
