"""Profile likelihood of a signal fraction in a two-component mixture.

The signal-region data are modelled as ``p(x) = (1 - mu) p_b(x) + mu p_s(x | theta)``, so with
the per-event density ratios ``r_i(theta) = p_s(x_i | theta) / p_b(x_i)`` the log likelihood is

    log L(mu, theta) = sum_i log(1 + mu (r_i(theta) - 1))   (+ a constant),

concave in ``mu`` for every ``theta``. ``theta`` runs over a finite set of hypotheses (e.g.
signal masses on a fine grid): :func:`profile_mixture` maximises in ``mu`` per hypothesis
(vectorised bisection on the score, which is monotonic) and profiles over ``theta``.
Intervals come from the profile-likelihood ratio with Wilks' thresholds (1.0 for 68%,
2.706 for a one-sided 95% upper limit); the discovery statistic is
``q0 = 2 (max_{mu >= 0} log L - log L(0))`` and ``Z_local = sqrt(q0)``. When ``theta`` is
scanned, ``q0`` is maximised over ``theta`` (a look-elsewhere effect): calibrate it with
:func:`toy_q0` on background-only toys.

This is written by hand because it is a few vectorised lines of numpy that no library offers
for an arbitrary matrix of per-event likelihood ratios (pyhf is binned, iminuit would loop
over hundreds of hypotheses one by one).

>>> rng = np.random.default_rng(1)
>>> n, mu_true = 20000, 0.05
>>> is_sig = rng.random(n) < mu_true
>>> x = np.where(is_sig, rng.normal(2.0, 0.5, n), rng.normal(0.0, 1.0, n))
>>> from scipy import stats
>>> ratio = (stats.norm.pdf(x, 2.0, 0.5) / stats.norm.pdf(x))[:, None]  # one hypothesis
>>> fit = profile_mixture(ratio)
>>> bool(abs(fit.mu_hat - mu_true) < 3 * fit.mu_err), fit.interval[0] < fit.mu_hat < fit.interval[1]
(True, True)
>>> fit.significance > 5
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "MIN_TOYS",
    "MixtureFit",
    "best_fit_per_hypothesis",
    "global_significance",
    "log_likelihood",
    "mu_bounds",
    "profile_mixture",
    "scan_q0",
    "toy_q0",
]

#: ``2 Delta log L`` thresholds (Wilks, one parameter).
THRESHOLD_68 = 1.0
THRESHOLD_UL95 = float(stats.chi2.ppf(0.90, 1))  # one-sided 95% (= 1.645^2)


def mu_bounds(ratios: np.ndarray, low: float = -1.0, high: float = 1.0) -> tuple[float, float]:
    """Range of ``mu`` where every event keeps a positive density, inside ``[low, high]``.

    ``ratios`` has shape ``(n_events,)`` or ``(n_events, n_hypotheses)``.
    """
    r = np.asarray(ratios)
    r_max, r_min = float(r.max()), float(r.min())
    lo = low if r_max <= 1 else max(low, -1.0 / (r_max - 1.0) * (1 - 1e-9))
    hi = high if r_min >= 1 else min(high, 1.0 / (1.0 - r_min) * (1 - 1e-9))
    return lo, hi


def log_likelihood(mu: float | np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """``sum_i log(1 + mu (r_i - 1))`` per hypothesis: ``ratios (n, h)``, ``mu`` scalar or ``(h,)``."""
    r = np.asarray(ratios, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    return np.log1p(np.asarray(mu) * (r - 1.0)).sum(axis=0)


def _argmax_mu(r: np.ndarray, lo: float, hi: float, iterations: int = 40) -> np.ndarray:
    """Per-column maximiser of the concave log likelihood on ``[lo, hi]``.

    Safeguarded Newton on the score (monotonically decreasing in ``mu``): a bracket
    ``[a, b]`` is kept from the score's sign; a Newton step that leaves it, or a bracket that
    has not halved over the last two steps (Newton creeping towards the optimum from one
    side, as with heavy-tailed ratios), gives a bisection step instead. So it converges at
    least like bisection and quadratically near the optimum.
    """
    d = r - 1.0
    a = np.full(r.shape[1], lo)
    b = np.full(r.shape[1], hi)
    mu = np.clip(np.zeros(r.shape[1]), a, b)
    widths = [b - a, b - a]
    for _ in range(iterations):
        t = d / (1.0 + mu * d)
        score = t.sum(axis=0)
        curvature = (t * t).sum(axis=0)
        a = np.where(score > 0, mu, a)
        b = np.where(score > 0, b, mu)
        step = mu + score / np.maximum(curvature, 1e-300)
        newton = (step > a) & (step < b) & (b - a <= 0.5 * widths[0])
        mu = np.where(newton, step, 0.5 * (a + b))
        widths = [widths[1], b - a]
    return mu


def best_fit_per_hypothesis(
    ratios: np.ndarray, mu_range: tuple[float, float] = (-0.2, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """``mu_hat`` and ``log L`` at ``mu_hat`` for every hypothesis of ``ratios (n, h)``."""
    r = np.asarray(ratios, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    lo, hi = mu_bounds(r, *mu_range)
    mu_h = _argmax_mu(r, lo, hi)
    return mu_h, log_likelihood(mu_h, r)


@dataclasses.dataclass
class MixtureFit:
    """Result of :func:`profile_mixture`; ``mu`` is the signal fraction (dimensionless)."""

    mu_hat: float
    mu_err: float  # half width of the 68% interval
    interval: tuple[float, float]  # 68% CL profile-likelihood interval (2 dlogL = 1)
    upper_limit: float  # 95% CL one-sided upper limit on mu (mu_hat clipped at 0)
    q0: float
    significance: float  # local: sqrt(q0)
    best: int  # index of the best hypothesis
    log_likelihood: float
    profile: dict[str, list[float]]  # mu grid and 2 dlogL(mu), profiled over hypotheses
    per_hypothesis: dict[str, np.ndarray]  # mu_hat (h,), log L max (h,)
    ratios: np.ndarray | None = None  # the fitted ratios (n, h), when the caller keeps them
    member_ratios: np.ndarray | None = None  # per model member (K, n, h), when kept

    def to_dict(self) -> dict[str, Any]:
        return {
            "mu_hat": self.mu_hat,
            "mu_err": self.mu_err,
            "mu_lo": self.interval[0],
            "mu_hi": self.interval[1],
            "mu_upper_limit_95": self.upper_limit,
            "q0": self.q0,
            "significance_local": self.significance,
        }


def profile_mixture(
    ratios: np.ndarray, *, mu_range: tuple[float, float] = (-0.2, 1.0), grid: int = 161
) -> MixtureFit:
    """Fit ``mu`` (and pick the best hypothesis) from density ratios ``(n_events, n_hypotheses)``.

    The profile ``2 (log L_max - max_theta log L(mu, theta))`` is tabulated on ``grid`` points
    around ``mu_hat`` and interpolated to find the interval edges and the upper limit.
    """
    r = np.asarray(ratios, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    if r.ndim != 2 or len(r) == 0:
        raise ValueError(f"ratios: expected shape (n_events, n_hypotheses), found {r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ValueError("ratios: expected finite, non-negative density ratios")
    lo, hi = mu_bounds(r, *mu_range)
    mu_h, ll_h = best_fit_per_hypothesis(r, mu_range)
    best = int(np.argmax(ll_h))
    mu_hat, ll_max = float(mu_h[best]), float(ll_h[best])
    # q0 with mu >= 0: where mu_hat < 0 the constrained maximum is at mu = 0 (q0 = 0).
    ll_pos = np.where(mu_h > 0, ll_h, 0.0)
    q0 = float(max(2.0 * ll_pos.max(), 0.0))
    # Only hypotheses within 2 dlogL < 9 of the best can shape the profile where it is < 9
    # (the interval and upper-limit crossings); beyond it the profile stays >= 9 anyway.
    keep = 2.0 * (ll_max - ll_h) < 9.0
    rk = r[:, keep]
    # A first width estimate from the curvature of the best hypothesis sets the grid span.
    d = r[:, best] - 1.0
    info = float(((d / (1.0 + mu_hat * d)) ** 2).sum())
    sigma = 1.0 / math.sqrt(info) if info > 0 else 0.1
    span_lo, span_hi = max(lo, mu_hat - 6 * sigma), min(hi, max(mu_hat, 0.0) + 8 * sigma)
    mus = np.linspace(span_lo, span_hi, grid)
    prof = np.array([log_likelihood(m, rk).max() for m in mus])
    dnll = np.maximum(2.0 * (ll_max - prof), 0.0)
    interval = (_crossing(mus, dnll, THRESHOLD_68, -1), _crossing(mus, dnll, THRESHOLD_68, +1))
    # Upper limit: profile ratio relative to the best fit with mu >= 0 (q~ convention).
    ref = ll_max if mu_hat >= 0 else float(log_likelihood(0.0, rk).max())
    q_ul = np.maximum(2.0 * (ref - prof), 0.0)
    q_ul[mus < max(mu_hat, 0.0)] = 0.0
    upper = _crossing(mus, q_ul, THRESHOLD_UL95, +1, start=max(mu_hat, 0.0))
    return MixtureFit(
        mu_hat=mu_hat,
        mu_err=0.5 * (interval[1] - interval[0]),
        interval=interval,
        upper_limit=upper,
        q0=q0,
        significance=math.sqrt(q0),
        best=best,
        log_likelihood=ll_max,
        profile={"mu": mus.tolist(), "two_delta_nll": dnll.tolist()},
        per_hypothesis={"mu_hat": mu_h, "log_likelihood": ll_h},
    )


def _crossing(
    mus: np.ndarray, curve: np.ndarray, level: float, side: int, start: float | None = None
) -> float:
    """Where ``curve`` first reaches ``level`` going ``side`` (-1 left, +1 right) from its minimum."""
    i0 = int(np.argmin(curve)) if start is None else int(np.searchsorted(mus, start))
    i0 = min(max(i0, 0), len(mus) - 1)
    idx = range(i0, len(mus)) if side > 0 else range(i0, -1, -1)
    prev = None
    for i in idx:
        if curve[i] >= level:
            if prev is None:
                return float(mus[i])
            x0, x1, y0, y1 = mus[prev], mus[i], curve[prev], curve[i]
            return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0)) if y1 != y0 else float(x1)
        prev = i
    return float(mus[-1] if side > 0 else mus[0])


def toy_q0(
    pool_ratios: np.ndarray,
    n_events: int,
    n_toys: int,
    seed: int = 0,
    screen: int = 16,
    pre_iterations: int = 16,
) -> np.ndarray:
    """``q0`` (maximised over hypotheses) of ``n_toys`` background-only toys.

    Each toy draws ``n_events`` rows (with replacement) of ``pool_ratios (n_pool, h)``, the
    density ratios of background events that no model was trained on. For speed every
    hypothesis gets only ``pre_iterations`` safeguarded Newton steps, which give a lower
    bound of its maximum log likelihood close to it, and the ``screen`` best are then
    solved exactly (``screen=0``: all of them). A score-test ranking ``(sum d)^2 / sum d^2``
    was tried first and missed the best hypothesis when the ratios are heavy-tailed
    (``benchmarks/bench_infer.py`` compares the screened with the exhaustive maximum;
    ``tests/infer/test_mixture.py`` checks it on toys).
    """
    rng = np.random.default_rng(seed)
    pool = np.asarray(pool_ratios, dtype=np.float64)
    pool = pool[:, None] if pool.ndim == 1 else pool
    out = np.empty(n_toys)
    for t in range(n_toys):
        r = pool[rng.integers(len(pool), size=n_events)]
        out[t] = scan_q0(r, screen=screen, pre_iterations=pre_iterations)
    return out


def scan_q0(ratios: np.ndarray, screen: int = 16, pre_iterations: int = 16) -> float:
    """``q0`` of the mixture fit maximised over the hypotheses of ``ratios (n, h)`` (one
    toy of :func:`toy_q0`; ``mu >= 0``): every hypothesis gets ``pre_iterations`` Newton
    steps, the ``screen`` best are solved exactly (``screen=0``: all of them).

    >>> r = np.ones((1000, 3))  # ratios of 1: no hypothesis tells signal from background
    >>> scan_q0(r)
    0.0
    """
    r = np.asarray(ratios, dtype=np.float64)
    r = r[:, None] if r.ndim == 1 else r
    if r.shape[1] > screen > 0:
        lo, hi = mu_bounds(r, 0.0, 1.0)
        rough = _argmax_mu(r, lo, hi, iterations=pre_iterations)
        r = r[:, np.argsort(log_likelihood(rough, r))[-screen:]]
    lo, hi = mu_bounds(r, 0.0, 1.0)
    mu = _argmax_mu(r, lo, hi)
    return max(2.0 * float(log_likelihood(mu, r).max()), 0.0)


#: Toys from which :func:`global_significance` extends the p-value beyond the toys' reach
#: with a trials factor (below, ``Z <= isf(1 / (N + 1))``: 1.67 for 19 toys).
MIN_TOYS = 20


def global_significance(q0: float, toys: np.ndarray) -> dict[str, float]:
    """Look-elsewhere-corrected significance of ``q0`` from background-only toy ``q0`` values.

    Within the toys' reach the p-value is the toy fraction ``(1 + #{q0_toy >= q0}) / (1 + N)``;
    beyond it the local p-value is scaled by a trials factor measured on the toys at their
    90% quantile (``p_global ~ trials * p_local``).

    >>> toys = np.random.default_rng(0).chisquare(1, 2000) * 0.5
    >>> round(global_significance(0.0, toys)["p_value"], 3)
    1.0
    """
    toys = np.sort(np.asarray(toys, dtype=np.float64))
    n = len(toys)
    exceed = int((toys >= q0).sum()) if q0 > 0 else n
    p_toys = (1 + exceed) / (1 + n)
    method = "toys"
    p = p_toys if q0 > 0 else 1.0
    if exceed < 10 and n >= MIN_TOYS:
        q_ref = float(np.quantile(toys, 0.9))
        p_loc_ref = float(stats.norm.sf(math.sqrt(max(q_ref, 1e-12))))
        trials = max(1.0, 0.1 / p_loc_ref) if p_loc_ref > 0 else 1.0
        p = min(p_toys, trials * float(stats.norm.sf(math.sqrt(q0))))
        method = "toys + trials factor"
    p = min(max(p, 1e-300), 1.0)
    z = float(stats.norm.isf(p)) if p < 0.5 else 0.0
    out: dict[str, Any] = {"p_value": p, "significance": z, "n_toys": n, "method": method}
    return out
