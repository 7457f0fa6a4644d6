"""Signal region and sidebands in the dijet invariant mass mjj.

One small, serialisable definition used by every stage of gbi (processors, flows, the
anomaly-detection pipeline, the pyhf bridge). The JSON form follows the versioned schema
``gbi/schemas/regions-1.0.json``::

    {"version": "1.0", "observable": "mjj", "unit": "GeV",
     "range": [1000.0, 10000.0], "signal_region": [3300.0, 3700.0]}

All intervals are half-open ``[low, high)``, in GeV.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.schema import validate

__all__ = ["REGION_NAMES", "Regions"]

#: Region labels in mjj order: low sideband, signal region, high sideband.
REGION_NAMES: tuple[str, str, str] = ("SBL", "SR", "SBH")


@dataclass(frozen=True)
class Regions:
    """Signal region ``[sr_low, sr_high)`` inside the mjj range ``[range_low, range_high)``.

    Parameters are in GeV. The default is the LHCO benchmark's SR, 3.3-3.7 TeV.

    >>> r = Regions()
    >>> r.signal_region, r.sidebands
    ((3300.0, 3700.0), ((1000.0, 3300.0), (3700.0, 10000.0)))
    >>> r.assign(np.array([999.0, 3000.0, 3300.0, 3699.9, 3700.0, 10000.0])).tolist()
    [-1, 0, 1, 1, 2, -1]
    >>> Regions(sr_low=3700, sr_high=3300)
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: signal_region: expected low < high in GeV, found [3700.0, 3300.0]
    """

    sr_low: float = 3300.0
    sr_high: float = 3700.0
    range_low: float = 1000.0
    range_high: float = 10000.0
    observable: str = field(default="mjj")

    def __post_init__(self) -> None:
        for name in ("sr_low", "sr_high", "range_low", "range_high"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise GbiInputError(f"{name}: expected a finite mjj value in GeV, found {value}")
            object.__setattr__(self, name, value)
        if self.observable != "mjj":
            raise GbiInputError(f"observable: only 'mjj' is supported, found {self.observable!r}")
        if not self.range_low < self.range_high:
            raise GbiInputError(
                f"range: expected low < high in GeV, found [{self.range_low}, {self.range_high}]"
            )
        if not self.sr_low < self.sr_high:
            raise GbiInputError(
                f"signal_region: expected low < high in GeV, found [{self.sr_low}, {self.sr_high}]"
            )
        if not (self.range_low < self.sr_low and self.sr_high < self.range_high):
            raise GbiInputError(
                f"signal_region [{self.sr_low}, {self.sr_high}] GeV must lie strictly inside "
                f"range [{self.range_low}, {self.range_high}] GeV so that both sidebands exist; "
                "widen 'range' or move the signal region"
            )

    @property
    def signal_region(self) -> tuple[float, float]:
        """``(low, high)`` of the SR in GeV."""
        return (self.sr_low, self.sr_high)

    @property
    def sidebands(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((low, high), (low, high))`` of the low and high sidebands in GeV."""
        return ((self.range_low, self.sr_low), (self.sr_high, self.range_high))

    def assign(self, mjj: np.ndarray) -> np.ndarray:
        """Region index per event: 0 = SBL, 1 = SR, 2 = SBH, -1 = outside the range.

        ``mjj`` in GeV, any shape; returns int8 of the same shape.
        """
        mjj = np.asarray(mjj, dtype=np.float64)
        # Three comparisons count the lower edges passed (NaN passes none): a tenth of the
        # time of ``np.searchsorted`` over the four edges, 1.2 ms per 50k events.
        index = np.full(mjj.shape, -1, dtype=np.int8)
        for edge in (self.range_low, self.sr_low, self.sr_high):
            index += mjj >= edge
        index[mjj >= self.range_high] = -1
        return index

    def in_signal_region(self, mjj: np.ndarray) -> np.ndarray:
        """Boolean mask of events with ``sr_low <= mjj < sr_high`` (GeV)."""
        mjj = np.asarray(mjj)
        return (mjj >= self.sr_low) & (mjj < self.sr_high)

    def in_sidebands(self, mjj: np.ndarray) -> np.ndarray:
        """Boolean mask of events in either sideband (inside the range, outside the SR)."""
        region = self.assign(mjj)
        return (region == 0) | (region == 2)

    def check_data_range(self, observed_min: float, observed_max: float, source: str) -> None:
        """Raise if the SR lies entirely outside the observed mjj range of ``source``.

        >>> Regions().check_data_range(2000.0, 3000.0, "qcd")
        Traceback (most recent call last):
        ...
        gbi.errors.GbiInputError: signal region [3300.0, 3700.0) GeV lies outside the mjj range of the data in qcd, [2000.0, 3000.0] GeV: no event can fall in it; choose a signal region inside the data (--regions)
        """
        if self.sr_high <= observed_min or self.sr_low > observed_max:
            raise GbiInputError(
                f"signal region [{self.sr_low}, {self.sr_high}) GeV lies outside the mjj range "
                f"of the data in {source}, [{observed_min:.1f}, {observed_max:.1f}] GeV: no event "
                "can fall in it; choose a signal region inside the data (--regions)"
            )

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict following schema ``regions-1.0``."""
        return {
            "version": "1.0",
            "observable": self.observable,
            "unit": "GeV",
            "range": [self.range_low, self.range_high],
            "signal_region": [self.sr_low, self.sr_high],
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any], source: str = "regions") -> Regions:
        """Build from a schema-validated dict.

        >>> Regions.from_dict({"version": "1.0", "signal_region": [3000, 3500]}).signal_region
        (3000.0, 3500.0)
        """
        validate(document, "regions", source)
        low, high = document.get("range", [cls.range_low, cls.range_high])
        sr_low, sr_high = document["signal_region"]
        return cls(sr_low=sr_low, sr_high=sr_high, range_low=low, range_high=high)

    @classmethod
    def from_json(cls, path: str | Path) -> Regions:
        """Read a regions JSON file (schema ``regions-1.0``)."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise GbiInputError(f"regions file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise GbiInputError(f"regions file {path} is not valid JSON: {err}") from None
        return cls.from_dict(document, source=str(path))
