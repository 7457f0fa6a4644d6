"""Settings of one window of the scan (:class:`WindowConfig`) and the identity of a result.

Every window of a scan runs with the same :class:`WindowConfig`. Its defaults are those of
``gbi infer``'s binned fit (one flow of 30 epochs, 4x oversampling, a 5-fold gradient-boosting
classifier, 2% background efficiency kept): minutes per window on 200k events on a CPU.
:meth:`WindowConfig.small` is the few-second variant used by tests and quick looks.

A window's result carries :func:`result_key`, a hash of the configuration, the sideband
definition, the window and the input data, so a rerun into the same output folder reuses a
stored window only when all of these are the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from gbi.classifiers import ClassifierConfig
from gbi.errors import GbiInputError
from gbi.flows import TrainConfig
from gbi.infer.mixture import MIN_TOYS
from gbi.search.windows import Window, WindowGrid
from gbi.tables import DEFAULT_FEATURES

__all__ = [
    "SEARCH_VERSION",
    "WindowConfig",
    "data_identity",
    "grid_identity",
    "result_key",
    "window_seed",
]

#: Version of the per-window computation: bump it when a change alters the numbers, so
#: that results stored by an older gbi are not reused (1.1: the 68% interval from MINOS).
SEARCH_VERSION = "1.1"


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """The per-window pipeline: flow, classifier, cut and fit settings (mjj in GeV)."""

    features: tuple[str, ...] = DEFAULT_FEATURES
    flow: str = "maf"
    flow_transforms: int = 4
    flow_hidden: tuple[int, ...] = (64, 64)
    flow_ensemble: int = 1
    flow_train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=30, batch_size=1024, learning_rate=2e-3)
    )
    #: Generated SR background events per SR data event.
    oversampling: float = 4.0
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    n_folds: int = 5
    #: Fraction of the generated SR background the score cut keeps.
    efficiency: float = 0.02
    #: Relative normsys on the SR background for the control-window-to-SR extrapolation
    #: of ``k`` (4.5%, as ``gbi infer``'s binned fit, README section 8).
    extrapolation_uncertainty: float = 0.045
    min_sr_events: int = 200
    #: Data events each of the two sidebands needs (the flow interpolates between them).
    min_sideband_events: int = 500
    #: With a signal grid: epochs and ensemble size of the parametrized classifier, toys of
    #: its significance, and the grid events a point needs in the window to be used.
    parametrized_epochs: int = 60
    parametrized_ensemble: int = 3
    parametrized_toys: int = 100
    min_signal_events: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.features:
            raise GbiInputError("features: expected at least one feature column, found none")
        if not 0 < self.efficiency < 1:
            raise GbiInputError(
                f"efficiency: expected the background fraction kept by the cut in (0, 1), "
                f"found {self.efficiency}"
            )
        if not self.oversampling >= 1:
            raise GbiInputError(f"oversampling: expected >= 1, found {self.oversampling}")
        if self.n_folds < 2:
            raise GbiInputError(f"n_folds: expected >= 2 folds, found {self.n_folds}")
        for name in ("parametrized_epochs", "parametrized_ensemble"):
            if getattr(self, name) < 1:
                raise GbiInputError(f"{name}: expected >= 1, found {getattr(self, name)}")
        if self.parametrized_toys < MIN_TOYS:
            raise GbiInputError(
                f"parametrized_toys: expected >= {MIN_TOYS} (fewer cap the global Z below the evidence "
                f"threshold), found {self.parametrized_toys}"
            )
        if self.flow_ensemble < 1:
            raise GbiInputError(f"flow_ensemble: expected >= 1 flows, found {self.flow_ensemble}")
        if not 0 <= self.extrapolation_uncertainty < 1:
            raise GbiInputError(
                "extrapolation_uncertainty: expected a relative uncertainty in [0, 1), "
                f"found {self.extrapolation_uncertainty}"
            )
        for name in ("min_sr_events", "min_sideband_events"):
            if getattr(self, name) < 1:
                raise GbiInputError(f"{name}: expected >= 1 events, found {getattr(self, name)}")

    @classmethod
    def small(cls, **overrides: Any) -> WindowConfig:
        """A configuration of a few seconds per window on ~10k events (tests, quick looks):
        one small flow of 5 epochs, a 2-fold classifier of 50 boosting iterations."""
        base: dict[str, Any] = {
            "flow_transforms": 2,
            "flow_hidden": (16, 16),
            "flow_train": TrainConfig(epochs=5, batch_size=256, learning_rate=3e-3),
            "classifier": ClassifierConfig(max_iter=50),
            "n_folds": 2,
            "oversampling": 2.0,
            "efficiency": 0.1,
            "min_sr_events": 100,
            "min_sideband_events": 200,
            "parametrized_epochs": 20,
            "parametrized_ensemble": 1,
            "parametrized_toys": 20,
            "min_signal_events": 50,
        }
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["features"] = list(self.features)
        out["flow_hidden"] = list(self.flow_hidden)
        out["classifier"]["hidden"] = list(self.classifier.hidden)
        return out


def data_identity(data: Mapping[str, np.ndarray], columns: tuple[str, ...]) -> str:
    """SHA-256 of the ``columns`` of ``data`` (values and order): the input identity."""
    digest = hashlib.sha256()
    for name in columns:
        values = np.ascontiguousarray(np.asarray(data[name], dtype=np.float64))
        digest.update(name.encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def grid_identity(signal_grid: Any, features: tuple[str, ...]) -> str:
    """SHA-256 of a :class:`~gbi.infer.signal_grid.SignalGrid`: its resonance mass, points
    and the events (``mjj`` and ``features``, inside and outside its signal region)."""
    digest = hashlib.sha256(f"{signal_grid.m_w!r}".encode())
    columns = ("mjj", *features)
    for key, table in signal_grid.tables.items():
        digest.update(repr(key).encode())
        digest.update(data_identity(table, columns).encode())
        outside = signal_grid.outside.get(key)
        if outside is not None:
            digest.update(data_identity(outside, columns).encode())
    return digest.hexdigest()


def result_key(config: WindowConfig, grid: WindowGrid, window: Window, data_hash: str) -> str:
    """Hash identifying one window's result: configuration, sidebands, window, data."""
    document = {
        "search_version": SEARCH_VERSION,
        "config": config.to_dict(),
        "sideband_width": grid.sideband_width,
        "control_width": grid.control_width_of(window),
        "range": grid.mjj_range,
        "window": [window.low, window.high],
        "data": data_hash,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def window_seed(seed: int, window: Window) -> int:
    """Seed of one window: from the scan seed and the window's edges only, so a window
    gives the same result whatever the rest of the grid and the order of execution.

    >>> window_seed(0, Window(3000, 3400)) == window_seed(0, Window(3000.0, 3400.0))
    True
    """
    text = f"{seed}:{window.name}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little") % (2**31 - 1000)
