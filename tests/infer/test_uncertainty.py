"""Closure of the generator uncertainty: a biased background model, and its bootstrap ensemble."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gbi.infer.mixture import profile_mixture
from gbi.infer.uncertainty import (
    combined_dof,
    cross_fit_error,
    generator_spread,
    signal_density_error,
    total_interval,
)


def _pseudo_experiment(rng: np.random.Generator, members: int, tau: float) -> dict[str, float]:
    """Gaussian background N(0, 1), signal N(2, 0.5), mu = 0.05, 20k events.

    The background model is biased like a fit to a finite sideband: its mean is ``m_hat ~
    N(0, tau)``; the ensemble members are bootstrap-like replicas ``m_k ~ N(m_hat, tau)``.
    The classifier ratio is exact against the members' mixture.
    """
    n, mu_true = 20000, 0.05
    is_sig = rng.random(n) < mu_true
    x = np.where(is_sig, rng.normal(2.0, 0.5, n), rng.normal(0.0, 1.0, n))
    m_hat = rng.normal(0.0, tau)
    shifts = rng.normal(m_hat, tau, members)
    p_k = np.stack([stats.norm.pdf(x, s, 1.0) for s in shifts])
    p_mix = p_k.mean(axis=0)
    ratio = stats.norm.pdf(x, 2.0, 0.5) / p_mix
    fit = profile_mixture(ratio[:, None])
    spread = generator_spread(ratio[:, None], p_k / p_mix)
    sigma, mus = spread.error_mu, spread.mu_members
    lo, hi = total_interval(fit.mu_hat, fit.interval, sigma_gen=sigma, z_global=fit.significance)
    return {
        "stat": float(fit.interval[0] <= mu_true <= fit.interval[1]),
        "total": float(lo <= mu_true <= hi),
        "sigma": sigma,
        "stat_width": 0.5 * (fit.interval[1] - fit.interval[0]),
        "spread_members": float(np.ptp(mus)),
    }


def test_generator_uncertainty_restores_coverage() -> None:
    rng = np.random.default_rng(7)
    runs = [_pseudo_experiment(rng, members=3, tau=0.02) for _ in range(200)]
    stat = np.mean([r["stat"] for r in runs])
    total = np.mean([r["total"] for r in runs])
    ratio = np.median([r["sigma"] / r["stat_width"] for r in runs])
    # The model bias is comparable to the statistical error: stat-only intervals undercover.
    assert ratio > 0.7, ratio
    assert stat < 0.55, stat
    # With the ensemble spread in quadrature the 68% interval covers (200 runs: +-3.3% s.d.).
    assert 0.60 < total < 0.80, total


def test_identical_members_add_nothing() -> None:
    rng = np.random.default_rng(3)
    runs = [_pseudo_experiment(rng, members=3, tau=0.0) for _ in range(5)]
    assert all(r["sigma"] == 0.0 and r["spread_members"] == 0.0 for r in runs)
    assert all(r["stat"] == r["total"] for r in runs)


def test_evidence_threshold_keeps_zero_and_only_overcovers() -> None:
    """Gaussian measurement x ~ N(mu, 1), mu_hat = max(x, 0) (mu >= 0), Z = mu_hat, stat
    interval mu_hat +- 1: the lower edge goes to 0 below 2 sigma.

    At mu = 0 the interval contains 0 in P(Z < 2) = 97.7% of the runs (the bare central
    interval: 84%); at every true mu the coverage stays >= 68.3% (only the lower edge moves).
    """
    rng = np.random.default_rng(7)
    n = 20000
    for mu_true in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        mu_hat = np.maximum(rng.normal(mu_true, 1.0, n), 0.0)
        covered = 0
        for m in mu_hat:
            lo, hi = total_interval(m, (m - 1.0, m + 1.0), sigma_gen=0.0, z_global=m)
            covered += lo <= mu_true <= hi
        coverage = covered / n
        assert coverage >= 0.683 - 0.01, (mu_true, coverage)
        if mu_true == 0.0:
            assert abs(coverage - stats.norm.cdf(2.0)) < 0.005, coverage
        if mu_true >= 4.0:  # far from 0 the rule is inactive: the plain central interval
            assert abs(coverage - 0.6827) < 0.01, coverage
    bare = [
        total_interval(m, (m - 1.0, m + 1.0), sigma_gen=0.0, z_global=m, zero_below=1.0)
        for m in np.maximum(rng.normal(0.0, 1.0, 4000), 0.0)
    ]
    assert 0.80 < np.mean([lo <= 0.0 for lo, _ in bare]) < 0.88  # the 1-sigma rule: 84%


def test_few_members_get_students_t_and_cover() -> None:
    # Error budget of the LHCO-style parametrized fit (relative to mu): stat 0.05 (known),
    # classifier training noise 0.086 on the mean of K = 3 members, estimated from them.
    rng = np.random.default_rng(11)
    n, k, stat, noise = 4000, 3, 0.05, 0.086
    covered = {"known-like": 0, "student": 0}
    for _ in range(n):
        members = rng.normal(0.0, noise * np.sqrt(k), k)  # member scatter = sqrt(K) x mean's
        mu_hat = 1.0 + rng.normal(0.0, stat) + members.mean()
        sigma = members.std(ddof=1) / np.sqrt(k)
        dof = combined_dof([(sigma, k - 1), (0.0, None)])
        assert dof == pytest.approx(k - 1)
        for name, d in (("known-like", None), ("student", dof)):
            lo, hi = total_interval(
                mu_hat,
                (mu_hat - stat, mu_hat + stat),
                sigma_gen=sigma,
                z_global=9.0,
                sigma_gen_dof=d,
            )
            covered[name] += lo <= 1.0 <= hi
    # 4000 toys: +-0.007 s.d.; the estimate from 3 members is often far too small
    assert covered["known-like"] / n < 0.66, covered
    assert 0.67 < covered["student"] / n < 0.75, covered


def _learned_density_run(rng: np.random.Generator, learn: float) -> dict[str, float]:
    """A fit whose signal density is learned from its own events (R-ANODE), relative to
    ``mu = 1``: the likelihood error ``stat`` = 0.08 (known), and ``learn``, the error the
    density's dependence on the data adds, which the likelihood does not see. Three members,
    each with its own random split into two folds: fold ``k`` of member ``m`` measures
    ``1 + D + c_m (+-1/2) + e_mk``, with ``D`` the full data's error (variance ``stat^2 +
    learn^2``), ``c_m`` the contrast of that member's halves (variance ``4 var(D)``) and
    ``e_mk`` the fold flow's training noise (0.03 on the member's mean)."""
    stat, train, k = 0.08, 0.03, 3
    d = rng.normal(0.0, np.hypot(stat, learn))
    c = rng.normal(0.0, 2.0 * np.hypot(stat, learn), k)
    e = rng.normal(0.0, train * np.sqrt(2.0), (k, 2))
    folds = 1.0 + d + np.stack([c / 2, -c / 2], 1) + e
    members = folds.mean(axis=1)
    mu_hat = 1.0 + d + e.mean()
    training = (float(members.std(ddof=1) / np.sqrt(k)), k - 1)
    out = {}
    for name, cross in (("members", (0.0, None)), ("cross-fit", cross_fit_error(folds))):
        sigma, dof, _ = signal_density_error(stat, training, cross)
        lo, hi = total_interval(
            mu_hat, (mu_hat - stat, mu_hat + stat), sigma_gen=sigma, z_global=9.0, sigma_gen_dof=dof
        )
        out[name] = float(lo <= 1.0 <= hi)
    return out


def test_cross_fit_error_covers_what_the_likelihood_misses() -> None:
    """A learned density adds an error the likelihood interval leaves out (here 1.5 times
    the likelihood's): the members' training spread does not see it and the interval
    undercovers; the folds' spread does, and the 68% interval covers."""
    rng = np.random.default_rng(13)
    runs = [_learned_density_run(rng, learn=0.12) for _ in range(3000)]
    members = np.mean([r["members"] for r in runs])
    cross = np.mean([r["cross-fit"] for r in runs])
    # 3000 toys: +-0.009 s.d.
    assert members < 0.50, members
    assert 0.66 < cross < 0.80, cross
    # Without such an error the cross-fit adds little: it contains the likelihood's own.
    rng = np.random.default_rng(14)
    runs = [_learned_density_run(rng, learn=0.0) for _ in range(3000)]
    cross = np.mean([r["cross-fit"] for r in runs])
    assert 0.66 < cross < 0.86, cross
