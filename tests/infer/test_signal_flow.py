"""The R-ANODE signal flow (``UnbinnedConfig(signal_model="flow")``) on toys
whose background density is known exactly: closure of ``mu`` and no signal at ``mu = 0``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from gbi.errors import GbiInputError
from gbi.infer.signal_flow import (
    SCANS,
    SignalFlowConfig,
    _fold_labels,
    em_converged,
    fold_refits,
    refine_em,
    refine_em_members,
    scan_fit,
    scan_signal_flows,
)
from gbi.infer.unbinned import (
    UnbinnedConfig,
    fit_unbinned,
    free_fit,
    free_fit_q0,
    member_refits,
    signal_summary,
)

N_EVENTS = 6000
#: A smaller, quicker scan for the tests that check bookkeeping rather than closure; the
#: scan alone (the default adds up to 8 EM steps), the tests below add steps where they
#: are about them.
FAST = SignalFlowConfig(kind="maf", epochs=8, patience=3, em_steps=0)


def _events(rng: np.random.Generator, n: int, mu: float) -> tuple[np.ndarray, np.ndarray, float]:
    """2-d background N(0, 1) (exact log density) and a bump at (1.5, 1.5) of width 0.2;
    also the true signal fraction of the sample."""
    is_signal = rng.random(n) < mu
    x = rng.normal(0.0, 1.0, (n, 2))
    x[is_signal] = rng.normal([1.5, 1.5], [0.2, 0.2], (int(is_signal.sum()), 2))
    return x, stats.norm.logpdf(x).sum(1), float(is_signal.mean())


@pytest.mark.slow
def test_flow_finds_the_bump_and_no_less_signal_than_there_is() -> None:
    """The scan alone and with the default EM steps find the 3% bump on its side, with at
    least the true fraction: the mixture likelihood cannot explain the bump with less signal
    than there is. With more it can (a signal density that takes in background fits as
    well: the R-ANODE degeneracy), and on this toy, whose background (a standard normal) a
    small flow learns easily, the held-out likelihood rises along it: the fits overshoot
    (measured on this seed: scan 1.83, EM 1.76 of the truth; README section 8, "A known
    limit"). The upper bound guards that measured size."""
    x, log_bkg, mu_true = _events(np.random.default_rng(21), N_EVENTS, 0.03)
    scan_only = dataclasses.replace(SignalFlowConfig(), em_steps=0)
    scan = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=1, flow=scan_only))
    em = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=1))
    assert "em_steps" in em.per_hypothesis
    assert "em_steps" not in scan.per_hypothesis
    for fit in (scan, em):
        assert fit.interval[0] < fit.mu_hat < fit.interval[1]
        assert fit.q0 > 25.0  # a 3% bump with S/B of about 5 at its peak is unmistakable
        # The signal sits on the bump's side: the mean of the events weighted by their
        # signal probability (background events pull it towards 0, 0).
        means = fit.per_hypothesis["signal_means"][fit.best][0]
        assert (means > 0.75).all(), means
        # One-sided: no less than the truth (3 sigma), and no more than measured here.
        assert fit.mu_hat > mu_true - 3.0 * fit.mu_err, (fit.mu_hat, fit.interval, mu_true)
        assert fit.mu_hat < 2.5 * mu_true, (fit.mu_hat, mu_true)


@pytest.mark.slow
def test_flow_finds_no_signal_in_background() -> None:
    x, log_bkg, _ = _events(np.random.default_rng(22), N_EVENTS, 0.0)
    fit = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=2))
    assert fit.mu_hat - 2.0 * fit.mu_err < 0.0, (fit.mu_hat, fit.interval)
    assert fit.q0 < 9.0, fit.q0


def test_free_fit_is_the_full_fit() -> None:
    x, log_bkg, _ = _events(np.random.default_rng(23), 3000, 0.04)
    cfg = UnbinnedConfig(signal_model="flow", seed=3, flow=FAST)
    fit = fit_unbinned(x, log_bkg, cfg)
    mu, q0 = free_fit(x, log_bkg, cfg)
    assert abs(mu - fit.mu_hat) < 1e-9
    assert abs(q0 - free_fit_q0(fit)) < 1e-6


@pytest.mark.parametrize("kind", SCANS)
def test_scan_is_seeded_and_finds_nothing_in_background(kind: str) -> None:
    """One density per event and scan point, the same ones for the same seed; on pure
    background no scan point describes the held-out events better than background only."""
    rng = np.random.default_rng(24)
    z = rng.normal(0.0, 1.0, (1200, 2))
    log_bkg = stats.norm.logpdf(z).sum(1)
    cfg = dataclasses.replace(FAST, scan=kind)
    scan = scan_signal_flows(z, log_bkg, cfg, seed=4)
    assert scan.log_sig.shape == (1200, len(scan.w))
    again = scan_signal_flows(z, log_bkg, cfg, seed=4)
    np.testing.assert_array_equal(scan.log_sig, again.log_sig)
    # Pure background: the held-out likelihood never rises above background only.
    fit = scan_fit(scan.w, np.exp(scan.log_sig - log_bkg[:, None]))
    assert fit.q0 < 4.0, fit.q0
    assert fit.interval[0] <= 0.0 <= fit.interval[1], fit.interval


def test_scan_fit_reads_the_profile() -> None:
    """With the true ratio at every scan point, the scan fit is the plain likelihood fit:
    its interval holds the truth in about 68% of 40 toys (binomial range 0.5-0.85)."""
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        x = np.where(rng.random(4000) < 0.05, rng.normal(2.0, 0.5, 4000), rng.normal(0, 1, 4000))
        r = stats.norm.pdf(x, 2.0, 0.5) / stats.norm.pdf(x)
        w = np.array([0.0125, 0.025, 0.035, 0.05, 0.07, 0.1])
        fit = scan_fit(w, np.repeat(r[:, None], len(w), 1))
        covered += fit.interval[0] <= 0.05 <= fit.interval[1]
    assert 20 <= covered <= 34, covered


def test_member_refits_keep_the_signal_densities() -> None:
    x, log_bkg, _ = _events(np.random.default_rng(25), 3000, 0.04)
    cfg = UnbinnedConfig(signal_model="flow", seed=5, flow=FAST)
    fit = fit_unbinned(x, log_bkg, cfg)
    same = member_refits(x, fit, np.stack([log_bkg, log_bkg]), np.zeros(len(x)), cfg)
    assert np.allclose(same, fit.mu_hat, atol=1e-9)
    # A member that predicts more background everywhere near the bump lowers mu.
    bump = np.hypot(x[:, 0] - 1.5, x[:, 1] - 1.5) < 0.6
    shifted = member_refits(
        x, fit, np.stack([log_bkg, log_bkg + np.where(bump, 1.0, 0.0)]), np.zeros(len(x)), cfg
    )
    assert shifted[1] < shifted[0]


def test_bad_settings_are_named() -> None:
    with pytest.raises(GbiInputError, match="signal_model"):
        UnbinnedConfig(signal_model="magic")
    with pytest.raises(GbiInputError, match="folds"):
        SignalFlowConfig(folds=1)
    with pytest.raises(GbiInputError, match="kind"):
        SignalFlowConfig(kind="realnvp")


def test_conditional_scan_is_smooth_and_the_members_mean() -> None:
    """The default scan: one ``p_sig(z | w)`` per fold and member, read on a log grid of
    ``w``; ``log_sig`` is the members' mean density, and the members' mean held-out
    ``l(w)`` has a single maximum (flows trained point by point scatter by tens of nats
    between neighbours)."""
    x, log_bkg, _ = _events(np.random.default_rng(26), 3000, 0.04)
    cfg = dataclasses.replace(FAST, ensemble=2, grid_points=13, w_start=0.005, w_max=0.2)
    scan = scan_signal_flows(x, log_bkg, cfg, seed=6)
    np.testing.assert_allclose(scan.w, np.geomspace(0.005, 0.2, 13))
    assert scan.member_log_sig is not None
    assert scan.member_log_sig.shape == (2, 3000, 13)
    mean = np.logaddexp(*scan.member_log_sig) - np.log(2.0)
    np.testing.assert_allclose(scan.log_sig, mean)
    fit = scan_fit(scan.w, np.exp(scan.member_log_sig - log_bkg[:, None]))
    assert fit.member_ratios is not None
    assert fit.member_ratios.shape == (2, 3000, 13)
    ll = fit.per_hypothesis["log_likelihood"]
    rises = np.sign(np.diff(ll))
    assert np.count_nonzero(np.diff(rises) < 0) <= 1, ll  # at most one local maximum
    assert fit.q0 > 9.0, fit.q0  # a 4% bump with S/B about 5 at its peak
    with pytest.raises(GbiInputError, match="scan"):
        SignalFlowConfig(scan="grid")


def _broad_start(x: np.ndarray) -> np.ndarray:
    """A signal density that is too broad (width 0.6 at the bump): what a flow learned
    from a few signal events among many background ones looks like."""
    return stats.norm.logpdf(x, 1.5, 0.6).sum(1)


def test_em_steps_move_a_low_start_to_the_truth() -> None:
    """From half the true fraction and a too-broad signal density (the scan's typical
    start, which is low), the EM steps' weighted flows sharpen the density and ``w``
    rises to the truth (within 25%); every step's ``w`` is returned."""
    x, log_bkg, mu_true = _events(np.random.default_rng(27), N_EVENTS, 0.04)
    cfg = dataclasses.replace(FAST, em_steps=3, em_epochs=40)
    log_sig, steps = refine_em(x, log_bkg, 0.5 * mu_true, _broad_start(x), cfg, seed=7)
    assert log_sig.shape == (N_EVENTS,)
    assert len(steps) == 4
    assert steps[0] == 0.5 * mu_true
    assert abs(steps[-1] / mu_true - 1.0) < 0.25, (steps, mu_true)


def test_em_tol_stops_the_members_at_the_ensemble_plateau() -> None:
    """With ``em_tol`` the members step in lockstep until a step raised the ensemble's ``w``
    by less than ``em_tol`` of it; the record keeps each member's and the ensemble's steps,
    and the fit is the ensemble's last."""
    x, log_bkg, _ = _events(np.random.default_rng(29), 3000, 0.04)
    em = dataclasses.replace(FAST, em_steps=4, em_epochs=20, em_tol=0.9)
    fit = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=em))
    summary = signal_summary(fit, ("x0", "x1"))
    ens = np.asarray(summary["em_w_ensemble_steps"])
    assert 2 <= len(ens) <= 5
    rises = np.diff(ens) >= 0.9 * ens[:-1]
    # every step but the last rose by em_tol or more; the last did not (or was the 4th)
    assert rises[:-1].all(), ens
    assert len(ens) == 5 or not rises[-1], ens
    assert fit.mu_hat == pytest.approx(ens[-1])
    # stopped by the tolerance before the cap: converged; at the cap, the last rise decides
    assert em_converged(ens.tolist(), em) is (len(ens) < 5 or not rises[-1]), ens
    rows = summary["em_w_steps"]
    assert len(rows) == FAST.ensemble
    assert all(len(r) == len(ens) for r in rows), rows
    with pytest.raises(GbiInputError, match="em_tol"):
        SignalFlowConfig(em_tol=1.0)


def test_em_steps_find_nothing_in_background() -> None:
    """On pure background the same start falls instead of inventing a signal."""
    x, log_bkg, _ = _events(np.random.default_rng(28), N_EVENTS, 0.0)
    cfg = dataclasses.replace(FAST, em_steps=3, em_epochs=40)
    _, steps = refine_em(x, log_bkg, 0.02, _broad_start(x), cfg, seed=8)
    assert steps[-1] < 0.01, steps


def test_em_steps_run_only_on_a_significant_scan() -> None:
    x, log_bkg, _ = _events(np.random.default_rng(29), 3000, 0.04)
    em = dataclasses.replace(FAST, em_steps=1, em_epochs=20)
    on = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=em))
    assert on.per_hypothesis["em_steps"].shape == (FAST.ensemble, 2)
    fit = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=FAST))
    assert "em_steps" not in fit.per_hypothesis
    # The steps measure w, they do not detect: q0 stays the scan's ...
    assert on.q0 == pytest.approx(fit.q0)
    # ... and without a significant scan they do not run.
    gated = dataclasses.replace(em, em_min_z=fit.significance + 1.0)
    off = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=gated))
    assert "em_steps" not in off.per_hypothesis
    assert off.mu_hat == pytest.approx(fit.mu_hat)
    # ... nor where the caller's gate (gbi infer: the calibrated significance) says no; the
    # gate sees the scan's fit.
    seen: list[float] = []

    def no_evidence(scan):  # type: ignore[no-untyped-def]
        seen.append(scan.mu_hat)
        return False

    cfg = UnbinnedConfig(signal_model="flow", seed=9, flow=em)
    vetoed = fit_unbinned(x, log_bkg, cfg, em_gate=no_evidence)
    assert "em_steps" not in vetoed.per_hypothesis
    assert seen == [pytest.approx(fit.mu_hat)]
    assert vetoed.mu_hat == pytest.approx(fit.mu_hat)
    np.testing.assert_allclose(fit.per_hypothesis["w_fixed"], np.geomspace(0.0025, 0.3, 49))
    with pytest.raises(GbiInputError, match="em_steps"):
        SignalFlowConfig(em_steps=-1)


def test_fold_refits_fit_each_fold_alone() -> None:
    """With exact densities each fold's ``w`` is the fit of its own events: the folds scatter
    around the truth by their statistics, and the members-together fit averages the
    members' likelihoods like the full fit."""
    x, log_bkg, mu_true = _events(np.random.default_rng(31), N_EVENTS, 0.05)
    exact = stats.norm.logpdf(x, 1.5, 0.2).sum(1)
    folds = _fold_labels(N_EVENTS, 2, seed=4)
    w = fold_refits(exact, log_bkg, folds, FAST)
    assert w.shape == (1, 2)
    half = np.sqrt(mu_true / (N_EVENTS / 2))  # about the error of w from half the events
    assert np.all(abs(w - mu_true) < 4.0 * half), (w, mu_true)
    # Each fold's fit is the fit of that fold's events alone (nothing else enters).
    one = folds == 1
    alone = fold_refits(exact[one], log_bkg[one], np.ones(int(one.sum()), int), FAST)
    assert alone[0, 1] == pytest.approx(w[0, 1])
    # Members with their own splits: one row each; with a shared split, one row together.
    labels = np.stack([folds, _fold_labels(N_EVENTS, 2, seed=5)])
    both = fold_refits(np.stack([exact, exact]), log_bkg, labels, FAST)
    assert both.shape == (2, 2)
    assert both[0] == pytest.approx(w[0])
    grid = np.geomspace(FAST.w_start, FAST.w_max, 20)
    scanned = np.repeat(np.stack([exact, exact])[:, :, None], len(grid), 2)
    together = fold_refits(scanned, log_bkg, folds, FAST, grid, together=True)
    assert together.shape == (1, 2)
    assert np.all(abs(together - w) < 0.25 * mu_true), (together, w)
    with pytest.raises(ValueError, match="folds differ"):
        fold_refits(scanned, log_bkg, labels, FAST, grid, together=True)
    # A fold with fewer than 10 events has no fit.
    few = np.where(np.arange(N_EVENTS) < 5, 0, 1)
    assert np.isnan(fold_refits(exact, log_bkg, few, FAST)[0, 0])


def test_em_members_report_the_folds_of_their_last_densities() -> None:
    """Each member's last densities come from its last step's split: the labels returned
    are that split (a member's event in fold k was scored by a flow that never saw it)."""
    x, log_bkg, _ = _events(np.random.default_rng(32), 3000, 0.04)
    cfg = dataclasses.replace(FAST, em_steps=2, em_epochs=10)
    start = np.stack([_broad_start(x)] * 2)
    seeds = [3, 100]
    _, steps, _, labels = refine_em_members(x, log_bkg, 0.03, start, cfg, seeds, np.zeros(3000))
    assert labels.shape == (2, 3000)
    for m, row in enumerate(steps):
        last = len(row) - 2  # steps taken by member m, minus one
        assert last >= 0
        assert (labels[m] == _fold_labels(3000, cfg.folds, seeds[m] + last)).all()
    assert not (labels[0] == labels[1]).all()


def test_flow_fit_reports_its_fold_refits() -> None:
    x, log_bkg, _ = _events(np.random.default_rng(29), 3000, 0.04)
    em = dataclasses.replace(FAST, em_steps=1, em_epochs=20)
    on = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=em))
    assert on.per_hypothesis["fold_mu_hat"].shape == (FAST.ensemble, FAST.folds)
    scan = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=9, flow=FAST))
    assert scan.per_hypothesis["fold_mu_hat"].shape == (1, FAST.folds)
    for fit in (on, scan):
        folds = fit.per_hypothesis["fold_mu_hat"]
        assert np.isfinite(folds).all()
        # each fold is a half-sample replica of the full fit: within 4 of its errors
        # (sqrt(folds) times the full fit's)
        limit = 4.0 * np.sqrt(FAST.folds) * fit.mu_err
        assert np.all(abs(folds - fit.mu_hat) < limit), (folds, fit.mu_hat, fit.mu_err)
