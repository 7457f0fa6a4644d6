"""Asymptotic CLs (arXiv:1007.1727) with the POI-independent fits done once.

``pyhf.infer.hypotest`` refits everything for each tested POI value: the background-only
Asimov dataset, and the free fits to data and to Asimov. None of these depend on the
tested mu, so :class:`AsymptoticCLs` does them once and needs only two fixed-POI fits per
mu; it uses pyhf's own test-statistic distributions, so CLs values agree with
``pyhf cls`` to the fit precision while limits (6 root findings) are 2-3 times faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import toms748

from gbi.errors import GbiError

__all__ = ["AsymptoticCLs", "cls_limits", "cls_scan"]


class AsymptoticCLs:
    """CLs of one model and dataset as a function of the POI (``test_stat`` q or qtilde).

    >>> import pyhf
    >>> model = pyhf.simplemodels.uncorrelated_background([5.0], [50.0], [5.0])
    >>> data = [55.0, *model.config.auxdata]
    >>> obs, exp = AsymptoticCLs(data, model)(1.0)
    >>> cls_obs, cls_exp = pyhf.infer.hypotest(1.0, data, model, return_expected_set=True)
    >>> bool(abs(obs - cls_obs) < 1e-6)
    True
    """

    def __init__(self, data: Any, model: Any, test_stat: str = "qtilde") -> None:
        import pyhf

        if test_stat not in ("q", "qtilde"):
            raise GbiError(f"test_stat {test_stat!r}: expected 'q' or 'qtilde'")
        self.model, self.test_stat = model, test_stat
        self.poi = model.config.poi_index
        self.init = model.config.suggested_init()
        self.bounds = model.config.suggested_bounds()
        if test_stat == "qtilde":
            self.bounds[self.poi] = (0.0, self.bounds[self.poi][1])
        self.fixed = model.config.suggested_fixed()
        tensorlib = pyhf.tensorlib
        self.data = tensorlib.astensor(data)
        self.asimov = pyhf.infer.calculators.generate_asimov_data(
            0.0, self.data, model, self.init, self.bounds, self.fixed
        )
        self._free = {
            key: self._fit(d) for key, d in (("data", self.data), ("asimov", self.asimov))
        }
        self._calc = pyhf.infer.calculators.AsymptoticCalculator(
            self.data, model, self.init, self.bounds, self.fixed, test_stat=test_stat
        )
        self.cache: dict[float, tuple[float, list[float]]] = {}
        self._q_cache: dict[str, dict[float, float]] = {"data": {}, "asimov": {}}

    def _fit(self, data: Any, mu: float | None = None) -> tuple[float, float]:
        """(mu_hat, twice_nll) of a free fit, or (mu, twice_nll) of a fixed-POI fit."""
        from gbi.workspace.inference import fit_with_fallback

        pars, twice_nll = fit_with_fallback(
            data, self.model, self.init, self.bounds, self.fixed, poi_value=mu
        )
        return float(pars[self.poi]), twice_nll

    def _qmu(self, mu: float, key: str) -> float:
        cache = self._q_cache[key]
        if mu not in cache:
            data = self.data if key == "data" else self.asimov
            mu_hat, nll_free = self._free[key]
            _, nll_fixed = self._fit(data, mu)
            cache[mu] = 0.0 if mu_hat > mu else max(nll_fixed - nll_free, 0.0)
        return cache[mu]

    def sqrt_qa(self, mu: float) -> float:
        """sqrt(q_mu) on the background-only Asimov dataset (one fixed-POI fit)."""
        return float(np.sqrt(self._qmu(float(mu), "asimov")))

    def __call__(self, mu: float) -> tuple[float, list[float]]:
        """(CLs observed, CLs expected at -2, -1, 0, +1, +2 sigma) at POI value ``mu``."""
        import pyhf

        mu = float(mu)
        if mu in self.cache:
            return self.cache[mu]
        tensorlib = pyhf.tensorlib
        sqrt_q = np.sqrt(self._qmu(mu, "data"))
        sqrt_qa = self.sqrt_qa(mu)
        if self.test_stat == "q" or sqrt_q <= sqrt_qa:
            teststat = sqrt_q - sqrt_qa
        else:
            teststat = (sqrt_q**2 - sqrt_qa**2) / (2 * sqrt_qa)
        dist = pyhf.infer.calculators.AsymptoticTestStatDistribution
        sb_dist, b_dist = dist(-tensorlib.astensor(sqrt_qa)), dist(tensorlib.astensor(0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cls_obs = float(self._calc.pvalues(tensorlib.astensor(teststat), sb_dist, b_dist)[-1])
            expected = [float(v) for v in self._calc.expected_pvalues(sb_dist, b_dist)[-1]]
        self.cache[mu] = (cls_obs, expected)
        return self.cache[mu]


def cls_limits(
    data: Any,
    model: Any,
    level: float = 0.05,
    test_stat: str = "qtilde",
    rtol: float = 1e-4,
    evaluator: AsymptoticCLs | None = None,
) -> dict[str, Any]:
    """Observed and expected (-2..+2 sigma) CLs upper limits on the POI at ``level``.

    The expected CLs at band N depends on mu only through t = sqrt(q_mu,A), so each
    expected limit solves sqrt(q_mu,A)(mu) = t_N (nearly linear in mu: a few Asimov fits).
    The observed limit is bracketed around its asymptotic guess and found with TOMS 748.
    ``rtol`` is the relative precision. Raises :class:`GbiError` when a limit lies above
    the POI upper bound.
    """
    from scipy.stats import norm

    cls = evaluator or AsymptoticCLs(data, model, test_stat)
    low, bound = (float(b) for b in cls.bounds[cls.poi])
    high = _upper_bracket(cls, low, bound, level)
    sigma = high / cls.sqrt_qa(high)
    band = []
    for n_sigma in (2.0, 1.0, 0.0, -1.0, -2.0):  # pyhf order: -2 sigma limit first
        target = float(norm.isf(level * norm.cdf(-n_sigma)) - n_sigma)
        band.append(
            _solve(lambda mu, t=target: cls.sqrt_qa(mu) - t, target * sigma, low, high, rtol)
        )

    def observed(mu: float) -> float:
        return cls(mu)[0] - level

    # asymptotic guess for q: mu_up = mu_hat + sigma * Phi^-1(1 - level * Phi(mu_hat / sigma))
    mu_hat = max(cls._free["data"][0], 0.0)
    guess = mu_hat + sigma * float(norm.isf(level * norm.cdf(mu_hat / sigma)))
    guess = min(max(guess, low + 1e-3 * (high - low)), high)
    lo, hi = low, high
    mu, factor = guess, 1.03
    if observed(mu) > 0:
        while mu < high and observed(mu) > 0:
            lo, mu = mu, min(mu * factor, high)
            factor **= 2
        hi = mu
    else:
        while mu > low and observed(mu) <= 0:
            hi, mu = mu, max(mu / factor, low)
            factor **= 2
        lo = mu
    obs = float(toms748(observed, lo, hi, k=2, xtol=2e-12, rtol=rtol)) if lo != hi else lo
    return {"obs": obs, "exp": band[2], "exp_band": band}


def _upper_bracket(cls: AsymptoticCLs, low: float, bound: float, level: float) -> float:
    """First POI value, doubling from 1% of the range, where the observed and all expected
    CLs are below ``level``: it brackets all six limits.

    Searching up from small values keeps the fits near the limits: at the POI upper bound
    a large signal can push a histosys far out, where yields turn negative and the
    likelihood is NaN (the amplification study failed there, at limits of about 3).
    """
    mu = low + 0.01 * (bound - low)
    while True:
        obs, expected = cls(mu)
        values = np.array([obs, *expected])
        if not np.all(np.isfinite(values)):
            raise GbiError(
                f"CLs is not a number at POI = {mu:g} (observed {obs:.3g}); the expected yields "
                "may be negative there (a histosys extrapolated far out): check the up/down "
                "templates, or lower the POI upper bound"
            )
        if values.max() < level:
            return mu
        if mu >= bound:
            raise GbiError(
                f"the CLs limit lies above the POI upper bound {bound:g} (CLs there is "
                f"{values.max():.3g} >= {level}); widen the POI bounds (config "
                "measurement.poi_bounds or 'gbi workspace --poi-bounds')"
            )
        mu = min(2.0 * mu, bound)


def _solve(func: Any, guess: float, low: float, high: float, rtol: float) -> float:
    """Root of an increasing ``func`` on (low, high]: secant from ``guess``, then bracketed."""
    from scipy.optimize import root_scalar

    guess = min(max(guess, low + 1e-6 * (high - low)), high)
    try:
        result = root_scalar(
            func, x0=guess, x1=guess * 1.01, method="secant", xtol=rtol * guess * 0.1
        )
        if result.converged and low < result.root <= high:
            return float(result.root)
    except (ValueError, ZeroDivisionError, FloatingPointError):
        pass
    return float(toms748(func, low + 1e-9 * (high - low), high, k=2, xtol=2e-12, rtol=rtol))


def cls_scan(
    data: Any,
    model: Any,
    mus: Sequence[float],
    test_stat: str = "qtilde",
    evaluator: AsymptoticCLs | None = None,
) -> dict[str, Any]:
    """CLs on a grid of POI values (for the Brazil plot): ``mu``, ``obs``, ``exp`` (n, 5)."""
    cls = evaluator or AsymptoticCLs(data, model, test_stat)
    points = [cls(mu) for mu in mus]
    return {
        "mu": [float(mu) for mu in mus],
        "obs": [p[0] for p in points],
        "exp": [p[1] for p in points],
    }
