"""Grading trains no network: the course's fast-mode weights are served read-only to the kernel.

The engine tests grade lab 03 (the MLP VAE of 784 -> 512 -> 16) in the sandbox this machine allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from course_helpers import tree_hash

from aelab.course import checkpoints, engine, registry

LAB = "03_mnist_outlier_lab"


def _source(name: str) -> bytes:
    return registry.assignment(name).source_path(registry.course_root()).read_bytes()


def test_the_key_follows_the_lesson_and_only_labs_that_train_through_fit_or_load_get_weights():
    src = _source(LAB)
    assert checkpoints.key(src) == checkpoints.key(src)
    assert checkpoints.key(src) != checkpoints.key(src.replace(b"EPOCHS = 3", b"EPOCHS = 4"))
    assert checkpoints.folder_for(LAB, src) != checkpoints.folder_for(LAB, src + b" ")
    assert checkpoints.uses_checkpoints(src)
    assert not checkpoints.uses_checkpoints(_source("02_iris_vae"))  # its training uses the learner's functions
    assert checkpoints.ensure("02_iris_vae", _source("02_iris_vae")) == (None, "")


def _training_cell_output(result) -> str:
    nb = nbformat.reads(result.notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "fit_or_load" in c.source]
    assert len(cells) == 1
    return "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def weights():
    folder, note = checkpoints.ensure(LAB, _source(LAB))
    assert folder is not None, note
    manifest = json.loads((folder / checkpoints.MANIFEST).read_text())
    assert manifest["key"] == checkpoints.key(_source(LAB))
    assert manifest["files"] == ["lab03_mlpvae_mlxtend_fast.json", "lab03_mlpvae_mlxtend_fast.pt"]
    return folder


def test_a_graded_notebook_loads_the_course_weights_instead_of_training(weights, tmp_path):
    before = tree_hash(weights)
    path = tmp_path / "lab03.ipynb"
    path.write_bytes(_source(LAB))
    result = engine.run_job(engine.job_from_paths(path, LAB))
    assert (result.status, result.score) == ("graded", result.max_score), result.reasons
    out = _training_cell_output(result)
    assert "loaded the checkpoint lab03_mlpvae_mlxtend_fast.pt" in out
    assert "3 epochs" in out  # the history came with the weights
    assert tree_hash(weights) == before


def test_a_notebook_that_trains_on_other_data_trains_its_own_and_cannot_write_the_course_copy(weights, tmp_path):
    before = tree_hash(weights)
    nb = nbformat.reads(_source(LAB).decode(), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "fit_or_load" in c.source)
    # the training cell is locked (restored from the source); a cell of the learner's before it is not
    nb.cells.insert(at, nbformat.v4.new_code_cell("x_train = x_train[:1000]  # a smaller experiment"))
    path = tmp_path / "lab03.ipynb"
    nbformat.write(nb, path)
    result = engine.run_job(engine.job_from_paths(path, LAB))
    assert result.status == "graded" and result.score == result.max_score, result.reasons
    out = _training_cell_output(result)
    assert "not loading the checkpoint" in out and "another model, data set or setting" in out
    if result.sandbox != "none":
        assert "were not saved" in out  # a read-only folder: its own weights go nowhere
    assert tree_hash(weights) == before
    assert Path(weights).stat().st_mode & 0o777 == 0o755
