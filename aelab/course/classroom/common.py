"""What every part of ``aelab class`` shares: its error and the deploy/ templates."""

from __future__ import annotations

from pathlib import Path
from string import Template


class ClassError(RuntimeError):
    """A step of the class workflow failed; the message says what to do."""


def deploy_dir() -> Path:
    here = Path(__file__).resolve().parents[3] / "deploy"
    if not (here / "nbgrader_config.student.py").is_file():
        raise ClassError(f"cannot find the deploy/ templates next to the aelab package ({here})")
    return here


def render(template: str, **values: str) -> str:
    return Template((deploy_dir() / template).read_text()).substitute(values)
