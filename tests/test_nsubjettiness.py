"""N-subjettiness against by-hand computations on toy jets."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from gbi.generate.nsubjettiness import rapidity_phi_pt, tau_from_axes


def particle(pt: float, y: float, phi: float, m: float = 0.0) -> dict[str, float]:
    mt = math.hypot(pt, m)
    return {
        "px": pt * math.cos(phi),
        "py": pt * math.sin(phi),
        "pz": mt * math.sinh(y),
        "E": mt * math.cosh(y),
    }


def test_rapidity_phi_pt_round_trip() -> None:
    p = particle(120.0, 0.7, -2.5, m=3.0)
    y, phi, pt = rapidity_phi_pt([p["px"]], [p["py"]], [p["pz"]], [p["E"]])
    assert y[0] == pytest.approx(0.7)
    assert phi[0] == pytest.approx(-2.5)
    assert pt[0] == pytest.approx(120.0)


def test_tau_from_axes_by_hand() -> None:
    # jet 1: three constituents, two axes; jet 2: two constituents, one axis
    jet1 = [particle(100.0, 0.0, 0.0), particle(60.0, 0.3, 0.4), particle(40.0, -0.2, 1.0)]
    axes1 = [particle(1.0, 0.0, 0.0), particle(1.0, 0.0, 1.0)]
    jet2 = [particle(50.0, 1.0, 2.0), particle(50.0, 1.0, 2.6)]
    axes2 = [particle(1.0, 1.0, 2.2)]
    taus = tau_from_axes(ak.Array([jet1, jet2]), ak.Array([axes1, axes2]), R0=1.0)
    # by hand: min over axes of sqrt(dy^2 + dphi^2), weighted by pT, over R0 * sum pT
    d_60 = min(math.hypot(0.3, 0.4), math.hypot(0.3, 0.6))  # = 0.5
    d_40 = min(math.hypot(0.2, 1.0), math.hypot(0.2, 0.0))  # = 0.2
    expected1 = (100.0 * 0.0 + 60.0 * d_60 + 40.0 * d_40) / 200.0
    expected2 = (50.0 * 0.2 + 50.0 * 0.4) / 100.0
    assert taus == pytest.approx([expected1, expected2])
    assert expected1 == pytest.approx((60 * 0.5 + 40 * 0.2) / 200)
    # R0 only rescales
    assert tau_from_axes(ak.Array([jet1]), ak.Array([axes1]), R0=0.5)[0] == pytest.approx(
        2 * expected1
    )


def test_tau_azimuth_wraps_around() -> None:
    jet = [particle(10.0, 0.0, math.pi - 0.1), particle(10.0, 0.0, -math.pi + 0.1)]
    axis = [particle(1.0, 0.0, math.pi)]
    assert tau_from_axes(ak.Array([jet]), ak.Array([axis]))[0] == pytest.approx(0.1)


def test_tau_empty_batch() -> None:
    assert tau_from_axes(ak.Array([]), ak.Array([])).shape == (0,)


def test_nsubjettiness_exclusive_kt_axes() -> None:
    pytest.importorskip("fastjet")
    from gbi.generate.nsubjettiness import nsubjettiness

    single = [particle(300.0, 0.5, 1.0)]
    pair = [particle(200.0, 0.0, 0.0, m=0.14), particle(100.0, 0.4, 0.3, m=0.14)]
    three = [*pair, particle(50.0, -0.3, -0.4)]
    taus = nsubjettiness(ak.Array([single, pair, three]), n_max=3, R0=1.0)
    assert taus.shape == (3, 3)
    # one constituent: it is the axis -> every tau_N is 0
    np.testing.assert_array_equal(taus[0], [0.0, 0.0, 0.0])
    # two constituents: tau1 from the E-scheme jet axis, tau2 = tau3 = 0
    jet = {k: pair[0][k] + pair[1][k] for k in pair[0]}
    y, phi, _ = rapidity_phi_pt([jet["px"]], [jet["py"]], [jet["pz"]], [jet["E"]])
    expected = 0.0
    for p in pair:
        py_, pphi, ppt = rapidity_phi_pt([p["px"]], [p["py"]], [p["pz"]], [p["E"]])
        expected += ppt[0] * math.hypot(py_[0] - y[0], pphi[0] - phi[0])
    expected /= 300.0
    assert taus[1] == pytest.approx([expected, 0.0, 0.0])
    # three constituents: kT distances min(pT_i, pT_j)^2 dR^2 are 2500 (200-100), 625
    # (200-50) and 2450 (100-50), so the 2 exclusive axes are (200 + 50) and 100; tau3 = 0
    merged = {k: three[0][k] + three[2][k] for k in three[0]}
    axes = [rapidity_phi_pt([a["px"]], [a["py"]], [a["pz"]], [a["E"]]) for a in (merged, three[1])]
    expected2 = 0.0
    for p in three:
        py_, pphi, ppt = rapidity_phi_pt([p["px"]], [p["py"]], [p["pz"]], [p["E"]])
        expected2 += ppt[0] * min(math.hypot(py_[0] - a[0][0], pphi[0] - a[1][0]) for a in axes)
    expected2 /= 350.0
    assert taus[2, 1] == pytest.approx(expected2)
    assert taus[2, 2] == 0.0
    assert 0.0 < taus[2, 1] < taus[2, 0]
