"""The ``aelab`` command.

Each subcommand lives in its own module of this package, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them up, importing each
module when its subcommand runs (so ``aelab doctor`` stays fast).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("aelab.doctor", "check the installation: versions, MNIST source, device"),
    "demo": ("aelab.demo", "a small end-to-end run: train a VAE, score clean and perturbed digits"),
    "build": ("aelab.build", "regenerate release/ and solutions/ from source/"),
    "check": ("aelab.grading", "grade one notebook for self-study: what passed, what to fix"),
    "grade": ("aelab.grading", "grade a class's submissions with nbgrader; write grades.csv"),
    "bench": ("aelab.bench", "benchmarks: leave-one-digit-out AUROC (aelab bench auroc)"),
    "lab": ("aelab.lab", "start JupyterLab on the course, bound to 127.0.0.1"),
    "class": ("aelab.classroom", "set up and run a class on one machine with nbgrader's exchange"),
}


def _module(command: str):
    return importlib.import_module(COMMANDS[command][0])


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aelab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands or COMMANDS:
        module_name, help_text = COMMANDS[name]
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            p.set_defaults(_missing=module_name)
            continue
        adder = getattr(module, "add_arguments", None)
        if adder is not None:
            (adder(p, name) if adder.__code__.co_argcount >= 2 else adder(p))
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
    if getattr(args, "_missing", None):
        print(f"aelab {args.command}: not available in this version ({args._missing} is missing)", file=sys.stderr)
        return 2
    module = _module(args.command)
    runner = getattr(module, "run")
    return int(runner(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
