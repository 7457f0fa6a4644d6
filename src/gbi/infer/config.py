"""Settings of one inference run (``gbi infer``): methods, generator, toys (masses and mjj in GeV).

>>> InferConfig(methods=("unbinned",)).generator_config.ensemble
3
>>> InferConfig().unbinned_calibration, InferConfig(flow_ensemble=1).unbinned_calibration
('held-out', 'generated')
>>> InferConfig().parametrized_calibration, InferConfig(flow_bootstrap=False).parametrized_calibration
('held-out', 'generated')
>>> InferConfig(binned_mass=(150, 350)).binned_mass  # unordered pair: (heavier, lighter)
(350.0, 150.0)
>>> InferConfig(parametrized=ParametrizedConfig(features=("mj1", "n_jets")))
Traceback (most recent call last):
...
gbi.errors.GbiInputError: parametrized features (--parametrized-features): expected a subset of the generator's features ['mj1', 'delta_mj', 'tau21_j1', 'tau21_j2'], found ['n_jets']
>>> InferConfig(methods=("magic",))
Traceback (most recent call last):
...
gbi.errors.GbiInputError: methods: expected some of ('parametrized', 'unbinned', 'binned'), found ['magic']
"""

from __future__ import annotations

import dataclasses
from typing import Any

from scipy import stats

from gbi.background import GeneratorConfig
from gbi.errors import GbiInputError
from gbi.flows import FlowConfig, TrainConfig
from gbi.infer.binned import BinnedConfig
from gbi.infer.mixture import MIN_TOYS
from gbi.infer.parametrized import ParametrizedConfig
from gbi.infer.signal_grid import ordered_masses
from gbi.infer.unbinned import UnbinnedConfig
from gbi.infer.uncertainty import EVIDENCE_THRESHOLD
from gbi.regions import Regions
from gbi.tables import DEFAULT_FEATURES

__all__ = ["INFER_METHODS", "SIDEBAND_SIGNAL_MODES", "UNBINNED_CALIBRATIONS", "InferConfig"]

INFER_METHODS: tuple[str, ...] = ("parametrized", "unbinned", "binned")

#: ``--unbinned-calibration``: the background-only toys of the unbinned significance;
#: ``auto`` is ``held-out`` with a bootstrap flow ensemble (the default one), else
#: ``generated`` (:attr:`InferConfig.unbinned_calibration`).
UNBINNED_CALIBRATIONS: tuple[str, ...] = ("auto", "generated", "held-out")

#: ``--sideband-signal``: ``subtract`` (the default): after the parametrized fit finds a
#: signal, train the sideband flows again with each event weighted by its probability to be
#: background (:mod:`gbi.infer.sidebands`) and refit; or ``off``.
SIDEBAND_SIGNAL_MODES: tuple[str, ...] = ("off", "subtract")


@dataclasses.dataclass(frozen=True)
class InferConfig:
    """Settings of one inference run (masses and mjj in GeV)."""

    methods: tuple[str, ...] = INFER_METHODS
    features: tuple[str, ...] = DEFAULT_FEATURES
    regions: Regions = dataclasses.field(default_factory=Regions)
    flow: str = "maf"
    flow_ensemble: int = 3
    flow_bootstrap: bool = True
    flow_train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=30, batch_size=1024, learning_rate=2e-3)
    )
    oversampling: float = 4.0
    toys: int = 100
    #: Background-only toys (full EM fits) calibrating the unbinned significance.
    unbinned_toys: int = 10
    #: What those toys are (:data:`UNBINNED_CALIBRATIONS`): ``"generated"`` by the flow
    #: members (:func:`gbi.infer.steps.unbinned_toys`) or ``"held-out"`` sideband events
    #: each member never saw (:func:`gbi.infer.steps.held_out_toys`); ``"auto"`` (the
    #: default) becomes ``"held-out"`` where the flows are a bootstrap ensemble, else
    #: ``"generated"``. Held-out toys carry the flows' real mismatch with the data, which
    #: a learned signal density absorbs: with them the R-ANODE flow gave Z < 2 in 49 of
    #: 50 signal-free runs (README section 8).
    unbinned_calibration: str = "auto"
    #: The parametrized significance (:data:`UNBINNED_CALIBRATIONS`, the same choices):
    #: ``"generated"`` toys alone (:func:`gbi.infer.mixture.toy_q0`), or ``"held-out"``:
    #: those toys, with the data's ``q0`` divided by how much larger the ``q0`` of held-out
    #: sideband events are (:func:`gbi.infer.steps.parametrized_held_out_q0`,
    #: :func:`~gbi.infer.steps.held_out_scale`); ``"auto"`` as for the unbinned toys.
    parametrized_calibration: str = "auto"
    parametrized: ParametrizedConfig = dataclasses.field(default_factory=ParametrizedConfig)
    unbinned: UnbinnedConfig = dataclasses.field(default_factory=UnbinnedConfig)
    binned: BinnedConfig = dataclasses.field(default_factory=BinnedConfig)
    #: ``--binned-mass``: the signal's unordered mass pair, stored ``(heavier, lighter)``.
    binned_mass: tuple[float, float] | None = None
    min_sr_events: int = 200
    #: Below this significance (sigma) the reported 68% interval starts at mu = 0
    #: (:mod:`gbi.infer.uncertainty`, "Zero in the interval").
    evidence_threshold: float = EVIDENCE_THRESHOLD
    #: The fitted signal's share of the sidebands (:data:`SIDEBAND_SIGNAL_MODES`): taken
    #: out of the flows' training by default (``subtract``).
    sideband_signal: str = "subtract"
    #: ``--sideband-passes``: how many times the subtraction is made (each pass takes the
    #: signal that the previous pass's fit implies out of the sidebands and fits again;
    #: the pipeline's ``_without_sideband_signal``). One by default: the 50-run coverage
    #: series was measured so (issue 19); more for a strong signal, whose first fit is low.
    sideband_passes: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.binned_mass is not None:
            object.__setattr__(self, "binned_mass", ordered_masses(*self.binned_mass))
        unknown = [m for m in self.methods if m not in INFER_METHODS]
        if unknown or not self.methods:
            raise GbiInputError(f"methods: expected some of {INFER_METHODS}, found {unknown or []}")
        extra = [f for f in self.parametrized.features if f not in self.features]
        if extra:
            raise GbiInputError(
                f"parametrized features (--parametrized-features): expected a subset of the "
                f"generator's features {list(self.features)}, found {extra}"
            )
        if self.sideband_signal not in SIDEBAND_SIGNAL_MODES:
            raise GbiInputError(
                f"sideband_signal (--sideband-signal): expected one of {SIDEBAND_SIGNAL_MODES}, "
                f"found {self.sideband_signal!r}"
            )
        if self.sideband_passes < 1:
            raise GbiInputError(
                f"sideband_passes (--sideband-passes): expected >= 1, found {self.sideband_passes}"
            )
        if self.flow_ensemble < 1:
            raise GbiInputError(
                f"flow_ensemble (--flow-ensemble): expected >= 1 flows, found {self.flow_ensemble}"
            )
        if self.toys < 0:
            raise GbiInputError(f"toys (--toys): expected >= 0, found {self.toys}")
        if "parametrized" in self.methods and self.toys < MIN_TOYS:
            # Fewer toys cap the global Z at isf(1 / (toys + 1)) (0.97 for 5): no signal could
            # reach the evidence threshold, so every interval would reach 0 and the sideband
            # subtraction never run, silently (measured: Z = 0.97 at N = 1000 with 5 toys).
            cap = float(stats.norm.isf(1.0 / (self.toys + 1))) if self.toys > 0 else 0.0
            raise GbiInputError(
                f"toys (--toys): expected >= {MIN_TOYS} background-only toys for the "
                f"parametrized significance, found {self.toys}: with so few the global Z "
                f"cannot exceed {cap:.2f} (from {MIN_TOYS} on, a trials factor measured on the "
                "toys extends it), so no signal could pass the evidence threshold"
            )
        if self.unbinned_toys < 1:
            raise GbiInputError(
                f"unbinned_toys (--unbinned-toys): expected >= 1 toys, found {self.unbinned_toys}"
            )
        bootstrap = self.flow_bootstrap and self.flow_ensemble > 1
        for name in ("unbinned_calibration", "parametrized_calibration"):
            value = getattr(self, name)
            if value == "auto":
                value = "held-out" if bootstrap else "generated"
                object.__setattr__(self, name, value)
            flag = "--" + name.replace("_", "-")
            if value not in UNBINNED_CALIBRATIONS:
                raise GbiInputError(
                    f"{name} ({flag}): expected one of {UNBINNED_CALIBRATIONS}, found {value!r}"
                )
            if value == "held-out" and not bootstrap:
                raise GbiInputError(
                    f"{name} 'held-out' ({flag}): expected a bootstrap flow ensemble (its "
                    "members' unseen sideband events make the toys), found flow_ensemble="
                    f"{self.flow_ensemble}, flow_bootstrap={self.flow_bootstrap}"
                )
        if not self.evidence_threshold >= 0:
            raise GbiInputError(
                f"evidence_threshold (--evidence-threshold): expected a significance >= 0 (sigma), "
                f"found {self.evidence_threshold}"
            )

    @property
    def generator_config(self) -> GeneratorConfig:
        """The sideband generator: ``flow_ensemble`` flows (bootstrap when asked and more
        than one), conditional on mjj, trained with seed ``flow_train.seed + seed``."""
        return GeneratorConfig(
            FlowConfig(flow=self.flow, features=self.features, context=("mjj",)),
            dataclasses.replace(self.flow_train, seed=self.flow_train.seed + self.seed),
            ensemble=self.flow_ensemble,
            bootstrap=self.flow_bootstrap and self.flow_ensemble > 1,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable settings (the ``config`` of ``infer-result-1.0``)."""
        return {
            "methods": list(self.methods),
            "features": list(self.features),
            "regions": self.regions.to_dict(),
            "flow": self.flow,
            "flow_ensemble": self.flow_ensemble,
            "flow_bootstrap": self.flow_bootstrap,
            "flow_train": dataclasses.asdict(self.flow_train),
            "oversampling": self.oversampling,
            "toys": self.toys,
            "unbinned_toys": self.unbinned_toys,
            "unbinned_calibration": self.unbinned_calibration,
            "parametrized": dataclasses.asdict(self.parametrized),
            "unbinned": dataclasses.asdict(self.unbinned),
            "binned": {**dataclasses.asdict(self.binned), "mass": self.binned_mass},
            "evidence_threshold": self.evidence_threshold,
            "sideband_signal": self.sideband_signal,
            "sideband_passes": self.sideband_passes,
            "seed": self.seed,
        }
