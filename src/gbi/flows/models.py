"""Flow architectures: a zuko factory for masked autoregressive and spline flows.

``maf`` is zuko's masked autoregressive flow with affine transforms (:class:`zuko.flows.MAF`);
``nsf`` is zuko's neural spline flow (:class:`zuko.flows.NSF`: autoregressive monotonic
rational-quadratic splines on ``[-5, 5]`` with linear tails). Both are conditional when
``context`` names columns: the flow then models ``p(features | context)``.

>>> cfg = FlowConfig(flow="nsf", features=("a", "b"), context=("c",), transforms=2, hidden_features=(16,))
>>> flow = build_flow(cfg)
>>> import torch
>>> flow(torch.zeros(3, 1)).sample().shape
torch.Size([3, 2])
>>> FlowConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
import zuko

from gbi.errors import GbiInputError

__all__ = ["FLOW_KINDS", "FlowConfig", "build_flow"]

#: Flow kinds understood by :func:`build_flow`.
FLOW_KINDS: tuple[str, ...] = ("maf", "nsf")


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Architecture and preprocessing of one flow (all members of an ensemble share it).

    Attributes
    ----------
    flow
        ``"maf"`` or ``"nsf"``.
    features
        Modelled columns, in order.
    context
        Conditioning columns (empty: unconditional).
    transforms
        Number of autoregressive transforms.
    hidden_features
        Hidden layer widths of each transform's MADE network.
    bins
        Spline bins (``nsf`` only).
    preprocessing
        Transform kind of every feature column, see :mod:`gbi.flows.preprocessing`.
    context_preprocessing
        Transform kind of every context column.
    bounds
        Physical ``(low, high)`` per column overriding the defaults (``None`` = open).
    """

    flow: str = "nsf"
    features: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    transforms: int = 4
    hidden_features: tuple[int, ...] = (64, 64)
    bins: int = 8
    preprocessing: str = "logit"
    context_preprocessing: str = "standard"
    bounds: tuple[tuple[str, float | None, float | None], ...] = ()

    def __post_init__(self) -> None:
        if self.flow not in FLOW_KINDS:
            raise GbiInputError(
                f"flow kind: expected one of {', '.join(FLOW_KINDS)}, found {self.flow!r}"
            )
        if not self.features:
            raise GbiInputError("flow features: expected at least one feature column, found none")
        overlap = set(self.features) & set(self.context)
        if overlap:
            raise GbiInputError(
                f"flow columns: a column cannot be both a feature and context, found {sorted(overlap)}; "
                "remove it from the features"
            )
        for name, value in (("transforms", self.transforms), ("bins", self.bins)):
            if int(value) < 1:
                raise GbiInputError(f"flow {name}: expected a positive integer, found {value}")

    @property
    def bounds_dict(self) -> dict[str, tuple[float | None, float | None]]:
        """``bounds`` as a mapping ``column -> (low, high)``."""
        return {name: (low, high) for name, low, high in self.bounds}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out = dataclasses.asdict(self)
        out["features"] = list(self.features)
        out["context"] = list(self.context)
        out["hidden_features"] = list(self.hidden_features)
        out["bounds"] = [list(b) for b in self.bounds]
        return out

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> FlowConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(state) - names
        if unknown:
            raise GbiInputError(
                f"flow configuration: expected keys among {sorted(names)}, found unknown "
                f"{sorted(unknown)}; the model was written by an incompatible gbi version"
            )
        values = dict(state)
        for key in ("features", "context", "hidden_features"):
            if key in values:
                values[key] = tuple(values[key])
        if "bounds" in values:
            values["bounds"] = tuple(tuple(b) for b in values["bounds"])
        return cls(**values)


def build_flow(config: FlowConfig) -> zuko.flows.Flow:
    """Build an untrained zuko flow for ``config`` (a :class:`torch.nn.Module`).

    Call ``flow(context)`` (``context`` of shape ``(n, len(config.context))`` or ``None``)
    to get a distribution with ``log_prob`` and ``sample``.
    """
    kwargs: dict[str, Any] = {
        "features": len(config.features),
        "context": len(config.context),
        "transforms": int(config.transforms),
        "hidden_features": tuple(int(h) for h in config.hidden_features),
    }
    if config.flow == "maf":
        return zuko.flows.MAF(**kwargs)
    return zuko.flows.NSF(bins=int(config.bins), **kwargs)


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
