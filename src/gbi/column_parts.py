"""Per-chunk feature columns spilled to disk, then merged into one Parquet file per dataset.

Accumulating every chunk's columns in memory (coffea's accumulator) makes the peak memory
of ``gbi process`` grow with the number of events: 69 bytes per event kept (11 columns),
7 GB for 100M events; measured, 242 -> 394 MiB from 50k to 1.6M events
(``ci/bench_process.py``). Instead, with a ``columns_dir``, each chunk
writes its columns to one uncompressed part file (atomically) and hands back only the
part's path; :func:`merge_column_parts` then streams the parts, in sorted chunk-key order,
into the dataset's Parquet file with ``ak.to_parquet_row_groups``, holding at most one row
group (``rows_per_group`` events) in memory. The file has the same columns, types and
event order as one written from the in-memory columns.

The parts folder must be visible to every worker: a local executor (iterative, futures,
a ``LocalCluster``) shares this machine's disk; a remote dask cluster may not, so
``gbi process --scheduler`` keeps the columns in memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from gbi.errors import GbiError
from gbi.io import atomic_path

__all__ = ["merge_column_parts", "part_path", "write_column_part"]

#: Rows per Parquet row group when merging (about 17 MB of feature columns).
ROWS_PER_GROUP = 262_144


def part_path(columns_dir: str | os.PathLike[str], dataset: str, chunk_key: str) -> Path:
    """Where the part of ``chunk_key`` (``"<file>::<entrystart>"``) of ``dataset`` goes.

    >>> part_path("/tmp/parts", "qcd", "a.root::000000000000000").name
    'e22d6a4ddb812c645779ed53.npy'
    """
    digest = hashlib.sha256(f"{dataset}\0{chunk_key}".encode()).hexdigest()[:24]
    return Path(columns_dir) / digest[:2] / f"{digest}.npy"


def write_column_part(columns: Mapping[str, np.ndarray], target: str | os.PathLike[str]) -> Path:
    """Write one chunk's columns (equal-length 1D arrays) uncompressed, atomically.

    The part is the column names, then each column, as consecutive ``.npy`` records in one
    file (``np.save``): a plain copy of the buffers, no container and no conversion. With
    ``.npz`` parts (zip checksums) a warm 800k-event run took 1.44 s against 1.23 s in
    memory. With these parts, as with Arrow IPC ones, spilling costs about 10% of a fresh
    400k-event ``gbi process`` run here (median 0.63 s against 0.57 s).
    """
    names = list(columns)
    with atomic_path(target) as tmp, tmp.open("wb") as stream:
        np.save(stream, np.array(names, dtype=str), allow_pickle=False)
        for name in names:
            np.save(stream, np.ascontiguousarray(columns[name]), allow_pickle=False)
    return Path(target)


def _read_part(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as stream:
        names = np.load(stream, allow_pickle=False).tolist()
        return {name: np.load(stream, allow_pickle=False) for name in names}


def _row_groups(
    paths: list[Path], dataset: str, rows_per_group: int
) -> Iterator[dict[str, np.ndarray]]:
    names: list[str] | None = None
    pending: list[dict[str, np.ndarray]] = []
    pending_rows = 0
    for path in paths:
        columns = _read_part(path)
        if names is None:
            names = list(columns)
        elif sorted(columns) != sorted(names):
            raise GbiError(
                f"dataset {dataset!r}: the chunk in {path} has columns {sorted(columns)}, "
                f"the first chunk {sorted(names)}; every file of a dataset must have the "
                "same branches (e.g. all or none with 'label'): split the dataset"
            )
        pending.append(columns)
        pending_rows += len(next(iter(columns.values()), ()))
        if pending_rows >= rows_per_group:
            yield {name: np.concatenate([part[name] for part in pending]) for name in names}
            pending, pending_rows = [], 0
    if pending and names is not None:
        yield {name: np.concatenate([part[name] for part in pending]) for name in names}


def merge_column_parts(
    parts: Mapping[str, str | os.PathLike[str]],
    target: str | os.PathLike[str],
    *,
    dataset: str = "",
    rows_per_group: int = ROWS_PER_GROUP,
) -> Path:
    """Stream the parts ``{chunk_key: path}`` into one Parquet file, in sorted key order.

    ``target`` is written atomically; at most ``rows_per_group`` events (plus one part) are
    in memory at a time. Raises :class:`GbiError` when two parts have different columns.

    >>> import tempfile, awkward as ak
    >>> d = Path(tempfile.mkdtemp())
    >>> a = write_column_part({"x": np.array([3.0])}, d / "a.npy")
    >>> b = write_column_part({"x": np.array([1.0, 2.0])}, d / "b.npy")
    >>> _ = merge_column_parts({"f::000000000000010": a, "f::000000000000000": b}, d / "x.parquet")
    >>> ak.from_parquet(d / "x.parquet")["x"].tolist()
    [1.0, 2.0, 3.0]
    """
    import awkward as ak

    if not parts:
        raise GbiError(f"dataset {dataset!r}: no column parts to merge")
    paths = [Path(parts[key]) for key in sorted(parts)]
    groups = (ak.zip(group, depth_limit=1) for group in _row_groups(paths, dataset, rows_per_group))
    with atomic_path(target) as tmp:
        ak.to_parquet_row_groups(groups, tmp)
    return Path(target)
