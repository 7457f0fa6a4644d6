"""Window grids: parsing, the windows-1.0 schema and the errors of bad definitions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.search import Window, WindowGrid


def test_range_gives_low_edges_inside_start_stop():
    grid = WindowGrid.from_range("2000:3000:250", width=500)
    assert [(w.low, w.high) for w in grid.windows] == [
        (2000, 2500),
        (2250, 2750),
        (2500, 3000),
    ]
    assert grid.windows[0].center == 2250


def test_range_with_float_steps_does_not_drift():
    grid = WindowGrid.from_range("1000:2000:0.1", width=999.7)
    assert [w.name for w in grid.windows] == [
        "1000_1999.7",
        "1000.1_1999.8",
        "1000.2_1999.9",
        "1000.3_2000",
    ]


@pytest.mark.parametrize(
    ("spec", "width", "match"),
    [
        ("3000:4000", 400, "expected START:STOP:STEP"),
        ("3000:4000:x", 400, "expected START:STOP:STEP"),
        ("4000:3000:100", 400, "expected START < STOP"),
        ("3000:4000:-100", 400, "STEP > 0"),
        ("3000:4000:100", 0, "--width: expected the window width"),
        ("3000:3200:100", 400, "no window fits"),
    ],
)
def test_bad_range(spec, width, match):
    with pytest.raises(GbiInputError, match=match):
        WindowGrid.from_range(spec, width=width)


def test_inverted_duplicate_and_outside_range_windows_are_errors():
    with pytest.raises(GbiInputError, match=r"window \[3400.0, 3000.0\) GeV: expected low < high"):
        WindowGrid((Window(3400, 3000),))
    with pytest.raises(GbiInputError, match=r"window \[3000.0, 3400.0\) GeV is given twice"):
        WindowGrid((Window(3000, 3400), Window(3000.0, 3400.0)))
    with pytest.raises(GbiInputError, match="must lie strictly inside the range"):
        WindowGrid((Window(3000, 3400),), mjj_range=(3100, 5000))
    with pytest.raises(GbiInputError, match=r"control windows .* are wider than its sidebands"):
        WindowGrid((Window(3000, 3400),), sideband_width=150)
    with pytest.raises(GbiInputError, match="sideband_width: expected a width > 0 GeV"):
        WindowGrid((Window(3000, 3400),), sideband_width=-5)


def test_json_round_trip_and_schema_errors(tmp_path):
    grid = WindowGrid.from_range("3000:4000:200", width=400, sideband_width=600)
    path = tmp_path / "windows.json"
    path.write_text(json.dumps(grid.to_dict()))
    assert WindowGrid.from_json(path) == grid
    path.write_text(json.dumps({"version": "1.0", "windows": [{"low": 3000, "hihg": 3400}]}))
    with pytest.raises(GbiInputError, match="does not follow the gbi windows schema"):
        WindowGrid.from_json(path)
    path.write_text(json.dumps({"version": "1.0", "windows": [{"low": 3400, "high": 3000}]}))
    with pytest.raises(GbiInputError, match=r"windows.json: window \[3400.0, 3000.0\)"):
        WindowGrid.from_json(path)
    with pytest.raises(GbiInputError, match="does not exist"):
        WindowGrid.from_json(tmp_path / "nope.json")


def test_sidebands_and_control_windows():
    mjj = np.array([1000.0, 2500.0, 2950.0, 3100.0, 3450.0, 4100.0, 5000.0])
    window = Window(3000, 3400)
    low, high = WindowGrid((window,)).sidebands(window, mjj)
    assert low.tolist() == [True, True, True, False, False, False, False]
    assert high.tolist() == [False, False, False, False, True, True, True]
    local = WindowGrid((window,), sideband_width=600, control_width=100)
    low, high = local.sidebands(window, mjj)
    assert low.tolist() == [False, True, True, False, False, False, False]
    assert high.tolist() == [False, False, False, False, True, False, False]
    assert local.controls(window, mjj).tolist() == [False, False, True, False, True, False, False]
    # Default control width: half the window's width.
    assert WindowGrid((window,)).control_width_of(window) == 200
