"""Shared helpers of the course tests."""

from __future__ import annotations

import hashlib
import queue
import subprocess
import threading
import time
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


def aelab_lab(args: list[str], env: dict, ignore_sigint: bool = False) -> tuple[subprocess.Popen, queue.Queue]:
    """``python -m aelab.course.cli lab ARGS`` started, its stdout read line by line into a queue
    (``ignore_sigint``: started with SIGINT ignored, as a script's background job is)."""
    import signal
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "aelab.course.cli", "lab", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    return proc, lines


def wait_for_lab_url(proc, lines: queue.Queue, port: int, token: str, printed: list[str], timeout: float = 180) -> None:
    """Read ``lines`` into ``printed`` until ``aelab lab`` prints its URL; fail with what it printed."""
    url, deadline = None, time.monotonic() + timeout
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        printed.append(line)
        if f"/lab?token={token}" in line:
            url = line.strip()
    assert url == f"http://127.0.0.1:{port}/lab?token={token}", f"no URL printed: {''.join(printed)!r}"
