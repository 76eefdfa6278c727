"""nbgrader's round trip in a scratch course: generate_assignment, then autograde the solutions
(full marks) and the untouched release (zero on every exercise, without crashing the run)."""

from __future__ import annotations

import shutil

import pytest
from course_helpers import ASSIGNMENTS, ROOT


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A scratch course: generate_assignment, then autograde two students per assignment:
    'solver' submits the source (solutions), 'blank' submits the untouched release."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    from aelab.course._env import tools_on_path
    from aelab.course.config import nbgrader_config

    tools_on_path()
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", course / "source")
    api = NbGraderAPI(config=nbgrader_config(course, timeout=300))
    scores = {}
    for a in ASSIGNMENTS:
        result = api.generate_assignment(a, force=True, create=True)
        assert result["success"], result.get("log")
        for student, origin in (("solver", course / "source" / a), ("blank", course / "release" / a)):
            target = course / "submitted" / student / a
            target.mkdir(parents=True)
            for nb in origin.glob("*.ipynb"):
                shutil.copy(nb, target / nb.name)
            result = api.autograde(a, student, force=True, create=True)
            assert result["success"], result.get("log")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for a in ASSIGNMENTS:
            for student in ("solver", "blank"):
                sub = gb.find_submission(a, student)
                scores[a, student] = (
                    sub.score,
                    sub.max_score,
                    {g.name: g.score for nb in sub.notebooks for g in nb.grades if g.max_score},
                )
    return scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_autograde_to_full_marks(graded_course, assignment):
    score, max_score, per_cell = graded_course[assignment, "solver"]
    assert max_score > 0
    lost = {k: v for k, v in per_cell.items() if v == 0}
    assert score == max_score, f"cells that lost points: {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_autogrades_to_zero(graded_course, assignment):
    score, max_score, per_cell = graded_course[assignment, "blank"]
    assert max_score == graded_course[assignment, "solver"][1]
    assert score == 0, f"cells that gave points to an empty submission: { {k: v for k, v in per_cell.items() if v} }"
