"""Signal-grid naming, loading and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gbi.errors import GbiInputError
from gbi.infer.signal_grid import SignalGrid, load_signal_grid, parse_masses, parse_range


def test_load_grid_keeps_sr_events_and_orders_masses(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for mx, my in ((500, 100), (100, 300)):
        table = {"mjj": rng.uniform(3000, 4000, 100), "mj1": rng.normal(my, 5, 100)}
        pq.write_table(pa.table(table), tmp_path / f"wprime_3500_{mx}_{my}_1_000.parquet")
    grid = load_signal_grid([tmp_path])
    assert sorted(grid.tables) == [(300.0, 100.0), (500.0, 100.0)]  # (100, 300) -> (300, 100)
    for table in grid.tables.values():
        assert ((table["mjj"] >= 3300) & (table["mjj"] < 3700)).all()
    assert grid.without((500.0, 100.0)).masses.tolist() == [[300.0, 100.0]]


def test_grid_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(GbiInputError, match="expected a directory or a file"):
        load_signal_grid([tmp_path / "nope"])
    with pytest.raises(GbiInputError, match="expected wprime_"):
        load_signal_grid([tmp_path])
    with pytest.raises(GbiInputError, match="expected a name like"):
        parse_masses("signal.root")
    with pytest.raises(GbiInputError, match="start:stop:step"):
        parse_range("100:600:0")


def test_mass_pairs_are_unordered_heavier_first() -> None:
    """The jets are ordered by mass, so (mX, mY) and (mY, mX) are one signal: the grid keys
    it (heavier, lighter), and naming it twice is an error."""
    from gbi.infer.signal_grid import SignalGrid, ordered_masses

    table = {"mjj": np.array([3400.0]), "mj1": np.array([100.0])}
    grid = SignalGrid({(100.0, 300.0): table, (500.0, 100.0): table}, m_w=3500)
    assert sorted(grid.tables) == [(300.0, 100.0), (500.0, 100.0)]
    assert grid.without((100.0, 300.0)).masses.tolist() == [[500.0, 100.0]]
    assert ordered_masses(250, 450) == ordered_masses(450, 250) == (450.0, 250.0)
    with pytest.raises(GbiInputError, match="each unordered mass pair once"):
        SignalGrid({(100.0, 300.0): table, (300.0, 100.0): table}, m_w=3500)


def test_grid_of_several_w_prime_masses_is_keyed_with_mw(tmp_path: Path) -> None:
    """Files at two W' masses make a (mX, mY, mW) grid (the classifier's f(x, mX, mY, mW));
    one mass keeps the (mX, mY) grid and its m_w, as before."""
    from gbi.infer.signal_grid import SignalGrid

    rng = np.random.default_rng(1)
    for mw, mx, my in ((3500, 300, 100), (3700, 100, 300), (3700, 500, 100)):
        table = {"mjj": rng.uniform(3000, 4000, 50), "mj1": rng.normal(my, 5, 50)}
        pq.write_table(pa.table(table), tmp_path / f"wprime_{mw}_{mx}_{my}_1_000.parquet")
    grid = load_signal_grid([tmp_path])
    assert grid.m_w is None
    assert grid.m_ws == (3500.0, 3700.0)
    assert sorted(grid.tables) == [(300.0, 100.0, 3500.0), (300.0, 100.0, 3700.0),
                                   (500.0, 100.0, 3700.0)]  # fmt: skip
    assert grid.counts().keys() == {"300/100/3500", "300/100/3700", "500/100/3700"}
    assert sorted(grid.at_m_w(3690.0).tables) == [(300.0, 100.0), (500.0, 100.0)]
    assert grid.at_m_w(3500.0).m_w == 3500.0
    assert grid.without((100.0, 300.0, 3700.0)).masses.shape == (2, 3)
    with pytest.raises(GbiInputError, match="a point of the grid to leave out"):
        grid.without((300.0, 100.0))  # no mW: not a point of this grid
    one = load_signal_grid(sorted(tmp_path.glob("wprime_3700_*")))
    assert one.m_w == 3700.0
    assert sorted(one.tables) == [(300.0, 100.0), (500.0, 100.0)]
    t = {"mjj": np.array([3400.0])}
    assert SignalGrid({(300.0, 100.0, 3500.0): t}).m_w == 3500.0  # one mW: plain grid
    with pytest.raises(GbiInputError, match=r"every point as \(mX, mY\)"):
        SignalGrid({(300.0, 100.0, 3500.0): t, (300.0, 100.0): t}, m_w=3500)


def test_a_grid_made_outside_the_signal_region_is_moved_to_its_centre(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run whose SR does not hold the grid's W' mass would train on the resonance's tail;
    the grid is moved to the SR's centre instead (mjj scaled, jet features kept), and the
    log says so, with the events per point before and after and the remedy; a grid inside
    is only split, silently."""
    from gbi.infer.config import InferConfig
    from gbi.infer.pipeline import _grid_for
    from gbi.regions import Regions

    rng = np.random.default_rng(1)
    table = {"mjj": rng.normal(3500, 175, 400), "mj1": rng.normal(100, 5, 400)}
    pq.write_table(pa.table(table), tmp_path / "wprime_3500_500_100_1_000.parquet")
    grid = load_signal_grid([tmp_path])
    with caplog.at_level("WARNING", logger="gbi.infer.pipeline"):
        inside = _grid_for(grid, InferConfig(regions=Regions(3300, 3700)))
    assert not caplog.records
    assert inside.m_w == 3500.0
    with caplog.at_level("WARNING", logger="gbi.infer.pipeline"):
        moved = _grid_for(grid, InferConfig(regions=Regions(3600, 4000)))
    mjj = np.asarray(table["mjj"])
    n_tail = int(np.sum((mjj >= 3600) & (mjj < 4000)))
    scaled = mjj * 3800.0 / 3500.0
    n_moved = int(np.sum((scaled >= 3600) & (scaled < 4000)))
    assert n_moved > 2 * n_tail  # the core, not the tail
    assert moved.m_w == 3800.0
    np.testing.assert_allclose(
        np.sort(moved.tables[(500.0, 100.0)]["mjj"]),
        np.sort(scaled[(scaled >= 3600) & (scaled < 4000)]),
    )
    # the jet features are the grid's own
    assert len(moved.tables[(500.0, 100.0)]["mj1"]) == n_moved
    (record,) = caplog.records
    message = record.getMessage()
    assert "mW = 3500 GeV, outside the signal region [3600, 4000) GeV" in message
    assert f"({n_tail}-{n_tail} simulated events per point in it)" in message
    assert "moved to mW = 3800 GeV" in message
    assert f"{n_moved}-{n_moved} events per point in the SR" in message
    assert "gbi generate --mW" in message


def test_the_result_says_which_grid_it_used(tmp_path: Path) -> None:
    """The infer result names the grid's W' masses, the one used and whether it was moved
    (schema-valid), so an off-resonance run's assumption is in its JSON, not only its log."""
    from gbi.infer import InferConfig, run_inference
    from gbi.infer.result import InferResult
    from gbi.infer.signal_grid import SignalGrid
    from gbi.regions import Regions
    from gbi.schema import validate

    rng = np.random.default_rng(2)
    table = {"mjj": rng.normal(3500, 175, 400), "mj1": rng.normal(100, 5, 400)}
    grid = SignalGrid({(500.0, 100.0): table}, m_w=3500.0)
    # Too few events for any method: the run stops after reading its inputs.
    data = {f: rng.normal(1.0, 0.1, 50) for f in InferConfig().features}
    data["mjj"] = rng.uniform(3000, 4500, 50)
    config = InferConfig(regions=Regions(3600, 4000), methods=("binned",))
    result: InferResult = run_inference(data, config=config, signal_grid=grid)
    info = result.to_dict()["signal_grid"]
    assert info["made_at_mW"] == [3500.0]
    assert info["mW"] == 3800.0
    assert info["moved"] is True
    assert info["points"] == 1
    assert info["sr_events_per_point"][0] > 200
    validate(result.to_dict(), "infer-result", "the test result")


def test_a_signal_the_parametrized_fit_misses_is_flagged() -> None:
    """Another method's evidence where the parametrized fit has none (a resonance outside
    the grid's masses) puts a note in the parametrized result naming the grid's range and
    where the unbinned fit's signal sits; agreement leaves it without one."""
    from gbi.infer.pipeline import _grid_cross_check
    from gbi.infer.result import InferMethodResult, InferResult

    table = {"mjj": np.array([3400.0]), "mj1": np.array([100.0]), "delta_mj": np.array([9.0])}
    grid = SignalGrid({(600.0, 100.0): table, (100.0, 100.0): table}, m_w=3500)
    signal = {"components": [{"mj1": 250.0, "delta_mj": 540.0, "mjj": 3500.0}]}

    def result(z_par: float, z_unbinned: float) -> InferResult:
        out = InferResult(config={}, counts={})
        out.methods = {
            "parametrized": InferMethodResult.ok({"significance": z_par}),
            "unbinned": InferMethodResult.ok({"significance": z_unbinned, "signal_model": signal}),
        }
        return out

    missed = result(0.0, 15.7)
    _grid_cross_check(missed, grid, 2.0)
    note = missed.methods["parametrized"].message
    assert "unbinned Z = 15.7" in note, note
    assert "mX 100-600" in note, note
    assert "(790, 250) GeV" in note, note
    assert missed.methods["unbinned"].message == ""
    for z_par, z_unbinned in ((4.0, 15.7), (0.0, 2.5)):
        agreed = result(z_par, z_unbinned)
        _grid_cross_check(agreed, grid, 2.0)
        assert agreed.methods["parametrized"].message == ""


def test_grid_extension_per_w_prime_mass() -> None:
    """Each W' mass of a grid is extended on its own (by its own step); one with a single
    point has no step and keeps it, without dropping the others' morphed points."""
    table = {"mjj": np.array([3500.0]), "mj1": np.array([100.0]), "delta_mj": np.array([100.0])}
    grid = SignalGrid(
        {
            (200.0, 100.0, 3500.0): table,
            (300.0, 100.0, 3500.0): table,
            (200.0, 100.0, 3700.0): table,
        }
    )
    extended = grid.extended(1)
    assert sorted(extended.morphed) == [
        (100.0, 100.0, 3500.0),
        (200.0, 200.0, 3500.0),
        (300.0, 200.0, 3500.0),
        (400.0, 100.0, 3500.0),
        (400.0, 200.0, 3500.0),
    ]
    assert all(key[2] == 3500.0 for key in extended.morphed)
    assert grid.extended(0) is grid


def test_extension_morphs_by_scaling_or_by_the_measured_response() -> None:
    """``extended(steps, "scaling")`` makes the points beyond the grid as the plain mass
    ratio does (:func:`gbi.infer.efficiency.morph`, the stop 40-41 extension); the default
    ``"measured"`` models the jets' response; anything else is refused with the choices.
    ``"auto"`` (the parametrized default) starts from scaling and switches to the measured
    response for a run once a fit lands beyond the simulated masses."""
    from types import SimpleNamespace

    from gbi.errors import GbiInputError
    from gbi.infer.efficiency import morph
    from gbi.infer.parametrized import EXTEND_MORPHS, ParametrizedConfig, training_grid
    from gbi.infer.steps import _morph_with

    rng = np.random.default_rng(4)

    def jets(mx: float, my: float, n: int = 300) -> dict[str, np.ndarray]:
        heavy = np.where(rng.random(n) < 0.1, rng.uniform(20, 0.7 * mx, n), rng.normal(mx, 10, n))
        light = rng.normal(my, 10, n)
        return {"mj1": light, "delta_mj": heavy - light, "mjj": rng.normal(3500, 100, n)}

    grid = SignalGrid({(x, y): jets(x, y) for x in (100.0, 200.0) for y in (100.0,)}, m_w=3500)
    scaled = grid.extended(1, "scaling")
    for key, source in scaled.morphed.items():
        expected = morph(grid.tables[source], source, key[:2])
        for column in ("mj1", "delta_mj", "mjj"):
            np.testing.assert_allclose(scaled.tables[key][column], expected[column])
    measured = grid.extended(1)
    assert set(measured.morphed) == set(scaled.morphed)
    assert not np.allclose(
        measured.tables[(300.0, 100.0)]["delta_mj"], scaled.tables[(300.0, 100.0)]["delta_mj"]
    )
    with pytest.raises(GbiInputError, match="'measured' or 'scaling'"):
        grid.extended(1, "linear")
    with pytest.raises(GbiInputError, match="extend_morph"):
        ParametrizedConfig(extend_morph="linear")
    config = ParametrizedConfig(features=("mj1", "delta_mj"), extend_steps=1)
    assert training_grid(grid, config).tables[(300.0, 100.0)]["delta_mj"].tolist() == (
        scaled.tables[(300.0, 100.0)]["delta_mj"].tolist()
    )

    def run(how: str, info: dict | None) -> SimpleNamespace:
        parametrized = ParametrizedConfig(extend_morph=how)
        return SimpleNamespace(
            config=SimpleNamespace(parametrized=parametrized),
            result=SimpleNamespace(signal_grid=info),
        )

    assert _morph_with(run("auto", None)) == "scaling"
    assert _morph_with(run("auto", {"morph": "scaling"})) == "scaling"
    assert _morph_with(run("auto", {"morph": "measured"})) == "measured"
    assert _morph_with(run("scaling", {"morph": "measured"})) == "scaling"
    assert _morph_with(run("measured", None)) == "measured"
    # the CLI offers the same choices (it does not import the module, to start fast)
    from gbi.cli import build_parser

    parser = build_parser(["infer"])
    for how in EXTEND_MORPHS:
        args = parser.parse_args(["infer", "x", "--json", "r.json", "--extend-morph", how])
        assert args.extend_morph == how
    default = parser.parse_args(["infer", "x", "--json", "r.json"]).extend_morph
    assert default == ParametrizedConfig().extend_morph == "auto"
