"""One source for the benchmark's figures: the committed JSON of ``bench/auroc.py``.

``aelab.benchmark_results`` reads it; lab 04 shows its tables in a code cell and its prose quotes no
figure; the README's figures are written from it by ``bench/readme_figures.py`` and kept fresh here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import readme_figures  # bench/readme_figures.py (pytest puts bench/ on sys.path, pyproject.toml)

import aelab
from aelab.course import registry

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LAB04 = registry.assignment("lab04")
# A decimal with two or more digits after "0.": what a hand-copied AUROC, AUPRC or spread looks like
# (0.905, 0.91, ± 0.008); one-digit values such as 0.5 (chance) or 0.3 (a threshold) are not caught.
FIGURE = re.compile(r"(?<![\d.])0\.\d{2,}(?!\d)")
# Figures of the source document itself (the original notebook's own thresholded AUROCs), not of
# the benchmark: lab 04 quotes them as what the original reported.
SOURCE_DOCUMENT_FIGURES = {"0.740", "0.353"}


def _json(name: str) -> dict:
    return json.loads((BENCH / name).read_text())


def _markdown(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def hand_copied_figures(texts) -> list[str]:
    """The figures in ``texts`` that look like benchmark numbers typed in by hand."""
    return [m for text in texts for m in FIGURE.findall(text) if m not in SOURCE_DOCUMENT_FIGURES]


# ------------------------------------------------------------------------- aelab.benchmark_results
@pytest.mark.parametrize("name", ["results_mlxtend.json", "results_mlxtend_3seeds.json"])
def test_benchmark_results_are_the_committed_json(name):
    raw = _json(name)
    results = aelab.benchmark_results(BENCH / name)
    assert results.path == BENCH / name
    assert results.seeds == tuple(raw["seeds"]) and results.data_source == raw["data_source"]
    assert list(results.auroc.index) == raw["digits"] and list(results.auroc.columns) == list(raw["methods"])
    for method, entry in raw["methods"].items():
        assert results.auroc[method].tolist() == entry["auroc"]
        assert results.auprc[method].tolist() == entry["auprc"]
        assert results.auroc_std[method].tolist() == raw["std_auroc"][method]
        row = results.summary.loc[method]
        assert row.mean_auroc == entry["mean_auroc"]
        assert row.std_mean_auroc == raw["std_mean_auroc"][method]
        assert row.mean_auprc == raw["mean_auprc"][method]
        hardest = min(range(len(entry["auroc"])), key=entry["auroc"].__getitem__)
        assert row.hardest_digit == raw["digits"][hardest]
        assert row.hardest_auroc == entry["auroc"][hardest]
        assert row.hardest_auroc_std == raw["std_auroc"][method][hardest]
        assert row.description == raw["descriptions"][method]
    assert results.describe().startswith(f"bench/{name}: python bench/auroc.py on the mlxtend digits")


def test_the_default_is_the_three_seed_run_and_a_bare_name_is_looked_up_in_bench():
    assert aelab.benchmark_results().path == BENCH / "results_mlxtend_3seeds.json"
    assert aelab.benchmark_results().seeds == (0, 1, 2)
    assert aelab.benchmark_results("results_mlxtend.json").seeds == (0,)


def test_the_course_dir_is_searched_first(tmp_path, monkeypatch):
    raw = _json("results_mlxtend.json")
    raw["methods"]["pca"]["mean_auroc"] = 0.5
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results_mlxtend_3seeds.json").write_text(json.dumps(raw))
    monkeypatch.setenv("AELAB_COURSE_DIR", str(tmp_path))
    results = aelab.benchmark_results()
    assert results.path == tmp_path / "bench" / "results_mlxtend_3seeds.json"
    assert results.summary.loc["pca", "mean_auroc"] == 0.5
    assert str(tmp_path) in results.describe()  # outside the checkout: the full path


def test_bad_paths_and_files_are_refused_with_clear_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_COURSE_DIR", str(tmp_path))  # searched first, and empty
    with pytest.raises(FileNotFoundError, match=r"no_such\.json are not here \(looked for .*no_such\.json"):
        aelab.benchmark_results(tmp_path / "no_such.json")
    with pytest.raises(TypeError, match="path must be a str, a path or None"):
        aelab.benchmark_results(3)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        aelab.benchmark_results(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds a list; expected the JSON object bench/auroc.py writes"):
        aelab.benchmark_results(bad)
    raw = _json("results_mlxtend.json")
    del raw["std_auroc"]
    bad.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"lacks the keys \['std_auroc'\]"):
        aelab.benchmark_results(bad)
    raw = _json("results_mlxtend.json")
    raw["methods"]["pca"]["auroc"] = raw["methods"]["pca"]["auroc"][:9]
    bad.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="method 'pca' has 9 auroc values for 10 digits"):
        aelab.benchmark_results(bad)


def test_committed_descriptions_are_the_harness_ones():
    import auroc as bench

    for name in ("results_mlxtend.json", "results_mlxtend_3seeds.json"):
        descriptions = _json(name)["descriptions"]
        assert descriptions == {m: bench.METHODS[m][1] for m in descriptions}, name


# ------------------------------------------------------------------------------------ the README
def test_readme_figures_are_written_from_the_committed_json():
    readme = (ROOT / "README.md").read_text()
    assert readme_figures.current_block(readme) == readme_figures.fresh_block(), (
        "README.md's benchmark figures differ from bench/*.json: run python bench/readme_figures.py"
    )
    three = aelab.benchmark_results("results_mlxtend_3seeds.json").summary.loc["bvae_elbo_ctx"]
    assert f"{three.mean_auroc:.3f} ± {three.std_mean_auroc:.3f}" in readme_figures.current_block(readme)


def test_readme_quotes_no_benchmark_figure_by_hand():
    readme = (ROOT / "README.md").read_text()
    generated = readme_figures.current_block(readme)
    section = readme.split("## Benchmarks", 1)[1].split("\n## ", 1)[0].replace(generated, "")
    assert hand_copied_figures([section]) == [], "README's benchmark section: a figure outside the generated block"


def test_readme_block_is_replaced_in_place():
    readme = "intro\n" + readme_figures.BEGIN + "\n  old 0.907\n" + readme_figures.END + "\nrest\n"
    new = readme_figures.with_block(readme, "  new")
    assert new == "intro\n" + readme_figures.BEGIN + "\n  new\n" + readme_figures.END + "\nrest\n"
    with pytest.raises(ValueError, match="marker lines"):
        readme_figures.current_block("no markers")


# -------------------------------------------------------------------------------------- lab 04
def test_the_figure_pattern_catches_a_copied_figure():
    assert hand_copied_figures(["mean AUROC about **0.91** (three seeds: 0.905 ± 0.008)"]) == ["0.91", "0.905", "0.008"]
    assert hand_copied_figures(["0.5 is a coin toss; `mse > 0.3`; reported 0.740 and 0.353; 10.25 s"]) == []


@pytest.mark.parametrize("folder", ["source", "release"])
def test_lab04_prose_quotes_no_benchmark_figure(folder):
    path = ROOT / folder / LAB04.name / LAB04.notebook
    copied = hand_copied_figures(_markdown(path))
    assert not copied, (
        f"{path.relative_to(ROOT)}: figures typed into the prose {copied}; show them from "
        "aelab.benchmark_results() in a code cell instead"
    )


def test_lab04_reads_the_benchmark_in_a_code_cell():
    nb = nbformat.read(LAB04.source_path(ROOT), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "aelab.benchmark_results()" in code and "aelab.plot_digit_bars" in code


def test_lab04_solution_shows_the_committed_table():
    nb = nbformat.read(ROOT / "solutions" / LAB04.name / LAB04.notebook, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "aelab.benchmark_results()" in c.source)
    text = "".join(o.get("text", "") for o in cell.outputs)
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    assert text.startswith("bench/results_mlxtend_3seeds.json: python bench/auroc.py"), text
    summary = aelab.benchmark_results().summary
    for method, row in summary.iterrows():
        assert method in html and f"{round(row.mean_auroc, 3):.3f}" in html, method
    figure = nb.cells[nb.cells.index(cell) + 1]
    assert any("image/png" in o.get("data", {}) for o in figure.outputs), "the benchmark's figure is missing"


def test_lab04_claims_hold_in_the_committed_results():
    """What lab 04's prose says about the benchmark without quoting a figure (section 7)."""
    results = aelab.benchmark_results()
    mean, auroc = results.summary.mean_auroc, results.auroc
    assert mean["original"] < 0.5 and mean["original"] < mean["pca"]  # weaker than PCA and chance
    assert mean.idxmax() == "bvae_agg_ctx"  # the complexity correction with the training codes as the prior
    hardest = results.summary.hardest_auroc
    assert hardest["bvae_agg_ctx"] > hardest["bvae_elbo_ctx"]  # it lifts the hardest digit
    assert auroc.loc[4, "bvae_agg_ctx"] < auroc.loc[4, "bvae_elbo_ctx"]  # and costs the 4 a little
    assert mean["bvae_elbo_ctx"] > max(mean[m] for m in ("bvae_mse", "bvae_neg_elbo", "bvae_elbo_png", "pca"))
    for method in ("bvae_mse", "bvae_neg_elbo", "bvae_recon_prob"):
        assert auroc.loc[1, method] < 0.5 < (auroc[method].drop(1) > 0.5).mean()  # they fail on a held-out 1
    assert auroc.loc[1, "bvae_elbo_ctx"] > 0.5 and auroc.loc[1, "bvae_elbo_png"] > 0.5  # the correction fixes it
    worse = (auroc["bvae_elbo_png"] < auroc["bvae_mse"]).drop(1)
    assert worse.mean() > 0.5  # PNG's correction loses on most other digits
    assert (results.summary.mean_auprc < results.summary.mean_auroc).all()
