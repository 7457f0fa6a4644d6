"""Reading the feature inputs of a run: Parquet files or ``gbi process`` output folders.

A ``gbi process`` folder is read through its ``summary.json``: exactly the datasets it
lists (``datasets.<name>.features_file``), so a stale ``features/old.parquet`` left by an
earlier run into the same folder is never read. A plain folder without ``summary.json``
is read as its ``*.parquet`` files. Rows with NaN/inf in the needed columns are rejected
with a count, or dropped and counted with ``drop_invalid`` (:func:`gbi.tables.select_columns`,
the same handling as ``gbi amplify train``). Masses stay in GeV.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gbi.errors import GbiInputError
from gbi.tables import Table, read_table, select_columns

__all__ = ["FeatureInput", "feature_files", "read_features"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class FeatureInput:
    """A concatenated feature table and where it came from."""

    table: Table
    files: list[Path]
    n_read: int
    dropped_invalid: int = 0


def _process_folder_files(folder: Path, what: str) -> list[Path]:
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(summary_path.read_text())
        datasets = summary["datasets"]
        files = [folder / info["features_file"] for info in datasets.values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise GbiInputError(
            f"{what}: {str(summary_path)!r}: expected the summary of 'gbi process' listing "
            f"datasets with a features_file, could not read it ({err!r}); rerun 'gbi process'"
        ) from err
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise GbiInputError(
            f"{what}: {str(summary_path)!r} lists feature files that do not exist: {missing}; "
            "rerun 'gbi process' into this folder"
        )
    return files


def feature_files(paths: Sequence[str | Path], what: str = "features") -> list[Path]:
    """The Parquet files that ``paths`` (files or folders) stand for (see module doc)."""
    files: list[Path] = []
    for entry in map(Path, paths):
        if not entry.is_dir():
            files.append(entry)
        elif (entry / "summary.json").is_file():
            files += _process_folder_files(entry, what)
        elif (entry / "features").is_dir():
            raise GbiInputError(
                f"{what}: folder {str(entry)!r} has a features/ folder but no summary.json, so "
                "which datasets belong to it is unknown; rerun 'gbi process' into it or pass "
                "the Parquet files"
            )
        else:
            found = sorted(entry.glob("*.parquet"))
            if not found:
                raise GbiInputError(
                    f"{what}: folder {str(entry)!r} holds no Parquet feature files; "
                    "run 'gbi process' first"
                )
            files += found
    return files


def read_features(
    paths: Sequence[str | Path] | None,
    what: str = "features",
    *,
    columns: Sequence[str] = (),
    drop_invalid: bool = False,
) -> FeatureInput | None:
    """Concatenated table of ``paths`` (columns common to all files; ``None`` if no paths).

    ``columns`` (e.g. the features and mjj) must exist and be finite; with ``drop_invalid``
    rows with NaN/inf in them are dropped from every column and counted (logged).
    """
    if not paths:
        return None
    files = feature_files(paths, what)
    tables = [read_table(f) for f in files]
    common = set.intersection(*(set(t) for t in tables))
    table = {k: np.concatenate([t[k] for t in tables]) for k in sorted(common)}
    n_read = len(next(iter(table.values()))) if table else 0
    log.info("%s: read %d events from %s", what, n_read, ", ".join(map(str, files)))
    dropped = 0
    if columns:
        source = f"{what} ({', '.join(map(str, files))})"
        _, info = select_columns(table, list(columns), source=source, drop_invalid=drop_invalid)
        dropped = int(info["dropped_invalid"])
        if dropped:
            log.warning("dropped %d events with NaN/inf values from %s", dropped, source)
            table = {k: v[info["keep"]] for k, v in table.items()}
    return FeatureInput(table, files, n_read, dropped)
