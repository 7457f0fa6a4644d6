"""The cut efficiency at an off-grid mass: jet-mass morphing of the nearest grid points
recovers it where interpolating the grid's efficiencies underestimates it."""

from __future__ import annotations

import numpy as np

from gbi.infer.efficiency import GridEfficiency, MassHypothesis, morphed_efficiency


def _signal(rng: np.random.Generator, mx: float, my: float, n: int) -> dict[str, np.ndarray]:
    """W' -> X Y with 8% jet-mass resolution; SR mjj only."""
    light, heavy = rng.normal(my, 0.08 * my, n), rng.normal(mx, 0.08 * mx, n)
    return {
        "mj1": np.minimum(light, heavy),
        "delta_mj": np.abs(heavy - light),
        "tau21_j1": rng.uniform(0.1, 0.6, n),
        "mjj": rng.uniform(3300, 3700, n),
    }


def _passes(table: dict[str, np.ndarray]) -> np.ndarray:
    """A cut tuned to a signal at (350, 150) GeV, as the data-trained classifier's is."""
    return (np.abs(table["mj1"] - 150) < 20) & (np.abs(table["mj1"] + table["delta_mj"] - 350) < 40)


def test_morphing_recovers_the_efficiency_between_grid_points() -> None:
    rng = np.random.default_rng(5)
    points = [(mx, my) for mx in (200.0, 300.0, 400.0, 500.0) for my in (100.0, 200.0) if my <= mx]
    tables = {p: _signal(rng, *p, 3000) for p in points}
    windows = ((3100.0, 3300.0), (3700.0, 3900.0))
    true_eff = float(_passes(_signal(rng, 350.0, 150.0, 20000)).mean())
    hypothesis = MassHypothesis(350.0, 150.0, (340.0, 360.0), (145.0, 155.0), "test")
    morphed = morphed_efficiency(tables, {}, _passes, windows, hypothesis)
    err = np.sqrt(
        morphed["efficiency_err_stat"] ** 2
        + morphed["efficiency_err_mass"] ** 2
        + morphed["efficiency_err_morph"] ** 2
    )
    assert abs(morphed["efficiency"] - true_eff) < max(2 * err, 0.03), (morphed, true_eff)
    assert abs(morphed["efficiency"] / true_eff - 1) < 0.15
    interpolated = GridEfficiency.measure(tables, {}, _passes, windows).at(hypothesis)
    # The grid points lie 50 GeV (several resolutions) from the peak of the efficiency.
    assert interpolated["efficiency"] < 0.5 * true_eff


def test_mass_error_from_sigma_matches_the_spread_of_the_efficiency() -> None:
    """Closure of ``efficiency_err_mass`` with the masses' 1-sigma errors: fitted masses
    drawn around the truth with those errors give efficiencies whose rms deviation from the
    true one is the quoted error (within 35%)."""
    rng = np.random.default_rng(9)
    points = [(mx, my) for mx in (200.0, 300.0, 400.0, 500.0) for my in (100.0, 200.0) if my <= mx]
    tables = {p: _signal(rng, *p, 3000) for p in points}
    windows = ((3100.0, 3300.0), (3700.0, 3900.0))
    sigma = (12.0, 6.0)

    def hyp(mx: float, my: float, with_sigma: bool) -> MassHypothesis:
        ranges = ((mx - sigma[0], mx + sigma[0]), (my - sigma[1], my + sigma[1]))
        return MassHypothesis(mx, my, *ranges, "test", sigma if with_sigma else None)

    quoted = morphed_efficiency(tables, {}, _passes, windows, hyp(350.0, 150.0, True))
    truth = quoted["efficiency"]
    drawn = [
        morphed_efficiency(tables, {}, _passes, windows, hyp(350.0 + dx, 150.0 + dy, True))[
            "efficiency"
        ]
        for dx, dy in rng.normal(0.0, 1.0, (60, 2)) * sigma
    ]
    rms = float(np.sqrt(np.mean((np.array(drawn) - truth) ** 2)))
    assert rms > 0.02, rms  # the efficiency does depend on the masses here
    assert abs(quoted["efficiency_err_mass"] / rms - 1) < 0.35, (quoted, rms)


def test_morphing_error_vanishes_on_a_grid_point_and_covers_between_them() -> None:
    """A jet-mass response that does not scale with the mass (15 GeV resolution at every
    mass) makes morphed grid points disagree. On a grid point its own events, unmorphed,
    give the efficiency and the morphing error is below the statistical one (the plain
    spread of the sources was several times larger); between grid points the quoted error
    covers the true efficiency."""
    rng = np.random.default_rng(3)

    def signal(mx: float, my: float, n: int) -> dict[str, np.ndarray]:
        light, heavy = rng.normal(my, 15.0, n), rng.normal(mx, 15.0, n)
        return {"mj1": np.minimum(light, heavy), "delta_mj": np.abs(heavy - light),
                "mjj": rng.uniform(3300, 3700, n)}  # fmt: skip

    def cut(mx: float, my: float):  # type: ignore[no-untyped-def]
        return lambda t: (np.abs(t["mj1"] - my) < 20) & (np.abs(t["mj1"] + t["delta_mj"] - mx) < 40)

    points = [(mx, my) for mx in (200.0, 300.0, 400.0, 500.0) for my in (100.0, 200.0) if my <= mx]
    tables = {p: signal(*p, 3000) for p in points}
    windows = ((3100.0, 3300.0), (3700.0, 3900.0))

    def at(mx: float, my: float) -> tuple[dict[str, float], float]:
        hyp = MassHypothesis(mx, my, (mx - 1, mx + 1), (my - 1, my + 1), "test", (0.5, 0.5))
        passes = cut(mx, my)
        return morphed_efficiency(tables, {}, passes, windows, hyp), float(
            passes(signal(mx, my, 40000)).mean()
        )

    on_grid, truth = at(300.0, 100.0)
    own = float(cut(300.0, 100.0)(tables[(300.0, 100.0)]).mean())
    assert on_grid["morph_error_per_unit_distance"] > 0.05  # the sources do disagree
    assert on_grid["efficiency_err_morph"] < on_grid["efficiency_err_stat"]
    assert abs(on_grid["efficiency"] - own) < 2 * on_grid["efficiency_err_stat"]
    for mx, my in ((350.0, 150.0), (380.0, 130.0), (420.0, 180.0), (330.0, 170.0)):
        off, truth = at(mx, my)
        err = np.hypot(off["efficiency_err_stat"], off["efficiency_err_morph"])
        assert abs(off["efficiency"] - truth) < 2 * err, (mx, my, off, truth)
