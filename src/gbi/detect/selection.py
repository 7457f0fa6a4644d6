"""mjj histograms of the events passing the score cuts, and their chi2 comparison.

The cuts themselves and the SR background estimates are in :mod:`gbi.background.cuts`.

>>> h = mjj_histogram(np.array([3400.0, 3500.0]), {"10%": np.array([True, False])}, edges=np.array([3300.0, 3500.0, 3700.0]))
>>> h["10%", :].values().tolist()
[1.0, 0.0]
>>> c = chi2_compare(np.array([100.0, 100.0]), np.array([110.0, 90.0]), np.array([0.0, 0.0]))
>>> round(c["chi2"], 3), c["ndf"]
(2.02, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import hist
import numpy as np

from gbi.regions import Regions

__all__ = ["chi2_compare", "mjj_edges", "mjj_histogram"]


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


def chi2_compare(
    observed: np.ndarray,
    expected: np.ndarray,
    expected_var: np.ndarray,
    n_constraints: int = 0,
    min_expected: float = 10.0,
) -> dict[str, Any]:
    """Two-sample chi2 of observed counts against a sample-based expectation, sparse bins merged.

    Adjacent bins are merged (left to right; a short remainder joins the last group) until
    each group expects at least ``min_expected`` events. The expectation is a reference
    sample with weight ``w = expected_var / expected`` per event, so each group compares two
    Poisson counts, and its variance is estimated from both of them (the pooled estimate,
    as in the textbook test of homogeneity): ``chi2 = sum (o - e)^2 / (e + w o)``, with
    ``ndf = groups - n_constraints``. Neither merging nor pooling is optional: on
    background-only toys with a falling mjj tail (``tests/detect/test_selection.py``), the
    earlier ``(o - e)^2 / (e + var_e)`` over unmerged bins rejected 8-9% of them at
    p < 0.05 and 4% at p < 0.01; this statistic rejects 5% and 1%.

    ``observed``, ``expected``: counts per bin; ``expected_var``: the variance of
    ``expected`` (sum of squared weights of the reference events).

    >>> c = chi2_compare(np.array([5.0, 3.0, 12.0]), np.array([4.0, 7.0, 11.0]), np.zeros(3))
    >>> c["ndf"], round(c["chi2"], 3)  # bins 1 and 2 are merged (4 expected < 10)
    (2, 0.909)
    """
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    v = np.asarray(expected_var, float)
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0.0
    for index in range(len(e)):
        current.append(index)
        total += e[index]
        if total >= min_expected:
            groups.append(current)
            current, total = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    o_g = np.array([o[g].sum() for g in groups])
    e_g = np.array([e[g].sum() for g in groups])
    v_g = np.array([v[g].sum() for g in groups])
    weight = np.divide(v_g, e_g, out=np.zeros_like(e_g), where=e_g > 0)
    var = e_g + weight * o_g
    use = var > 0
    chi2 = float(np.sum((o_g[use] - e_g[use]) ** 2 / var[use]))
    ndf = max(int(use.sum()) - n_constraints, 1)
    from scipy.stats import chi2 as chi2_dist

    return {
        "chi2": chi2,
        "ndf": ndf,
        "chi2_ndf": chi2 / ndf,
        "p_value": float(chi2_dist.sf(chi2, ndf)),
        "min_expected": min_expected,
    }
