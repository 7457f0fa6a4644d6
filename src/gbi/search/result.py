"""Typed results of a scan: :class:`WindowResult` per window and :class:`SearchResult`.

``SearchResult.to_dict()`` is the ``search.json`` document (schema ``search-result-1.0``);
``WindowResult.from_dict`` reads a window file ``windows/<low>_<high>.json`` back (the
dict :func:`gbi.search.window.run_window` returns). Counts of signal events (``mu_*``,
``upper_limit_*``) are events passing the window's cut; masses in GeV; significances in
sigma. Numbers of a window that did not run (``skipped``, ``failed``) are ``None``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["WINDOW_STATUSES", "SearchResult", "WindowResult"]

#: ``ok``: fitted; ``skipped``: not run, for a reason of the input (too few events ...);
#: ``failed``: an error in the computation (the message says which).
WINDOW_STATUSES: tuple[str, ...] = ("ok", "skipped", "failed")

_NUMBERS = (
    "local_significance",
    "p0_local",
    "mu_hat",
    "mu_lo",
    "mu_hi",
    "upper_limit_obs",
    "upper_limit_exp",
)


@dataclasses.dataclass(frozen=True)
class WindowResult:
    """One window's summary (the ``windows`` entries of ``search.json``)."""

    low: float
    high: float
    center: float
    status: str
    message: str = ""
    n_sr: int | None = None
    local_significance: float | None = None
    p0_local: float | None = None
    mu_hat: float | None = None
    mu_lo: float | None = None
    mu_hi: float | None = None
    upper_limit_obs: float | None = None
    upper_limit_exp: float | None = None
    #: Expected limits at -2, -1, 0, +1, +2 sigma (pyhf order).
    upper_limit_exp_band: tuple[float, ...] | None = None
    config_hash: str = ""
    #: Everything else the window file holds (counts, cut, closure, timing, truth).
    details: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        from gbi.search.windows import Window

        return Window(self.low, self.high).name

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> WindowResult:
        fields = {f.name for f in dataclasses.fields(cls)} - {"details"}
        values: dict[str, Any] = {k: document.get(k) for k in fields}
        values["message"] = values["message"] or ""
        values["config_hash"] = values["config_hash"] or ""
        band = values["upper_limit_exp_band"]
        values["upper_limit_exp_band"] = tuple(band) if band is not None else None
        skip = {"passing_events", "workspace"}
        details = {k: v for k, v in document.items() if k not in fields and k not in skip}
        return cls(**values, details=details)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("details")
        band = out["upper_limit_exp_band"]
        out["upper_limit_exp_band"] = list(band) if band is not None else None
        for key in (
            "seconds",
            "truth",
            "observed_passing",
            "expected_background_prefit",
            "parametrized",
        ):
            if key in self.details:
                out[key] = self.details[key]
        return out


@dataclasses.dataclass
class SearchResult:
    """The scan: every window, the best one, the global significance, provenance."""

    windows: list[WindowResult]
    global_significance: dict[str, Any] | None
    config: dict[str, Any]
    grid: dict[str, Any]
    data: dict[str, Any]
    execution: dict[str, Any]
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def fitted(self) -> list[WindowResult]:
        """Windows with ``status == "ok"``."""
        return [w for w in self.windows if w.status == "ok"]

    @property
    def best(self) -> WindowResult | None:
        """The fitted window with the smallest local p0 (largest local Z)."""
        fitted = [w for w in self.fitted if w.local_significance is not None]
        return max(fitted, key=lambda w: w.local_significance or 0.0) if fitted else None

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "version": "1.0",
            "windows": [w.to_dict() for w in self.windows],
            "best": None
            if best is None
            else {
                "low": best.low,
                "high": best.high,
                "center": best.center,
                "local_significance": best.local_significance,
                "p0_local": best.p0_local,
                "mu_hat": best.mu_hat,
            },
            "global_significance": self.global_significance,
            "counts": {
                status: sum(w.status == status for w in self.windows) for status in WINDOW_STATUSES
            },
            "config": self.config,
            "grid": self.grid,
            "data": self.data,
            "execution": self.execution,
            "outputs": self.outputs,
        }
