"""Process environment helpers."""

from __future__ import annotations

import os
import sys


def tools_on_path() -> None:
    """Put this interpreter's bin/ first on PATH.

    nbgrader and jupyter start helper programs by name (``alembic`` for the gradebook, kernels), and
    they must come from the same environment as aelab, also when aelab is used without activating
    its virtual environment (``.venv/bin/python -m pytest``).
    """
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[:1] != [bindir]:
        os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in parts if p and p != bindir])
