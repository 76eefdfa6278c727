"""The grading engine: one job = (submission bytes, assignment) -> per-cell results, notebook, log.

Every front end calls :func:`run_job`: ``aelab check`` (self-study), ``aelab grade`` (a class),
``aelab class autograde`` (JupyterHub) and ``pytest autograder --submission``. A job keeps no state
outside its scratch folder, so it runs the same in a local worker process or on a Dask worker.

What runs where:

- **Trusted, this process**: reads the submission as data, rebuilds the notebook to run from the
  instructor's source (locked and graded cells restored, each graded cell's hidden tests replaced by
  a call to the harness), and runs the checks of ``autograder/`` against the kernel's functions
  (:mod:`aelab.course.remote`), with the reference implementations and expected values, which never
  leave this process. A graded cell's points come from these checks alone.
- **Untrusted, in the sandbox** (:mod:`aelab.course.sandbox`): the executor and the learner's
  kernel. They see the notebook to run, the libraries and a socket; they send outputs (shown in
  feedback) and the learner's results (as plain data).

The result notebook has the instructor's graded cells (hidden tests included: nbgrader's feedback
removes them) with the trusted verdict as their only scored output, so nbgrader's own autograde
with execution off (:mod:`aelab.course.record`) gives exactly the engine's points.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import checkpoints, registry, wire
from .config import CODE_STUB, cell_timeout
from .sandbox import Limits, Sandbox, claim_slot, detect
from .tasktext import render_notebook

__all__ = ["JobSpec", "JobResult", "CellResult", "run_job", "prepare_notebook", "CHECK_CALL", "MAX_SUBMISSION"]

CHECK_CALL = re.compile(r"""autograder\.check\(\s*["']([\w.]+)["']\s*,\s*(\w+)\s*\)""")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION\n.*?### END SOLUTION\n?", re.S)
MAX_SUBMISSION = 256 * 1024 * 1024  # bytes of a submitted notebook read as JSON (its outputs are dropped)
BIG_SUBMISSION = 16 * 1024 * 1024  # a notebook this large is mostly stored outputs: say they were ignored
MAX_OUTPUTS = 64 * 1024 * 1024  # bytes of outputs (as JSON) kept from one job for its feedback
MAX_WAITING = 16  # connections from the sandbox that have not said hello yet
HELLO_SECONDS = 2.0  # how long a new connection from the sandbox may take to say who it is
WEIGHTS = "/job/weights"  # where the sandbox sees the course's trained weights
GRADERS_MODULE = "autograder"  # the course's graders: aelab.course loads them by name, never imports them


# --------------------------------------------------------------------------------------- records
@dataclass
class CheckResult:
    id: str
    passed: bool
    message: str = ""


@dataclass
class CellResult:
    grade_id: str
    exercise: str
    points: float
    score: float
    passed: bool
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    ran: bool = False


@dataclass
class JobSpec:
    """One job's inputs, all plain data (they travel to a Dask worker as they are)."""

    submission: bytes
    assignment: str
    source: bytes  # the instructor's source notebook of the assignment
    limits: dict = field(default_factory=dict)
    sandbox: str = "auto"  # "auto", "root", "user" or "none"
    cell_timeout: int | None = None
    call_timeout: float = 60.0
    slot: int = 0  # which sandbox uid (one per concurrent job on a machine)
    label: str = ""


@dataclass
class JobResult:
    assignment: str
    status: str  # "graded", "timeout", "kernel died", "not a notebook", "sandbox failed", ...
    reasons: list[str]
    cells: list[CellResult]
    notebook: str  # the graded notebook (JSON); nbgrader records it
    score: float
    max_score: float
    seconds: float
    sandbox: str
    log: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> JobResult:
        cells = [CellResult(**{**c, "checks": [CheckResult(**k) for k in c["checks"]]}) for c in d["cells"]]
        return cls(**{**d, "cells": cells})


# ------------------------------------------------------------------------------ the notebook to run
def _meta(cell) -> dict:
    md = cell.get("metadata", {}).get("nbgrader")
    return md if isinstance(md, dict) else {}


def _harness_source(source: str, grade_id: str) -> str:
    """The graded cell as it runs: the engine's checks first (so a failing visible assert cannot hide
    their message), then the cell's visible tests; the hidden tests are gone."""
    call = f'from aelab.course.harness import grade_cell as _aelab_grade_cell\n_aelab_grade_cell("{grade_id}")\n'
    return call + HIDDEN.sub("", source)


def _stub(source: str) -> str:
    return SOLUTION.sub(CODE_STUB + "\n", source)


GRADING_KEYS = ("grade_id", "grade", "solution", "locked", "points", "task")


def _released(cell) -> str:
    return HIDDEN.sub("", cell.source).strip()


def _adopt(submission, src_cells: dict, notes: list[str]) -> dict[int, str]:
    """{index: grade_id} for submission cells that lost their nbgrader metadata but are the course's cells.

    A notebook saved by a tool that drops cell metadata still has the learner's solutions (a code
    cell defining the exercise's function) and the released test cells (their source unchanged):
    each source cell that no cell claims is matched to the first such cell, in order."""
    claimed = {_meta(c).get("grade_id") for c in submission.cells}
    adopted: dict[int, str] = {}
    for gid, ref in src_cells.items():
        if gid in claimed:
            continue
        md = _meta(ref)
        names = re.findall(r"^def (\w+)\(", ref.source, flags=re.M)
        for i, cell in enumerate(submission.cells):
            if i in adopted or _meta(cell).get("grade_id") or cell.get("cell_type") != ref.cell_type:
                continue
            text = cell.get("source", "")
            if md.get("solution") and not md.get("grade") and ref.cell_type == "code":
                match = bool(names) and re.search(rf"^def {re.escape(names[0])}\(", text, flags=re.M)
            else:
                match = text.strip() in (ref.source.strip(), _released(ref))
            if match:
                adopted[i] = gid
                break
    if adopted:
        notes.append(
            f"{len(adopted)} cells had no nbgrader metadata (was the notebook saved by another tool?): "
            "matched to the course's cells by their content"
        )
    return adopted


def prepare_notebook(submission, source) -> tuple[object, object, list[str]]:
    """(notebook to run, graded notebook template, notes) from a submission and its source.

    Cells with a grade_id of the source keep their place in the submission: solution cells keep
    the learner's code under the source's metadata; locked, graded and read-only cells are the
    source's. Source cells missing from the submission are put back where they belong (a missing
    solution cell as the release's stub); cells whose grade_id the source does not know lose their
    nbgrader metadata; a repeated grade_id is kept once, later copies run as plain code (a pasted
    copy of a solution cell still defines what the learner ran). In the notebook to run, each
    graded cell's hidden tests become a call of the harness; in the template they are the source's.
    """
    import nbformat

    notes: list[str] = []
    src_cells = {_meta(c).get("grade_id"): c for c in source.cells if _meta(c).get("grade_id")}
    order = [gid for gid in (_meta(c).get("grade_id") for c in source.cells) if gid]
    adopted = _adopt(submission, src_cells, notes)
    placed: dict[str, int] = {}
    cells = []
    foreign: list[str] = []
    for index, cell in enumerate(submission.cells):
        gid = adopted.get(index) or _meta(cell).get("grade_id")
        if gid and gid in src_cells and gid not in placed:
            ref = src_cells[gid]
            md = _meta(ref)
            new = copy.deepcopy(ref)
            if md.get("solution") and not md.get("grade"):
                new.source = cell.get("source", "")
            elif cell.get("source", "").strip() not in (ref.source.strip(), _released(ref)):
                notes.append(f"cell {gid} was edited: restored from the course")
            if new.cell_type != cell.get("cell_type"):
                notes.append(f"cell {gid} changed type: restored from the course")
            theirs = _meta(cell)
            if index not in adopted and any(theirs.get(k, md.get(k)) != md.get(k) for k in GRADING_KEYS):
                notes.append(f"cell {gid}'s nbgrader metadata was changed: restored from the course")
            placed[gid] = len(cells)
            cells.append(new)
            continue
        new = copy.deepcopy(cell)
        if gid and gid in placed:
            notes.append(f"grade id {gid} appears more than once: the later copies run as plain code, ungraded")
        elif gid:
            foreign.append(gid)
        new.get("metadata", {}).pop("nbgrader", None)
        cells.append(new)
    exercises = {g for g in placed if _meta(src_cells[g]).get("solution") or _meta(src_cells[g]).get("grade")}
    if foreign and not exercises:
        notes.append(
            f"the notebook has none of this assignment's cells (is it another assignment's notebook? "
            f"it has grade ids such as {foreign[0]!r})"
        )
    elif foreign:
        notes.append(
            f"cells claim grade ids the assignment does not have ({', '.join(foreign[:3])}): run as plain code"
        )
    elif not exercises:
        notes.append("the notebook has none of this assignment's exercise or test cells")
    for i, gid in enumerate(order):
        if gid in placed:
            continue
        ref = copy.deepcopy(src_cells[gid])
        md = _meta(ref)
        if md.get("solution"):
            ref.source = _stub(ref.source)
        notes.append(f"cell {gid} was missing: put back from the course")
        before = [placed[g] for g in order[:i] if g in placed]
        at = (max(before) + 1) if before else 0
        cells.insert(at, ref)
        placed = {g: (p + 1 if p >= at else p) for g, p in placed.items()}
        placed[gid] = at
    seen_ids: set = set()
    for c in cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
        if "id" in c and c.id in seen_ids:  # a copied or put-back cell: ids must stay unique
            c.id = f"aelab-{len(seen_ids):04d}-{c.id}"[:64]
        seen_ids.add(c.get("id"))
    template = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata), cells=cells)
    to_run = copy.deepcopy(template)
    for c in to_run.cells:
        md = _meta(c)
        if c.cell_type == "code" and md.get("grade") and not md.get("solution"):
            c.source = _harness_source(c.source, md["grade_id"])
    return to_run, template, notes


def _checks_of(cell) -> list[tuple[str, str]]:
    """(check id, function name) of each ``autograder.check`` call in a source graded cell."""
    return CHECK_CALL.findall(cell.source)


# ----------------------------------------------------------------------------------- the graders
def _graders():
    """The course's graders and their reference implementations (loaded by name, in this process)."""
    core = importlib.import_module(f"{GRADERS_MODULE}.core")
    reference = importlib.import_module(f"{GRADERS_MODULE}.reference")
    return core, reference


def _run_cell_checks(sock, cell, assignment, call_timeout, deadline=None, graded=()) -> CellResult:
    """Run the checks of one graded cell against the kernel's functions (see :mod:`.remote`).

    ``graded``: the exercises whose graded cells have all been checked already. While the learner's
    function runs, it may call the course's versions of the other exercises it uses, but only of
    those: before an exercise is checked, its reference would be an oracle for its own checks."""
    core, reference = _graders()
    from .remote import CellSession, KernelGone

    md = _meta(cell)
    gid = md["grade_id"]
    calls = _checks_of(cell)
    exercise = calls[0][0].split(".")[1] if calls else ""
    references = {
        ex.name: getattr(reference, ex.name)
        for ex in assignment.exercises
        if hasattr(reference, ex.name) and ex.name in graded
    }
    session = CellSession(sock, references, call_timeout, delegated=getattr(core, "Delegated", None), deadline=deadline)
    result = CellResult(gid, exercise, float(md.get("points", 0)), 0.0, False, ran=True)
    described: dict[str, dict] = {}
    for check_id, fn_name in calls:
        ex = assignment.exercise(check_id.split(".")[1]) if check_id.count(".") == 2 else None
        uses = tuple(u for u in (ex.uses if ex else ()) if u != fn_name)
        try:
            if fn_name not in described:
                described[fn_name] = session.describe(fn_name)
            d = described[fn_name]
            if not d["exists"]:
                raise core.GradingError(f"{fn_name} is not defined: run the cell that defines it, then this one")
            if not d["callable"]:
                raise core.GradingError(f"{fn_name} must be a function, got {d['type']}; run the cell that defines it")
            core.check(check_id, session.function(fn_name, uses))
            result.checks.append(CheckResult(check_id, True))
        except AssertionError as exc:
            result.checks.append(CheckResult(check_id, False, str(exc) or "failed"))
        except KernelGone as exc:
            result.checks.append(CheckResult(check_id, False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the job
            result.checks.append(CheckResult(check_id, False, f"the check could not run ({type(exc).__name__}: {exc})"))
    result.passed = bool(calls) and all(c.passed for c in result.checks)
    result.score = result.points if result.passed else 0.0
    failed = [c.message for c in result.checks if not c.passed]
    result.message = "; ".join(dict.fromkeys(failed)) if failed else ""
    session.verdict(result.passed, result.message)
    return result


# -------------------------------------------------------------------------------------- the job
def _clean_outputs(outputs) -> list:
    """Outputs from the sandbox as nbformat output nodes (anything malformed is dropped)."""
    import nbformat

    clean = []
    for o in outputs if isinstance(outputs, list) else []:
        if not isinstance(o, dict) or o.get("output_type") not in ("stream", "display_data", "execute_result", "error"):
            continue
        try:
            node = nbformat.from_dict(o)
            nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[node])]))
        except Exception:  # noqa: BLE001 - malformed output from the sandbox
            continue
        clean.append(node)
    return clean


def _graded_outputs(kernel_outputs: list, result: CellResult | None) -> list:
    """The graded cell's outputs: what the learner printed (never scored), then the engine's verdict."""
    import nbformat

    shown = []
    for o in kernel_outputs:
        if o.output_type == "stream" and o.get("name") == "stdout":
            text = "".join(ln for ln in o.text.splitlines(True) if not re.match(r"^\S+: passed$", ln.strip()))
            if text:
                shown.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        elif o.output_type == "display_data":
            shown.append(o)
    if result is None or not result.ran:
        msg = "this test cell did not run (the notebook stopped before it)"
        return shown + [nbformat.v4.new_output("error", ename="NotGraded", evalue=msg, traceback=[f"NotGraded: {msg}"])]
    if result.passed:
        return shown
    msg = result.message or "failed"
    return shown + [
        nbformat.v4.new_output("error", ename="AssertionError", evalue=msg, traceback=[f"AssertionError: {msg}"])
    ]


def _sandbox_env(mode: str, sock_path: str, cell_timeout_s: int) -> dict[str, str]:
    base = Path(sys.prefix) / "bin"
    env = {
        "PATH": f"{base}:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "LANG": "C.UTF-8",
        "AELAB_FAST": "1",
        "AELAB_OFFLINE": "1",
        "NBGRADER_EXECUTION": "autograde",
        "AELAB_CHECKPOINTS": "/tmp/checkpoints",
        "AELAB_CELL_TIMEOUT": str(cell_timeout_s),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "JUPYTER_DATA_DIR": f"{sys.prefix}/share/jupyter",
        "JUPYTER_PLATFORM_DIRS": "1",
        "TQDM_DISABLE": "1",
        "AELAB_HARNESS_SOCKET": sock_path,
    }
    if mode == "none":
        env["HOME"] = str(Path(sock_path).parent / "home")
        for key in ("AELAB_CHECKPOINTS", "MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR"):
            env[key] = str(Path(sock_path).parent / key.lower())
    return env


def source_notebook(spec: JobSpec):
    """The instructor's source of ``spec``'s assignment, its prose's task numbers filled in
    (:mod:`aelab.course.tasktext`): what the template, the restored cells and the feedback show."""
    import nbformat

    return render_notebook(nbformat.reads(spec.source.decode("utf-8"), as_version=4), spec.assignment)


def run_job(spec: JobSpec) -> JobResult:
    """Grade one submission (see the module's docstring). Never raises for a bad submission."""
    import nbformat

    t0 = time.perf_counter()
    assignment = registry.assignment(spec.assignment)
    source = source_notebook(spec)
    graded_cells = [
        c for c in source.cells if c.cell_type == "code" and _meta(c).get("grade") and not _meta(c).get("solution")
    ]
    max_score = float(sum(float(_meta(c).get("points", 0)) for c in graded_cells))
    mode, why = (spec.sandbox, "") if spec.sandbox != "auto" else detect()

    def finish(status, reasons, cells, template, log="") -> JobResult:
        score = float(sum(c.score for c in cells))
        text = nbformat.writes(template) if template is not None else ""
        return JobResult(
            assignment.name, status, reasons, cells, text, score, max_score, time.perf_counter() - t0, mode, log
        )

    empty = [CellResult(_meta(c)["grade_id"], "", float(_meta(c).get("points", 0)), 0.0, False) for c in graded_cells]
    if len(spec.submission) > MAX_SUBMISSION:
        return finish(
            "too large",
            [
                f"the notebook is {len(spec.submission) / 2**20:.0f} MB; at most "
                f"{MAX_SUBMISSION // 2**20} MB are read (clear its outputs)"
            ],
            empty,
            None,
        )
    try:
        nb = nbformat.reads(spec.submission.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - whatever the file is, it is not a notebook
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return finish("not a notebook", [f"not a valid notebook ({type(exc).__name__}: {first})"], empty, None)
    for cell in nb.cells:  # the notebook runs afresh: what it stored is never read again
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
    to_run, template, notes = prepare_notebook(nb, source)
    reasons = list(notes)
    if len(spec.submission) > BIG_SUBMISSION:
        reasons.append(
            f"the notebook is {len(spec.submission) / 2**20:.0f} MB, mostly stored outputs: they were ignored "
            "(it is run afresh; clear outputs before submitting)"
        )
    if why and mode == "none":
        reasons.append(f"graded without a sandbox: {why}")

    limits = Limits.from_env(**spec.limits)
    timeout_s = cell_timeout(spec.cell_timeout)
    job_dir = Path(tempfile.mkdtemp(prefix="aelab-job-"))
    slot, slot_lock = claim_slot(spec.slot) if mode == "root" else (spec.slot, None)
    sandbox = Sandbox(mode, limits, slot)
    results: dict[str, CellResult] = {}
    outputs: dict[int, list] = {}
    notes_by_cell: dict[int, str] = {}
    status = "graded"
    log_lines: list[str] = []
    seconds: dict = {}  # "kernel" and cell index -> seconds, as the executor reported them
    proc = None
    try:
        nb_path = job_dir / "notebook.ipynb"
        nb_path.write_text(nbformat.writes(to_run))
        nb_path.chmod(0o644)
        sock_path = job_dir / "engine.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(sock_path))
        sock_path.chmod(0o666)
        server.listen(8)
        if mode == "none":
            job_dir.chmod(0o755)
        inside_sock = sandbox.job_path("engine.sock", job_dir)
        inside_nb = sandbox.job_path("notebook.ipynb", job_dir)
        env = _sandbox_env(mode, inside_sock, timeout_s)
        if mode == "none":
            for key in ("HOME", "AELAB_CHECKPOINTS", "MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR"):
                Path(env[key]).mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "aelab.course.executor", inside_nb, inside_sock, str(timeout_s)]
        files = {"/job/notebook.ipynb": str(nb_path), "/job/engine.sock": str(sock_path)}
        weights, weights_note = checkpoints.ensure(assignment.name, spec.source)
        if weights_note:
            log_lines.append(weights_note)
        if weights is not None:  # the course's trained weights, read-only: the notebook loads, not trains
            if mode == "none":
                env["AELAB_CHECKPOINTS"] = str(shutil.copytree(weights, job_dir / "aelab_checkpoints"))
            else:
                files[WEIGHTS] = str(weights)
                env["AELAB_CHECKPOINTS"] = WEIGHTS
        log_path = job_dir / "executor.log"
        with open(log_path, "wb") as log_file:
            proc = sandbox.popen(command, env, files, stdout=log_file, stderr=subprocess.STDOUT)
        _graders()[0].all_checks(assignment.lab)  # load the checks while the kernel starts
        src_by_gid = {_meta(c)["grade_id"]: c for c in graded_cells}
        cells_of: dict[str, list[str]] = {}
        for c in graded_cells:
            for check_id, _ in _checks_of(c)[:1]:
                cells_of.setdefault(check_id.split(".")[1], []).append(_meta(c)["grade_id"])

        def _graded(done: dict) -> set:
            return {ex for ex, gids in cells_of.items() if all(g in done for g in gids)}

        deadline = time.monotonic() + limits.wall_seconds
        sel = selectors.DefaultSelector()
        sel.register(server, selectors.EVENT_READ, "accept")
        executor_done = said_done = stuck = False
        executor_seen = False
        kept_bytes = 0
        waiting: dict = {}  # connection -> when it was accepted (it has not said hello yet)
        while not executor_done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                status = "timeout"
                reasons.append(f"the notebook ran past the job's limit of {limits.wall_seconds} s: stopped")
                break
            events = sel.select(timeout=min(remaining, 1.0))
            if not events and proc.poll() is not None:
                # the process is gone; read what is left, then stop
                events = sel.select(timeout=0.5)
                if not events:
                    break
            now = time.monotonic()
            for conn, since in list(waiting.items()):  # connections that never said who they are
                if now - since > HELLO_SECONDS:
                    sel.unregister(conn)
                    conn.close()
                    del waiting[conn]
            for key, _ in events:
                if key.data != "accept" and key.fileobj.fileno() < 0:
                    continue  # a silent connection closed above, after select() listed it
                if key.data == "accept":
                    conn, _ = server.accept()
                    if len(waiting) >= MAX_WAITING:  # the oldest silent one goes: the newest may be a cell's
                        oldest = min(waiting, key=waiting.get)
                        sel.unregister(oldest)
                        oldest.close()
                        del waiting[oldest]
                    waiting[conn] = time.monotonic()
                    sel.register(conn, selectors.EVENT_READ, "hello")
                elif key.data == "hello":
                    conn = key.fileobj
                    sel.unregister(conn)
                    waiting.pop(conn, None)
                    conn.settimeout(max(0.05, min(HELLO_SECONDS, deadline - time.monotonic())))
                    try:
                        hello = wire.recv(conn, max_bytes=4096)
                    except (OSError, wire.WireError, ConnectionError):
                        conn.close()
                        continue
                    if hello.get("op") == "hello" and hello.get("role") == "executor" and not executor_seen:
                        executor_seen = True
                        conn.settimeout(None)
                        sel.register(conn, selectors.EVENT_READ, "executor")
                    elif hello.get("op") == "hello" and hello.get("role") == "cell":
                        gid = str(hello.get("cell", ""))
                        if gid in src_by_gid and gid not in results:
                            results[gid] = _run_cell_checks(
                                conn, src_by_gid[gid], assignment, spec.call_timeout, deadline, _graded(results)
                            )
                        else:
                            try:
                                wire.send(conn, {"op": "verdict", "passed": False, "message": "not a graded cell"})
                            except OSError:
                                pass
                        conn.close()
                    else:
                        conn.close()
                else:
                    conn = key.fileobj
                    try:
                        conn.settimeout(60)
                        msg = wire.recv(conn, max_bytes=16 * 1024 * 1024)
                    except (OSError, ConnectionError, wire.WireError):
                        sel.unregister(conn)
                        conn.close()
                        executor_done = True
                        continue
                    # the sandbox's messages are untrusted: a known cell index, a bounded number, once
                    if msg.get("op") == "kernel" and "kernel" not in seconds:
                        seconds["kernel"] = _seconds(msg.get("seconds"))
                    index = msg.get("index")
                    if msg.get("op") == "cell" and not (isinstance(index, int) and 0 <= index < len(to_run.cells)):
                        continue
                    if msg.get("op") == "cell" and index not in seconds:
                        seconds[index] = _seconds(msg.get("seconds"))
                        kept = _clean_outputs(msg.get("outputs"))
                        kept_bytes += len(json.dumps(kept))
                        if kept_bytes > MAX_OUTPUTS:
                            text = "[outputs left out: this notebook's outputs passed the feedback's limit]\n"
                            kept = [nbformat.v4.new_output("stream", name="stdout", text=text)]
                        outputs[msg["index"]] = kept
                        if msg.get("note"):
                            notes_by_cell[msg["index"]] = str(msg["note"])[:200]
                    elif msg.get("op") == "done":
                        executor_done = said_done = True
                        if msg.get("status") == "kernel stuck":
                            stuck = True
        for conn in waiting:
            conn.close()
        sel.close()
        server.close()
        if proc.poll() is None:
            try:
                proc.wait(timeout=15)
            except Exception:  # noqa: BLE001
                pass
        oom = sandbox.cgroup is not None and sandbox.cgroup.oom_killed()
        if proc.poll() is None:
            _kill(proc)
        log_lines += [
            f"kernel started in {t:.2f} s" if k == "kernel" else f"cell {k + 1}: {t:.2f} s" for k, t in seconds.items()
        ]
        log_lines.append(log_path.read_text(errors="replace")[-4000:])
        if "kernel died" in notes_by_cell.values():
            status = "kernel died"
            where = min(i for i, n in notes_by_cell.items() if n == "kernel died")
            reasons.append(
                f"the kernel died in cell {where + 1}"
                + (" (out of memory)" if oom else " (it exited or was killed)")
                + "; the cells after it did not run"
            )
        elif status == "graded" and not executor_seen:
            status = "engine error"
            tail = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()][-1:]
            reasons.append(f"the sandbox did not start the notebook: {tail[0][:300] if tail else 'no output'}")
        elif status == "graded" and not said_done:
            status = "stopped"
            reasons.append("the notebook's run was stopped before its end (its processes were killed)")
        timeouts = [i for i, n in notes_by_cell.items() if n == "timeout"]
        if timeouts:
            reasons.append(f"cells {', '.join(str(i + 1) for i in timeouts)} ran past {timeout_s} s and were stopped")
        if stuck and timeouts:
            status = "stopped"
            reasons.append(
                f"the kernel did not stop when cell {max(timeouts) + 1} was interrupted: it was ended, "
                "and the cells after it did not run"
            )
        if oom and status == "graded":
            reasons.append("the notebook hit its memory limit")
    except Exception as exc:  # noqa: BLE001 - the engine's own failure: recorded, the class goes on
        status = "engine error"
        reasons.append(f"{type(exc).__name__}: {exc}")
    finally:
        if proc is not None and proc.poll() is None:
            _kill(proc)
        sandbox.cleanup()
        shutil.rmtree(job_dir, ignore_errors=True)
        if slot_lock is not None:
            slot_lock.close()

    cells: list[CellResult] = []
    unreached = []
    for i, c in enumerate(template.cells):
        if c.cell_type != "code":
            continue
        md = _meta(c)
        if md.get("grade") and not md.get("solution"):
            res = results.get(md["grade_id"]) or CellResult(md["grade_id"], "", float(md.get("points", 0)), 0.0, False)
            if md["grade_id"] not in results and i in seconds:
                res.ran = True
                error = next((o for o in outputs.get(i, []) if o.output_type == "error"), None)
                if error is not None:  # its visible test failed first: say how
                    seen = f"{error.get('ename', '')}: {error.get('evalue', '')}".strip(": ")[:500]
                    res.message = f"the cell's visible test failed before the course's checks ran ({seen})"
                else:
                    res.message = (
                        "this test cell ran but never reached the grading engine (the notebook replaced, "
                        "skipped or rewrote its grading call): not graded"
                    )
                    unreached.append(md["grade_id"])
            if not res.exercise:
                calls = _checks_of(c)
                res.exercise = calls[0][0].split(".")[1] if calls else ""
            c.outputs = _graded_outputs(outputs.get(i, []), res)
            cells.append(res)
        else:
            c.outputs = outputs.get(i, [])
    if unreached:
        reasons.append(
            f"{len(unreached)} test cells ran but never reached the grading engine "
            f"({', '.join(unreached[:3])}{', ...' if len(unreached) > 3 else ''}): they score nothing"
        )
    return finish(status, reasons, cells, template, "\n".join(log_lines))


def _seconds(value) -> float:
    """A duration reported from the sandbox, as a finite number of seconds in [0, 1 day]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return float("nan")
    return min(max(float(value), 0.0), 86400.0) if abs(value) < 1e12 else float("nan")


def _kill(proc) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except Exception:  # noqa: BLE001
        pass


def job_from_paths(submission: Path, assignment: str, root: Path | None = None, **options) -> JobSpec:
    """A :class:`JobSpec` for a notebook file and the course's source of its assignment."""
    a = registry.assignment(assignment)
    root = Path(root) if root else registry.course_root()
    return JobSpec(Path(submission).read_bytes(), a.name, a.source_path(root).read_bytes(), **options)
