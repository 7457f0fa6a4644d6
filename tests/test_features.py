"""Dijet features against an independent, event-by-event computation with plain math."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import uproot

from gbi.features import FEATURE_COLUMNS, dijet_features, tau_ratio


def _four_vector(
    pt: float, eta: float, phi: float, mass: float
) -> tuple[float, float, float, float]:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    energy = math.sqrt(px * px + py * py + pz * pz + mass * mass)
    return energy, px, py, pz


def _reference_features(jets: list[dict[str, float]]) -> dict[str, float]:
    """Textbook computation for one event (jets as dicts), independent of gbi and vector."""
    lead = sorted(jets, key=lambda j: -j["pt"])[:2]
    p = [_four_vector(j["pt"], j["eta"], j["phi"], j["mass"]) for j in lead]
    energy, px, py, pz = (p[0][i] + p[1][i] for i in range(4))
    mjj = math.sqrt(max(energy**2 - px**2 - py**2 - pz**2, 0.0))
    if lead[0]["mass"] <= lead[1]["mass"]:
        light, heavy = lead[0], lead[1]
    else:
        light, heavy = lead[1], lead[0]

    def ratio(j: dict[str, float]) -> float:
        return j["tau2"] / j["tau1"] if j["tau1"] > 0 else 0.0

    return {
        "mjj": mjj,
        "mj1": light["mass"],
        "delta_mj": heavy["mass"] - light["mass"],
        "tau21_j1": ratio(light),
        "tau21_j2": ratio(heavy),
    }


def test_features_match_reference_on_real_events(lhco_dir):
    branches = [f"FatJet_{f}" for f in ("pt", "eta", "phi", "mass", "tau1", "tau2")]
    arrays = uproot.open(lhco_dir / "qcd_a_000.root")["Events"].arrays(branches, entry_stop=12)
    jets = ak.zip({b.removeprefix("FatJet_"): arrays[b] for b in branches})
    mask, features = dijet_features(jets)
    assert mask.all()
    for i, event in enumerate(jets.tolist()):
        reference = _reference_features(event)
        for name in FEATURE_COLUMNS:
            assert features[name][i] == pytest.approx(reference[name], rel=1e-6, abs=1e-6), name


def test_leading_jets_are_chosen_by_pt_not_input_order():
    jets = ak.Array(
        [
            [
                {"pt": 300.0, "eta": 0.5, "phi": 1.0, "mass": 20.0, "tau1": 0.2, "tau2": 0.1},
                {"pt": 1500.0, "eta": 0.1, "phi": 0.0, "mass": 400.0, "tau1": 0.3, "tau2": 0.15},
                {"pt": 1400.0, "eta": -0.2, "phi": 3.0, "mass": 90.0, "tau1": 0.5, "tau2": 0.4},
            ]
        ]
    )
    _, features = dijet_features(jets)
    reference = _reference_features(jets.tolist()[0])
    for name in FEATURE_COLUMNS:
        assert features[name][0] == pytest.approx(reference[name], rel=1e-9)
    assert features["mj1"][0] == pytest.approx(90.0)


def test_tau1_zero_gives_tau21_zero_and_stays_finite():
    assert tau_ratio(np.array([0.0, 0.2]), np.array([0.0, 0.4])).tolist() == [0.0, 0.5]
    jets = ak.Array(
        [
            [
                {"pt": 1300.0, "eta": 0.0, "phi": 0.0, "mass": 50.0, "tau1": 0.0, "tau2": 0.0},
                {"pt": 1200.0, "eta": 0.0, "phi": 3.1, "mass": 150.0, "tau1": 0.4, "tau2": 0.1},
            ]
        ]
    )
    _, features = dijet_features(jets)
    assert features["tau21_j1"][0] == 0.0  # the lighter jet has tau1 = 0
    assert features["tau21_j2"][0] == pytest.approx(0.25)
    assert all(np.isfinite(features[name]).all() for name in FEATURE_COLUMNS)


def test_events_with_fewer_than_two_jets_are_masked_not_lost():
    one = {"pt": 1300.0, "eta": 0.0, "phi": 0.0, "mass": 50.0, "tau1": 0.1, "tau2": 0.05}
    two = [one, {**one, "phi": 3.0, "pt": 1250.0}]
    jets = ak.Array([[], [one], two, two])
    mask, features = dijet_features(jets)
    assert mask.tolist() == [False, False, True, True]
    assert all(len(features[name]) == 2 for name in FEATURE_COLUMNS)


def test_no_event_with_two_jets_gives_empty_columns():
    mask, features = dijet_features(
        ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.0, "mass": 0.0, "tau1": 0.0, "tau2": 0.0}]])
    )
    assert mask.tolist() == [False]
    assert all(features[name].shape == (0,) for name in FEATURE_COLUMNS)


def test_dijet_mass_matches_vector_library():
    """The numpy invariant mass agrees with scikit-hep ``vector`` on random jet pairs."""
    import vector

    from gbi.features import dijet_mass

    rng = np.random.default_rng(7)
    n = 2000
    pt = rng.uniform(20.0, 3000.0, (n, 2))
    eta = rng.uniform(-4.0, 4.0, (n, 2))
    phi = rng.uniform(-np.pi, np.pi, (n, 2))
    mass = rng.uniform(0.0, 800.0, (n, 2))
    jets = [
        vector.array({"pt": pt[:, i], "eta": eta[:, i], "phi": phi[:, i], "mass": mass[:, i]})
        for i in range(2)
    ]
    expected = np.asarray((jets[0] + jets[1]).mass)
    jet1, jet2 = ((pt[:, i], eta[:, i], phi[:, i], mass[:, i]) for i in range(2))
    np.testing.assert_allclose(dijet_mass(jet1, jet2), expected, rtol=1e-9, atol=1e-6)


def _random_events(rng: np.random.Generator, n_events: int) -> ak.Array:
    """Events with 0-5 jets in random pT order, empty events included."""
    events = []
    for count in rng.integers(0, 6, n_events):
        events.append(
            [
                {
                    "pt": float(rng.uniform(100.0, 2000.0)),
                    "eta": float(rng.uniform(-2.5, 2.5)),
                    "phi": float(rng.uniform(-np.pi, np.pi)),
                    "mass": float(rng.uniform(0.0, 600.0)),
                    "tau1": float(rng.uniform(0.0, 0.5)),
                    "tau2": float(rng.uniform(0.0, 0.4)),
                }
                for _ in range(count)
            ]
        )
    events[0], events[-1] = [], []  # empty first and last events: edge of the offsets
    return ak.Array(events)


def test_random_unordered_events_match_reference():
    jets = _random_events(np.random.default_rng(3), 300)
    mask, features = dijet_features(jets)
    as_lists = jets.tolist()
    assert mask.tolist() == [len(event) >= 2 for event in as_lists]
    for row, event in enumerate(e for e in as_lists if len(e) >= 2):
        reference = _reference_features(event)
        for name in FEATURE_COLUMNS:
            assert features[name][row] == pytest.approx(reference[name], rel=1e-9), name


def test_other_layouts_take_the_generic_path_with_the_same_result():
    """A permuted or reversed selection of events (a ``ListArray`` / indexed layout, not
    the ``ListOffsetArray`` read from files) gives the same features as the original."""
    from gbi.features import jagged_columns

    jets = _random_events(np.random.default_rng(4), 200)
    mask, features = dijet_features(jets)
    order = np.random.default_rng(5).permutation(len(jets))
    for selected, index in ((jets[order], order), (jets[::-1], np.arange(len(jets))[::-1])):
        assert isinstance(ak.to_layout(selected), ak.contents.ListArray)
        offsets, flat = jagged_columns(selected, ("pt",))
        assert np.diff(offsets).tolist() == ak.num(selected).tolist()
        assert flat["pt"].tolist() == ak.flatten(selected["pt"]).tolist()
        selected_mask, selected_features = dijet_features(selected)
        assert selected_mask.tolist() == mask[index].tolist()
        rows = np.cumsum(mask) - 1  # row of each passing event in ``features``
        for name in FEATURE_COLUMNS:
            np.testing.assert_array_equal(
                selected_features[name], features[name][rows[index][mask[index]]]
            )
