"""N-subjettiness from fastjet's Nsubjettiness against a small numpy reference on toy jets.

The reference below is the hand-written module gbi used before fastjet's ``njettiness``
(tau_N for given axes) plus a brute-force exclusive-kT clustering, kept here only as a test.
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.generate.nsubjettiness import NSUB_AXES, check_axes, nsubjettiness

Vector = np.ndarray  # (px, py, pz, E), GeV


def particle(pt: float, y: float, phi: float, m: float = 0.0) -> dict[str, float]:
    mt = math.hypot(pt, m)
    return {
        "px": pt * math.cos(phi),
        "py": pt * math.sin(phi),
        "pz": mt * math.sinh(y),
        "E": mt * math.cosh(y),
    }


def y_phi_pt(v: Vector) -> tuple[float, float, float]:
    px, py, pz, e = v
    return 0.5 * math.log((e + pz) / (e - pz)), math.atan2(py, px), math.hypot(px, py)


def delta_r(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dphi = abs(a[1] - b[1])
    return math.hypot(a[0] - b[0], min(dphi, 2 * math.pi - dphi))


def exclusive_kt(vectors: list[Vector], n: int) -> list[Vector]:
    """Merge the closest pair in d_ij = min(pT_i, pT_j)^2 dR_ij^2 (E-scheme) until n are left."""
    jets = list(vectors)
    while len(jets) > n:
        kin = [y_phi_pt(j) for j in jets]
        pairs = [(i, k) for i in range(len(jets)) for k in range(i)]
        i, k = min(
            pairs,
            key=lambda p: min(kin[p[0]][2], kin[p[1]][2]) ** 2 * delta_r(kin[p[0]], kin[p[1]]) ** 2,
        )
        merged = jets[i] + jets[k]
        jets = [j for m, j in enumerate(jets) if m not in (i, k)] + [merged]
    return jets


def tau_reference(vectors: list[Vector], axes: list[Vector], R0: float = 1.0) -> float:
    kin = [y_phi_pt(v) for v in vectors]
    axis_kin = [y_phi_pt(a) for a in axes]
    num = sum(k[2] * min(delta_r(k, a) for a in axis_kin) for k in kin)
    return num / (R0 * sum(k[2] for k in kin))


def toy_jets(n_jets: int, seed: int) -> list[list[dict[str, float]]]:
    """Two- or three-prong toy jets of 3-25 constituents around (y, phi) = (0.3, 1.0)."""
    rng = np.random.default_rng(seed)
    jets = []
    for _ in range(n_jets):
        prongs = rng.normal([0.3, 1.0], 0.4, size=(int(rng.integers(2, 4)), 2))
        n = int(rng.integers(3, 26))
        centre = prongs[rng.integers(0, len(prongs), n)]
        pos = centre + rng.normal(0.0, 0.08, size=(n, 2))
        pts = rng.exponential(40.0, n) + 1.0
        jets.append([particle(pt, y, phi, 0.14) for pt, (y, phi) in zip(pts, pos, strict=True)])
    return jets


def as_vectors(jet: list[dict[str, float]]) -> list[Vector]:
    return [np.array([p["px"], p["py"], p["pz"], p["E"]]) for p in jet]


def test_kt_axes_match_the_numpy_reference() -> None:
    pytest.importorskip("fastjet")
    jets = toy_jets(12, seed=3)
    taus = nsubjettiness(ak.Array(jets), n_max=3, R0=1.0, axes="kt")
    expected = [
        [tau_reference(as_vectors(j), exclusive_kt(as_vectors(j), n)) for n in (1, 2, 3)]
        for j in jets
    ]
    # same formula, same axes: only floating-point rounding differs
    np.testing.assert_allclose(taus, expected, rtol=1e-12, atol=1e-15)
    # R0 only rescales
    np.testing.assert_allclose(nsubjettiness(ak.Array(jets), R0=0.5, axes="kt"), 2 * taus)


def test_onepass_axes_minimise_tau1() -> None:
    """One-pass tau1 is the minimum over one axis (a weighted geometric median in y-phi)."""
    pytest.importorskip("fastjet")
    from scipy.optimize import minimize

    jets = toy_jets(8, seed=5)
    onepass = nsubjettiness(ak.Array(jets), axes="onepass-kt")
    kt = nsubjettiness(ak.Array(jets), axes="kt")
    for jet, tau in zip(jets, onepass, strict=True):
        kin = np.array([y_phi_pt(v) for v in as_vectors(jet)])  # no phi wrap near phi = 1

        def tau1(axis: np.ndarray, kin: np.ndarray = kin) -> float:
            d = np.hypot(kin[:, 0] - axis[0], kin[:, 1] - axis[1])
            return float(np.sum(kin[:, 2] * d) / np.sum(kin[:, 2]))

        start = np.average(kin[:, :2], axis=0, weights=kin[:, 2])
        best = minimize(tau1, start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12})
        # FastJet stops its minimisation at a relative precision of about 1e-4
        assert tau[0] == pytest.approx(best.fun, rel=1e-3)
        assert tau[0] >= best.fun - 1e-9
    # minimised axes never give a larger tau_N than their exclusive-kT starting axes
    assert np.all(onepass <= kt + 1e-12)
    assert np.any(onepass < kt - 1e-6)


def test_jets_with_few_constituents() -> None:
    pytest.importorskip("fastjet")
    single = [particle(300.0, 0.5, 1.0)]
    pair = [particle(200.0, 0.0, 0.0, m=0.14), particle(100.0, 0.4, 0.3, m=0.14)]
    for axes in NSUB_AXES:
        taus = nsubjettiness(ak.Array([single, pair]), n_max=3, axes=axes)
        assert taus.shape == (2, 3)
        np.testing.assert_array_equal(taus[0], [0.0, 0.0, 0.0])  # the constituent is the axis
        np.testing.assert_array_equal(taus[1, 1:], [0.0, 0.0])
    # exclusive kT tau1 of a pair: the E-scheme sum is the axis
    axis = as_vectors(pair)[0] + as_vectors(pair)[1]
    expected = tau_reference(as_vectors(pair), [axis])
    assert nsubjettiness(ak.Array([pair]), axes="kt")[0, 0] == pytest.approx(expected, rel=1e-12)
    # one-pass tau1 of a pair: the axis moves onto the harder particle, 100 * dR / 300
    dr = delta_r(y_phi_pt(as_vectors(pair)[0]), y_phi_pt(as_vectors(pair)[1]))
    assert nsubjettiness(ak.Array([pair]))[0, 0] == pytest.approx(100 * dr / 300, rel=1e-3)


def test_empty_batch_and_bad_axes() -> None:
    assert nsubjettiness(ak.Array([]), n_max=3).shape == (0, 3)
    with pytest.raises(GbiInputError, match="--nsub-axes: expected one of onepass-kt"):
        check_axes("KT_Axes")
    with pytest.raises(GbiInputError, match="found 'bogus'"):
        nsubjettiness(ak.Array([[particle(1.0, 0.0, 0.0)]]), axes="bogus")
