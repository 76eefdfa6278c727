"""``aelab build`` writes the same bytes every run: the normalisation of executed notebooks (fast unit
tests), a small notebook executed twice, and one assignment built twice in a scratch course."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import nbformat
import pytest

from aelab.course import build

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = "/tmp/aelab-exec-abc123"


def _stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _executed():
    """A notebook as nbclient leaves it, with every part that varies run to run."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
        }
    )
    train = nbformat.v4.new_code_cell("train()", execution_count=1)
    train.metadata["execution"] = {"iopub.execute_input": "2026-12-02T07:49:48.1Z"}
    train.outputs = [
        _stream("stdout", "training:"),
        _stream("stdout", " tensor([0.0, 0.3])\n20 epochs in 2.3 s; loss 11.146 -> 1.693\n"),
        _stream("stderr", "\r  0%|   | 0/2\r 50%|#  | 1/2\r100%|## | 2/2\n"),
        _stream("stdout", f"full MNIST not found under {SCRATCH}/data; bundled digits\n"),
    ]
    plot = nbformat.v4.new_code_cell("plot()", execution_count=2)
    plot.outputs = [
        _stream("stdout", "3 epochs, 2 s.d. above the mean, in 0.5 s\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        _stream("stdout", "took 12 ms\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), train, plot]
    for cell, cell_id in zip(nb.cells, ("title", "train", "plot")):
        cell.id = cell_id
    return nb


SOURCE_METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


def _normalised():
    return build.normalise(_executed(), metadata=SOURCE_METADATA, scratch=[SCRATCH])


def test_normalise_merges_streams_and_strips_what_varies():
    nb = _normalised()
    train, plot = nb.cells[1], nb.cells[2]
    assert [(o.output_type, o.get("name")) for o in train.outputs] == [
        ("stream", "stdout"),
        ("stream", "stderr"),
        ("stream", "stdout"),
    ], "consecutive streams of one name are merged, stdout and stderr keep their order"
    assert train.outputs[0].text == "training: tensor([0.0, 0.3])\n20 epochs in [time varies]; loss 11.146 -> 1.693\n"
    assert train.outputs[1].text == "100%|## | 2/2\n", "a progress bar keeps its final state only"
    assert train.outputs[2].text == "full MNIST not found under <build scratch>/data; bundled digits\n"
    assert "execution" not in train.metadata
    assert plot.outputs[0].text == "3 epochs, 2 s.d. above the mean, in [time varies]\n"
    assert plot.outputs[1].data == {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    assert plot.outputs[2].text == "took [time varies]\n"
    assert dict(nb.metadata) == SOURCE_METADATA, "the kernel's Python version and widget state are dropped"
    nbformat.validate(nb)


def test_normalise_is_idempotent():
    once = build._dump(_normalised())
    twice = build._dump(
        build.normalise(nbformat.reads(once, as_version=4), metadata=SOURCE_METADATA, scratch=[SCRATCH])
    )
    assert once == twice


def test_normalise_gives_one_text_whatever_the_chunks():
    a = _executed()
    b = _executed()
    first = b.cells[1].outputs
    b.cells[1].outputs = [_stream("stdout", "train"), _stream("stdout", "ing: tensor([0.0, 0.3])\n20 epochs in 9.9 s")]
    b.cells[1].outputs += [_stream("stdout", "; loss 11.146 -> 1.693\n")] + first[2:]
    b.cells[1].outputs[3].text = "\r100%|## | 2/2\n"
    b.cells[1].metadata["execution"] = {"iopub.execute_input": "2027-01-01T00:00:00Z"}
    b.metadata["language_info"]["version"] = "3.11.9"
    assert build._dump(build.normalise(a, metadata=SOURCE_METADATA, scratch=[SCRATCH])) == build._dump(
        build.normalise(b, metadata=SOURCE_METADATA, scratch=[SCRATCH])
    )


def test_carriage_returns_collapse_as_a_terminal_shows_them():
    collapse = build._collapse_carriage_returns
    assert collapse("a\rb\rc\n") == "c\n"
    assert collapse("line\r\nnext\n") == "line\nnext\n"
    assert collapse("50%\r") == "50%", "a trailing carriage return leaves the line as it was"
    assert collapse("no returns\nat all") == "no returns\nat all"


def test_solutions_say_how_they_were_normalised():
    for a, src in build.source_notebooks(ROOT):
        meta = nbformat.read(ROOT / "solutions" / a / src.name, as_version=4).metadata
        assert meta["aelab"].get("outputs") == build.NORMALISED, f"solutions/{a}: run `aelab build`"
        assert "version" not in meta.get("language_info", {}), f"solutions/{a}: run `aelab build`"


# ---------------------------------------------------------------------------------------- executed
TINY = [
    # stdout written in flushed chunks, with pauses: the kernel sends several stream messages
    'import sys, time\nfor i in range(3):\n    print("chunk", i, end=" ", flush=True)\n    time.sleep(0.25)\n'
    't0 = time.perf_counter()\nprint(f"\\ntrained in {time.perf_counter() - t0 + 0.1:.3f} s")',
    'for i in range(3):\n    print(f"\\r{i}/3", end="", file=sys.stderr, flush=True)\n    time.sleep(0.1)\n'
    'print("\\rdone", file=sys.stderr)',
    'import os\nprint(os.environ["AELAB_DATA"])',
    "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_a_notebook_executes_to_the_same_bytes_twice(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.from_dict(SOURCE_METADATA)
    nb.cells = [nbformat.v4.new_code_cell(code) for code in TINY]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    first, second = (build.execute_notebook(path) for _ in range(2))
    assert build._dump(first) == build._dump(second)
    outputs = [c.outputs for c in first.cells]
    assert [o.text for o in outputs[0]] == ["chunk 0 chunk 1 chunk 2 \ntrained in [time varies]\n"]
    assert [o.text for o in outputs[1]] == ["done\n"]
    assert [o.text for o in outputs[2]] == ["<build scratch>/data\n"]
    png = base64.b64decode(outputs[3][0].data["image/png"])
    assert png.startswith(b"\x89PNG") and b"tEXt" not in png, "no matplotlib version in the figures"
    assert dict(first.metadata) == SOURCE_METADATA


@pytest.mark.slow
@pytest.mark.notebook
def test_building_twice_gives_the_same_files_and_check_passes(tmp_path):
    """One assignment (the quickest) built twice in a scratch course: byte-identical, and fresh."""
    assignment = "01_autoencoder_basics"
    shutil.copytree(ROOT / "source" / assignment, tmp_path / "source" / assignment)

    def files():
        return {
            p.relative_to(tmp_path): p.read_bytes()
            for folder in ("release", "solutions")
            for p in sorted((tmp_path / folder).rglob("*"))
            if p.is_file()
        }

    build.build(tmp_path, [assignment], log=lambda *_: None)
    first = files()
    assert build.stale_files(tmp_path, [assignment]) == []
    build.build(tmp_path, [assignment], log=lambda *_: None)
    second = files()
    assert sorted(map(str, first)) == [
        f"release/{assignment}/{assignment}.ipynb",
        f"solutions/{assignment}/{assignment}.ipynb",
    ]
    changed = [str(rel) for rel in first if first[rel] != second.get(rel)]
    assert not changed, f"a second build changed {changed}"


@pytest.mark.slow
@pytest.mark.notebook
def test_a_failing_build_writes_nothing(tmp_path):
    """A source notebook whose own cells fail (a task changed, the graders not) leaves release/ and
    solutions/ exactly as they were: the build is all or nothing."""
    good, bad = "01_autoencoder_basics", "02_iris_vae"
    for a in (good, bad):
        shutil.copytree(ROOT / "source" / a, tmp_path / "source" / a)
    for folder in ("release", "solutions"):
        for a in (good, bad):
            (tmp_path / folder / a).mkdir(parents=True)
            (tmp_path / folder / a / f"{a}.ipynb").write_text(f"the old {folder} of {a}\n")
    path = tmp_path / "source" / bad / f"{bad}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('the task changed')"))
    nbformat.write(nb, path)
    with pytest.raises(
        RuntimeError,
        match=r"02_iris_vae.ipynb failed in fast mode \(ValueError: the task changed\); nothing was written",
    ):
        build.build(tmp_path, [good, bad], log=lambda *_: None)
    left = sorted(
        (p.relative_to(tmp_path), p.read_text())
        for f in ("release", "solutions")
        for p in (tmp_path / f).rglob("*.ipynb")
    )
    assert left == sorted(
        (Path(folder) / a / f"{a}.ipynb", f"the old {folder} of {a}\n")
        for folder in ("release", "solutions")
        for a in (good, bad)
    )
