"""Shared helpers of the course tests."""

from __future__ import annotations

from pathlib import Path

from aelab import build

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = build.ASSIGNMENTS
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def notebooks(folder: str) -> list[tuple[str, Path]]:
    return [(a, p) for a in ASSIGNMENTS for p in sorted((ROOT / folder / a).glob("*.ipynb"))]


SOURCES = notebooks("source")
IDS = [p.stem for _, p in SOURCES]


def validator(invert: bool = False):
    from nbgrader.validator import Validator
    from traitlets.config import Config

    from aelab._env import tools_on_path

    tools_on_path()
    config = Config()
    config.Execute.timeout = 300
    return Validator(config=config, invert=invert)
