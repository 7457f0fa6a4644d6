"""Row windows of feature tables (``--select`` / ``--exclude``) and the context helpers."""

from __future__ import annotations

import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.flows.context import MjjKDE, context_for_sampling, resample_context
from gbi.flows.windows import Window, apply_windows


def test_keep_and_drop_partition_the_table_half_open() -> None:
    table = {"mjj": np.array([3299.9, 3300.0, 3500.0, 3700.0]), "w": np.arange(4.0)}
    sr = Window("mjj", 3300.0, 3700.0)
    assert sr.keep(table)["w"].tolist() == [1.0, 2.0]
    assert sr.drop(table)["w"].tolist() == [0.0, 3.0]
    both = apply_windows(table, select=Window("mjj", 3000, 3600), exclude=Window("mjj", 3400, 3600))
    assert both["mjj"].tolist() == [3299.9, 3300.0]


def test_missing_column_names_the_source() -> None:
    with pytest.raises(GbiInputError, match=r"f.parquet: expected column 'mjj'.*\['x'\]"):
        Window("mjj", 0, 1).keep({"x": np.zeros(3)}, "f.parquet")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["mjj", "a", "1"], "expected numbers for LOW and HIGH"),
        (["mjj", "2", "1"], "expected finite LOW < HIGH"),
        (["mjj", "nan", "1"], "expected finite LOW < HIGH"),
        (["mjj", "1"], "expected COLUMN LOW HIGH"),
    ],
)
def test_parse_rejects_bad_specs(spec, message) -> None:
    with pytest.raises(GbiInputError, match=message):
        Window.parse(spec, "--exclude")


def test_context_for_sampling() -> None:
    m = np.array([3100.0, np.nan, 3500.0, 3600.0])
    assert context_for_sampling((), None) is None
    with pytest.raises(GbiInputError, match="unconditional"):
        context_for_sampling((), {"mjj": m})
    with pytest.raises(GbiInputError, match="--context-from FILE"):
        context_for_sampling(("mjj",), None)
    rows = context_for_sampling(("mjj",), {"mjj": m})
    assert rows.tolist() == [[3100.0], [3500.0], [3600.0]]  # the NaN row dropped
    kde = context_for_sampling(("mjj",), {"mjj": m}, kde_window=(3000.0, 3700.0))
    assert isinstance(kde, MjjKDE)
    with pytest.raises(GbiInputError, match="one context column"):
        context_for_sampling(("mjj", "x"), {"mjj": m, "x": m}, kde_window=(3000.0, 3700.0))


def test_resample_context_keeps_or_bootstraps_rows() -> None:
    values = np.arange(4.0)[:, None]
    assert np.array_equal(resample_context(values, 3), values)  # enough rows: all, in order
    big = resample_context(values, 100, seed=3)
    assert big.shape == (100, 1)
    assert set(big[:, 0]) <= {0.0, 1.0, 2.0, 3.0}
    assert np.array_equal(big, resample_context(values, 100, seed=3))
