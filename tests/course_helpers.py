"""Shared helpers of the course tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aelab.course import registry

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = registry.names()
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def notebooks(folder: str) -> list[tuple[str, Path]]:
    return [(a, p) for a in ASSIGNMENTS for p in sorted((ROOT / folder / a).glob("*.ipynb"))]


SOURCES = notebooks("source")
IDS = [p.stem for _, p in SOURCES]


def validator(invert: bool = False):
    from nbgrader.validator import Validator

    from aelab.course._env import tools_on_path
    from aelab.course.config import nbgrader_config

    tools_on_path()
    return Validator(config=nbgrader_config(ROOT, timeout=300), invert=invert)


def tree_hash(folder: Path) -> str:
    """One digest of every file's path and bytes under ``folder`` (bytecode caches left out)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
