"""gbi's one two-sample chi2 against scipy, and calibrated on same-distribution toys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gbi.metrics.chi2 import chi2_compare, merge_groups
from gbi.metrics.divergences import bin_counts, histogram_divergences, shared_edges


def test_equals_scipy_contingency_on_unweighted_counts() -> None:
    rng = np.random.default_rng(1)
    observed = rng.poisson(np.linspace(20, 200, 12)).astype(float)
    reference = rng.poisson(np.linspace(60, 500, 12)).astype(float)
    scale = observed.sum() / reference.sum()
    got = chi2_compare(observed, scale * reference, scale**2 * reference, n_constraints=1)
    want = stats.chi2_contingency(np.stack([observed, reference]), correction=False)
    assert got["ndf"] == want.dof == 11
    assert got["chi2"] == pytest.approx(want.statistic, rel=1e-12)
    assert got["p_value"] == pytest.approx(want.pvalue, rel=1e-9)


def test_merged_bins_equal_scipy_on_the_merged_table() -> None:
    rng = np.random.default_rng(2)
    observed = rng.poisson(np.geomspace(80, 0.3, 25)).astype(float)
    reference = rng.poisson(np.geomspace(160, 0.6, 25)).astype(float)
    scale = observed.sum() / reference.sum()
    got = chi2_compare(observed, scale * reference, scale**2 * reference, n_constraints=1)
    groups = merge_groups(scale * reference, 10.0)
    assert len(groups) < 25  # the tail was merged
    table = np.array([[row[g].sum() for g in groups] for row in (observed, reference)])
    want = stats.chi2_contingency(table, correction=False)
    assert got["ndf"] == want.dof
    assert got["chi2"] == pytest.approx(want.statistic, rel=1e-12)


def test_bin_counts_equal_searchsorted_bincount() -> None:
    """np.histogram gives the counts of gbi's earlier searchsorted + bincount binning."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=5000), [-1.0, 0.0, 1.0]])  # some on edges
    weights = rng.uniform(0.5, 1.5, len(values))
    edges = np.array([-np.inf, -1.0, -0.3, 0.0, 0.4, 1.0, np.inf])
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    n, var = bin_counts(values, edges, weights)
    np.testing.assert_allclose(n, np.bincount(idx, weights, len(edges) - 1), rtol=1e-12)
    np.testing.assert_allclose(var, np.bincount(idx, weights**2, len(edges) - 1), rtol=1e-12)


def test_bin_counts_rejects_nan() -> None:
    from gbi.errors import GbiInputError

    with pytest.raises(GbiInputError, match="expected finite values, found 1 NaN"):
        bin_counts(np.array([0.0, np.nan]), np.array([-np.inf, np.inf]))


@pytest.mark.parametrize("weighted", [False, True])
def test_divergence_chi2_is_calibrated_on_same_distribution_toys(weighted: bool) -> None:
    """Real and generated from one distribution (generated weighted or not): uniform p."""
    rng = np.random.default_rng(7 + weighted)
    p_values = []
    for _ in range(400):
        real = rng.exponential(size=1500)
        generated = rng.exponential(size=3000)
        weights = rng.uniform(0.2, 1.8, 3000) if weighted else None
        result = histogram_divergences(real, generated, shared_edges(real, 20), None, weights)
        p_values.append(result["chi2_pvalue"])
    p = np.array(p_values)
    # 400 toys: the binomial spread of a 5% rate is 1.1%
    assert 0.025 < (p < 0.05).mean() < 0.08
    quarters = np.histogram(p, bins=4, range=(0, 1))[0] / len(p)
    assert np.all(np.abs(quarters - 0.25) < 0.06), quarters


def test_weighted_observed_counts_are_calibrated() -> None:
    """Weighted real events too: the pooled variance uses both samples' weights (ignoring the
    real weights, E[w^2]/E[w] = 2 here, rejects about 21% at p < 0.05)."""
    rng = np.random.default_rng(11)
    edges = np.array([-np.inf, -1.0, -0.5, 0.0, 0.5, 1.0, np.inf])
    p_values = []
    for _ in range(400):
        real, real_w = rng.normal(size=1000), rng.exponential(1.0, 1000)
        generated, gen_w = rng.normal(size=2000), rng.uniform(0.1, 1.9, 2000)
        p_values.append(histogram_divergences(real, generated, edges, real_w, gen_w)["chi2_pvalue"])
    assert 0.025 < (np.array(p_values) < 0.05).mean() < 0.08
