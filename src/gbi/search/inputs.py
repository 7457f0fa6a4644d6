"""Read the search's input: Parquet feature files or ``gbi process`` output folders.

Each file is read with :func:`gbi.tables.read_table`; a folder contributes its
``features/*.parquet`` (or its own ``*.parquet``). The tables are concatenated on their
common columns, in the order given. (A reader of process folders that honours their
``summary.json`` is on its way in ``gbi.tables``; this one is the minimal stand-in.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gbi.errors import GbiInputError
from gbi.tables import Table, read_table

__all__ = ["read_features"]


def read_features(paths: Sequence[str | os.PathLike[str]]) -> Table:
    """One feature table ``{column: (n,)}`` from the files and folders in ``paths``."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = sorted((entry / "features").glob("*.parquet")) or sorted(
                entry.glob("*.parquet")
            )
            if not found:
                raise GbiInputError(
                    f"features: folder {str(entry)!r} holds no Parquet feature files, expected "
                    "features/*.parquet; run 'gbi process' on the ROOT files first"
                )
            files += found
        else:
            files.append(entry)
    if not files:
        raise GbiInputError("features: expected at least one Parquet file or folder, found none")
    tables = [read_table(f) for f in files]
    common = set.intersection(*(set(t) for t in tables))
    return {k: np.concatenate([t[k] for t in tables]) for k in sorted(common)}
