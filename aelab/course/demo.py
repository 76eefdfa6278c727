"""``aelab demo``: the course in one minute — train seed 001's VAE on MNIST, pick the 99th-percentile
threshold on the training losses, and flag clean and perturbed test digits."""

from __future__ import annotations

import time
from pathlib import Path


def _losses(model, x):
    """Seed 001's per-digit loss: minus the log-likelihood of ``x`` under its deterministic reconstruction."""
    import torch

    import aelab

    with torch.no_grad():
        return -model.log_likelihood(x, aelab.reconstruct(model, x))


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import torch

    import aelab

    start = time.perf_counter()
    aelab.seed_everything(0)
    train = aelab.load_mnist("train", source=args.source)
    test = aelab.load_mnist("test", source=args.source)
    x_train = aelab.to_mlp_input(train.images[: args.max_train])
    x_test = aelab.to_mlp_input(test.images[:1000])
    model = aelab.MLPVAE(784, 512, 16)
    history = aelab.fit(
        model,
        x_train,
        epochs=args.epochs,
        batch_size=128,
        lr=1e-3,
        optimizer="adamw",
        weight_decay=1e-2,
        grad_clip=1.0,
        desc="MLP VAE (seed 001)",
    )
    train_losses = _losses(model, x_train)
    threshold = aelab.percentile_threshold(train_losses, 0.01)
    clean = _losses(model, x_test)
    perturbed_x, _ = aelab.mask_noise(x_test, mask_size=(8, 8), seed=0)
    perturbed = _losses(model, perturbed_x)
    labels = torch.cat([torch.zeros(len(clean)), torch.ones(len(perturbed))]).long()
    auc = aelab.auroc(labels, torch.cat([clean, perturbed]))
    print(f"data: {train.source} ({len(x_train):,} training digits, {len(x_test):,} test digits)")
    print(f"training loss per epoch: {', '.join(f'{v:.1f}' for v in history.epoch_loss)} ({history.seconds:.1f} s)")
    print(f"threshold (99th percentile of training losses): {threshold:.1f}")
    print(
        f"flagged: {float((clean > threshold).float().mean()):.1%} of clean test digits, "
        f"{float((perturbed > threshold).float().mean()):.1%} of digits with an 8x8 noise patch"
    )
    print(f"AUROC clean vs perturbed (reconstruction loss as score): {auc:.3f}")
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    fig = aelab.plot_score_histogram(
        {"clean": clean, "8x8 noise patch": perturbed}, threshold, xlabel="reconstruction loss (BCE, nats)"
    )
    fig.savefig(out / "scores.png", dpi=100)
    print(f"figure: {out / 'scores.png'}")
    print(f"aelab demo: done in {time.perf_counter() - start:.1f} s")
    return 0
