"""The mjj closure chi2 of ``gbi detect`` is calibrated on background-only toys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from gbi.metrics.chi2 import chi2_compare


def _toys(weight: float, n_toys: int = 1500, seed: int = 3):
    """Observed counts and a reference-sample expectation for a falling mjj spectrum.

    49 bins of 100 GeV like ``gbi detect``'s histograms after a 10% cut: about 3000
    events, with a tail that holds less than one event per bin. The expectation comes
    from an independent reference sample of ``1 / weight`` times the data's size.
    """
    rng = np.random.default_rng(seed)
    centres = np.arange(1950.0, 6850.0, 100.0)
    mean = 3000 * np.exp(-(centres - 1900.0) / 450.0) / 450.0 * 100.0
    for _ in range(n_toys):
        observed = rng.poisson(mean).astype(float)
        reference = rng.poisson(mean / weight).astype(float)
        yield observed, weight * reference, weight**2 * reference


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_chi2_rejects_at_its_nominal_rate_under_the_background_hypothesis(weight):
    p_values = np.array([chi2_compare(o, e, v)["p_value"] for o, e, v in _toys(weight)])
    assert 0.035 < (p_values < 0.05).mean() < 0.068
    assert (p_values < 0.01).mean() < 0.02
    quarters = np.histogram(p_values, bins=4, range=(0, 1))[0] / len(p_values)
    assert np.all(np.abs(quarters - 0.25) < 0.04), quarters


def test_unmerged_chi2_with_expected_variance_over_rejects():
    """The formula used before (e + var_e, every bin) rejects far more than its p-value says."""
    toys = list(_toys(2.0))
    rejected = 0
    for o, e, v in toys:
        var = e + v
        use = var > 0
        statistic = float(np.sum((o[use] - e[use]) ** 2 / var[use]))
        rejected += chi2_dist.sf(statistic, int(use.sum())) < 0.01
    assert rejected / len(toys) > 0.025


def test_sparse_bins_are_merged_and_a_bump_is_found():
    rng = np.random.default_rng(5)
    expected = np.full(20, 2.0)
    observed = rng.poisson(expected).astype(float)
    assert chi2_compare(observed, expected, np.zeros(20))["ndf"] == 4  # 4 groups of 10
    observed[10] += 25  # 25 extra events in one bin
    assert chi2_compare(observed, expected, np.zeros(20))["p_value"] < 1e-4
