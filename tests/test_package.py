"""The package itself: one import line, no side effects, every public name resolves."""

import subprocess
import sys

import aelab


def test_every_public_name_resolves():
    missing = [name for name in aelab.__all__ if getattr(aelab, name, None) is None]
    assert not missing
    assert {
        "load_mnist",
        "MLPVAE",
        "fit",
        "percentile_threshold",
        "auroc",
        "mask_noise",
        "plot_score_histogram",
        "fit_or_load",
        "leave_one_digit_split",
    } <= set(aelab.__all__)


def test_no_exercise_is_a_public_name():
    """The graded functions are the learners' to write (autograder/lab0*.py): none is exported."""
    from aelab.course import registry

    exercises = {ex.name for a in registry.ASSIGNMENTS for ex in a.exercises}
    assert not exercises & set(aelab.__all__)
    assert not {"kl_normal_log_sigma", "model_reconstruction_error"} & set(aelab.__all__)


def test_import_has_no_side_effects():
    code = "import sys, aelab; print(sorted(m for m in ('torch', 'matplotlib', 'alibi_detect') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == "[]" and result.stderr == ""


def test_unknown_name_is_an_attribute_error():
    try:
        aelab.not_a_function  # noqa: B018
    except AttributeError as exc:
        assert "not_a_function" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
