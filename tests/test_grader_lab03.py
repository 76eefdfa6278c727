"""The lab 03 checks are fair: the reference passes, known mistakes lose points, other right answers don't."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from grader_helpers import Lab, message

from autograder import lab03
from autograder import reference as ref
from autograder.make_reference import TIE_BIAS, TIE_LOSS

LAB = Lab("lab03")
ids, failures = LAB.ids, LAB.failures
EXERCISES = ("reconstruction_loss", "compute_threshold", "detect_outlier")


def test_every_exercise_has_checks():
    for exercise in EXERCISES:
        assert 4 <= len(ids(exercise)) <= 6, exercise


# ============================================================ right answers, written differently
def _flat(x):
    x = torch.as_tensor(x)
    return x.reshape(-1, 784)


def rl_forward(vae, x):
    """The forward pass (a sampled z), F.binary_cross_entropy, no torch.no_grad."""
    x = _flat(x)
    out = vae(x, compute_loss=False)
    return F.binary_cross_entropy(out.x_recon, x + 0.5, reduction="none").sum(-1)


def rl_bceloss(vae, x):
    """nn.BCELoss(reduction='none') on the posterior mean, inside torch.no_grad."""
    x = x.reshape(len(x), -1) if x.dim() > 1 else x.reshape(1, -1)
    with torch.no_grad():
        recon = vae.decode(vae.encode(x).mean)
    return nn.BCELoss(reduction="none")(recon, x + 0.5).sum(dim=1)


def rl_loop(vae, x):
    """A loop over digits, the BCE written out by hand, a list of floats turned into a tensor."""
    x = x.reshape(-1, 784)
    out = []
    with torch.no_grad():
        for xi in x:
            p = vae.decode(vae.encode(xi[None]).mean)[0]
            t = xi + 0.5
            out.append(float(-(t * torch.log(p) + (1 - t) * torch.log(1 - p)).sum()))
    return torch.tensor(out)


def rl_numpy(vae, x):
    """Reconstruction in torch, loss in numpy (float32), returned as a numpy array."""
    x = x.reshape(-1, 784)
    with torch.no_grad():
        p = vae.decode(vae.encode(x).loc).numpy()
    t = x.numpy() + 0.5
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=1)


def rl_log_likelihood(vae, x):
    """The model's own log-likelihood helper, single digit returned as a 0-d tensor."""
    single = x.dim() == 1
    x = x.reshape(-1, 784)
    with torch.no_grad():
        loss = -vae.log_likelihood(x, vae(x, compute_loss=False).x_recon)
    return loss[0] if single else loss


def rl_float64(vae, x):
    """The BCE in double precision (log1p for the second term)."""
    x = x.reshape(-1, 784)
    with torch.no_grad():
        p = vae.decode(vae.encode(x).mean).double()
    t = x.double() + 0.5
    return -(t * torch.log(p) + (1 - t) * torch.log1p(-p)).sum(-1)


def rl_reconstruct(vae, x):
    """The course library's deterministic reconstruction (allowed: the loss is written here)."""
    import aelab

    x = x.reshape(-1, 784)
    return F.binary_cross_entropy(aelab.reconstruct(vae, x), x + 0.5, reduction="none").sum(-1)


def rl_noisy(vae, x):
    """A right answer that prints and warns: never marked down for it, and the check stays quiet."""
    print("debug", file=sys.stderr)
    warnings.warn("something")
    return ref.reconstruction_loss(vae, x)


def th_numpy(losses, outlier_fraction=0.01):
    return np.percentile(np.asarray(losses), 100 * (1 - outlier_fraction))


def th_torch(losses, outlier_fraction=0.01):
    return torch.quantile(losses, 1 - outlier_fraction)  # a 0-d float32 tensor


def th_sorted_index(losses, outlier_fraction=0.01):
    """Order statistic without interpolation (numpy's 'lower'-like definition)."""
    s = sorted(float(v) for v in losses)
    return s[int((1 - outlier_fraction) * (len(s) - 1))]


def th_higher(losses, outlier_fraction=0.01):
    return float(np.quantile(losses.numpy(), 1 - outlier_fraction, method="higher"))


def th_kthvalue(losses, outlier_fraction=0.01):
    """Type 1 (inverted CDF): the smallest loss with at least 1 - f of the losses at or below it."""
    k = max(1, int(np.ceil((1 - outlier_fraction) * len(losses))))
    return torch.kthvalue(losses, k).values.item()


def th_weibull(losses, outlier_fraction=0.01):
    return np.quantile(losses.numpy(), 1 - outlier_fraction, method="weibull")


def do_reference_style(vae, x, th):
    return ref.detect_outlier(vae, x, th)


def do_numpy_bools(vae, x, th):
    """numpy booleans, np.bool_ for one digit; reuses a right reconstruction_loss."""
    flags = np.asarray(rl_numpy(vae, x)) > th
    return flags[0] if x.dim() == 1 else flags


def do_forward_torch(vae, x, th):
    """torch bools from the forward pass; a (1,) tensor for one digit."""
    loss = rl_forward(vae, x)
    return loss > th


def do_float64(vae, x, th):
    """Double-precision losses: on the ties instance the loss is 391.9999914 (float64 log(p) is not
    exactly -0.5), which still lies strictly between 392.0 and the float32 number just below it."""
    flags = rl_float64(vae, x) > th
    return bool(flags[0]) if x.dim() == 1 else flags


def do_loop(vae, x, th):
    """A Python list of bools built in a loop (a single digit: a plain bool)."""
    if x.dim() == 1:
        return bool(rl_bceloss(vae, x)[0] > th)
    return torch.tensor([bool(rl_bceloss(vae, xi)[0] > th) for xi in x])


RIGHT = {
    "reconstruction_loss": [
        ref.reconstruction_loss,
        rl_forward,
        rl_bceloss,
        rl_loop,
        rl_numpy,
        rl_log_likelihood,
        rl_float64,
        rl_reconstruct,
        rl_noisy,
    ],
    "compute_threshold": [
        ref.compute_threshold,
        th_numpy,
        th_torch,
        th_sorted_index,
        th_higher,
        th_kthvalue,
        th_weibull,
    ],
    "detect_outlier": [ref.detect_outlier, do_reference_style, do_numpy_bools, do_forward_torch, do_loop, do_float64],
}


# ============================================================================== wrong answers
def rl_batch_mean(vae, x):
    """The seed's training loss: averaged over the batch (one value)."""
    x = x.reshape(-1, 784)
    return vae(x).loss_recon


def rl_no_shift(vae, x):
    """Forgot the +0.5: the target is x itself (torch refuses targets outside [0, 1])."""
    x = x.reshape(-1, 784)
    recon = vae(x, compute_loss=False).x_recon
    return F.binary_cross_entropy(recon, x, reduction="none").sum(-1)


def rl_no_shift_clamped(vae, x):
    """Forgot the +0.5 and clamped the target into [0, 1] to silence the error."""
    x = x.reshape(-1, 784)
    recon = vae(x, compute_loss=False).x_recon
    return F.binary_cross_entropy(recon, x.clamp(0, 1), reduction="none").sum(-1)


def rl_with_kl(vae, x):
    """The whole negative ELBO per sample: BCE + KL."""
    x = x.reshape(-1, 784)
    out = vae(x, compute_loss=False)
    std = torch.distributions.MultivariateNormal(
        torch.zeros_like(out.z_sample), scale_tril=torch.eye(16).expand(len(x), -1, -1)
    )
    kl = torch.distributions.kl_divergence(out.z_dist, std)
    return F.binary_cross_entropy(out.x_recon, x + 0.5, reduction="none").sum(-1) + kl


def rl_mse(vae, x):
    x = x.reshape(-1, 784)
    recon = vae(x, compute_loss=False).x_recon
    return ((recon - (x + 0.5)) ** 2).sum(-1)


def rl_pixel_mean(vae, x):
    """BCE averaged over the pixels instead of summed."""
    x = x.reshape(-1, 784)
    recon = vae(x, compute_loss=False).x_recon
    return F.binary_cross_entropy(recon, x + 0.5, reduction="none").mean(-1)


def rl_no_flatten(vae, x):
    """Works for (N, 784) and (784,) only: image-shaped input is not flattened."""
    recon = vae(x, compute_loss=False).x_recon
    return F.binary_cross_entropy(recon, x + 0.5, reduction="none").sum(-1)


def rl_in_place(vae, x):
    """Shifts the caller's tensor in place."""
    x = x.reshape(-1, 784)
    x += 0.5
    recon = vae.decode(vae.encode(x - 0.5).mean)
    return F.binary_cross_entropy(recon, x, reduction="none").sum(-1)


def rl_encoder_shifted(vae, x):
    """The right BCE, but the encoder is given the targets x + 0.5 instead of the inputs x."""
    x = x.reshape(-1, 784)
    with torch.no_grad():
        recon = vae.decode(vae.encode(x + 0.5).mean)
    return F.binary_cross_entropy(recon, x + 0.5, reduction="none").sum(-1)


def th_first_percentile(losses, outlier_fraction=0.01):
    return np.percentile(losses, 100 * outlier_fraction)


def th_fraction_as_percent(losses, outlier_fraction=0.01):
    return np.percentile(losses, 1 - outlier_fraction)  # 0.99 read as a percent


def th_batch_means(losses, outlier_fraction=0.01):
    """The seed's pitfall: the percentile of per-batch mean losses."""
    means = [b.mean() for b in torch.split(losses, 128)]
    return np.percentile(torch.stack(means).numpy(), 100 * (1 - outlier_fraction))


def th_ignores_fraction(losses, outlier_fraction=0.01):
    return np.percentile(losses, 99)


def th_max(losses, outlier_fraction=0.01):
    return float(losses.max())


def th_mean_plus_2std(losses, outlier_fraction=0.01):
    return float(losses.mean() + 2 * losses.std())


def th_sorts_in_place(losses, outlier_fraction=0.01):
    """np.asarray shares the tensor's memory, so ndarray.sort() reorders the caller's losses."""
    a = np.asarray(losses)
    a.sort()
    return float(a[int((1 - outlier_fraction) * (len(a) - 1))])


def th_rounded(losses, outlier_fraction=0.01):
    """The quantile rounded down to a whole number: right on 1, 2, ..., 100, not on real losses."""
    return int(np.percentile(np.asarray(losses), 100 * (1 - outlier_fraction)))


def do_inverted(vae, x, th):
    flags = ref.reconstruction_loss(vae, x) < th
    return bool(flags[0]) if x.dim() == 1 else flags


def do_ge(vae, x, th):
    flags = ref.reconstruction_loss(vae, x) >= th
    return bool(flags[0]) if x.dim() == 1 else flags


def do_returns_loss(vae, x, th):
    return ref.reconstruction_loss(vae, x)


def do_batch_mean(vae, x, th):
    """One decision for the whole batch (the loss averaged over the batch)."""
    return bool(ref.reconstruction_loss(vae, x).mean() > th)


def do_any(vae, x, th):
    return bool((ref.reconstruction_loss(vae, x) > th).any())


def do_int(vae, x, th):
    flags = (ref.reconstruction_loss(vae, x) > th).int()
    return flags[0] if x.dim() == 1 else flags


def do_with_kl(vae, x, th):
    return rl_with_kl(vae, x) > th if x.dim() > 1 else bool((rl_with_kl(vae, x) > th)[0])


def do_mse(vae, x, th):
    return rl_mse(vae, x) > th if x.dim() > 1 else bool((rl_mse(vae, x) > th)[0])


def do_batch_mean_broadcast(vae, x, th):
    """The batch's mean loss compared with th, one decision per digit (all the same)."""
    losses = ref.reconstruction_loss(vae, x)
    flags = losses.mean().expand_as(losses) > th
    return bool(flags[0]) if x.dim() == 1 else flags


def do_stub(vae, x, th):
    """The seed's placeholder."""
    return False


# exercise -> (wrong implementation, checks of which at least one must fail)
WRONG = {
    "reconstruction_loss": [
        (rl_batch_mean, {"shape", "values"}),
        (rl_no_shift, {"values"}),
        (rl_no_shift_clamped, {"values"}),
        (rl_with_kl, {"values"}),
        (rl_mse, {"values"}),
        (rl_pixel_mean, {"values"}),
        (rl_no_flatten, {"image_shapes"}),
        (rl_in_place, {"values"}),
        (rl_encoder_shifted, {"values"}),
    ],
    "compute_threshold": [
        (th_first_percentile, {"default"}),
        (th_fraction_as_percent, {"default"}),
        (th_batch_means, {"default"}),
        (th_ignores_fraction, {"fraction"}),
        (th_max, {"default"}),
        (th_mean_plus_2std, {"default"}),
        (th_sorts_in_place, {"default"}),
        (th_rounded, {"default"}),
    ],
    "detect_outlier": [
        (do_inverted, {"single", "batch"}),
        (do_ge, {"ties"}),
        (do_returns_loss, {"single", "batch"}),
        (do_batch_mean, {"batch"}),
        (do_any, {"batch"}),
        (do_int, {"single", "batch"}),
        (do_with_kl, {"batch", "perturbed"}),
        (do_mse, {"batch"}),
        (do_stub, {"single"}),
        (do_batch_mean_broadcast, {"batch"}),
    ],
}


test_right_answers_pass_every_check, test_wrong_answers_lose_points = LAB.catalogue_tests(RIGHT, WRONG)


# ================================================================================ messages


def test_messages_name_the_mistake_without_the_answer():
    msg = message("lab03.reconstruction_loss.values", rl_with_kl)
    assert "KL" in msg
    assert "sum" in message("lab03.reconstruction_loss.values", rl_pixel_mean)
    assert "binary cross-entropy" in message("lab03.reconstruction_loss.values", rl_mse)
    assert "in place" in message("lab03.reconstruction_loss.values", rl_in_place)
    assert "not the loss" in message("lab03.detect_outlier.batch", do_returns_loss)
    assert "opposite" in message("lab03.detect_outlier.batch", do_inverted)
    assert "equals th exactly" in message("lab03.detect_outlier.ties", do_ge)
    msg = message("lab03.compute_threshold.default", th_fraction_as_percent)
    assert "percentage" in msg
    assert "x + 0.5" in message("lab03.reconstruction_loss.values", rl_no_shift)
    assert "clamped" in message("lab03.reconstruction_loss.values", rl_no_shift_clamped)
    assert "expected False" in message("lab03.detect_outlier.ties", do_ge)
    assert "changed its argument x (argument 2) in place" in message("lab03.reconstruction_loss.shape", rl_in_place)
    assert "changed its argument losses (argument 1) in place" in message(
        "lab03.compute_threshold.returns_number", th_sorts_in_place
    )
    msg = message("lab03.detect_outlier.ties", do_batch_mean_broadcast)
    assert "flagged" in msg and "of the 2 whose loss equals th exactly" in msg
    th = ref.compute_threshold(torch.load(lab03.DATA / "lab03_data.pt", weights_only=True)["train_losses"])
    assert f"{th:.2f}" not in msg and f"{th:.1f}" not in msg


# ============================================================================ quiet and fast
def test_checks_are_quiet(capfd):
    LAB.assert_quiet(capfd, {"reconstruction_loss": [rl_noisy]})


# ============================================================== the grading instances themselves
def test_ties_instance_is_exact_for_every_formulation():
    model = lab03._tie_model()
    white = torch.full((784,), 0.5)
    batch = white.expand(5, 784).clone()
    for fn in (ref.reconstruction_loss, rl_forward, rl_bceloss, rl_loop, rl_numpy, rl_log_likelihood):
        for x in (white, batch):
            out = fn(model, x.clone())
            got = out.detach() if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))
            got = got.reshape(-1)
            assert bool((got == TIE_LOSS).all()), (fn.__name__, got)
    p = torch.sigmoid(torch.tensor(TIE_BIAS, dtype=torch.float32))
    assert torch.log(p).item() == -0.5


def test_posterior_is_sharp_so_sampling_does_not_matter():
    model = lab03._model()
    x = torch.load(lab03.DATA / "lab03_data.pt", weights_only=True)["x_test"][:32]
    with torch.no_grad():
        q = model.encode(x)
        assert float(q.stddev.max()) < 1e-7
        a = ref.reconstruction_loss(model, x)
        b = rl_forward(model, x)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-4)


def test_grading_thresholds_are_far_from_every_loss():
    """The batch and perturbed checks never decide a near-tie (those are graded by check_ties only)."""
    model = lab03._model()
    data = torch.load(lab03.DATA / "lab03_data.pt", weights_only=True)
    th = ref.compute_threshold(data["train_losses"])
    for x in (data["x_test"], data["x_pert"]):
        losses = ref.reconstruction_loss(model, x).double()
        assert float((losses - th).abs().min()) > 1e-4 * th  # right answers differ by < 1e-5
    losses = ref.reconstruction_loss(model, data["x_test"][:64]).double().numpy()
    th = lab03._separated_threshold(losses)
    assert np.abs(losses - th).min() > 1e-3 * th
    # the perturbed digits are flagged more often than the clean ones: the check is not vacuous
    clean = (
        (ref.reconstruction_loss(model, data["x_test"]) > ref.compute_threshold(data["train_losses"])).float().mean()
    )
    pert = (ref.reconstruction_loss(model, data["x_pert"]) > ref.compute_threshold(data["train_losses"])).float().mean()
    assert pert > clean
