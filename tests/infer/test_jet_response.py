"""The measured jet-mass response that makes grid points beyond the simulated masses.

Toy grids with a known response: contained jets at ``sqrt((m (1 + 5% noise))^2 + R^2)``,
and a loss of the heavier particle's decay product with odds ``c (m / 500 GeV)^3`` (a lost
jet has a mass of 100-250 GeV and ``tau21`` 0.45, a contained one 0.2).
"""

from __future__ import annotations

import numpy as np
import pytest

from gbi.infer.efficiency import morph
from gbi.infer.jet_response import JetResponse, quadrature_morph
from gbi.infer.signal_grid import SignalGrid

RADIATION = 80.0  # GeV


def _point(rng, mx, my, n=6000, odds_at_500=0.1, radiation=RADIATION):
    odds = odds_at_500 * (mx / 500.0) ** 3
    lost = rng.random(n) < odds / (1 + odds)
    heavy = np.hypot(mx * rng.normal(1, 0.05, n), radiation)
    heavy = np.where(lost, rng.uniform(100, 250, n), heavy)
    light = np.hypot(my * rng.normal(1, 0.05, n), radiation)
    tau_heavy = np.where(lost, 0.45, 0.2)
    swap = light > heavy
    return {
        "mj1": np.minimum(light, heavy),
        "delta_mj": np.abs(heavy - light),
        "tau21_j1": np.where(swap, tau_heavy, 0.2),
        "tau21_j2": np.where(swap, 0.2, tau_heavy),
        "mjj": rng.normal(3500, 100, n),
    }


def _grid(seed=0, **kw):
    rng = np.random.default_rng(seed)
    return {
        (mx, my): _point(rng, mx, my, **kw)
        for mx in (300.0, 400.0, 500.0, 600.0)
        for my in (100.0, 150.0)
    }


def _lost_share(table, mx):
    heavy = table["mj1"] + table["delta_mj"]
    return float(np.mean(heavy < 0.8 * mx))


def test_measure_recovers_the_loss_curve_and_the_radiation_term():
    response = JetResponse.measure(_grid())
    truth = 0.1 * (800 / 500) ** 3
    assert response.loss(800.0) == pytest.approx(truth / (1 + truth), abs=0.03)
    assert response.loss_coef is not None
    assert response.loss_coef[1] == pytest.approx(3.0, abs=0.4)
    assert np.sqrt(response.radiation2) == pytest.approx(RADIATION, rel=0.15)
    assert len(response.lost_mass) > 100
    assert np.all((response.lost_mass >= 100) & (response.lost_mass <= 250))
    # A lost jet with about the Y's jet mass cannot be told from it: most are told apart.
    assert np.mean(response.lost_tau21 == 0.45) > 0.8


def test_morph_beyond_the_grid_gets_the_losses_of_a_simulated_point():
    grid = _grid()
    response = JetResponse.measure(grid)
    made = response.morph(grid[(600.0, 100.0)], (600.0, 100.0), (800.0, 100.0))
    simulated = _point(np.random.default_rng(9), 800.0, 100.0)
    scaled = morph(grid[(600.0, 100.0)], (600.0, 100.0), (800.0, 100.0))
    n = len(made["mj1"])
    share = _lost_share(simulated, 800.0)
    assert _lost_share(made, 800.0) == pytest.approx(share, abs=3 * np.sqrt(share / n) + 0.03)
    # The plain scaling keeps the 600 GeV point's losses: far fewer than simulated.
    assert _lost_share(scaled, 800.0) < share - 0.08
    # Contained heavier jets near the simulated ones' median (radiation in quadrature).
    kept = lambda t: (t["mj1"] + t["delta_mj"])[(t["mj1"] + t["delta_mj"]) >= 640]  # noqa: E731
    assert np.median(kept(made)) == pytest.approx(np.median(kept(simulated)), rel=0.01)
    # The lost jets come with their tau21, in the lighter / heavier order.
    lost = (made["mj1"] + made["delta_mj"]) < 640
    light, heavy = made["mj1"], made["mj1"] + made["delta_mj"]
    lost_jet = np.where(
        made["tau21_j1"] == 0.45, light, np.where(made["tau21_j2"] == 0.45, heavy, np.nan)
    )
    assert np.mean(np.isfinite(lost_jet[lost])) > 0.8
    assert np.all(
        (lost_jet[lost & np.isfinite(lost_jet)] >= 100)
        & (lost_jet[lost & np.isfinite(lost_jet)] <= 250)
    )


def test_morph_is_reproducible_and_keeps_other_columns():
    grid = _grid()
    response = JetResponse.measure(grid)
    one = response.morph(grid[(600.0, 150.0)], (600.0, 150.0), (700.0, 250.0))
    two = response.morph(grid[(600.0, 150.0)], (600.0, 150.0), (700.0, 250.0))
    for c in one:
        assert np.array_equal(one[c], two[c])
    assert one["mjj"] is grid[(600.0, 150.0)]["mjj"]
    assert np.all(one["delta_mj"] >= 0)


def test_no_measured_response_is_the_plain_scaling():
    # One event per point: no radiation term or loss curve can be measured.
    t = {"mj1": np.array([100.0]), "delta_mj": np.array([300.0]), "mjj": np.array([3500.0])}
    response = JetResponse.measure({(400.0, 100.0): t, (400.0, 200.0): t})
    assert response.radiation2 == 0.0
    assert response.loss_coef is None
    made = response.morph(t, (400.0, 100.0), (600.0, 150.0))
    plain = morph(t, (400.0, 100.0), (600.0, 150.0))
    assert made["mj1"].tolist() == plain["mj1"].tolist()
    assert made["delta_mj"].tolist() == plain["delta_mj"].tolist()


def test_quadrature_morph_moves_the_core_only():
    m = np.array([np.hypot(300.0, 80.0)])
    assert quadrature_morph(m, 300.0, 600.0, 80.0**2)[0] == pytest.approx(np.hypot(600.0, 80.0))


def test_extended_grid_uses_the_measured_response():
    grid = SignalGrid(_grid(), m_w=3500).extended(2)
    assert grid.morphed[(800.0, 100.0)] == (600.0, 100.0)
    share_600 = _lost_share(grid.tables[(600.0, 100.0)], 600.0)
    share_800 = _lost_share(grid.tables[(800.0, 100.0)], 800.0)
    truth = 0.1 * (800 / 500) ** 3
    assert share_800 > share_600 + 0.08
    assert share_800 == pytest.approx(truth / (1 + truth), abs=0.05)


def test_a_grid_moved_to_a_heavier_resonance_gets_fewer_losses():
    """A particle's decay opens by its mass over its momentum (about mW / 2): moved to
    mW = 4000 GeV, a point at 800 GeV loses as the grid does at 700 GeV."""
    from gbi.regions import Regions

    grid = SignalGrid(_grid(), m_w=3500)
    moved = grid.moved_to(4000.0, Regions(3700, 4300))
    assert moved.jets_m_w == 3500.0
    assert moved.m_w == 4000.0
    assert moved.without((300.0, 100.0)).jets_m_w == 3500.0
    assert moved.for_region(Regions(3800, 4200)).jets_m_w == 3500.0
    response = JetResponse.measure(grid.tables)
    share = _lost_share(moved.extended(2).tables[(800.0, 100.0)], 800.0)
    expected = float(response.loss(800.0 * 3500 / 4000))
    assert share == pytest.approx(expected, abs=0.03)
    assert share < float(response.loss(800.0)) - 0.05
