"""Closure and coverage of the mixture profile likelihood on toys with exact densities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gbi.infer.mixture import global_significance, profile_mixture, toy_q0


def _toy(rng: np.random.Generator, n: int, mu: float, centres: np.ndarray) -> np.ndarray:
    """Background N(0,1) + signal N(1.5, 0.3); ratios for every hypothesis centre, (n, h)."""
    is_sig = rng.random(n) < mu
    x = np.where(is_sig, rng.normal(1.5, 0.3, n), rng.normal(0.0, 1.0, n))
    return stats.norm.pdf(x[:, None], centres[None, :], 0.3) / stats.norm.pdf(x)[:, None]


def test_interval_coverage_and_closure() -> None:
    rng = np.random.default_rng(11)
    mu_true, toys = 0.04, 300
    fits = [profile_mixture(_toy(rng, 3000, mu_true, np.array([1.5]))) for _ in range(toys)]
    covered = np.mean([f.interval[0] <= mu_true <= f.interval[1] for f in fits])
    median = np.median([f.mu_hat for f in fits])
    assert abs(covered - 0.683) < 0.06, covered
    assert abs(median - mu_true) < 0.1 * mu_true, median


def test_background_only_significance_and_limits() -> None:
    rng = np.random.default_rng(12)
    fits = [profile_mixture(_toy(rng, 3000, 0.0, np.array([1.5]))) for _ in range(300)]
    z = np.array([f.significance for f in fits])
    # Under H0, q0 ~ 1/2 chi2_0 + 1/2 chi2_1: P(Z > 2) = 2.3%.
    assert (z > 2).mean() < 0.05
    assert (z == 0).mean() > 0.35  # about half the fits have mu_hat <= 0
    upper = np.array([f.upper_limit for f in fits])
    assert (upper > 0).all()  # a one-sided 95% limit covers mu = 0 always


def test_mass_scan_look_elsewhere_is_calibrated_by_toys() -> None:
    rng = np.random.default_rng(13)
    centres = np.linspace(-2.0, 2.5, 10)
    pool = _toy(rng, 40000, 0.0, centres)
    calib = toy_q0(pool, 1500, 200, seed=1)
    p_values = []
    for _ in range(100):
        fit = profile_mixture(_toy(rng, 1500, 0.0, centres))
        p_values.append(global_significance(fit.q0, calib)["p_value"])
    p_values = np.array(p_values)
    assert (p_values < 0.05).mean() < 0.12  # calibrated: about 5%
    local = np.array(
        [profile_mixture(_toy(rng, 1500, 0.0, centres)).significance for _ in range(50)]
    )
    # Without calibration the local Z of the scan exceeds 1.64 (p = 5%) far more often.
    assert (local > 1.64).mean() > 0.1


def test_strong_signal_and_bad_input() -> None:
    rng = np.random.default_rng(14)
    fit = profile_mixture(_toy(rng, 5000, 0.1, np.array([0.5, 1.5, 2.5])))
    assert fit.best == 1
    assert fit.significance > 5
    assert fit.interval[0] < 0.1 < fit.interval[1] or abs(fit.mu_hat - 0.1) < 3 * fit.mu_err
    with pytest.raises(ValueError, match="finite"):
        profile_mixture(np.array([[1.0], [np.nan]]))


def test_screened_toys_match_the_exhaustive_maximum() -> None:
    rng = np.random.default_rng(15)
    centres = np.linspace(-2.0, 2.5, 40)  # 40 overlapping hypotheses, 4 are solved exactly
    pool = _toy(rng, 20000, 0.0, centres)
    screened = toy_q0(pool, 2000, 40, seed=2, screen=4)
    exhaustive = toy_q0(pool, 2000, 40, seed=2, screen=0)
    assert (screened > 0).mean() > 0.5
    np.testing.assert_allclose(screened, exhaustive, atol=1e-6)
