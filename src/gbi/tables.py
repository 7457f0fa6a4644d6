"""Feature tables: the one place gbi reads, writes, selects and stacks them.

A feature table is a Parquet file with one float column per feature (as written by
``gbi process``: ``mjj, mj1, delta_mj, tau21_j1, tau21_j2, weight`` ..., masses in GeV) or
an in-memory mapping ``column -> array``. :func:`select_columns` turns it into a float64
matrix of shape ``(n, d)``, checking that every column exists and handling rows with NaN or
infinite values: rejected with a count by default, dropped (and counted) on request.

>>> import numpy as np
>>> table = {"a": np.array([1.0, np.nan, 3.0]), "b": np.array([4.0, 5.0, 6.0])}
>>> x, info = select_columns(table, ["a", "b"], source="toy", drop_invalid=True)
>>> x.shape, info["dropped_invalid"]
((2, 2), 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError

__all__ = [
    "DEFAULT_FEATURES",
    "Table",
    "read_table",
    "select_columns",
    "subset",
    "to_matrix",
    "write_table",
]

#: A feature table: ``column -> 1D numpy array`` (all of one length).
Table = dict[str, np.ndarray]

#: The LHCO anomaly-detection features (no mjj): lighter jet mass and mass difference (GeV),
#: the two jets' tau2/tau1 (dimensionless). The one definition every stage uses.
DEFAULT_FEATURES: tuple[str, ...] = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


def subset(table: Mapping[str, np.ndarray], mask: np.ndarray) -> Table:
    """Rows ``mask`` (bool or index array) of every column.

    >>> subset({"x": np.arange(4)}, np.array([True, False, True, False]))["x"].tolist()
    [0, 2]
    """
    return {name: np.asarray(values)[mask] for name, values in table.items()}


def to_matrix(table: Mapping[str, Any], columns: Sequence[str]) -> np.ndarray:
    """Stack ``columns`` of ``table`` into a float64 array of shape ``(n, len(columns))``
    without checks (use :func:`select_columns` on untrusted input).

    >>> to_matrix({"a": [1, 2], "b": [3, 4]}, ["b", "a"]).tolist()
    [[3.0, 1.0], [4.0, 2.0]]
    """
    return np.stack([np.asarray(table[c], dtype=np.float64) for c in columns], axis=1)


def read_table(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a Parquet feature file into ``{column: numpy array}``.

    Raises :class:`GbiInputError` naming the file when it is missing or not Parquet.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise GbiInputError(
            f"feature file {str(path)!r}: expected an existing Parquet file, found nothing; "
            "check the path (features are written by 'gbi process')"
        )
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several unrelated types for bad files
        raise GbiInputError(
            f"feature file {str(path)!r}: expected a Parquet file, could not read it ({err}); "
            "regenerate it with 'gbi process'"
        ) from err
    return {name: table.column(name).to_numpy() for name in table.column_names}


def select_columns(
    table: Mapping[str, Any],
    columns: Sequence[str],
    *,
    source: str = "input",
    drop_invalid: bool = False,
    role: str = "feature",
) -> tuple[np.ndarray, dict[str, Any]]:
    """Stack ``columns`` of ``table`` into a float64 array of shape ``(n, len(columns))``.

    Parameters
    ----------
    table
        Mapping ``column -> 1D array`` (all of the same length).
    columns
        Columns to take, in order.
    source
        Name of the file or object, used in error messages.
    drop_invalid
        Drop rows with NaN/inf in any selected column instead of raising.
    role
        ``"feature"``, ``"context"`` or ``"weight"``, used in error messages.

    Returns
    -------
    x, info
        The array and ``{"n_read": ..., "dropped_invalid": ..., "keep": bool mask}``.
    """
    missing = [c for c in columns if c not in table]
    if missing:
        raise GbiInputError(
            f"{source}: expected {role} column(s) {missing}, found only {sorted(table)}; "
            f"pick {role} columns that exist (e.g. --context mjj) or regenerate the file"
        )
    if not columns:
        return np.empty((0, 0)), {"n_read": 0, "dropped_invalid": 0, "keep": np.ones(0, bool)}
    try:
        x = np.stack([np.asarray(table[c], dtype=np.float64) for c in columns], axis=1)
    except (TypeError, ValueError) as err:
        raise GbiInputError(
            f"{source}: expected numeric 1D {role} columns {list(columns)} of equal length, "
            f"could not convert them ({err})"
        ) from err
    finite = np.isfinite(x)
    keep = finite.all(axis=1)
    n_bad = int((~keep).sum())
    if n_bad and not drop_invalid:
        per_column = {c: int((~finite[:, j]).sum()) for j, c in enumerate(columns)}
        per_column = {c: n for c, n in per_column.items() if n}
        raise GbiInputError(
            f"{source}: expected finite {role} values, found {n_bad} of {len(x)} rows with NaN "
            f"or inf (per column: {per_column}); fix the input or pass --drop-invalid to drop them"
        )
    return x[keep], {"n_read": len(x), "dropped_invalid": n_bad, "keep": keep}


def write_table(columns: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Path:
    """Write ``{column: 1D array}`` to Parquet atomically (float64 columns stay float64)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gbi.io import atomic_path

    table = pa.table({k: np.asarray(v) for k, v in columns.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)
