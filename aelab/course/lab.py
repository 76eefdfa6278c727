"""``aelab lab``: JupyterLab as students and instructors meet it.

Two modes:

- **student** (the default): the server's root is the student's workspace
  (:mod:`aelab.course.workspace`, ``$AELAB_WORKSPACE``, default ``~/aelab-work``), made from
  ``release/`` when files are missing there (a file that exists is never replaced). The rest of the
  checkout (source/, solutions/, autograder/, the gradebook) is outside the root, so neither the
  file browser nor the contents API nor ``files/`` URLs reach it. nbgrader's formgrader and
  course-list server extensions are off (on the command line, so no user config turns them back
  on), and so are its formgrader, create-assignment and course-list JupyterLab plugins (a
  ``labconfig/page_config.json`` on ``JUPYTER_CONFIG_PATH`` for this server only); the assignment
  list and validate button, which a classroom's students use, stay.
- **instructor** (``--instructor``): the course directory is the root and the working directory,
  so nbgrader (the formgrader, the assignment list inside JupyterLab) loads the course's
  ``nbgrader_config.py``.

In both, the server runs

- bound to 127.0.0.1 with a token, never opening a browser itself;
- with this environment's ``python3`` kernel: ``JUPYTER_PATH`` names this environment's
  ``share/jupyter`` first, so a ``python3`` kernelspec in the user's home cannot shadow it, and the
  kernelspec's ``python`` is resolved by jupyter_client to this interpreter;
- with ``AELAB_FAST=1`` in the environment the kernels inherit when ``--fast`` is given;
- until Ctrl-C, SIGTERM or SIGHUP, which stop JupyterLab (and its kernels) before ``aelab lab`` exits.

From Python (the browser tests)::

    with running_lab(workspace, student=True, port=free_port(), token="t", env=lab_env(fast=True)) as lab:
        lab.url("lab/tree/03_mnist_outlier_lab")  # http://127.0.0.1:PORT/lab/tree/...?token=t
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
    """The ``jupyter lab`` command line (run it with the course directory, or the workspace, as cwd)."""
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


# ------------------------------------------------------------------------------- the student's mode
def student_disabled() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(server extensions, JupyterLab plugins) students do not get: the same lists as a class's
    students (:mod:`aelab.course.classroom.users`): the formgrader, the course list, create-assignment."""
    from .classroom.users import STUDENT_DISABLED_LAB_PLUGINS, STUDENT_DISABLED_SERVER_EXTENSIONS

    return STUDENT_DISABLED_SERVER_EXTENSIONS, STUDENT_DISABLED_LAB_PLUGINS


def student_args() -> list[str]:
    """Command-line options that switch nbgrader's instructor server extensions off. The command
    line wins over every config file (ServerApp keeps the extensions it was given and adds the
    config files' others), so an instructor's own ``~/.jupyter`` cannot turn them back on here."""
    extensions, _ = student_disabled()
    return [f"--ServerApp.jpserver_extensions={name}=False" for name in extensions]


def write_student_config(folder: Path) -> Path:
    """``folder/labconfig/page_config.json`` disabling the instructor-only JupyterLab plugins; put
    ``folder`` first on ``JUPYTER_CONFIG_PATH`` (it then outranks the environment's own settings)."""
    _, plugins = student_disabled()
    target = Path(folder) / "labconfig" / "page_config.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"disabledExtensions": {p: True for p in plugins}}, indent=1) + "\n")
    return Path(folder)


def _student_env(env: dict, config_folder: Path) -> dict:
    env = dict(env)
    parts = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config_folder)] + parts)
    return env


# ------------------------------------------------------------------------------------------ server
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
    student: bool = False
    scratch: Path | None = None  # the student mode's private config folder, removed when stopped

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

    def stop(self) -> None:
        """Stop JupyterLab (its kernels too) and remove the scratch config."""
        try:
            _stop(self.process)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)


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


def _course_of(root: Path | None, env: dict | None) -> Path:
    if (env or {}).get("AELAB_COURSE_DIR"):
        return Path(env["AELAB_COURSE_DIR"]).resolve()
    if root is not None and (Path(root) / "nbgrader_config.py").is_file():
        return Path(root).resolve()  # a course directory of its own (e.g. a scratch copy)
    return course_dir()


def instructor_exchange(env: dict) -> Path:
    """The exchange the instructor's formgrader releases to and collects from: ``$AELAB_EXCHANGE``
    (a shared class's), else a private one, ``~/.local/share/aelab/exchange``, made here so that the
    formgrader neither warns "the exchange directory does not exist" nor tries to create
    nbgrader's default ``/srv/nbgrader/exchange``. Its assignments stay "draft" until released."""
    if env.get("AELAB_EXCHANGE"):
        return Path(env["AELAB_EXCHANGE"])
    home = Path(env.get("HOME") or Path.home())
    exchange = home / ".local" / "share" / "aelab" / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    return exchange


def launch(
    root: Path | None = None,
    port: int | None = None,
    token: str | None = None,
    env: dict | None = None,
    *,
    course: Path | None = None,
    student: bool = False,
    stdout=None,
    extra_args: list[str] | None = None,
) -> LabServer:
    """Start JupyterLab without waiting for it (``stdout``: a file, or None for this terminal).

    Student mode: ``root`` is the workspace (default ``$AELAB_WORKSPACE``), the server's cwd, and
    must not hold the course. Instructor mode: ``course`` (the nbgrader course directory, the
    server's cwd) defaults to ``env``'s ``AELAB_COURSE_DIR``, else ``root`` when it holds an
    ``nbgrader_config.py``, else this checkout; ``root`` defaults to the course, which must lie
    inside it.
    """
    env = dict(env if env is not None else lab_env())
    course = Path(course).resolve() if course is not None else _course_of(root, env)
    scratch = None
    if student:
        from .workspace import check_location, workspace_dir

        root = Path(root or workspace_dir()).resolve()
        check_location(root, course)
        cwd = root
        scratch = write_student_config(Path(tempfile.mkdtemp(prefix="aelab-lab-student-")))
        env = _student_env(env, scratch)
        extra = student_args() + list(extra_args or [])
    else:
        root = Path(root or course).resolve()
        try:
            course.relative_to(root)
        except ValueError:
            raise ValueError(
                f"the course directory {course} must lie inside the server's root {root}: "
                "nbgrader's formgrader cannot work otherwise"
            ) from None
        env["AELAB_COURSE_DIR"] = str(course)  # nbgrader_config.py reads it
        env["AELAB_EXCHANGE"] = str(instructor_exchange(env))
        cwd = course
        extra = list(extra_args or [])
    port = port or free_port(DEFAULT_PORT)
    token = token or secrets.token_hex(24)
    try:
        process = subprocess.Popen(
            server_argv(root, port, token, extra),
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            stdin=subprocess.DEVNULL,
        )
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    return LabServer(process, root, course, port, token, None, env, student, scratch)


def start_lab(
    root: Path | None = None,
    port: int | None = None,
    token: str | None = None,
    env: dict | None = None,
    *,
    course: Path | None = None,
    student: bool = False,
    log_path: Path | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 90.0,
) -> LabServer:
    """Start JupyterLab (see :func:`launch`) and wait (at most ``timeout`` s) until
    ``/api/status`` answers. Its output goes to ``log_path`` (or nowhere)."""
    out = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        server = launch(root, port, token, env, course=course, student=student, stdout=out, extra_args=extra_args)
    finally:
        if log_path:
            out.close()
    server.log_path = Path(log_path) if log_path else None
    try:
        _wait_until_up(server, timeout)
    except BaseException:
        server.stop()
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
        server.stop()


# ---------------------------------------------------------------------------------------------- CLI
class _Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: stop JupyterLab, then exit (like Ctrl-C)."""


def _on_signal(signum, frame):  # a signal handler's signature
    raise _Stopped(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals_stop_the_server():
    """SIGTERM and SIGHUP raise :class:`_Stopped` (Python's default would end this process and
    leave JupyterLab running); the previous handlers come back afterwards.

    Started with SIGINT ignored (a script's background job, ``nohup``), Ctrl-C would do nothing, and
    JupyterLab, started meanwhile, would inherit the ignored SIGINT and shrug off the clean stop:
    SIGINT gets Python's KeyboardInterrupt handler here too."""
    wanted = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, _on_signal) for s in wanted}
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop_ignoring_signals(server: LabServer) -> None:
    """Stop the server; further Ctrl-C/SIGTERM/SIGHUP meanwhile must not cut the shutdown short."""
    wanted = [s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in wanted}
    try:
        server.stop()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _student_banner(server: LabServer, fast: bool, copied: list[Path]) -> list[str]:
    ws = server.root
    lines = [f"\naelab lab: JupyterLab on your workspace {ws}{' in fast mode' if fast else ''}"]
    if copied:
        lines.append(
            f"    {len(copied)} file(s) copied from the course's release/ (files already there are never replaced)"
        )
    lines += [
        f"    {server.url('lab')}",
        "Work in the notebooks there; the course's commands never overwrite them.",
        "    aelab check 03                 grade your copy of an assignment: what passed, what to fix",
        "    aelab reset 03                 put back the release's notebook (your copy is kept as a backup)",
        "    aelab solutions 03             the worked solutions, after you tried (asks first)",
    ]
    return lines


def run(args) -> int:
    course = course_dir()
    fast = args.fast
    instructor = getattr(args, "instructor", False)
    if args.root is not None and not instructor:
        print(
            "aelab lab: --root is for --instructor; the students' JupyterLab shows the workspace "
            "($AELAB_WORKSPACE, default ~/aelab-work)",
            file=sys.stderr,
        )
        return 2
    if args.port and not port_is_free(args.port):
        print(f"aelab lab: port {args.port} on {HOST} is in use", file=sys.stderr)
        return 1
    env = lab_env(fast=fast)
    copied: list[Path] = []
    root = None
    if instructor:
        env.setdefault("AELAB_COURSE_DIR", str(course))
        root = (args.root or course).resolve()
        try:
            course.relative_to(root)
        except ValueError:
            print(f"aelab lab: the course directory {course} must lie inside --root {root}", file=sys.stderr)
            return 2
    else:
        from .workspace import WorkspaceError, ensure_workspace, workspace_dir

        try:
            root = workspace_dir()
            copied = ensure_workspace(root, course)
        except WorkspaceError as exc:
            print(f"aelab lab: {exc}", file=sys.stderr)
            return 2
    server = None
    with _signals_stop_the_server():
        try:
            # The server's output goes to this terminal; it logs its own URLs too.
            server = launch(root, args.port, args.token, env, course=course, student=not instructor)
            try:
                _wait_until_up(server, args.timeout)
            except (RuntimeError, TimeoutError) as exc:
                print(f"aelab lab: {exc}", file=sys.stderr)
                return 1
            if instructor:
                lines = [
                    f"\naelab lab --instructor: JupyterLab on {root} (course {course}){' in fast mode' if fast else ''}",
                    f"    {server.url('lab')}",
                    f"    formgrader: {server.url('formgrader')}",
                ]
            else:
                lines = _student_banner(server, fast, copied)
            print("\n".join(lines + ["Stop with Ctrl-C.\n"]), flush=True)
            return server.process.wait()
        except KeyboardInterrupt:
            return 0
        except _Stopped as exc:
            print(f"\naelab lab: {exc.args[0]}: stopping JupyterLab", flush=True)
            return 0
        finally:
            if server is not None:
                _stop_ignoring_signals(server)
