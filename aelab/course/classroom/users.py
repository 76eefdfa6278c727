"""Local users of a class: run as them, write their files, set up the instructor and students (root)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from .common import ClassError, render

# What students do not get (instructors keep everything nbgrader ships enabled).
STUDENT_DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
STUDENT_DISABLED_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
)


def _chown_tree(path: Path, pw) -> None:
    os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for p in path.rglob("*"):
            os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def _write_owned(path: Path, text: str, pw, mode: int = 0o644) -> None:
    """Write ``path`` (and any missing parent under the home) owned by the user ``pw``."""
    home = Path(pw.pw_dir)
    missing = [p for p in [path.parent, *path.parent.parents] if not p.exists() and home in [p, *p.parents]]
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chown(p, pw.pw_uid, pw.pw_gid)
    path.write_text(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(mode)


def _merge_json(path: Path, update: dict, pw) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}

    def merge(a: dict, b: dict) -> dict:
        for k, v in b.items():
            a[k] = merge(a.get(k, {}) if isinstance(a.get(k), dict) else {}, v) if isinstance(v, dict) else v
        return a

    _write_owned(path, json.dumps(merge(data, update), indent=2) + "\n", pw)


def user_env(pw, env_prefix: Path | None = None) -> dict[str, str]:
    path = "/usr/local/bin:/usr/bin:/bin"
    if env_prefix:
        path = f"{Path(env_prefix) / 'bin'}:{path}"
    env = {
        "HOME": pw.pw_dir,
        "USER": pw.pw_name,
        "LOGNAME": pw.pw_name,
        "SHELL": pw.pw_shell or "/bin/sh",
        "PATH": path,
        "LANG": "C.UTF-8",
        "AELAB_OFFLINE": "1",
    }
    return env


def run_as(
    user: str,
    argv,
    *,
    env_prefix: Path | None = None,
    cwd=None,
    extra_env=None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Run ``argv`` as the local ``user`` (root only): their uid, gid, groups, HOME and a clean env."""
    pw = pwd.getpwnam(user)
    env = user_env(pw, env_prefix)
    env.update(extra_env or {})

    # user/group/extra_groups switch in the child without preexec_fn, so threads may call this
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=str(cwd or pw.pw_dir),
        env=env,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=os.getgrouplist(pw.pw_name, pw.pw_gid),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise ClassError(
            f"as {user}: {' '.join(map(str, argv))} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise ClassError(f"{what} needs root (it creates folders for, and owned by, other users)")


def init_class(
    course_dir: Path,
    exchange: Path,
    course_id: str,
    instructor: str,
    source: Path | None = None,
    assignments=None,
    log=print,
) -> None:
    """Create the exchange (0777, as nbgrader wants), the course's folder in it (the instructor's,
    so no student can claim the course id first) and the instructor's private course directory
    with source/ and nbgrader_config.py; write the instructor's ~/.jupyter config."""
    from aelab.course.registry import course_root
    from aelab.course.registry import names as assignment_names

    _require_root("aelab class init")
    pw = pwd.getpwnam(instructor)
    course_dir, exchange = Path(course_dir).resolve(), Path(exchange).resolve()
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o777)
    course_in_exchange = exchange / course_id
    course_in_exchange.mkdir(exist_ok=True)
    os.chown(course_in_exchange, pw.pw_uid, pw.pw_gid)
    course_in_exchange.chmod(0o755)
    course_dir.mkdir(parents=True, exist_ok=True)
    source = Path(source) if source else course_root() / "source"
    names = list(assignments or [a for a in assignment_names() if (source / a).is_dir()])
    for a in names:
        if not (source / a).is_dir():
            raise ClassError(f"no assignment {a} under {source}")
        shutil.copytree(
            source / a,
            course_dir / "source" / a,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
    values = dict(course_id=course_id, course_dir=str(course_dir), exchange_root=str(exchange))
    (course_dir / "nbgrader_config.py").write_text(render("nbgrader_config.instructor.py", **values))
    _chown_tree(course_dir, pw)
    course_dir.chmod(0o700)
    Path(pw.pw_dir).chmod(0o700)
    _write_owned(
        Path(pw.pw_dir, ".jupyter", "nbgrader_config.py"), render("nbgrader_config.instructor.py", **values), pw
    )
    _merge_json(
        Path(pw.pw_dir, ".jupyter", "jupyter_server_config.json"),
        {"ServerApp": {"jpserver_extensions": {e: True for e in INSTRUCTOR_SERVER_EXTENSIONS}}},
        pw,
    )
    log(
        f"class {course_id}: exchange {exchange} (0777), course directory {course_dir} "
        f"(owned by {instructor}, 0700), assignments {', '.join(names)}"
    )


def add_students(names, course_id: str, exchange: Path, log=print) -> None:
    """Prepare local users as students: home 0700, ~/.jupyter/nbgrader_config.py (course id,
    exchange), the formgrader, course list and create-assignment off for them, nbgrader cache
    cleared. Writes the same JSON files as ``jupyter server extension disable --user`` and
    ``jupyter labextension disable --level=user`` (the tests check them with those tools)."""
    _require_root("aelab class add-students")
    text = render("nbgrader_config.student.py", course_id=course_id, exchange_root=str(Path(exchange).resolve()))
    for name in names:
        pw = pwd.getpwnam(name)
        home = Path(pw.pw_dir)
        home.chmod(0o700)
        _write_owned(home / ".jupyter" / "nbgrader_config.py", text, pw)
        _merge_json(
            home / ".jupyter" / "jupyter_server_config.json",
            {"ServerApp": {"jpserver_extensions": {e: False for e in STUDENT_DISABLED_SERVER_EXTENSIONS}}},
            pw,
        )
        _merge_json(
            home / ".jupyter" / "labconfig" / "page_config.json",
            {"disabledExtensions": {p: True for p in STUDENT_DISABLED_LAB_PLUGINS}},
            pw,
        )
        shutil.rmtree(home / ".local" / "share" / "jupyter" / "nbgrader_cache", ignore_errors=True)
    log(f"students ready: {', '.join(names)}")
