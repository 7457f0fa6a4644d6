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

__all__ = ["train_model"]


def _fingerprint(config: FlowConfig, train: TrainConfig, arrays: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    settings = {**dataclasses.asdict(train), "device": None}
    digest.update(json.dumps([config.to_dict(), settings], sort_keys=True).encode())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


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
    training sample leaves in the generator. With ``out_dir`` the model is saved there (checkpoints every epoch; with
    ``resume=True`` an interrupted run continues). Returns the trained :class:`FlowModel`.
    """
    train = TrainConfig() if train is None else train
    if ensemble < 1:
        raise GbiInputError(f"ensemble: expected >= 1 members, found {ensemble}")
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
    n_dropped = int(info["dropped_invalid"])
    dev = resolve_device(train.device)
    feature_pre = Preprocessor(config.features, config.preprocessing, config.bounds_dict).fit(x)
    context_pre = (
        None
        if c is None
        else Preprocessor(config.context, config.context_preprocessing, config.bounds_dict).fit(c)
    )
    z = torch.as_tensor(feature_pre.transform(x), dtype=torch.float32)
    zc = None if c is None else torch.as_tensor(context_pre.transform(c), dtype=torch.float32)
    tw = None if w is None else torch.as_tensor(w, dtype=torch.float32)
    n_val_total = max(1, round(train.val_fraction * len(x)))
    if len(x) - n_val_total < train.batch_size:
        raise GbiInputError(
            f"{source}: batch_size: expected at most the {len(x) - n_val_total} training events "
            f"({len(x)} events minus the validation fraction {train.val_fraction}), found "
            f"batch_size={train.batch_size}; use a smaller --batch-size or more events"
        )
    members, summaries = [], []
    for k in range(ensemble):
        seed = train.seed + k
        member_train = dataclasses.replace(train, seed=seed)
        order = np.random.default_rng(seed).permutation(len(z))
        n_val = max(1, round(train.val_fraction * len(z)))
        train_idx = order[n_val:]
        if bootstrap:
            train_idx = np.random.default_rng([seed, 1]).choice(train_idx, size=len(train_idx))
        tr, va = torch.as_tensor(train_idx), torch.as_tensor(order[:n_val])
        torch.manual_seed(seed)
        flow = build_flow(config).to(dev)

        def part(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
            return None if t is None else t[idx].to(dev)

        ckpt = None if out_dir is None else Path(out_dir) / "checkpoints" / f"member_{k:03d}.ckpt"
        result = train_flow(
            flow,
            part(z, tr),
            part(z, va),
            part(zc, tr),
            part(zc, va),
            part(tw, tr),
            part(tw, va),
            config=member_train,
            checkpoint=ckpt,
            resume=resume,
            fingerprint=_fingerprint(
                config, member_train, [x, np.array([bootstrap])] + ([] if c is None else [c])
            ),
            progress=progress,
            description=f"member {k + 1}/{ensemble}",
        )
        members.append(FlowMember(config, flow, feature_pre, context_pre, dev))
        summaries.append(
            {
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
        )
    metadata = {
        "members": summaries,
        "training": {
            **dataclasses.asdict(train),
            "ensemble": ensemble,
            "bootstrap": bootstrap,
            "source": source,
            "n_events": len(x),
            "dropped_invalid": n_dropped,
            "weight_column": weight_column,
            "device_used": str(dev),
        },
    }
    model = FlowModel(members, metadata)
    if out_dir is not None:
        model.save(out_dir)
    return model
