"""Maximum-likelihood training of one flow: Adam, validation split, early stopping.

The loop is seeded and reproducible: the weight initialisation is seeded in
:func:`gbi.flows.ensemble.train_model`, and the shuffling of epoch ``e`` uses a
``torch.Generator`` seeded with ``(seed, e)``, so a run resumed from its checkpoint gives
the same weights as an uninterrupted one. A checkpoint (model, optimiser, scheduler, best
state, history) is written after every epoch; the best-validation-loss state is restored
at the end.

>>> import torch
>>> from gbi.flows.models import FlowConfig, build_flow
>>> _ = torch.manual_seed(0)
>>> flow = build_flow(FlowConfig(flow="maf", features=("a",), transforms=1, hidden_features=(8,)))
>>> x = torch.randn(256, 1)
>>> result = train_flow(flow, x[:200], x[200:], config=TrainConfig(epochs=2, batch_size=64), progress=False)
>>> result.epochs_run, len(result.history["val_loss"])
(2, 2)
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from gbi.device import resolve_device
from gbi.errors import GbiInputError
from gbi.flows.checkpoint import load_checkpoint, save_state

__all__ = ["TrainConfig", "TrainResult", "train_flow"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes
    ----------
    epochs
        Maximum number of epochs.
    batch_size
        Events per gradient step; the training split must hold at least this many.
        (2048 with ``learning_rate=1e-3`` since issue 21: several times the events/s of
        512 with 3e-4 at the same C2ST AUC, see ``benchmarks/bench_flow_fidelity.py``.)
    learning_rate
        Adam learning rate (cosine-annealed to 0 over ``epochs`` when ``scheduler="cosine"``).
    weight_decay
        Adam weight decay.
    val_fraction
        Fraction of events held out for validation (early stopping, best epoch).
    patience
        Stop after this many epochs without a validation improvement.
    seed
        Seed of initialisation, split and shuffling.
    device
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    scheduler
        ``"cosine"`` or ``"none"``.
    """

    epochs: int = 40
    batch_size: int = 2048
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.2
    patience: int = 10
    seed: int = 0
    device: str = "auto"
    scheduler: str = "cosine"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise GbiInputError(f"epochs: expected >= 1, found {self.epochs}")
        if self.batch_size < 1:
            raise GbiInputError(f"batch_size: expected >= 1, found {self.batch_size}")
        if not 0.0 < self.val_fraction < 1.0:
            raise GbiInputError(f"val_fraction: expected in (0, 1), found {self.val_fraction}")
        if self.scheduler not in ("cosine", "none"):
            raise GbiInputError(f"scheduler: expected 'cosine' or 'none', found {self.scheduler!r}")
        resolve_device(self.device)


@dataclasses.dataclass
class TrainResult:
    """Outcome of :func:`train_flow`: per-epoch losses (nats/event), best epoch (0-based)."""

    history: dict[str, list[float]]
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    seconds: float
    stopped_early: bool


def _nll(
    flow: torch.nn.Module, x: torch.Tensor, c: torch.Tensor | None, w: torch.Tensor | None
) -> torch.Tensor:
    lp = flow(c).log_prob(x)
    if w is None:
        return -lp.mean()
    return -(lp * w).sum() / w.sum()


@torch.no_grad()
def _evaluate(
    flow: torch.nn.Module,
    x: torch.Tensor,
    c: torch.Tensor | None,
    w: torch.Tensor | None,
    batch: int = 65536,
) -> float:
    total, norm = 0.0, 0.0
    for start in range(0, len(x), batch):
        sl = slice(start, start + batch)
        lp = flow(None if c is None else c[sl]).log_prob(x[sl])
        ww = torch.ones_like(lp) if w is None else w[sl]
        total += float(-(lp * ww).sum())
        norm += float(ww.sum())
    return total / norm


@dataclasses.dataclass
class _LoopState:
    """What a checkpoint carries between epochs (losses in nats/event, times in s)."""

    best_state: dict[str, Any]
    history: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: {"train_loss": [], "val_loss": []}
    )
    best_val: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    start_epoch: int = 0
    seconds: float = 0.0


def _restore(
    state: dict[str, Any],
    flow: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> _LoopState:
    """Load a checkpoint into ``flow``, ``optimizer`` and ``scheduler``; the loop state."""
    flow.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler"):
        scheduler.load_state_dict(state["scheduler"])
    return _LoopState(
        best_state=state["best_state"],
        history={k: list(v) for k, v in state["history"].items()},
        best_val=float(state["best_val"]),
        best_epoch=int(state["best_epoch"]),
        bad_epochs=int(state["bad_epochs"]),
        start_epoch=int(state["epoch"]) + 1,
        seconds=float(state.get("seconds", 0.0)),
    )


def _train_epoch(
    flow: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    c: torch.Tensor | None,
    w: torch.Tensor | None,
    config: TrainConfig,
    epoch: int,
) -> float:
    """One pass over ``x`` in seeded random order; the mean training loss (nats/event)."""
    flow.train()
    n = len(x)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator).to(x.device)
    total, steps = 0.0, 0
    # drop the last incomplete batch: every step sees batch_size events
    for start in range(0, n - config.batch_size + 1, config.batch_size):
        idx = order[start : start + config.batch_size]
        loss = _nll(flow, x[idx], None if c is None else c[idx], None if w is None else w[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        steps += 1
    return total / max(steps, 1)


def _record(state: _LoopState, flow: torch.nn.Module, epoch: int, train: float, val: float) -> None:
    """Append the epoch's losses; keep the weights of the best validation loss so far."""
    state.history["train_loss"].append(train)
    state.history["val_loss"].append(val)
    if val < state.best_val - 1e-4:
        state.best_val, state.best_epoch, state.bad_epochs = val, epoch, 0
        state.best_state = copy.deepcopy(flow.state_dict())
    else:
        state.bad_epochs += 1


def _checkpoint(
    state: _LoopState,
    epoch: int,
    flow: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    fingerprint: str,
) -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "epoch": epoch,
        "model": flow.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "best_state": state.best_state,
        "best_val": state.best_val,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "history": state.history,
        "seconds": state.seconds,
    }


def _check_splits(n_train: int, n_val: int, config: TrainConfig, description: str) -> None:
    if n_train < config.batch_size:
        raise GbiInputError(
            f"batch_size: expected at most the {n_train} training events "
            f"({description}), found batch_size={config.batch_size}; "
            "use a smaller --batch-size or more events"
        )
    if n_val == 0:
        raise GbiInputError("validation split is empty: expected >= 1 event; use more events")


def _check_finite(train_loss: float, val: float, epoch: int, description: str) -> None:
    if not math.isfinite(train_loss) or not math.isfinite(val):
        raise GbiInputError(
            f"{description}: training diverged at epoch {epoch} (train loss {train_loss}, "
            f"validation loss {val}); lower --learning-rate or check the inputs"
        )


def _optimizer(flow: torch.nn.Module, config: TrainConfig) -> tuple[torch.optim.Optimizer, Any]:
    """Adam and (``scheduler="cosine"``) its cosine learning-rate schedule, else ``None``."""
    optimizer = torch.optim.Adam(
        flow.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        if config.scheduler == "cosine"
        else None
    )
    return optimizer, scheduler


def train_flow(
    flow: torch.nn.Module,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    c_train: torch.Tensor | None = None,
    c_val: torch.Tensor | None = None,
    w_train: torch.Tensor | None = None,
    w_val: torch.Tensor | None = None,
    *,
    config: TrainConfig | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    fingerprint: str = "",
    progress: bool = True,
    description: str = "train",
) -> TrainResult:
    """Train ``flow`` in place on preprocessed float32 tensors.

    Parameters
    ----------
    flow
        A zuko flow (``flow(context).log_prob(x)``), already on the target device.
    x_train, x_val
        Features, shape ``(n, d)``, on the same device as ``flow``.
    c_train, c_val
        Context, shape ``(n, c)``, or ``None`` for an unconditional flow.
    w_train, w_val
        Event weights, shape ``(n,)``, or ``None``.
    checkpoint
        File written after every epoch; with ``resume=True`` training continues from it
        when it exists (it must carry the same ``fingerprint``).
    progress
        Show a tqdm progress bar with train/val loss.
    """
    from tqdm.auto import tqdm

    config = TrainConfig() if config is None else config
    _check_splits(len(x_train), len(x_val), config, description)
    optimizer, scheduler = _optimizer(flow, config)
    state = _LoopState(best_state=copy.deepcopy(flow.state_dict()))
    if checkpoint is not None and resume and Path(checkpoint).is_file():
        saved = load_checkpoint(checkpoint, fingerprint=fingerprint, map_location=x_train.device)
        state = _restore(saved, flow, optimizer, scheduler)
        log.info("%s: resumed from %s at epoch %d", description, checkpoint, state.start_epoch)
    bar = tqdm(
        range(state.start_epoch, config.epochs),
        desc=description,
        disable=not progress,
        leave=False,
        unit="epoch",
        initial=state.start_epoch,
        total=config.epochs,
    )
    for epoch in bar:
        if state.bad_epochs >= config.patience:
            break
        t0 = time.perf_counter()
        train_loss = _train_epoch(flow, optimizer, x_train, c_train, w_train, config, epoch)
        if scheduler is not None:
            scheduler.step()
        flow.eval()
        val = _evaluate(flow, x_val, c_val, w_val)
        _check_finite(train_loss, val, epoch, description)
        _record(state, flow, epoch, train_loss, val)
        state.seconds += time.perf_counter() - t0
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val:.4f}", best=state.best_epoch)
        if checkpoint is not None:
            save_state(
                _checkpoint(state, epoch, flow, optimizer, scheduler, fingerprint), checkpoint
            )
    bar.close()
    flow.load_state_dict(state.best_state)
    flow.eval()
    return TrainResult(
        history=state.history,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val,
        epochs_run=len(state.history["val_loss"]),
        seconds=state.seconds,
        stopped_early=state.bad_epochs >= config.patience,
    )
