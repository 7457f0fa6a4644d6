"""gbi's one two-sample chi2 (``gbi detect``'s mjj closure, the divergences of generated
samples): sparse bins merged, calibrated on same-distribution toys, equal to Pearson's chi2
of the 2 x B table (:func:`scipy.stats.chi2_contingency`) for unweighted, unmerged counts."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["chi2_compare", "merge_groups"]


def merge_groups(expected: np.ndarray, min_expected: float) -> list[list[int]]:
    """Adjacent bins grouped left to right until each expects ``min_expected`` (a short
    remainder joins the last group); scipy's chi2 tests take bins as given, hence by hand.

    >>> merge_groups(np.array([4.0, 7.0, 11.0, 2.0]), 10.0)
    [[0, 1], [2, 3]]
    """
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0.0
    for index, value in enumerate(np.asarray(expected, dtype=np.float64)):
        current.append(index)
        total += value
        if total >= min_expected:
            groups.append(current)
            current, total = [], 0.0
    if current:  # a short remainder joins the last group, or is the only one
        groups = [*groups[:-1], groups[-1] + current] if groups else [current]
    return groups


def chi2_compare(
    observed: np.ndarray,
    expected: np.ndarray,
    expected_var: np.ndarray,
    n_constraints: int = 0,
    min_expected: float = 10.0,
    observed_var: np.ndarray | None = None,
) -> dict[str, Any]:
    """Two-sample chi2 of observed counts against a sample-based expectation, sparse bins merged.

    Adjacent bins are merged (:func:`merge_groups`) until each group expects at least
    ``min_expected`` events. The expectation is a reference sample with weight
    ``w_e = expected_var / expected`` per event, the observation one with weight
    ``w_o = observed_var / observed`` (1: unweighted counts, the default), so each group
    compares two scaled Poisson counts, and its variance is estimated from both of them
    (the pooled estimate, as in the textbook test of homogeneity):
    ``chi2 = sum (o - e)^2 / (w_o e + w_e o)``, with ``ndf = groups - n_constraints``.
    Neither merging nor pooling is optional: on background-only toys with a falling mjj
    tail (``tests/detect/test_selection.py``), the earlier ``(o - e)^2 / (e + var_e)`` over
    unmerged bins rejected 8-9% of them at p < 0.05 and 4% at p < 0.01; this statistic
    rejects 5% and 1%.

    ``observed``, ``expected``: counts (sums of weights) per bin; ``*_var``: their variances.

    >>> c = chi2_compare(np.array([5.0, 3.0, 12.0]), np.array([4.0, 7.0, 11.0]), np.zeros(3))
    >>> c["ndf"], round(c["chi2"], 3)  # bins 1 and 2 are merged (4 expected < 10)
    (2, 0.909)
    """
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    vo = o if observed_var is None else np.asarray(observed_var, float)
    starts = [group[0] for group in merge_groups(e, min_expected)]
    o_g, e_g, v_g, vo_g = (
        np.add.reduceat(x, starts) for x in (o, e, np.asarray(expected_var, float), vo)
    )
    w_e = np.divide(v_g, e_g, out=np.zeros_like(e_g), where=e_g > 0)
    w_o = np.divide(vo_g, o_g, out=np.ones_like(o_g), where=o_g > 0)
    var = w_o * e_g + w_e * o_g
    use = var > 0
    chi2 = float(np.sum((o_g[use] - e_g[use]) ** 2 / var[use]))
    ndf = max(int(use.sum()) - n_constraints, 1)
    return {
        "chi2": chi2,
        "ndf": ndf,
        "chi2_ndf": chi2 / ndf,
        "p_value": float(stats.chi2.sf(chi2, ndf)),
        "min_expected": min_expected,
    }
