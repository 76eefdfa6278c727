"""Perturbed digits through alibi-detect's ``apply_mask`` (seed 001's outliers).

``apply_mask`` wants NHWC numpy images and applies the *same* masks to every image of a call, so
:func:`mask_noise` calls it once per image with a seeded NumPy state to give every digit its own
patch, then returns tensors in the caller's shape.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_choice, check_positive_int, tensor_arg

__all__ = ["Perturbed", "mask_noise", "apply_mask"]


def apply_mask(*args, **kwargs):
    """alibi-detect's ``apply_mask``, imported lazily and quietly (its import warns on stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from alibi_detect.utils.perturbation import apply_mask as _apply_mask
    return _apply_mask(*args, **kwargs)


@dataclass
class Perturbed:
    """Result of :func:`mask_noise`.

    Attributes:
        images: the perturbed images, same shape and dtype as the input.
        mask: (N, 28, 28) bool tensor, True on the pixels inside a noise patch.
    """

    images: torch.Tensor
    mask: torch.Tensor

    def __iter__(self):  # allows ``x_pert, mask = mask_noise(...)``
        return iter((self.images, self.mask))


def _to_nhwc(x: torch.Tensor, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(x.shape)
    n = 1 if x.dim() == 1 or (x.dim() == 2 and shape == (28, 28)) else shape[0]
    if x.numel() != n * 784:
        raise ValueError(
            f"{name} must hold 28x28 digits shaped (784,), (28, 28), (N, 784), (N, 28, 28), "
            f"(N, 28, 28, 1) or (N, 1, 28, 28), got shape {shape}"
        )
    return x.detach().cpu().double().numpy().reshape(n, 28, 28, 1), shape


def mask_noise(
    x,
    *,
    mask_size: tuple[int, int] = (8, 8),
    n_masks: int = 1,
    mask_type: str = "normal",
    noise_distr: tuple[float, float] = (0.0, 1.0),
    noise_rng: tuple[float, float] = (0.0, 1.0),
    clip_rng: tuple[float, float] | None = None,
    seed: int = 0,
) -> Perturbed:
    """Add ``n_masks`` noise patches of ``mask_size`` to each digit (alibi-detect ``apply_mask``).

    Args:
        x: digits as float tensor/array shaped (784,), (28, 28), (N, 784), (N, 28, 28),
            (N, 28, 28, 1) or (N, 1, 28, 28).
        mask_type: ``"normal"`` (Gaussian noise, seed 001), ``"uniform"`` or ``"zero"``.
        clip_rng: range the perturbed pixels are clipped to. Default: the data's own range
            ([-0.5, 0.5] for the MLP lab's inputs). Seed 001 clipped to (-1, 1), which pushes pixels
            out of the data's range and breaks the BCE target x + 0.5.
        seed: seeds NumPy's generator for this call only (the global state is restored).
    Returns:
        :class:`Perturbed` with ``images`` in ``x``'s shape and dtype and the (N, 28, 28) ``mask``.
    """
    t = tensor_arg(x, "x", ndims=(1, 2, 3, 4))
    check_choice(mask_type, "mask_type", ("normal", "uniform", "zero"))
    check_positive_int(n_masks, "n_masks")
    check_positive_int(seed, "seed", minimum=0)
    if (
        not isinstance(mask_size, (tuple, list))
        or len(mask_size) != 2
        or not all(isinstance(s, (int, np.integer)) and 1 <= s < 28 for s in mask_size)
    ):
        raise ValueError(f"mask_size must be a pair of ints in 1..27, got {mask_size!r}")
    nhwc, shape = _to_nhwc(t, "x")
    if clip_rng is None:
        clip_rng = (float(nhwc.min()), float(nhwc.max()))
    if len(clip_rng) != 2 or not clip_rng[0] < clip_rng[1]:
        raise ValueError(f"clip_rng must be (low, high) with low < high, got {clip_rng!r}")
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        out, masks = [], []
        for img in nhwc:
            xm, m = apply_mask(
                img[None],
                mask_size=tuple(int(s) for s in mask_size),
                n_masks=n_masks,
                channels=[0],
                mask_type=mask_type,
                noise_distr=tuple(noise_distr),
                noise_rng=tuple(noise_rng),
                clip_rng=tuple(clip_rng),
            )
            # pixels inside a patch: the mask is 0 there for "zero", non-zero noise otherwise
            touched = (m[..., 0] == 0.0) if mask_type == "zero" else (m[..., 0] != 0.0)  # (n_masks, 28, 28)
            if n_masks > 1:  # apply_mask returns one image per mask: put all patches on one image
                combined = img.copy()
                for k in range(n_masks):
                    combined[touched[k]] = xm[k][touched[k]]
                xm = combined[None]
            area = touched.any(0)
            out.append(xm[0])
            masks.append(area)
    finally:
        np.random.set_state(state)
    images = torch.from_numpy(np.stack(out)).to(t.dtype).reshape(shape)
    mask = torch.from_numpy(np.stack(masks)).to(torch.bool)
    if not isinstance(x, torch.Tensor):
        images = images.numpy()
    return Perturbed(images, mask)
