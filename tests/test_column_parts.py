"""Columns spilled per chunk and merged into Parquet equal the in-memory columns."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from gbi.column_parts import merge_column_parts, part_path, write_column_part
from gbi.errors import GbiError
from gbi.processors import assemble_columns


def _chunks(rng: np.random.Generator, sizes: list[int]) -> dict[str, dict[str, np.ndarray]]:
    return {
        f"file.root::{start:015d}": {
            "mjj": rng.normal(3500.0, 500.0, size),
            "region": rng.integers(-1, 3, size).astype(np.int8),
            "event": rng.integers(0, 2**40, size).astype(np.uint64),
            "run": np.ones(size, dtype=np.uint32),
        }
        for start, size in zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True)
    }


@pytest.mark.parametrize("rows_per_group", [1, 700, 10_000])
def test_merge_equals_in_memory_columns(tmp_path, rows_per_group):
    """Same values, types and event order as ``ak.to_parquet`` of the assembled columns,
    whatever order the parts finished in and however they are grouped; an empty chunk
    included."""
    chunks = _chunks(np.random.default_rng(1), [500, 0, 1200, 37, 800])
    finished = list(reversed(list(chunks)))  # the order the parts arrive does not matter
    parts = {
        key: write_column_part(chunks[key], part_path(tmp_path / "parts", "qcd", key))
        for key in finished
    }
    merge_column_parts(parts, tmp_path / "merged.parquet", rows_per_group=rows_per_group)
    ak.to_parquet(ak.zip(assemble_columns(chunks), depth_limit=1), tmp_path / "ref.parquet")
    merged = ak.from_parquet(tmp_path / "merged.parquet")
    reference = ak.from_parquet(tmp_path / "ref.parquet")
    assert str(merged.type) == str(reference.type)
    assert ak.array_equal(merged, reference)


def test_parts_with_different_columns_are_refused(tmp_path):
    chunks = _chunks(np.random.default_rng(2), [10, 10])
    second = sorted(chunks)[1]
    chunks[second]["label"] = np.zeros(10, dtype=np.int32)
    parts = {
        key: write_column_part(chunks[key], tmp_path / f"{i}.npy") for i, key in enumerate(chunks)
    }
    with pytest.raises(GbiError, match=r"dataset 'qcd'.*same branches.*'label'"):
        merge_column_parts(parts, tmp_path / "x.parquet", dataset="qcd")
    assert not (tmp_path / "x.parquet").exists()


def test_no_parts_is_an_error(tmp_path):
    with pytest.raises(GbiError, match="no column parts"):
        merge_column_parts({}, tmp_path / "x.parquet", dataset="qcd")
