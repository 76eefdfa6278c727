"""``aelab class``: set up and run a class on one machine with nbgrader's exchange.

Roles and where things live (see deploy/README.md):

- root builds a shared environment every user can run (``aelab class env``), creates the exchange
  and the instructor's course directory (``aelab class init``) and prepares students
  (``aelab class add-students``: private home, student nbgrader config, formgrader and
  create-assignment disabled for them);
- the instructor, in their course directory, runs ``release``, ``collect``, ``autograde``
  (optionally with parallel workers), ``feedback`` and ``grades``;
- students fetch and submit with nbgrader (the Assignments tab of JupyterLab or the CLI).

Parallel autograde keeps nbgrader's SQLite gradebook correct by never letting two processes write
it: each worker autogrades its share of the students in a scratch course directory with its own
copy of the gradebook (the expensive part: executing notebooks); then one process re-runs
nbgrader's autograde on the executed notebooks with execution disabled, which writes every grade
into the course's gradebook with nbgrader's own code (see ``autograde``).
"""

from __future__ import annotations

import sys

from .common import ClassError
from .shared_env import DEFAULT_ENV, build_shared_env
from .users import add_students, init_class, run_as, user_env
from .workflow import autograde, collect, feedback, find_leaks, grades, release, resolve_course_dir

__all__ = [
    "ClassError",
    "DEFAULT_ENV",
    "build_shared_env",
    "add_students",
    "init_class",
    "run_as",
    "user_env",
    "autograde",
    "collect",
    "feedback",
    "find_leaks",
    "grades",
    "release",
    "resolve_course_dir",
    "run",
]


def run(args) -> int:
    step = getattr(args, "class_command", None)
    if step is None:
        print(
            "usage: aelab class {env,init,add-students,release,collect,autograde,feedback,grades} ...", file=sys.stderr
        )
        return 2
    try:
        if step == "env":
            build_shared_env(args.prefix, base_python=args.python, hub=not args.no_hub, proxy=not args.no_hub)
        elif step == "init":
            init_class(
                args.course_dir, args.exchange, args.course_id, args.instructor, args.source, args.assignments or None
            )
        elif step == "add-students":
            add_students(args.students, args.course_id, args.exchange)
        elif step == "grades":
            import csv

            writer = csv.DictWriter(sys.stdout, ["assignment", "student", "score", "max_score", "timestamp"])
            writer.writeheader()
            writer.writerows(grades(resolve_course_dir(args.course_dir), args.assignment))
        else:
            course_dir = resolve_course_dir(args.course_dir)
            if step == "release":
                release(course_dir, args.assignment, force=args.force)
            elif step == "collect":
                collect(course_dir, args.assignment)
            elif step == "autograde":
                autograde(
                    course_dir,
                    args.assignment,
                    workers=args.workers,
                    students=args.student,
                    scheduler=args.scheduler,
                    allow_unsandboxed=args.no_sandbox,
                    deadlines=args.deadlines,
                    export=args.export,
                    roster=args.roster,
                    export_dir=args.export_dir,
                )
            elif step == "feedback":
                feedback(course_dir, args.assignment)
    except ClassError as exc:
        print(f"aelab class {step}: {exc}", file=sys.stderr)
        return 1
    return 0
