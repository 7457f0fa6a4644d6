"""Flow architectures: a zuko factory for masked autoregressive and spline flows.

``maf`` is zuko's masked autoregressive flow with affine transforms (:class:`zuko.flows.MAF`);
``nsf`` is zuko's neural spline flow (:class:`zuko.flows.NSF`: monotonic rational-quadratic
splines on ``[-5, 5]`` with linear tails), built with the faster spline of
:mod:`gbi.flows.splines` (same parameters). ``passes`` chooses between autoregressive
transforms (``None``: sampling needs one network pass per feature), coupling transforms
(``2``: two passes) and groups in between (``3``, the default of ``nsf``: the 5 dijet
features in groups of 2, 2 and 1). Sampling inverts each feature once per transform
(:mod:`gbi.flows.autoregressive`). Both are conditional when
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
from gbi.flows.autoregressive import masked_flow
from gbi.flows.splines import spline_flow

__all__ = ["DEFAULT_PASSES", "FLOW_KINDS", "FlowConfig", "build_flow"]

#: Flow kinds understood by :func:`build_flow`.
FLOW_KINDS: tuple[str, ...] = ("maf", "nsf")
#: ``passes`` of ``FlowConfig(passes="auto")`` per flow kind (None: autoregressive).
DEFAULT_PASSES: dict[str, int | None] = {"nsf": 3, "maf": None}


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
    passes
        Network passes to invert each transform (to sample): ``None`` is fully
        autoregressive (one pass per feature), ``2`` a coupling flow (half of the features,
        alternating, condition the other half). Training costs the same either way.
        ``"auto"`` (default) resolves to :data:`DEFAULT_PASSES` of the flow kind: ``3`` for
        ``nsf`` (on the LHCO features as close to the autoregressive NSF's C2ST AUC as the
        training seeds resolve, and about 1.4x faster to sample; coupling, ``2``, is 1.3x
        faster again at 0.005 more unconditional AUC), ``None`` for ``maf`` (affine coupling is clearly
        worse there; see ``benchmarks/bench_flow_fidelity.py`` and the README).
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
    passes: int | str | None = "auto"
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
        if self.passes == "auto":
            object.__setattr__(self, "passes", DEFAULT_PASSES.get(self.flow))
        if self.passes is not None and (isinstance(self.passes, str) or int(self.passes) < 1):
            raise GbiInputError(
                f"flow passes: expected a positive integer, None (autoregressive) or 'auto', "
                f"found {self.passes}"
            )

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
        """Inverse of :meth:`to_dict`; unknown keys are an error.

        A model written before ``passes`` existed was fully autoregressive: a missing
        ``passes`` is ``None``, whatever the default of new configurations.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(state) - names
        if unknown:
            raise GbiInputError(
                f"flow configuration: expected keys among {sorted(names)}, found unknown "
                f"{sorted(unknown)}; the model was written by an incompatible gbi version"
            )
        values = dict(state)
        values.setdefault("passes", None)
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
        "passes": None if config.passes is None else int(config.passes),  # resolved, not "auto"
    }
    if config.flow == "maf":  # zuko.flows.MAF with gbi's one-inversion-per-feature sampling
        return masked_flow(**kwargs)
    # zuko.flows.NSF with a faster spline (same parameters, same maths): gbi.flows.splines
    return spline_flow(bins=int(config.bins), **kwargs)


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
