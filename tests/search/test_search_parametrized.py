"""The search with a signal grid: the parametrized fit per window, on a toy whose truth is known.

The toy's bump (``search_toys``: mjj ~ N(3200, 4%), f1 ~ N(3, 0.3), f2 ~ N(-2, 0.3)) is the
grid point (mX, mY) = (300, 200) of a toy grid in which a point puts f1 ~ N(mX / 100, 0.3)
and f2 ~ N(-mY / 100, 0.3), all at the bump's mjj. The window holding the bump finds a
signal fraction compatible with the truth and the point's masses; a window the grid's
resonance does not reach is skipped with that reason, its model-independent result kept.
"""

from __future__ import annotations

import numpy as np
import pytest
from search_toys import MASS

from gbi.infer.signal_grid import SignalGrid
from gbi.schema import validate
from gbi.search import Window, WindowGrid, run_search


def toy_grid(seed: int = 5, n: int = 600) -> SignalGrid:
    rng = np.random.default_rng(seed)
    tables = {}
    for mx in (200.0, 300.0, 400.0):
        for my in (100.0, 200.0, 300.0):
            if my <= mx:
                tables[(mx, my)] = {
                    "mjj": rng.normal(MASS, 0.04 * MASS, n),
                    "f1": rng.normal(mx / 100, 0.3, n),
                    "f2": rng.normal(-my / 100, 0.3, n),
                }
    return SignalGrid(tables, m_w=MASS)


@pytest.mark.slow  # a search with the parametrized fit in every window (about 10 s)
def test_parametrized_fit_per_window(tmp_path, toy, config) -> None:
    grid = WindowGrid((Window(3000, 3400), Window(2200, 2600)))
    result = run_search(
        toy, grid, config, out_dir=tmp_path, threads=1, global_toys=1000, signal_grid=toy_grid()
    )
    by_name = {w.name: w for w in result.windows}
    bump = by_name["3000_3400"].to_dict()["parametrized"]
    assert bump["status"] == "ok", bump["message"]
    sr = (toy["mjj"] >= 3000) & (toy["mjj"] < 3400)
    mu_true = float(toy["label"][sr].mean())
    assert bump["mu_lo"] <= mu_true <= bump["mu_hi"] or abs(bump["mu_hat"] / mu_true - 1) < 0.3
    assert bump["significance"] > 2
    m = bump["masses"]  # the true point inside the mass intervals (scan step 50 GeV)
    assert m["mX_lo"] - 25 <= 300 <= m["mX_hi"] + 25, m
    assert m["mY_lo"] - 25 <= 200 <= m["mY_hi"] + 25, m
    far = by_name["2200_2600"]
    assert far.status == "ok"  # the model-independent result is kept
    assert far.to_dict()["parametrized"]["status"] == "skipped"
    assert "has 50 events in [2200, 2600) GeV" in far.to_dict()["parametrized"]["message"]
    validate(result.to_dict(), "search-result", "search.json")
    # another grid is another configuration: nothing stored is reused for it
    again = run_search(
        toy,
        grid,
        config,
        out_dir=tmp_path,
        threads=1,
        global_toys=1000,
        signal_grid=toy_grid(seed=6),
        overwrite=True,
    )
    assert sorted(again.execution["computed"]) == ["2200_2600", "3000_3400"]


def test_the_grid_is_split_anew_for_each_window() -> None:
    grid = toy_grid(n=400)
    from gbi.search.parametrized import window_regions

    regions = window_regions(Window(3100, 3300), np.array([1500.0, 6000.0]))
    part = grid.for_region(regions, min_events=10)
    assert part is not None
    for key, table in part.tables.items():
        assert ((table["mjj"] >= 3100) & (table["mjj"] < 3300)).all()
        assert len(table["mjj"]) + len(part.outside[key]["mjj"]) == 400
    assert grid.for_region(window_regions(Window(5000, 5400), np.array([1500.0])), 10) is None
