"""The markers of tests/conftest.py: registered, and naming files, tests and fixtures that exist."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import conftest
import pytest

TESTS = Path(__file__).resolve().parent
MARKERS = {"slow", "browser", "root", "notebook"}


def _defined(file: str) -> set[str]:
    """Names of the functions (tests and fixtures) defined at the top of ``file``."""
    tree = ast.parse((TESTS / file).read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_markers_are_registered_and_strict():
    options = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    assert {m.split(":")[0].strip() for m in options["markers"]} == MARKERS


@pytest.mark.parametrize("table", ["FILE_MARKS", "TEST_MARKS", "FIXTURE_MARKS"])
def test_every_entry_names_something_that_exists(table):
    entries = getattr(conftest, table)
    assert entries
    for key, marks in entries.items():
        file, name = (key, None) if isinstance(key, str) else key
        assert (TESTS / file).is_file(), f"{table}: no tests/{file}"
        assert name is None or name in _defined(file), f"{table}: tests/{file} defines no {name}()"
        assert marks and set(marks) <= MARKERS, f"{table}[{key!r}]: {marks}"


class _Item:
    """What the hook reads of a collected test."""

    def __init__(self, file, name, fixtures=(), marks=()):
        self.fspath, self.name, self.originalname = TESTS / file, name, name.split("[")[0]
        self.fixturenames, self.marks = list(fixtures), list(marks)

    def iter_markers(self):
        return iter(self.marks)

    def add_marker(self, mark):
        self.marks.append(mark.mark)


def _marks_of(*args, **kwargs) -> list[str]:
    item = _Item(*args, **kwargs)
    conftest.pytest_collection_modifyitems(None, [item])
    return sorted(m.name for m in item.marks)


def test_the_hook_marks_by_file_test_and_fixture():
    assert _marks_of("test_classroom.py", "test_anything") == ["notebook", "root", "slow"]
    assert _marks_of("test_grading.py", "test_a_job_past_its_wall_clock_limit_is_stopped") == ["notebook"]
    assert _marks_of("test_grading.py", "test_report_and_table", ["graded", "tmp_path"]) == ["notebook", "slow"]
    assert _marks_of("test_browser.py", "test_release_notebook_as_a_student[02_iris_vae]", ["page"]) == [
        "browser",
        "notebook",
        "slow",
    ]
    assert _marks_of("test_browser.py", "test_aelab_lab_command_serves_the_course", ["course"]) == []
    assert _marks_of("test_bench.py", "test_resplit_script_writes_files_that_load_mnist_reads") == ["slow"]
    assert _marks_of("test_bench.py", "test_fast_run_schema_and_ranges", ["fast_run"]) == []
    # a mark the test carries itself is not added twice
    assert _marks_of("test_grading.py", "test_x", marks=[pytest.mark.notebook.mark]) == ["notebook"]
