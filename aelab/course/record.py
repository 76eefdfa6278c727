"""Write the engine's results into an nbgrader gradebook, with nbgrader's own code.

The engine's graded notebooks carry each graded cell's trusted verdict as its only scored output.
:func:`record` puts them where nbgrader's autograde looks for submissions and runs it with
execution off (as ``--no-execute``): nbgrader restores the locked cells from its gradebook, scores
each graded cell from its outputs and saves the grades. Only this process writes the gradebook.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

from .config import nbgrader_config

__all__ = ["record", "scratch_course", "feedback_html", "gradebook_scores"]


def _scratch_key(root: Path, assignments, timeout: int | None) -> str:
    """What a generated scratch course depends on: nbgrader, the course's config, the source folders."""
    import hashlib

    import nbgrader

    from .. import tasks
    from . import config

    digest = hashlib.sha256()
    digest.update(f"{nbgrader.__version__}|{config.cell_timeout(timeout)}|".encode())
    digest.update(Path(config.__file__).read_bytes())
    digest.update(Path(tasks.__file__).read_bytes())  # the prose's numbers (generate_assignment fills them in)
    for a in sorted(assignments):
        folder = Path(root) / "source" / a
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not {".ipynb_checkpoints", "__pycache__"} & set(path.parts):
                digest.update(f"{a}/{path.relative_to(folder)}|".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "aelab" / "scratch-courses"


def scratch_course(root: Path, assignments, *, timeout: int | None = None) -> Path:
    """A private course directory (0700, outside any output folder) with the assignments generated.

    nbgrader's generate_assignment takes about 5 s per assignment; its result depends only on the
    source folders and the config, so it is kept in the instructor's cache
    (``~/.cache/aelab/scratch-courses``, 0700) and copied for the next grading run."""
    from nbgrader.apps import NbGraderAPI

    from ._env import tools_on_path

    tools_on_path()
    course = Path(tempfile.mkdtemp(prefix="aelab-course-"))
    course.chmod(0o700)
    cached = _cache_dir() / _scratch_key(root, assignments, timeout)
    if (cached / "gradebook.db").is_file():
        shutil.copytree(cached, course, dirs_exist_ok=True)
        return course
    api = NbGraderAPI(config=nbgrader_config(course, timeout=timeout))
    for a in assignments:
        shutil.copytree(
            Path(root) / "source" / a,
            course / "source" / a,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
        result = api.generate_assignment(a, force=True, create=True)
        if not result.get("success"):
            raise RuntimeError(f"generate_assignment failed for {a}:\n{result.get('log')}")
    try:  # into the cache, atomically (a half-written copy is never used)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.parent.parent.chmod(0o700)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cached.parent))
        shutil.copytree(course, staging, dirs_exist_ok=True)
        staging.rename(cached)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True) if "staging" in locals() else None
    return course


def record(
    course: Path,
    graded: dict[tuple[str, str], str],
    notebook_names: dict[str, str],
    config=None,
    folders: dict[tuple[str, str], Path] | None = None,
) -> dict:
    """Save ``{(student, assignment): graded notebook JSON}`` into the course's gradebook.

    ``folders``: each submission's folder; its other files (``timestamp.txt``, nbgrader's submission
    time, and any file the student handed in) go along, as nbgrader's own autograde does.

    Returns ``{(student, assignment): error}`` for the ones nbgrader refused (none, normally).
    """
    from nbgrader.apps import NbGraderAPI

    from ._env import tools_on_path

    tools_on_path()
    course = Path(course)
    executed = Path(tempfile.mkdtemp(prefix="executed-", dir=course))
    for (student, assignment), text in graded.items():
        target = executed / student / assignment / f"{notebook_names[assignment]}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        folder = (folders or {}).get((student, assignment))
        for extra in sorted(Path(folder).rglob("*")) if folder is not None else []:
            if extra.is_file() and not extra.is_symlink() and extra.suffix != ".ipynb":
                dest = target.parent / extra.relative_to(folder)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(extra, dest)
    cfg = config if config is not None else nbgrader_config(course)
    cfg.CourseDirectory.submitted_directory = executed.name
    cfg.Execute.enabled = False
    cfg.ClearOutput.enabled = False
    api = NbGraderAPI(config=cfg)
    failures = {}
    for student, assignment in graded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's session warnings inside nbgrader: noise, not news
            result = api.autograde(assignment, student, force=True, create=True)
        if not result.get("success"):
            failures[student, assignment] = (result.get("error") or result.get("log") or "")[-2000:]
    shutil.rmtree(executed, ignore_errors=True)
    return failures


def feedback_html(course: Path, keys, config=None) -> dict[tuple[str, str], list[Path]]:
    """Generate nbgrader's feedback (hidden tests removed) for ``(student, assignment)`` keys."""
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=config if config is not None else nbgrader_config(course))
    keys = list(keys)
    recorded = {}
    for student, assignment in keys:
        recorded.setdefault(assignment, set()).add(student)
    for assignment in recorded:  # one run per assignment: nbconvert compiles its templates once
        autograded = Path(course) / "autograded"
        everyone = {p.name for p in autograded.iterdir() if (p / assignment).is_dir()} if autograded.is_dir() else set()
        if everyone == recorded[assignment]:
            api.generate_feedback(assignment, force=True)
        else:
            for student in sorted(recorded[assignment]):
                api.generate_feedback(assignment, student, force=True)
    return {(s, a): sorted((Path(course) / "feedback" / s / a).glob("*.html")) for s, a in keys}


def gradebook_scores(course: Path, keys, db_url: str | None = None) -> dict[tuple[str, str], dict]:
    """``{(student, assignment): {score, max_score, cells: {grade_id: score}}}`` from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(db_url or f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        for student, assignment in keys:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            cells = {g.name: float(g.score) for nb in sub.notebooks for g in nb.grades if g.max_score}
            out[student, assignment] = {
                "score": float(sub.score),
                "max_score": float(sub.max_score),
                "cells": cells,
                "timestamp": sub.timestamp.isoformat(sep=" ") if sub.timestamp else "",
                "seconds_late": float(sub.total_seconds_late or 0.0),
                "penalty": float(sub.late_submission_penalty or 0.0),
            }
    return out
