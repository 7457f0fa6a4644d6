"""mjj histograms of the events passing the score cuts (compared by
:func:`gbi.metrics.chi2.chi2_compare`).

The cuts themselves and the SR background estimates are in :mod:`gbi.background.cuts`.

>>> h = mjj_histogram(np.array([3400.0, 3500.0]), {"10%": np.array([True, False])}, edges=np.array([3300.0, 3500.0, 3700.0]))
>>> h["10%", :].values().tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import hist
import numpy as np

from gbi.regions import Regions

__all__ = ["mjj_edges", "mjj_histogram"]


def mjj_edges(regions: Regions, mjj: np.ndarray, bins_per_sr: int = 4) -> np.ndarray:
    """Bin edges (GeV) aligned with the SR boundaries, covering the bulk of ``mjj``.

    >>> mjj_edges(Regions(), np.array([3000.0, 4000.0]))[[0, -1]].tolist()
    [3000.0, 4000.0]
    """
    width = (regions.sr_high - regions.sr_low) / bins_per_sr
    m = np.asarray(mjj, dtype=np.float64)
    low, high = np.quantile(m, [0.001, 0.999]) if len(m) else (regions.sr_low, regions.sr_high)
    low = max(regions.range_low, regions.sr_low - width * math.ceil((regions.sr_low - low) / width))
    high = min(
        regions.range_high, regions.sr_high + width * math.ceil((high - regions.sr_high) / width)
    )
    n = max(1, round((high - low) / width))
    return np.linspace(low, low + n * width, n + 1)


def mjj_histogram(
    mjj: np.ndarray,
    passing: Mapping[str, np.ndarray],
    *,
    edges: np.ndarray,
    weight: float | np.ndarray = 1.0,
) -> hist.Hist:
    """Weighted ``hist.Hist`` (cut x mjj [GeV]) of the events passing each named cut."""
    h = hist.Hist(
        hist.axis.StrCategory(list(passing), name="cut", label="background efficiency"),
        hist.axis.Variable(edges, name="mjj", label="$m_{jj}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64), np.shape(mjj))
    for name, mask in passing.items():
        h.fill(cut=name, mjj=np.asarray(mjj)[mask], weight=w[mask])
    return h
