"""The two sides of the course in the code: the student library, the instructors' tooling, the graders.

Import rules (read from every module's source, function-level imports included):
- ``aelab`` (the library a notebook imports) imports nothing of nbgrader, Jupyter, traitlets,
  nbformat/nbconvert/nbclient, pytest, Playwright, Dask, ``autograder`` or ``aelab.course``, and it
  imports and works with those packages made unimportable;
- ``aelab.course`` (the tooling) never imports ``autograder`` (the graders depend on aelab, never
  the reverse), and the benchmark harness lives in ``bench/``, outside the package;
- one course registry: the check ids of ``aelab.course.registry`` are exactly those the graders
  register and those the source notebooks' grade cells call.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from aelab.course import registry

ROOT = Path(__file__).resolve().parent.parent
TOOLING = (
    "nbgrader",
    "traitlets",
    "nbformat",
    "nbconvert",
    "nbclient",
    "jupyter",
    "jupyter_server",
    "jupyterlab",
    "jupyter_client",
    "ipykernel",
    "IPython",
    "pytest",
    "playwright",
    "dask",
    "distributed",
    "autograder",
)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.add(mod)
            names |= {f"{mod}.{a.name}" for a in node.names}
    return names


def _library_modules() -> list[Path]:
    return sorted((ROOT / "aelab").glob("*.py"))


def _course_modules() -> list[Path]:
    return sorted((ROOT / "aelab" / "course").rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".", 1)[0]


@pytest.mark.parametrize("path", _library_modules(), ids=lambda p: p.name)
def test_library_imports_no_tooling(path):
    bad = sorted(n for n in _imports(path) if _top(n) in TOOLING or n.startswith("aelab.course"))
    assert not bad, f"{path.relative_to(ROOT)} imports course tooling: {bad}"


@pytest.mark.parametrize("path", _course_modules(), ids=lambda p: str(p.relative_to(ROOT / "aelab")))
def test_tooling_never_imports_the_graders(path):
    bad = sorted(n for n in _imports(path) if _top(n) == "autograder")
    assert not bad, (
        f"{path.relative_to(ROOT)} imports the graders ({bad}); autograder depends on aelab, not the reverse"
    )


def test_graders_depend_on_aelab_only():
    for path in sorted((ROOT / "autograder").glob("*.py")):
        firsts = {_top(n) for n in _imports(path)}
        assert not firsts & {"nbgrader", "jupyter_client", "playwright", "dask"}, path.name
        assert "bench" not in firsts, path.name


def test_no_benchmark_harness_in_the_library():
    """The harness (training and scoring every method) lives in bench/; the library only reads the
    figures it committed (aelab/benchmark.py: JSON in, tables out, nothing trained)."""
    assert not (ROOT / "aelab" / "bench.py").exists()
    import aelab

    readers = {"benchmark_results", "BenchmarkResults"}
    names = [n for n in aelab.__all__ if "bench" in n.lower() and n not in readers]
    assert not names, f"benchmark names belong to bench/, not the library: {names}"
    imported = _imports(ROOT / "aelab" / "benchmark.py")
    harness = sorted(n for n in imported if _top(n) in {"torch", "sklearn", "auroc", "bench"} or ".train" in n)
    assert not harness, f"aelab/benchmark.py reads results; it imports {harness}"


def test_library_works_with_the_tooling_unimportable():
    """Every public name of aelab resolves, and a small model trains, with the tooling blocked."""
    code = f"""
import sys, importlib.abc
BLOCKED = {TOOLING!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or name.startswith("aelab.course"):
            raise ModuleNotFoundError(f"blocked: {{name}}")
        return None
sys.meta_path.insert(0, Block())
import torch, aelab
for name in aelab.__all__:
    getattr(aelab, name)
model = aelab.IrisVAE()
history = aelab.fit(model, aelab.load_iris().features, epochs=1, batch_size=16, progress=False)
assert len(history.epoch_loss) == 1
bad = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not bad, bad
print("ok", len(aelab.__all__))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok ")


def test_library_requirements_hold_no_tooling():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[=<>\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert not names & {"nbgrader", "jupyterlab", "ipykernel", "nbclient", "nbformat", "pytest", "playwright"}
    assert {"nbgrader", "jupyterlab", "nbclient"} <= {
        re.split(r"[=<>\[ ]", d, maxsplit=1)[0].lower() for d in project["optional-dependencies"]["course"]
    }


def test_registry_matches_graders_and_notebooks():
    import autograder

    for a in registry.ASSIGNMENTS:
        assert list(autograder.all_checks(a.lab)) == a.check_ids(), f"{a.lab}: graders and registry differ"
        nb = json.loads(a.source_path(ROOT).read_text())
        called = [
            cid for c in nb["cells"] for cid in re.findall(r'autograder\.check\("([\w.]+)"', "".join(c["source"]))
        ]
        assert called == a.check_ids(), f"{a.notebook}: grade cells and registry differ"


def test_registry_finds_the_assignment_of_a_path():
    assert registry.assignment_of("x/03_mnist_outlier_lab.ipynb").lab == "lab03"
    assert registry.assignment_of("submitted/bob/02_iris_vae/whatever.ipynb").lab == "lab02"
    assert registry.assignment_of("04_my_copy.ipynb").name == "04_leave_one_digit_auroc"
    with pytest.raises(ValueError, match="cannot tell which assignment"):
        registry.assignment_of("notes/my_notebook.ipynb")
    with pytest.raises(KeyError, match="unknown assignment"):
        registry.assignment("lab09")


def test_one_nbgrader_configuration():
    """No hand-written copy of the course's nbgrader settings outside aelab.course.config."""
    pattern = re.compile(r"ClearSolutions\.code_stub|Execute\.timeout\s*=|GenerateFeedback\.preprocessors")
    files = [
        p
        for p in ROOT.rglob("*.py")
        if ".venv" not in p.parts
        and "test-output" not in p.parts
        and p != ROOT / "aelab" / "course" / "config.py"
        and p != Path(__file__).resolve()
    ]
    offenders = [str(p.relative_to(ROOT)) for p in files if pattern.search(p.read_text())]
    assert not offenders, f"nbgrader settings written by hand in {offenders}; call aelab.course.config.nbgrader_config"
