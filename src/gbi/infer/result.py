"""The typed result of :func:`gbi.infer.run_inference` (like cabinetry's ``FitResults``).

:class:`InferResult` holds the counts, one :class:`InferMethodResult` per method, the stage
times (seconds) and what plots and reuse need (trained background, fits, mass scan,
workspace). :meth:`InferResult.to_dict` gives the JSON of schema ``infer-result-1.0``
(``mu``: signal fraction of SR events; masses in GeV). The ``binned`` method's ``mu_*`` are
``None`` when no fitted signal gives the cut's efficiency; its model-independent number of
signal events passing the cut is ``values["n_signal_passing"]``, and with a fraction the
same number with the fitted signal's leak into the control windows modelled is
``values["signal_fraction"]["n_signal_passing"]``.

>>> r = InferResult(config={"methods": ["unbinned"]}, counts=InferCounts(10, 4, 6))
>>> r.methods["unbinned"] = InferMethodResult.skipped("too few events")
>>> r.to_dict()["methods"], r.methods["unbinned"].mu_hat
({'unbinned': {'status': 'skipped', 'message': 'too few events'}}, None)
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["InferCounts", "InferMethodResult", "InferResult"]


@dataclasses.dataclass
class InferCounts:
    """Events of the data in total, in the SR and in the sidebands (and true SR signal)."""

    data: int
    signal_region: int
    sidebands: int
    signal_region_true_signal: int | None = None

    def to_dict(self) -> dict[str, int]:
        out = {"data": self.data, "signal_region": self.signal_region, "sidebands": self.sidebands}
        if self.signal_region_true_signal is not None:
            out["signal_region_true_signal"] = self.signal_region_true_signal
        return out


@dataclasses.dataclass
class InferMethodResult:
    """One method's outcome: ``status`` (``ok``/``skipped``), ``message`` and its figures
    (``mu_hat``, ``mu_lo``, ``mu_hi``, ``mu_upper_limit_95``, ``significance`` in sigma, ...)."""

    status: str
    message: str = ""
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def skipped(cls, message: str) -> InferMethodResult:
        return cls("skipped", message)

    @classmethod
    def ok(cls, values: dict[str, Any]) -> InferMethodResult:
        return cls("ok", "", values)

    @property
    def mu_hat(self) -> float | None:
        return self.values.get("mu_hat")

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 68% interval ``(mu_lo, mu_hi)``, or ``None`` when skipped."""
        if "mu_lo" not in self.values:
            return None
        return self.values["mu_lo"], self.values["mu_hi"]

    @property
    def upper_limit(self) -> float | None:
        """The 95% CL upper limit on ``mu``."""
        return self.values.get("mu_upper_limit_95")

    @property
    def significance(self) -> float | None:
        """Significance in Gaussian sigma."""
        return self.values.get("significance")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, **self.values}


@dataclasses.dataclass
class InferResult:
    """Everything an inference run produced.

    ``fits``: per method the fit object (``.profile`` is the likelihood scan);
    ``mass_scan``: the parametrized mass profile; ``workspace``: the binned pyhf workspace;
    ``background``, ``parametrized_model``: trained models to reuse in another run.
    """

    config: dict[str, Any]
    counts: InferCounts
    methods: dict[str, InferMethodResult] = dataclasses.field(default_factory=dict)
    stages: dict[str, float] = dataclasses.field(default_factory=dict)
    mu_true: float | None = None
    has_truth: bool = False
    background: Any = None
    parametrized_model: Any = None
    fits: dict[str, Any] = dataclasses.field(default_factory=dict)
    mass_scan: Any = None
    parametrized_toys: Any = None
    workspace: Any = None
    #: The signal grid as the run used it (``None`` without one): the W' masses it was made
    #: at, the one it was used at (``None`` for a grid of several) and whether it was moved
    #: there (:func:`gbi.infer.pipeline.run_inference`), its points and SR events per point.
    signal_grid: dict[str, Any] | None = None
    version: str = "1.0"

    def to_dict(self) -> dict[str, Any]:
        """The ``infer-result-1.0`` JSON content."""
        out: dict[str, Any] = {
            "version": self.version,
            "config": self.config,
            "counts": self.counts.to_dict(),
            "methods": {name: m.to_dict() for name, m in self.methods.items()},
            "stages": dict(self.stages),
        }
        if self.has_truth:
            out["mu_true"] = self.mu_true
        if self.signal_grid is not None:
            out["signal_grid"] = self.signal_grid
        return out
