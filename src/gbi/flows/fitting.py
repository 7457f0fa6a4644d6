"""Fitting an ensemble: preprocessing, per-member splits and seeds, checkpoints, saving.

>>> import numpy as np
>>> from gbi.flows.models import FlowConfig
>>> from gbi.flows.training import TrainConfig
>>> rng = np.random.default_rng(0)
>>> model = train_model({"a": rng.normal(size=300)}, FlowConfig(flow="maf", features=("a",),
...     transforms=1, hidden_features=(4,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=64), progress=False)
>>> model.metadata["training"]["n_events"], len(model)
(300, 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gbi.device import resolve_device
from gbi.errors import GbiInputError
from gbi.flows.ensemble import FlowModel
from gbi.flows.generator import FlowMember
from gbi.flows.models import FlowConfig, build_flow
from gbi.flows.preprocessing import Preprocessor
from gbi.flows.training import TrainConfig, train_flow
from gbi.tables import select_columns

__all__ = ["member_split", "train_model", "unseen_rows"]


def _fingerprint(config: FlowConfig, train: TrainConfig, arrays: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    settings = {**dataclasses.asdict(train), "device": None}
    digest.update(json.dumps([config.to_dict(), settings], sort_keys=True).encode())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The selected events (physical units) and their preprocessed float32 tensors."""

    x: np.ndarray
    c: np.ndarray | None
    z: torch.Tensor
    zc: torch.Tensor | None
    w: torch.Tensor | None
    feature_pre: Preprocessor
    context_pre: Preprocessor | None
    n_dropped: int


def _prepare(
    table: Mapping[str, Any],
    config: FlowConfig,
    weight_column: str | None,
    source: str,
    drop_invalid: bool,
) -> _Prepared:
    """Select the feature, context and weight columns and fit the preprocessing."""
    missing = [name for name in config.context if name not in table]
    if missing:
        raise GbiInputError(
            f"{source}: expected context column(s) {missing}, found only {sorted(table)}; "
            "pick context columns that exist (e.g. --context mjj)"
        )
    d, nc = len(config.features), len(config.context)
    columns = [*config.features, *config.context, *([weight_column] if weight_column else [])]
    data, info = select_columns(table, columns, source=source, drop_invalid=drop_invalid)
    x = data[:, :d]
    c = data[:, d : d + nc] if nc else None
    w = data[:, -1] if weight_column else None
    feature_pre = Preprocessor(config.features, config.preprocessing, config.bounds_dict).fit(x)
    context_pre = (
        None
        if c is None
        else Preprocessor(config.context, config.context_preprocessing, config.bounds_dict).fit(c)
    )
    return _Prepared(
        x=x,
        c=c,
        z=torch.as_tensor(feature_pre.transform(x), dtype=torch.float32),
        zc=None
        if c is None or context_pre is None
        else torch.as_tensor(context_pre.transform(c), dtype=torch.float32),
        w=None if w is None else torch.as_tensor(w, dtype=torch.float32),
        feature_pre=feature_pre,
        context_pre=context_pre,
        n_dropped=int(info["dropped_invalid"]),
    )


def member_split(
    n: int, seed: int, val_fraction: float, bootstrap: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows of the member with ``seed`` among ``n`` events: a
    seeded split, the training part resampled with replacement with ``bootstrap``."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(val_fraction * n))
    train_idx = order[n_val:]
    if bootstrap:
        train_idx = np.random.default_rng([seed, 1]).choice(train_idx, size=len(train_idx))
    return train_idx, order[:n_val]


def unseen_rows(model: FlowModel) -> list[np.ndarray]:
    """Rows of the training table that each member of ``model`` (trained here with
    ``bootstrap=True``) never saw: out of its bootstrap resample and out of its
    validation part (which steered early stopping). About ``(1 - f) / e`` of the rows
    (f: the validation fraction), 29% for f = 0.2: real events on which each member's
    density is an honest prediction, as the SR data are for the ensemble.

    >>> from gbi.flows.models import FlowConfig
    >>> from gbi.flows.training import TrainConfig
    >>> x = np.random.default_rng(0).normal(size=(600, 2))
    >>> cfg = FlowConfig(features=("a", "b"), transforms=1, hidden_features=(8,))
    >>> m = train_model({"a": x[:, 0], "b": x[:, 1]}, cfg, TrainConfig(epochs=1, batch_size=64),
    ...                 ensemble=2, bootstrap=True, progress=False)
    >>> rows = unseen_rows(m)
    >>> [bool(0.2 < len(r) / 600 < 0.4) for r in rows]
    [True, True]
    """
    info = model.metadata.get("training", {})
    if not info.get("bootstrap"):
        raise GbiInputError(
            "flow ensemble: expected members trained with bootstrap=True for their unseen "
            f"rows, found bootstrap={info.get('bootstrap')!r}"
        )
    n, val_fraction = int(info["n_events"]), float(info["val_fraction"])
    out = []
    for member in model.metadata["members"]:
        train_idx, val_idx = member_split(n, int(member["seed"]), val_fraction, True)
        seen = np.zeros(n, dtype=bool)
        seen[train_idx] = True
        seen[val_idx] = True
        out.append(np.flatnonzero(~seen))
    return out


def _train_member(
    k: int,
    prep: _Prepared,
    config: FlowConfig,
    train: TrainConfig,
    dev: torch.device,
    *,
    ensemble: int,
    bootstrap: bool,
    out_dir: str | os.PathLike[str] | None,
    resume: bool,
    progress: bool,
) -> tuple[FlowMember, dict[str, Any]]:
    """Train member ``k`` (seed ``train.seed + k``); the member and its summary."""
    seed = train.seed + k
    member_train = dataclasses.replace(train, seed=seed)
    train_idx, val_idx = member_split(len(prep.z), seed, train.val_fraction, bootstrap)
    tr, va = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
    torch.manual_seed(seed)
    flow = build_flow(config).to(dev)

    def part(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
        return None if t is None else t[idx].to(dev)

    ckpt = None if out_dir is None else Path(out_dir) / "checkpoints" / f"member_{k:03d}.ckpt"
    arrays = [prep.x, np.array([bootstrap])] + ([] if prep.c is None else [prep.c])
    result = train_flow(
        flow,
        prep.z[tr].to(dev),
        prep.z[va].to(dev),
        part(prep.zc, tr),
        part(prep.zc, va),
        part(prep.w, tr),
        part(prep.w, va),
        config=member_train,
        checkpoint=ckpt,
        resume=resume,
        fingerprint=_fingerprint(config, member_train, arrays),
        progress=progress,
        description=f"member {k + 1}/{ensemble}",
    )
    summary = {
        "seed": seed,
        "n_train": len(tr),
        "n_val": len(va),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "epochs_run": result.epochs_run,
        "train_seconds": result.seconds,
        "stopped_early": result.stopped_early,
        "history": result.history,
    }
    return FlowMember(config, flow, prep.feature_pre, prep.context_pre, dev), summary


def train_model(
    table: Mapping[str, Any],
    config: FlowConfig,
    train: TrainConfig | None = None,
    *,
    ensemble: int = 1,
    bootstrap: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    drop_invalid: bool = False,
    weight_column: str | None = None,
    source: str = "input",
    progress: bool = True,
) -> FlowModel:
    """Fit preprocessing and train ``ensemble`` flows on ``table`` (``column -> array``).

    Member ``k`` uses seed ``train.seed + k`` for initialisation, validation split and
    shuffling; with ``bootstrap=True`` its training split is also resampled with replacement,
    so the spread between members estimates the statistical uncertainty that the finite
    training sample leaves in the generator. With ``out_dir`` the model is saved there
    (checkpoints every epoch; with ``resume=True`` an interrupted run continues). Returns the
    trained :class:`FlowModel`.
    """
    train = TrainConfig() if train is None else train
    if ensemble < 1:
        raise GbiInputError(f"ensemble: expected >= 1 members, found {ensemble}")
    prep = _prepare(table, config, weight_column, source, drop_invalid)
    n = len(prep.x)
    dev = resolve_device(train.device)
    n_val_total = max(1, round(train.val_fraction * n))
    if n - n_val_total < train.batch_size:
        raise GbiInputError(
            f"{source}: batch_size: expected at most the {n - n_val_total} training events "
            f"({n} events minus the validation fraction {train.val_fraction}), found "
            f"batch_size={train.batch_size}; use a smaller --batch-size or more events"
        )
    members, summaries = [], []
    for k in range(ensemble):
        member, summary = _train_member(
            k,
            prep,
            config,
            train,
            dev,
            ensemble=ensemble,
            bootstrap=bootstrap,
            out_dir=out_dir,
            resume=resume,
            progress=progress,
        )
        members.append(member)
        summaries.append(summary)
    metadata = {
        "members": summaries,
        "training": {
            **dataclasses.asdict(train),
            "ensemble": ensemble,
            "bootstrap": bootstrap,
            "source": source,
            "n_events": n,
            "dropped_invalid": prep.n_dropped,
            "weight_column": weight_column,
            "device_used": str(dev),
        },
    }
    model = FlowModel(members, metadata)
    if out_dir is not None:
        model.save(out_dir)
    return model
