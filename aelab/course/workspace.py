"""The student's own workspace: the folder students work in, which no command of the course overwrites.

``release/`` belongs to the course: ``aelab build`` regenerates it. Students work in a copy of it,
the workspace (``$AELAB_WORKSPACE``, default ``~/aelab-work``)::

    ~/aelab-work/
        01_autoencoder_basics/01_autoencoder_basics.ipynb     copied once from release/
        ...
        solutions/03_mnist_outlier_lab/...                    only after `aelab solutions 03`

- :func:`ensure_workspace` (``aelab lab``, ``aelab workspace --create``) copies each
  ``release/<assignment>/`` file that is missing there and never replaces a file that exists;
- :func:`reset_notebook` (``aelab reset``) puts the release's notebook back, after moving the
  student's copy to a timestamped backup next to it;
- :func:`copy_solutions` (``aelab solutions``) copies ``solutions/<assignment>/`` into
  ``WORKSPACE/solutions/<assignment>/`` for self-study, after the learner confirms having tried;
- :func:`notebook_to_check` turns ``aelab check``'s argument (``03``, ``03_mnist_outlier_lab``
  or a path) into the notebook to grade.

The workspace is what the student's JupyterLab serves (``aelab lab``): it must not hold the course
directory (source/, solutions/ and autograder/ would be served), nor lie inside what
``aelab build`` rewrites.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import registry
from .registry import Assignment, course_root

__all__ = [
    "WORKSPACE_ENV",
    "SOLUTIONS_FOLDER",
    "WorkspaceError",
    "workspace_dir",
    "check_location",
    "find_assignment",
    "ensure_workspace",
    "reset_notebook",
    "copy_solutions",
    "notebook_to_check",
    "run",
]

WORKSPACE_ENV = "AELAB_WORKSPACE"
DEFAULT_WORKSPACE = "~/aelab-work"
SOLUTIONS_FOLDER = "solutions"  # WORKSPACE/solutions/<assignment>/, made by `aelab solutions`
_SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
_IGNORED = {".ipynb_checkpoints", "__pycache__"}


class WorkspaceError(ValueError):
    """A workspace command cannot do what was asked; the message says why and what to do."""


# ------------------------------------------------------------------------------------------ where
def workspace_dir() -> Path:
    """The workspace: ``$AELAB_WORKSPACE`` (absolute, ``~`` allowed), else ``~/aelab-work``."""
    value = os.environ.get(WORKSPACE_ENV, "").strip()
    path = Path(value or DEFAULT_WORKSPACE).expanduser()
    if not path.is_absolute():
        raise WorkspaceError(
            f"${WORKSPACE_ENV} must be an absolute folder (or start with ~/), got {value!r}: "
            f"e.g. export {WORKSPACE_ENV}=$HOME/aelab-work"
        )
    return Path(os.path.abspath(path)).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_location(workspace: Path, course: Path | None = None) -> None:
    """Refuse a workspace that would serve the course or that ``aelab build`` rewrites."""
    workspace, course = Path(workspace).resolve(), Path(course or course_root()).resolve()
    if _inside(course, workspace):
        raise WorkspaceError(
            f"the workspace {workspace} holds the course directory {course}: its JupyterLab would serve "
            f"source/, solutions/ and autograder/. Set ${WORKSPACE_ENV} to a folder of its own "
            f"(default {DEFAULT_WORKSPACE})"
        )
    for name in ("release", "solutions", "source", "autograder"):
        if _inside(workspace, course / name):
            raise WorkspaceError(
                f"the workspace {workspace} lies inside the course's {name}/ ({course / name}), which "
                f"belongs to the course (aelab build rewrites release/ and solutions/). Set "
                f"${WORKSPACE_ENV} to a folder of its own (default {DEFAULT_WORKSPACE})"
            )


def find_assignment(key: str) -> Assignment:
    """The assignment named by ``key``: its name (``03_mnist_outlier_lab``), number (``03``, ``3``)
    or lab id (``lab03``)."""
    text = str(key).strip().rstrip("/")
    for a in registry.ASSIGNMENTS:
        if text in (a.name, a.lab, a.number) or (text.isdigit() and int(text) == int(a.number)):
            return a
    raise WorkspaceError(
        f"unknown assignment {key!r}: expected one of {', '.join(registry.names())} (or its number, e.g. 03)"
    )


def _looks_like_a_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.endswith(".ipynb") or text.startswith((".", "~"))


def _files(folder: Path) -> list[Path]:
    """Files under ``folder`` (relative), JupyterLab's checkpoints and caches left out."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not _IGNORED & set(p.relative_to(folder).parts)
    )


def _copy_missing(source: Path, target: Path) -> list[Path]:
    """Copy every file of ``source`` that ``target`` lacks; never replace one. Returns the copies."""
    copied = []
    for rel in _files(source):
        dest = target / rel
        if dest.exists() or dest.is_symlink():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, dest)
        copied.append(dest)
    return copied


# ----------------------------------------------------------------------------------------- create
def ensure_workspace(workspace: Path | None = None, course: Path | None = None) -> list[Path]:
    """Make the workspace from ``release/``: each ``release/<assignment>/`` file that is missing in
    ``WORKSPACE/<assignment>/`` is copied; a file that exists is never touched. Returns the copies."""
    course = Path(course or course_root()).resolve()
    workspace = Path(workspace or workspace_dir())
    check_location(workspace, course)
    present = [a for a in registry.names() if (course / "release" / a).is_dir()]
    if not present:
        raise WorkspaceError(f"the course {course} has no release/ yet: run `aelab build` first")
    workspace.mkdir(parents=True, exist_ok=True)
    copied = []
    for a in present:
        copied += _copy_missing(course / "release" / a, workspace / a)
    return copied


# ------------------------------------------------------------------------------------------ reset
@dataclass
class Reset:
    """What :func:`reset_notebook` did: the notebook put back, from where, and the backup (if any)."""

    notebook: Path
    release: Path
    backup: Path | None = None


def _backup_name(path: Path, stamp: str) -> Path:
    candidate = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
    return candidate


def _release_file(target: str, workspace: Path, course: Path) -> tuple[Path, Path]:
    """(the workspace file, the release file it comes from) for ``aelab reset``'s argument."""
    if not _looks_like_a_path(target) or (not _looks_like_a_path(target.rstrip("/")) and not Path(target).exists()):
        a = find_assignment(target)
        rel = Path(a.name) / a.notebook
    else:
        path = Path(os.path.abspath(Path(target).expanduser()))
        path = path.parent.resolve() / path.name  # the folder's real place; the file itself may be gone
        if not _inside(path, workspace):
            raise WorkspaceError(
                f"{path} is not in your workspace {workspace}: `aelab reset` puts back notebooks of your "
                f"workspace only (e.g. `aelab reset 03_mnist_outlier_lab`); release/ belongs to the course"
            )
        rel = path.relative_to(workspace)
        if path.is_dir() and len(rel.parts) == 1:
            a = find_assignment(rel.parts[0])
            rel = Path(a.name) / a.notebook
    if not (course / "release" / rel).is_file():
        folder = course / "release" / rel.parts[0] if rel.parts else None
        known = (
            ", ".join(str(Path(rel.parts[0]) / p) for p in _files(folder))
            if folder and folder.is_dir()
            else ", ".join(str(Path(a.name) / a.notebook) for a in registry.ASSIGNMENTS)
        )
        raise WorkspaceError(f"the release has no {rel} to put back; it has {known}")
    return workspace / rel, course / "release" / rel


def reset_notebook(
    target: str, workspace: Path | None = None, course: Path | None = None, *, stamp: str | None = None
) -> Reset:
    """Put the release's notebook back in the workspace; the student's copy becomes
    ``<name>.backup-YYYYmmdd-HHMMSS.ipynb`` next to it (nothing is lost).

    ``target`` is an assignment (``03_mnist_outlier_lab``, ``03``) or a path in the workspace.
    """
    course = Path(course or course_root()).resolve()
    workspace = Path(workspace or workspace_dir()).resolve()
    check_location(workspace, course)
    notebook, release = _release_file(target, workspace, course)
    backup = None
    if notebook.exists() or notebook.is_symlink():
        backup = _backup_name(notebook, stamp or time.strftime("%Y%m%d-%H%M%S"))
        os.replace(notebook, backup)
    notebook.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(release, notebook)
    return Reset(notebook, release, backup)


# -------------------------------------------------------------------------------------- solutions
@dataclass
class Solutions:
    folder: Path
    copied: list[Path] = field(default_factory=list)


def copy_solutions(key: str, workspace: Path | None = None, course: Path | None = None) -> Solutions:
    """Copy ``solutions/<assignment>/`` to ``WORKSPACE/solutions/<assignment>/`` (files missing
    there only: a solution notebook the learner ran or edited is kept)."""
    course = Path(course or course_root()).resolve()
    workspace = Path(workspace or workspace_dir()).resolve()
    check_location(workspace, course)
    a = find_assignment(key)
    source = course / "solutions" / a.name
    if not source.is_dir():
        raise WorkspaceError(f"the course has no solutions/{a.name}/ ({source}): run `aelab build` first")
    target = workspace / SOLUTIONS_FOLDER / a.name
    return Solutions(target, _copy_missing(source, target))


CONFIRM = (
    "Have you tried the exercises of {name} yourself? The worked solutions show every answer, and "
    "you learn most from them after trying (`aelab check {number}` tells you what to fix first).\n"
    "Copy the solutions into your workspace now? [y/N] "
)


def confirmed(a: Assignment, stdin=None, ask=None) -> bool | None:
    """The learner's answer to :data:`CONFIRM` (``ask``, default :func:`input`); None when stdin is
    not interactive (nobody to ask)."""
    stdin = sys.stdin if stdin is None else stdin
    ask = ask or input
    if stdin is None or stdin.closed or not stdin.isatty():
        return None
    try:
        answer = ask(CONFIRM.format(name=a.name, number=a.number))
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


# ------------------------------------------------------------------------------------------ check
def notebook_to_check(target: str, workspace: Path | None = None) -> Path:
    """The notebook ``aelab check`` grades: an assignment (``03``, ``03_mnist_outlier_lab``) means
    the workspace's copy of it; a path is taken as it is (a folder: the assignment's notebook in it)."""
    bare = not _looks_like_a_path(target) and not Path(target).is_file()
    if bare or (not _looks_like_a_path(target.rstrip("/")) and not Path(target).exists()):
        a = find_assignment(target)
        workspace = Path(workspace or workspace_dir())
        path = workspace / a.name / a.notebook
        if not path.is_file():
            raise WorkspaceError(
                f"your workspace has no {a.name}/{a.notebook} ({path}): `aelab lab` (or "
                f"`aelab workspace --create`) copies it from release/, `aelab reset {a.name}` puts it back"
            )
        return path
    path = Path(target).expanduser()
    if path.is_dir():
        path = path / registry.assignment_of(path / "x.ipynb").notebook
    if not path.is_file():
        raise WorkspaceError(f"no notebook at {path}")
    return path


# -------------------------------------------------------------------------------------------- CLI
def _say_reset(result: Reset) -> None:
    if result.backup:
        print(f"aelab reset: your copy is kept as {result.backup}")
    else:
        print(f"aelab reset: there was no {result.notebook.name} in your workspace")
    print(f"aelab reset: {result.notebook} is the release's notebook again (from {result.release})")


def run(args) -> int:
    """``aelab workspace``, ``aelab reset`` and ``aelab solutions``."""
    prog = f"aelab {args.command}"
    try:
        if args.command == "workspace":
            ws = workspace_dir()
            if getattr(args, "create", False):
                copied = ensure_workspace(ws)
                for p in copied:
                    print(f"copied {p}", file=sys.stderr)
                print(f"{prog}: {len(copied)} file(s) copied from release/, none replaced", file=sys.stderr)
            print(ws)
            return 0
        if args.command == "reset":
            _say_reset(reset_notebook(args.notebook))
            return 0
        if args.command == "solutions":
            a = find_assignment(args.assignment)
            if not args.yes:
                answer = confirmed(a)
                if answer is None:
                    print(
                        f"{prog}: nobody to ask (stdin is not a terminal). The worked solutions of {a.name} "
                        "show every answer; once you have tried the exercises yourself, pass --yes "
                        f"(`aelab solutions {a.number} --yes`).",
                        file=sys.stderr,
                    )
                    return 2
                if not answer:
                    print(f"{prog}: nothing copied. Try the exercises first; `aelab check {a.number}` helps.")
                    return 1
            result = copy_solutions(a.name)
            kept = len(_files(result.folder)) - len(result.copied)
            print(
                f"{prog}: the worked solutions of {a.name} are in {result.folder}"
                + (f" ({kept} file(s) already there, kept as they are)" if kept else "")
            )
            return 0
    except (WorkspaceError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    raise ValueError(f"unknown workspace command {args.command!r}")
