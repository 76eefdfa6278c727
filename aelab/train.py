"""One training loop for every model of the course, with seeding, a progress bar and checkpoints.

Data is kept as one tensor and batched by index (no per-item ``Dataset`` calls), which is what
makes training fast on a laptop CPU.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from ._validate import check_choice, check_positive_int, tensor_arg
from .env import get_device, seed_everything

__all__ = ["History", "fit", "fit_or_load", "default_loss"]


@dataclass
class History:
    """Loss history of a training run.

    Attributes:
        epoch_loss: mean training loss of each epoch.
        step_loss: training loss of every optimiser step.
        seconds: wall-clock seconds of the run.
        extra: per-epoch means of any other scalars the loss function reported.
    """

    epoch_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> History:
        return cls(**json.loads(text))


def default_loss(model: nn.Module, batch: torch.Tensor):
    """The model's own loss: ``model.loss(batch)`` if it has one, else ``model(batch).loss``."""
    if hasattr(model, "loss") and callable(model.loss):
        return model.loss(batch)
    out = model(batch)
    if hasattr(out, "loss"):
        return out
    raise TypeError(f"loss_fn is needed: {type(model).__name__} has no .loss method and its output has no .loss")


def _split_loss(result) -> tuple[torch.Tensor, dict[str, float]]:
    """A loss function may return a tensor, a record with .loss (and .loss_*), or a dict."""
    if isinstance(result, torch.Tensor):
        return result, {}
    if isinstance(result, dict):
        extra = {k: float(torch.as_tensor(v).detach()) for k, v in result.items() if k != "loss" and v is not None}
        return result["loss"], extra
    if hasattr(result, "loss"):
        extra = {}
        for name in ("loss_recon", "loss_kl"):
            value = getattr(result, name, None)
            if value is not None:
                extra[name] = float(value.detach())
        return result.loss, extra
    raise TypeError(f"loss_fn must return a tensor, a dict or a record with .loss, got {type(result).__name__}")


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    loss_fn: Callable | None = None,
    scheduler: Callable | None = None,
    drop_last: bool = False,
    fused: bool = False,
    ema_decay: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` on the rows of ``data`` and return the loss :class:`History`.

    Args:
        model: any ``nn.Module``; it is moved to ``device`` and left in eval mode afterwards.
        data: (N, ...) float tensor of training inputs, shuffled every epoch by a seeded generator.
        epochs, batch_size, lr: the usual; ``optimizer`` is ``"adam"``, ``"adamw"`` or ``"sgd"``.
        grad_clip: clip the gradients' global norm to this value (seed 001 uses 1.0).
        loss_fn: ``loss_fn(model, batch)`` returning a scalar tensor (or a record with ``.loss``);
            default :func:`default_loss`.
        scheduler: ``scheduler(optimizer)`` building a learning-rate scheduler stepped per epoch.
        fused: use the fused Adam/AdamW kernel (the same update, one kernel for all parameters:
            about 25 % less time per step for a small MLP on a CPU core; rounding differs slightly).
        ema_decay: keep an exponential moving average of the weights (and buffers) over the
            optimiser steps, ``avg <- decay * avg + (1 - decay) * w`` (Polyak averaging), and leave
            the model holding the average at the end. ``None``: the last weights.
        progress: show a tqdm bar over epochs with the running loss.
    """
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    data = tensor_arg(data, "data", ndims=range(1, 6))
    check_choice(optimizer, "optimizer", ("adam", "adamw", "sgd"))
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
    loss_fn = loss_fn or default_loss
    dev = get_device(device)
    generator = seed_everything(seed)
    model.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[optimizer]
    if not isinstance(fused, bool):
        raise TypeError(f"fused must be a bool, got {type(fused).__name__}")
    if fused and optimizer == "sgd":
        raise ValueError("fused=True needs optimizer 'adam' or 'adamw'")
    opt_kwargs = {"fused": True} if fused else {}
    opt = opt_cls(params, lr=lr, weight_decay=weight_decay, **opt_kwargs)
    if ema_decay is not None and (
        isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) or not 0.0 < ema_decay < 1.0
    ):
        raise ValueError(f"ema_decay must be a number strictly between 0 and 1, or None; got {ema_decay!r}")
    # the weight average: torch.optim.swa_utils.AveragedModel's EMA update (one foreach lerp, the same
    # kernel and the same numbers) without its per-step Python regrouping of the tensors
    tracked = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    averaged = [t.detach().clone() for t in tracked] if ema_decay is not None else None
    steps = 0
    sched = scheduler(opt) if scheduler is not None else None

    n = data.shape[0]
    history = History()
    start = time.perf_counter()
    bar = _progress(range(epochs), desc=desc, enabled=progress)
    try:
        for _ in bar:
            model.train()
            order = torch.randperm(n, generator=generator)
            total, count, sums = 0.0, 0, {}
            for begin in range(0, n, batch_size):
                idx = order[begin : begin + batch_size]
                if drop_last and len(idx) < batch_size:
                    break
                batch = data[idx].to(dev, non_blocking=True)
                loss, extra = _split_loss(loss_fn(model, batch))
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the training loss became {float(loss.detach())} at epoch {len(history.epoch_loss) + 1}; "
                        "lower lr or check the inputs' range"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                if averaged is not None:
                    with torch.no_grad():
                        current = [t.detach() for t in tracked]
                        if steps == 0:  # the first step starts the average
                            torch._foreach_copy_(averaged, current)
                        else:
                            torch._foreach_lerp_(averaged, current, 1.0 - float(ema_decay))
                steps += 1
                value = float(loss.detach())
                history.step_loss.append(value)
                total += value * len(idx)
                count += len(idx)
                for k, v in extra.items():
                    sums[k] = sums.get(k, 0.0) + v * len(idx)
            if sched is not None:
                sched.step()
            history.epoch_loss.append(total / max(count, 1))
            for k, v in sums.items():
                history.extra.setdefault(k, []).append(v / max(count, 1))
            if progress:
                bar.set_postfix(loss=f"{history.epoch_loss[-1]:.4g}")
    finally:
        if progress:
            bar.close()
    if averaged is not None and steps > 0:
        with torch.no_grad():  # counters such as BatchNorm's num_batches_tracked are not averaged
            torch._foreach_copy_([t.detach() for t in tracked], averaged)
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


def _progress(iterable, *, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="epoch", leave=True)


def _fingerprint(model: nn.Module, depends_on) -> str:
    """SHA-256 of what a checkpoint was trained from: the model's layout and ``depends_on``
    (tensors by their values, anything else by ``repr``)."""
    import hashlib

    h = hashlib.sha256(repr(model).encode())
    for name, p in model.state_dict().items():
        h.update(f"{name}{tuple(p.shape)}{p.dtype}".encode())
    for item in depends_on if isinstance(depends_on, (list, tuple)) else [depends_on]:
        if isinstance(item, torch.Tensor):
            t = item.detach().cpu().contiguous()
            h.update(f"tensor{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            h.update(repr(item).encode())
    return h.hexdigest()


def fit_or_load(
    model: nn.Module,
    path: str | os.PathLike,
    train: Callable[[], History],
    *,
    depends_on=None,
    device: str | torch.device | None = None,
    retrain: bool = False,
) -> History:
    """Load ``model``'s weights from ``path`` when it holds a checkpoint of this training; else train and save.

    ``depends_on`` names what the training used (the training tensor, epochs, learning rate, ...):
    a checkpoint is loaded only if it was saved from the same model layout and the same
    ``depends_on``, so a changed setting or data set trains again instead of loading stale weights.
    The history is stored beside the checkpoint (``path`` with ``.json``), so the loss curve can be
    drawn again without training. A folder that cannot be written (a course's read-only copy) only
    means the new weights are not saved. Returns the :class:`History`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(train):
        raise TypeError(f"train must be a callable returning a History, got {type(train).__name__}")
    path = Path(path).expanduser()
    meta = path.with_suffix(".json")
    dev = get_device(device)
    fingerprint = _fingerprint(model, depends_on)
    if path.exists() and not retrain:
        why = ""
        try:
            record = json.loads(meta.read_text()) if meta.exists() else {}
            if record.get("fingerprint") != fingerprint:
                why = "it was saved from another model, data set or setting"
            else:
                state = torch.load(path, map_location=dev, weights_only=True)
                model.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint means: train again
            why = f"it could not be read ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
        if not why:
            model.to(dev).eval()
            print(f"aelab: loaded the checkpoint {path.name} (trained before; no training now)")
            return History(**record.get("history", {}))
        print(f"aelab: not loading the checkpoint {path.name}: {why}; training instead")
    history = train()
    if not isinstance(history, History):
        raise TypeError(f"train() must return a History, got {type(history).__name__}")
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)
        meta.write_text(json.dumps({"fingerprint": fingerprint, "history": asdict(history)}))
    except (OSError, RuntimeError) as exc:  # torch.save reports an unwritable file as a RuntimeError
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        print(f"aelab: the weights were not saved ({path.parent} cannot be written: {reason})")
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    model.eval()
    return history
