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
>>> from gbi.flows.fitting import train_model
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

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp

from gbi.device import resolve_device
from gbi.errors import GbiInputError
from gbi.flows.checkpoint import load_into, save_state
from gbi.flows.context import ContextSource, draw_context
from gbi.flows.generator import FlowMember, seeded_torch
from gbi.flows.models import FlowConfig, build_flow
from gbi.flows.preprocessing import Preprocessor
from gbi.io import write_json
from gbi.metrics.ensembles import ensemble_error, member_weights_from_log_probs
from gbi.tables import select_columns

__all__ = ["MODEL_FORMAT", "FlowModel", "ensemble_error", "member_weights_from_log_probs"]

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
        per_member = self.member_log_probs(data, drop_invalid=drop_invalid, source=source)
        return logsumexp(per_member, axis=0) - np.log(len(self.members))

    def member_weights(
        self, data: Mapping[str, Any], *, source: str = "input", clip: float = 50.0
    ) -> np.ndarray:
        """``p_k / p_mix`` of every member ``k`` at ``data``, shape ``(n_members, n)``.

        Reweighting events of the equal-weight mixture by row ``k`` gives events of member
        ``k``: how a bootstrap ensemble's spread reaches any quantity computed on generated
        events, without sampling each member. Log ratios are clipped at ``+-clip``.
        """
        return member_weights_from_log_probs(self.member_log_probs(data, source=source), clip)

    def member_log_probs(
        self, data: Mapping[str, Any], *, drop_invalid: bool = False, source: str = "input"
    ) -> np.ndarray:
        """Log density of every member, float64 of shape ``(n_members, n)``; see :meth:`log_prob`."""
        x, info = select_columns(data, self.features, source=source, drop_invalid=drop_invalid)
        c = None
        if self.context:
            c, _ = select_columns(data, self.context, source=source, role="context")
            c = c[info["keep"]]
        return np.stack([m.log_prob(x, c) for m in self.members])

    def inside_support(
        self,
        data: Mapping[str, Any],
        *,
        members: Sequence[int] | None = None,
        source: str = "input",
    ) -> np.ndarray:
        """Whether each event of ``data`` lies inside the training range of every member (or
        of ``members``), bool ``(n,)``: outside it the transforms clip and the density is an
        artefact (:meth:`gbi.flows.preprocessing.Preprocessor.inside`)."""
        x, _ = select_columns(data, self.features, source=source)
        c = None
        if self.context:
            c, _ = select_columns(data, self.context, source=source, role="context")
        chosen = range(len(self.members)) if members is None else members
        ok = np.ones(len(x), dtype=bool)
        for k in chosen:
            ok &= self.members[k].inside(x, c)
        return ok

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
            # building a flow draws its initial weights from torch's process-wide RNG; do it
            # in a forked, locked RNG section so that loading (e.g. a dask worker's first
            # task) neither moves the caller's RNG nor another thread's seeded sampling
            with seeded_torch(0, torch.device("cpu")):
                flow = build_flow(config)
            load_into(
                flow, directory / entry["weights"], sha256=entry.get("sha256"), map_location=dev
            )
            members.append(FlowMember(config, flow, feature_pre, context_pre, dev))
        metadata = {k: v for k, v in doc.items() if k not in ("config", "preprocessing")}
        return cls(members, metadata, directory)
