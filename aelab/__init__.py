"""aelab — helper package of the course on anomaly detection with autoencoders and VAEs.

Notebooks import it with one line, ``import aelab``, and call its parts by name
(``aelab.load_mnist``, ``aelab.MLPVAE``, ``aelab.fit``, ``aelab.plot_score_histogram``, ...).
Importing it has no side effects: nothing is loaded, trained or printed.
"""

from .data import (
    IrisData,
    LeaveOneDigitSplit,
    MNISTData,
    conv_transform,
    data_dir,
    leave_one_digit_split,
    load_iris,
    load_mnist,
    mlp_transform,
    to_conv_input,
    to_mlp_input,
)
from .losses import kl_normal_log_sigma, kl_normal_log_var, reconstruction_loss, vae_loss
from .metrics import auprc, auroc, detection_rate, per_digit_table, roc_curve
from .models import (
    ConvVAE,
    DeepAutoEncoder,
    IrisDecoder,
    IrisEncoder,
    IrisVAE,
    MLPVAE,
    VAEOutput,
    layer_plan,
)
from .perturb import Perturbed, mask_noise
from .plots import (
    plot_digit_bars,
    plot_image_pairs,
    plot_latent_scatter,
    plot_loss_curves,
    plot_reconstructions,
    plot_roc_curves,
    plot_score_histogram,
)
from .scores import (
    latent_log_density,
    model_reconstruction_error,
    negative_elbo,
    normalized_scores,
    percentile_threshold,
    reconstruct,
    reconstruction_error,
    reconstruction_probability,
)
from .train import (
    History,
    checkpoint_dir,
    fast_mode,
    fit,
    fit_or_load,
    get_device,
    seed_everything,
)

__version__ = "0.1.0"
