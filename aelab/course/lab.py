"""``aelab lab``: JupyterLab on the course, as students and instructors meet it.

The server runs

- bound to 127.0.0.1 with a token, never opening a browser itself;
- with the course directory as its working directory, so nbgrader (the formgrader and the
  assignment list inside JupyterLab) loads the course's ``nbgrader_config.py``;
- with this environment's ``python3`` kernel: ``JUPYTER_PATH`` names this environment's
  ``share/jupyter`` first, so a ``python3`` kernelspec in the user's home cannot shadow it, and the
  kernelspec's ``python`` is resolved by jupyter_client to this interpreter;
- with ``AELAB_FAST=1`` in the environment the kernels inherit when ``--fast`` is given.

From Python (the browser tests)::

    with running_lab(root, port=free_port(), token="t", env=lab_env(fast=True)) as lab:
        lab.url("lab/tree/release")  # http://127.0.0.1:PORT/lab/tree/release?token=t
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8888


# ------------------------------------------------------------------------------------------ helpers
def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = HOST) -> int:
    """``preferred`` when it is free, else a port the OS hands out on ``host``."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def course_dir() -> Path:
    from aelab.course.registry import course_root

    return course_root()


def lab_env(fast: bool = False, base: dict | None = None) -> dict[str, str]:
    """The environment of the server, which every kernel it starts inherits.

    Drops what would make a notebook behave unlike a student's JupyterLab: a non-inline
    ``MPLBACKEND`` (the tests set Agg: figures would never show) and nbgrader's
    ``NBGRADER_EXECUTION`` marker (it switches fast mode on).
    """
    env = dict(os.environ if base is None else base)
    env.pop("MPLBACKEND", None)
    env.pop("NBGRADER_EXECUTION", None)
    bindir = str(Path(sys.executable).parent)
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]
    env["PATH"] = os.pathsep.join([bindir] + parts)
    share = str(Path(sys.prefix) / "share" / "jupyter")
    jpath = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != share]
    env["JUPYTER_PATH"] = os.pathsep.join([share] + jpath)
    env["PYTHONUNBUFFERED"] = "1"
    if fast:
        env["AELAB_FAST"] = "1"
    return env


def server_argv(root: Path, port: int, token: str, extra: list[str] | None = None) -> list[str]:
    """The ``jupyter lab`` command line (run it with the course directory as cwd)."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        # offline: no request to the JupyterLab news feed or the update check
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        *(extra or []),
    ]


@dataclass
class LabServer:
    """A running server: its process, where it answers and how to address it."""

    process: subprocess.Popen
    root: Path
    course: Path
    port: int
    token: str
    log_path: Path | None = None
    env: dict = field(default_factory=dict, repr=False)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def url(self, path: str = "lab") -> str:
        """``http://127.0.0.1:PORT/<path>?token=...``"""
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, timeout: float = 10.0):
        """GET ``/api/<path>`` (or any server path) and decode its JSON."""
        req = urllib.request.Request(self.base + path.lstrip("/"), headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode())

    def log(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.process.returncode} before answering.\n{server.log()[-4000:]}"
            )
        try:
            server.api("api/status", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise TimeoutError(
        f"JupyterLab did not answer /api/status within {timeout:.0f} s ({last}).\n{server.log()[-4000:]}"
    )


def _stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGINT twice (JupyterLab's own clean shutdown: kernels too), then SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 0.3), (signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait(10)


def start_lab(
    root: Path | None = None,
    port: int | None = None,
    token: str | None = None,
    env: dict | None = None,
    *,
    course: Path | None = None,
    log_path: Path | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 90.0,
) -> LabServer:
    """Start JupyterLab and wait (at most ``timeout`` s) until ``/api/status`` answers.

    ``course`` (the nbgrader course directory, the server's cwd) defaults to ``env``'s
    ``AELAB_COURSE_DIR``, else ``root`` when it holds an ``nbgrader_config.py``, else this checkout.
    ``root`` (what JupyterLab shows) defaults to the course; the course must lie inside it.
    """
    if course is None:
        if (env or {}).get("AELAB_COURSE_DIR"):
            course = Path(env["AELAB_COURSE_DIR"])
        elif root is not None and (Path(root) / "nbgrader_config.py").is_file():
            course = Path(root)  # a course directory of its own (e.g. a scratch copy)
        else:
            course = course_dir()
    course = Path(course).resolve()
    root = Path(root or course).resolve()
    try:
        course.relative_to(root)
    except ValueError:
        raise ValueError(
            f"the course directory {course} must lie inside the server's root {root}: "
            "nbgrader's formgrader cannot work otherwise"
        ) from None
    port = port or free_port(DEFAULT_PORT)
    token = token or secrets.token_hex(24)
    env = dict(env if env is not None else lab_env())
    env["AELAB_COURSE_DIR"] = str(course)  # nbgrader_config.py reads it
    out = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        process = subprocess.Popen(
            server_argv(root, port, token, extra_args),
            cwd=course,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        if log_path:
            out.close()
    server = LabServer(process, root, course, port, token, Path(log_path) if log_path else None, env)
    try:
        _wait_until_up(server, timeout)
    except BaseException:
        _stop(process)
        raise
    return server


@contextlib.contextmanager
def running_lab(
    root: Path | None = None, port: int | None = None, token: str | None = None, env: dict | None = None, **kwargs
):
    """Context manager: a started JupyterLab (see :func:`start_lab`), stopped cleanly on exit."""
    server = start_lab(root, port, token, env, **kwargs)
    try:
        yield server
    finally:
        _stop(server.process)


# ---------------------------------------------------------------------------------------------- CLI
def run(args) -> int:
    course = course_dir()
    env = lab_env(fast=args.fast)
    env.setdefault("AELAB_COURSE_DIR", str(course))
    port = args.port or free_port(DEFAULT_PORT)
    if args.port and not port_is_free(args.port):
        print(f"aelab lab: port {args.port} on {HOST} is in use", file=sys.stderr)
        return 1
    token = args.token or secrets.token_hex(24)
    root = (args.root or course).resolve()
    # The server's output goes to this terminal; it logs its own URLs too.
    process = None
    try:
        try:
            course.relative_to(root)
        except ValueError:
            print(f"aelab lab: the course directory {course} must lie inside --root {root}", file=sys.stderr)
            return 2
        process = subprocess.Popen(server_argv(root, port, token), cwd=course, env=env, stdin=subprocess.DEVNULL)
        server = LabServer(process, root, course, port, token, None, env)
        try:
            _wait_until_up(server, args.timeout)
        except (RuntimeError, TimeoutError) as exc:
            print(f"aelab lab: {exc}", file=sys.stderr)
            return 1
        print(f"\naelab lab: JupyterLab on {root} (course {course}){' in fast mode' if args.fast else ''}")
        print(f"    {server.url('lab')}")
        print(f"    formgrader: {server.url('formgrader')}")
        print("Stop with Ctrl-C.\n", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if process is not None:
            _stop(process)
