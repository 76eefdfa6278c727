"""Is this Python one the course runs on? Python 3.11, release 3.11.5 or newer.

Python 3.11.0 to 3.11.4 mis-match regular expressions with possessive quantifiers (CPython
gh-100061 and gh-106052, both fixed in 3.11.5): ``re.match(r"(?:ab*+c)?+a", "a")`` finds nothing.
soupsieve (the CSS selectors of BeautifulSoup, which nbgrader's feedback HTML and bleach use) is
written with such patterns, so on those interpreters it rejects every selector ("Invalid character
'd' position 0" for ``div``) and no feedback can be generated. Debian 12's python3.11 is 3.11.2.

``aelab doctor`` runs :func:`problem` on its own interpreter. The Makefile's install runs this file
with ``$(PYTHON)`` before any environment exists (``python3.11 aelab/course/interpreter.py``): it
exits 1 with the same message. So the file imports nothing of aelab and runs on any Python 3.
"""

import glob
import os
import re
import subprocess
import sys

SERIES = (3, 11)
MINIMUM = (3, 11, 5)
WHY = (
    "its `re` module mis-matches possessive quantifiers (CPython gh-100061 and gh-106052, fixed in "
    "3.11.5), so soupsieve rejects every CSS selector and nbgrader's feedback HTML fails"
)


def _dotted(version) -> str:
    return ".".join(str(v) for v in tuple(version)[:3])


def possessive_quantifiers_work() -> bool:
    """This interpreter's ``re`` on the smallest pattern that 3.11.0-3.11.4 get wrong."""
    try:
        return re.match(r"(?:ab*+c)?+a", "a") is not None
    except re.error:  # before 3.11: no possessive quantifiers at all
        return False


def version_problem(version) -> "str | None":
    """Why a Python of this ``version`` (a ``sys.version_info`` or a tuple) cannot run the course."""
    version = tuple(version)[:3]
    if version[:2] != SERIES:
        return "the course needs Python 3.11 (3.11.5 or newer)"
    if version < MINIMUM:
        return f"{WHY}: the course needs Python {_dotted(MINIMUM)} or newer"
    return None


def _this_executable() -> str:
    """This interpreter, and the one its virtual environment was made from."""
    base = getattr(sys, "_base_executable", None)
    if sys.prefix != sys.base_prefix and base:
        return f"{sys.executable} (a virtual environment of {os.path.realpath(base)})"
    return sys.executable


def problem(version=None, executable=None, regex_works=None) -> "str | None":
    """``None`` when the interpreter (default: this one) can run the course, else the message."""
    version = tuple(sys.version_info if version is None else version)[:3]
    executable = executable or _this_executable()
    reason = version_problem(version)
    if reason is None and regex_works is None:
        regex_works = possessive_quantifiers_work() if version == tuple(sys.version_info)[:3] else True
    if reason is None and not regex_works:
        reason = f"{WHY}: the course needs a Python 3.11 whose `re` matches them (3.11.5 or newer)"
    if reason is None:
        return None
    return f"{executable} is Python {_dotted(version)}, which cannot run the course: {reason}."


def candidates() -> "list[str]":
    """Python 3.11 interpreters on this machine: on $PATH, pyenv's, /usr/local and /opt."""
    names = ["python3.11", "python3"]
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found.append(path)
    home = os.path.expanduser("~")
    for pattern in (
        os.path.join(os.environ.get("PYENV_ROOT", os.path.join(home, ".pyenv")), "versions", "3.11.*", "bin"),
        "/usr/local/bin",
        "/opt/*/bin",
        os.path.join(home, ".local", "share", "uv", "python", "cpython-3.11.*", "bin"),
    ):
        for folder in sorted(glob.glob(pattern)):
            path = os.path.join(folder, "python3.11")
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found.append(path)
    seen, out = set(), []
    for path in found:
        real = os.path.realpath(path)
        if real not in seen and "/shims/" not in path:
            seen.add(real)
            out.append(path)
    return out


def good_interpreters() -> "list[tuple[str, str]]":
    """(path, version) of the interpreters found by :func:`candidates` that can run the course."""
    probe = (
        "import re, sys; "
        "ok = sys.version_info[:3] >= (3, 11, 5) and re.match(r'(?:ab*+c)?+a', 'a') is not None; "
        "print('.'.join(map(str, sys.version_info[:3])), ok)"
    )
    good = []
    for path in candidates():
        try:
            proc = subprocess.run(
                [path, "-c", probe],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                universal_newlines=True,  # noqa: UP021 - this file runs on older Pythons too
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        out = proc.stdout.split()
        if len(out) == 2 and out[1] == "True" and version_problem(tuple(int(v) for v in out[0].split("."))) is None:
            good.append((path, out[0]))
    return good


def advice(good=None, *, rebuild=None) -> str:
    """Which interpreter to use instead, and the command; ``rebuild``: the environment to remove first."""
    good = good_interpreters() if good is None else good
    start = f"rm -rf {rebuild} && make install" if rebuild else "make install"
    if good:
        path, version = good[0]
        return f"Use Python {version} at {path}: `{start} PYTHON={path}`."
    return (
        f"Install Python {_dotted(MINIMUM)} or newer 3.11 (Debian 12 ships 3.11.2; e.g. `pyenv install 3.11` "
        f"or `uv python install 3.11`), then `{start} PYTHON=/path/to/python3.11`."
    )


def main(argv=None) -> int:
    """Exit status 1, with the message and the advice, when this interpreter cannot run the course.
    ``--rebuild VENV``: the interpreter is that existing environment's (the advice removes it first)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    message = problem()
    if message is None:
        return 0
    rebuild = None
    if "--rebuild" in argv:
        rest = argv[argv.index("--rebuild") + 1 :]
        rebuild = rest[0] if rest else sys.prefix
    print(message, file=sys.stderr)
    print(advice(rebuild=rebuild), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
