"""The course's own trained weights for grading: no network is trained while a notebook is graded.

A lab that trains through :func:`aelab.fit_or_load` saves its weights under ``$AELAB_CHECKPOINTS``.
While grading, that folder is a read-only copy of the weights the instructor's source notebook
trained in fast mode (the mode grading runs in), so the learner's kernel loads them instead of
training. :func:`aelab.fit_or_load` loads a checkpoint only when it was trained on the same data,
model and settings; a notebook that changed them trains, as it would at home.

The copies live in the grader's cache (``$AELAB_GRADING_CACHE``, default
``~/.cache/aelab/grading-checkpoints/<assignment>-<key>/``), keyed by the SHA-256 of the source
notebook, the library's code and torch's version: a changed lesson or library makes new ones.
``aelab build`` stores them as it executes the solutions; a grading machine without them (a Dask
worker, a fresh clone) makes them once, by executing the source notebook in fast mode
(``python -m aelab.course.checkpoints SOURCE FOLDER``), under a lock shared by all the jobs of
the machine. Nothing here is secret: they are the weights a learner's own fast run would save.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["cache_root", "key", "folder_for", "ensure", "store", "uses_checkpoints"]

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """Where the grading checkpoints are kept (``$AELAB_GRADING_CACHE``, default in ~/.cache/aelab)."""
    env = os.environ.get("AELAB_GRADING_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aelab" / "grading-checkpoints"


def _library_files() -> list[Path]:
    lib = Path(__file__).resolve().parents[1]  # aelab/: the code a notebook's training runs
    return sorted(p for p in lib.glob("*.py"))


def key(source: bytes) -> str:
    """SHA-256 of what the weights depend on: the source notebook, the library's code, torch's version."""
    import torch

    h = hashlib.sha256(source)
    for p in _library_files():
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def uses_checkpoints(source: bytes) -> bool:
    return b"fit_or_load" in source


def folder_for(assignment: str, source: bytes) -> Path:
    return cache_root() / f"{assignment}-{key(source)[:20]}"


def _ready(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def store(assignment: str, source: bytes, trained: Path) -> Path | None:
    """Keep the ``*.pt``/``*.json`` weights of ``trained`` (a fast-mode run of ``source``) as the grading copy."""
    if not uses_checkpoints(source):
        return None
    folder = folder_for(assignment, source)
    if _ready(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    names = []
    for p in sorted(Path(trained).glob("*")):
        if p.is_file() and p.suffix in (".pt", ".json"):
            shutil.copy(p, tmp / p.name)
            (tmp / p.name).chmod(0o644)
            names.append(p.name)
    (tmp / MANIFEST).write_text(json.dumps({"assignment": assignment, "key": key(source), "files": names}, indent=1))
    (tmp / MANIFEST).chmod(0o644)
    tmp.chmod(0o755)
    try:
        os.rename(tmp, folder)
    except OSError:  # another job stored them first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def ensure(assignment: str, source: bytes, *, timeout: int = 900) -> tuple[Path | None, str]:
    """(folder, note): the grading copy of ``assignment``'s weights, made now if this machine lacks it.

    ``folder`` is None when the lab trains nothing through :func:`aelab.fit_or_load`, or when the
    weights could not be made (``note`` says why; the notebook then trains while it is graded)."""
    if not uses_checkpoints(source):
        return None, ""
    folder = folder_for(assignment, source)
    if _ready(folder):
        return folder, ""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{assignment}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one job of the machine makes them; the others wait, then use them
        if _ready(folder):
            return folder, ""
        with tempfile.TemporaryDirectory(prefix="aelab-weights-") as tmp:
            nb = Path(tmp) / f"{assignment}.ipynb"
            nb.write_bytes(source)
            out = Path(tmp) / "weights"
            proc = subprocess.run(
                [sys.executable, "-m", "aelab.course.checkpoints", str(nb), str(out)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                return None, f"the course's weights could not be made ({tail[0][:200]}): the notebook trained"
            return store(assignment, source, out), "the course's weights were made for this version of the lab"


def main(argv: list[str] | None = None) -> int:
    """``python -m aelab.course.checkpoints SOURCE FOLDER``: run SOURCE in fast mode, keep its weights in FOLDER."""
    from .build import execute_notebook

    source, folder = (argv or sys.argv[1:])[:2]
    execute_notebook(Path(source), checkpoints_to=Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
