"""Ensembles of flows: training, saving, loading, density and sampling.

A :class:`FlowModel` holds ``K >= 1`` flows (members) trained with different seeds and
validation splits on the same data and sharing one preprocessing. Its density is the
equal-weight mixture of the members; sampling draws each event from a random member. The
spread between members (:meth:`FlowModel.sample_members`) is the generator's systematic
uncertainty (see :mod:`gbi.flows.histograms`).

A model directory contains ``model.json`` (format, configuration, preprocessing, members
with the SHA-256 of their weights, training summary), ``member_XXX.pt`` (state dicts) and
``checkpoints/`` (per-epoch training state for ``--resume``).

>>> import numpy as np, tempfile
>>> from gbi.flows.models import FlowConfig
>>> from gbi.flows.training import TrainConfig
>>> rng = np.random.default_rng(0)
>>> table = {"a": rng.normal(size=400), "b": rng.normal(size=400)}
>>> model = train_model(table, FlowConfig(flow="maf", features=("a", "b"), transforms=1,
...     hidden_features=(8,), preprocessing="standard"), TrainConfig(epochs=1, batch_size=64),
...     ensemble=2, out_dir=tempfile.mkdtemp(), progress=False)
>>> sorted(model.sample(5, seed=0))
['a', 'b']
>>> loaded = FlowModel.load(model.directory)
>>> bool(np.array_equal(loaded.log_prob(table), model.log_prob(table)))
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp

from gbi.errors import GbiInputError
from gbi.flows.checkpoint import load_into, save_state
from gbi.flows.context import ContextSource, draw_context
from gbi.flows.data import select_columns
from gbi.flows.generator import FlowMember
from gbi.flows.models import FlowConfig, build_flow
from gbi.flows.preprocessing import Preprocessor
from gbi.flows.training import TrainConfig, resolve_device, train_flow
from gbi.io import write_json

__all__ = ["MODEL_FORMAT", "FlowModel", "train_model"]

#: ``format`` field of ``model.json``; bumped on incompatible changes.
MODEL_FORMAT = "gbi.flows/1"


class FlowModel:
    """An ensemble of trained flows with a dict-of-columns API in physical units."""

    def __init__(
        self,
        members: list[FlowMember],
        metadata: Mapping[str, Any] | None = None,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if not members:
            raise GbiInputError("flow ensemble: expected at least one member, found none")
        self.members = members
        self.metadata = dict(metadata or {})
        self.directory = None if directory is None else Path(directory)

    @property
    def config(self) -> FlowConfig:
        """Shared :class:`~gbi.flows.models.FlowConfig`."""
        return self.members[0].config

    @property
    def features(self) -> tuple[str, ...]:
        return self.config.features

    @property
    def context(self) -> tuple[str, ...]:
        return self.config.context

    def __len__(self) -> int:
        return len(self.members)

    # ----------------------------------------------------------- densities
    def log_prob(
        self, data: Mapping[str, Any], *, drop_invalid: bool = False, source: str = "input"
    ) -> np.ndarray:
        """Mixture log density (float64, shape ``(n,)``) of ``data`` (``column -> array``).

        ``data`` must hold the feature columns and, for a conditional model, the context
        columns; units are those of training (GeV), densities per unit of the features.
        """
        x, info = select_columns(data, self.features, source=source, drop_invalid=drop_invalid)
        c = None
        if self.context:
            c, _ = select_columns(data, self.context, source=source, role="context")
            c = c[info["keep"]]
        per_member = np.stack([m.log_prob(x, c) for m in self.members])
        return logsumexp(per_member, axis=0) - np.log(len(self.members))

    # ------------------------------------------------------------ sampling
    def iter_batches(
        self,
        n: int,
        *,
        context: ContextSource = None,
        seed: int = 0,
        batch_size: int = 16_384,
        member: int | None = None,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Yield dicts of float64 columns (features + context) of at most ``batch_size`` events.

        ``context`` is ``None`` (unconditional), an array ``(n, c)``, a mapping with the
        context columns, or a sampler with ``sample(size, rng)`` (e.g. :class:`MjjKDE`).
        Each event comes from a random member (or from ``member`` when given).
        """
        rng = np.random.default_rng(seed)
        for start in range(0, int(n), batch_size):
            size = min(int(n), start + batch_size) - start
            c = draw_context(context, self.context, start, size, rng)
            which = (
                np.full(size, member)
                if member is not None
                else rng.integers(len(self.members), size=size)
            )
            x = np.empty((size, len(self.features)))
            for k in np.unique(which):
                mask = which == k
                x[mask] = self.members[int(k)].sample(
                    int(mask.sum()),
                    None if c is None else c[mask],
                    seed=int(rng.integers(2**63)),
                    batch_size=batch_size,
                )
            out = {name: x[:, j] for j, name in enumerate(self.features)}
            if c is not None:
                out.update({name: c[:, j] for j, name in enumerate(self.context)})
            yield out

    def sample(
        self,
        n: int,
        *,
        context: ContextSource = None,
        seed: int = 0,
        batch_size: int = 16_384,
        member: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Draw ``n`` events as ``{column: float64 array (n,)}``; see :meth:`iter_batches`."""
        parts = list(
            self.iter_batches(n, context=context, seed=seed, batch_size=batch_size, member=member)
        )
        columns = list(self.features) + list(self.context)
        if not parts:
            return {name: np.empty(0) for name in columns}
        return {name: np.concatenate([p[name] for p in parts]) for name in columns}

    def sample_members(
        self, n: int, *, context: ContextSource = None, seed: int = 0, batch_size: int = 16_384
    ) -> list[dict[str, np.ndarray]]:
        """``n`` events from every member separately (same context draws for each member)."""
        return [
            self.sample(n, context=context, seed=seed, batch_size=batch_size, member=k)
            for k in range(len(self.members))
        ]

    # ------------------------------------------------------------ save/load
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``model.json`` and ``member_XXX.pt`` into ``directory``."""
        directory = Path(directory)
        entries = []
        for k, m in enumerate(self.members):
            name = f"member_{k:03d}.pt"
            state = {key: v.detach().cpu() for key, v in m.flow.state_dict().items()}
            digest = save_state(state, directory / name)
            info = dict(self.metadata.get("members", [{}] * len(self.members))[k])
            entries.append({**info, "weights": name, "sha256": digest})
        doc = {
            "format": MODEL_FORMAT,
            "config": self.config.to_dict(),
            "preprocessing": {
                "features": self.members[0].feature_pre.to_dict(),
                "context": None
                if self.members[0].context_pre is None
                else self.members[0].context_pre.to_dict(),
            },
            **{k: v for k, v in self.metadata.items() if k not in ("members", "format")},
            "members": entries,
        }
        write_json(doc, directory / "model.json")
        self.directory = directory
        self.metadata = {k: v for k, v in doc.items() if k not in ("config", "preprocessing")}
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], device: str = "auto") -> FlowModel:
        """Load a model directory on ``device`` (``auto``/``cpu``/``cuda``), weights-only."""
        directory = Path(directory)
        path = directory / "model.json"
        if not path.is_file():
            raise GbiInputError(
                f"model directory {str(directory)!r}: expected model.json, found "
                f"{'no such directory' if not directory.is_dir() else 'none'}; "
                "train one with 'gbi amplify train'"
            )
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise GbiInputError(
                f"{str(path)!r}: expected JSON, found unreadable content ({err}); "
                "re-train the model"
            ) from err
        if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise GbiInputError(
                f"{str(path)!r}: expected format {MODEL_FORMAT!r}, found {found!r}; "
                "re-train the model with this gbi version"
            )
        dev = resolve_device(device)
        config = FlowConfig.from_dict(doc["config"])
        feature_pre = Preprocessor.from_dict(doc["preprocessing"]["features"])
        context_state = doc["preprocessing"].get("context")
        context_pre = None if context_state is None else Preprocessor.from_dict(context_state)
        members = []
        for entry in doc.get("members", []):
            flow = build_flow(config)
            load_into(
                flow, directory / entry["weights"], sha256=entry.get("sha256"), map_location=dev
            )
            members.append(FlowMember(config, flow, feature_pre, context_pre, dev))
        metadata = {k: v for k, v in doc.items() if k not in ("config", "preprocessing")}
        return cls(members, metadata, directory)


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
