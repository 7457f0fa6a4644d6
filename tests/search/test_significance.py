"""The global significance on background-only toy scans where the truth is known.

Each toy scan: background events uniform in mjj in [0, 10), each passing a cut with
probability 0.1; 19 windows of width 1 in steps of 0.5 (neighbours share half their
events). The local Z of a window is the Poisson likelihood-ratio significance of its
passing count against the known expectation. Under this background-only truth the global
p-value must be uniform: 5% of scans below 0.05, 20% below 0.2.
"""

from __future__ import annotations

import numpy as np
import pytest

from gbi.search import global_significance, overlap_correlation

N_SCANS = 1000
EVENTS = 10_000


def _poisson_z(n: np.ndarray, b: float) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    q0 = np.where(n > b, 2 * (n * np.log(np.maximum(n, 1) / b) - (n - b)), 0.0)
    return np.sqrt(q0)


def _toy_scan(rng: np.random.Generator):
    mjj = rng.uniform(0, 10, rng.poisson(EVENTS))
    passing = np.flatnonzero(rng.random(len(mjj)) < 0.1)
    lows = np.arange(0, 9.01, 0.5)
    sets = [passing[(mjj[passing] >= lo) & (mjj[passing] < lo + 1)] for lo in lows]
    b = EVENTS * 0.1 / 10  # expected passing events per window
    return _poisson_z(np.array([len(s) for s in sets]), b), sets


@pytest.fixture(scope="module")
def scans():
    rng = np.random.default_rng(12345)
    return [_toy_scan(rng) for _ in range(N_SCANS)]


def _fraction_below(p: np.ndarray, level: float) -> tuple[float, float]:
    return float(np.mean(p < level)), float(np.sqrt(level * (1 - level) / len(p)))


def test_global_p_value_is_uniform_on_background_only_scans(scans):
    p = np.array(
        [
            global_significance(z, overlap_correlation(sets), toys=2000, seed=i)["p_value"]
            for i, (z, sets) in enumerate(scans)
        ]
    )
    for level in (0.05, 0.2, 0.5):
        fraction, error = _fraction_below(p, level)
        assert abs(fraction - level) < 3 * error, (level, fraction, error)


def test_without_the_look_elsewhere_effect_the_test_fails(scans):
    """The same check rejects the local p-value of the best window: it is not uniform."""
    from scipy.stats import norm

    local = np.array([norm.sf(z.max()) for z, _ in scans])
    fraction, error = _fraction_below(local, 0.05)
    assert fraction - 0.05 > 10 * error


def test_correlation_of_half_overlapping_windows_is_one_half(scans):
    _, sets = scans[0]
    corr = overlap_correlation(sets)
    assert np.diag(corr, 1).mean() == pytest.approx(0.5, abs=0.02)
    assert np.abs(np.diag(corr, 2)).max() == 0.0


def test_global_significance_errors():
    from gbi.errors import GbiInputError

    with pytest.raises(GbiInputError, match="expected a 2x2 correlation matrix"):
        global_significance(np.array([1.0, 2.0]), np.eye(3))
    with pytest.raises(GbiInputError, match="at least one window"):
        global_significance(np.array([]), np.eye(0))
