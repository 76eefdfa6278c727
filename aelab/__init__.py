"""aelab — helper package of the course on anomaly detection with autoencoders and VAEs.

Notebooks import it with one line, ``import aelab``, and call its parts by name
(``aelab.load_mnist``, ``aelab.MLPVAE``, ``aelab.fit``, ``aelab.plot_score_histogram``, ...).
Importing it has no side effects: nothing is loaded, trained or printed, and the submodules (and
torch) are imported on first use of a name, so importing it is quick.

The library is the students' side of the course: it imports nothing of nbgrader, Jupyter or the
graders. It exports no function whose only use would be to answer an exercise; where the library
or a lesson needs such code itself (``kl_normal_log_var``, ``percentile_threshold``,
``reconstruction_term``, ``IrisVAE.reparameterize``, ...), the graders refuse an answer that calls
it (the lists ``LIBRARY_ANSWERS`` in ``autograder/lab0*.py``). The instructors' tooling (build,
grading, classroom, the ``aelab`` command) lives in :mod:`aelab.course`, which needs the
``course`` extra.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    # aelab.benchmark (the committed figures of bench/auroc.py, read from its JSON)
    "BenchmarkResults": "benchmark",
    "benchmark_results": "benchmark",
    # aelab.data
    "IrisData": "data",
    "LeaveOneDigitSplit": "data",
    "MNISTData": "data",
    "conv_transform": "data",
    "binarize": "data",
    "shift_digits": "data",
    "leave_one_digit_split": "data",
    "load_iris": "data",
    "load_mnist": "data",
    "mlp_transform": "data",
    "to_conv_input": "data",
    "to_mlp_input": "data",
    # aelab.losses
    "kl_normal_log_var": "losses",
    "reconstruction_term": "losses",
    "vae_loss": "losses",
    # aelab.metrics
    "auprc": "metrics",
    "auroc": "metrics",
    "detection_rate": "metrics",
    "per_digit_table": "metrics",
    "roc_curve": "metrics",
    # aelab.models
    "BernoulliVAE": "models",
    "ConvVAE": "models",
    "DeepAutoEncoder": "models",
    "IrisDecoder": "models",
    "IrisEncoder": "models",
    "IrisVAE": "models",
    "MLPVAE": "models",
    "VAEOutput": "models",
    "layer_plan": "models",
    # aelab.perturb
    "Perturbed": "perturb",
    "mask_noise": "perturb",
    # aelab.plots
    "plot_digit_bars": "plots",
    "plot_image_pairs": "plots",
    "plot_latent_scatter": "plots",
    "plot_loss_curves": "plots",
    "plot_reconstructions": "plots",
    "plot_roc_curves": "plots",
    "plot_score_histogram": "plots",
    # aelab.scores
    "negative_elbo": "scores",
    "percentile_threshold": "scores",
    "context_bits": "scores",
    "png_bits": "scores",
    "reconstruct": "scores",
    "reconstruction_probability": "scores",
    # aelab.selfcheck (the visible tests' checks)
    "expect": "selfcheck",
    "expect_close": "selfcheck",
    "expect_dtype": "selfcheck",
    "expect_false": "selfcheck",
    "expect_shape": "selfcheck",
    "expect_true": "selfcheck",
    # aelab.tasks (the numbers each lab's tasks state)
    "task_settings": "tasks",
    # aelab.train
    "History": "train",
    "fit": "train",
    "fit_or_load": "train",
    # aelab.env
    "checkpoint_dir": "env",
    "data_dir": "env",
    "fast_mode": "env",
    "get_device": "env",
    "seed_everything": "env",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the lazily exported names


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
