from __future__ import annotations

import json

import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.regions import Regions


def test_default_is_lhco_signal_region():
    regions = Regions()
    assert regions.signal_region == (3300.0, 3700.0)
    mjj = np.array([3299.9, 3300.0, 3500.0, 3700.0])
    assert regions.in_signal_region(mjj).tolist() == [False, True, True, False]
    assert regions.in_sidebands(mjj).tolist() == [True, False, False, True]


def test_json_round_trip(tmp_path):
    regions = Regions(sr_low=3000, sr_high=3400, range_low=1500, range_high=8000)
    path = tmp_path / "regions.json"
    path.write_text(json.dumps(regions.to_dict()))
    assert Regions.from_json(path) == regions


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sr_low": 3700, "sr_high": 3300}, "signal_region: expected low < high"),
        ({"sr_low": 500, "sr_high": 3300}, "must lie strictly inside range"),
        ({"sr_low": 3300, "sr_high": 12000}, "must lie strictly inside range"),
        ({"range_low": 5000, "range_high": 2000}, "range: expected low < high"),
        ({"sr_low": float("nan")}, "sr_low: expected a finite"),
    ],
)
def test_invalid_definitions_are_rejected(kwargs, message):
    with pytest.raises(GbiInputError, match=message):
        Regions(**kwargs)


def test_schema_errors_name_the_field_and_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": "1.0", "signal_region": [3300]}))
    with pytest.raises(GbiInputError, match=r"bad\.json .*at signal_region: .*too short"):
        Regions.from_json(path)
    path.write_text(json.dumps({"version": "9.9", "signal_region": [3300, 3700]}))
    with pytest.raises(GbiInputError, match=r"unknown regions schema version '9\.9'"):
        Regions.from_json(path)
    path.write_text("{not json")
    with pytest.raises(GbiInputError, match="is not valid JSON"):
        Regions.from_json(path)
