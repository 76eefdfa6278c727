"""nbgrader validate: every source notebook executes in fast mode and validates; every untouched
release notebook fails validation (its exercises are real)."""

from __future__ import annotations

import json
import shutil

import pytest
from course_helpers import IDS, ROOT, SOURCES, validator


@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_source_executes_and_validates(assignment, path, tmp_path, monkeypatch):
    """nbgrader validate executes the notebook (fast mode, NBGRADER_EXECUTION=validate)."""
    monkeypatch.setenv("AELAB_CHECKPOINTS", str(tmp_path / "ckpt"))
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    results = validator().validate(str(copy))
    assert not results.get("failed"), json.dumps(results.get("failed"), indent=1)[:3000]
    assert not results.get("type_changed") and not results.get("changed"), results


@pytest.mark.parametrize("assignment, path", SOURCES, ids=IDS)
def test_release_fails_validation(assignment, path, tmp_path, monkeypatch):
    """The exercises are real: a student notebook with nothing filled in does not validate."""
    monkeypatch.setenv("AELAB_CHECKPOINTS", str(tmp_path / "ckpt"))
    copy = tmp_path / path.name
    shutil.copy(ROOT / "release" / assignment / path.name, copy)
    results = validator().validate(str(copy))
    assert results.get("failed"), "the untouched release passed validation"
    assert all(
        "NotImplementedError" in f["raw_error"] or "AssertionError" in f["raw_error"] or "NameError" in f["raw_error"]
        for f in results["failed"]
    ), results["failed"][:2]
