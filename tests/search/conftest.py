"""Fixtures of the search tests: one toy dataset with a bump and one scan of it, shared."""

from __future__ import annotations

import pytest
from search_toys import FEATURES, MASS, toy_data

from gbi.search import Window, WindowConfig, WindowGrid, run_search


@pytest.fixture(scope="session")
def toy():
    """20k background events and 200 signal events at 3200 GeV (``label`` = truth)."""
    return toy_data(n_background=20_000, n_signal=200, mass=MASS, seed=0)


@pytest.fixture(scope="session")
def config():
    return WindowConfig.small(features=FEATURES)


@pytest.fixture(scope="session")
def grid():
    """Four windows of 400 GeV over 2200-3800 GeV, plus one without a low sideband and
    one above the data (both skipped)."""
    sliding = WindowGrid.from_range("2200:3800:400", width=400).windows
    return WindowGrid((*sliding, Window(1500, 1900), Window(7000, 7400)))


@pytest.fixture(scope="session")
def scan_dir(tmp_path_factory, toy, grid, config):
    out = tmp_path_factory.mktemp("scan")
    result = run_search(toy, grid, config, out_dir=out, threads=1, global_toys=20_000)
    return out, result
