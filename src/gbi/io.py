"""Atomic output writing: every file is written to a temporary sibling and renamed into place.

A crash or Ctrl-C during writing leaves either the previous file or no file, never a
half-written one.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "write_json",
    "write_parquet",
    "write_pickle",
    "write_root_histograms",
]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed and
    ``target`` is left untouched.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    # os.umask can only be read by setting it: without the lock, two threads writing
    # outputs at once (gbi.feature_job writes the Parquet files on threads) could leave
    # the process umask at 0.
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def write_json(obj: Any, target: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")
    return Path(target)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_pickle(obj: Any, target: str | os.PathLike[str]) -> Path:
    """Pickle ``obj`` atomically (used for ``hist.Hist`` dictionaries)."""
    with atomic_path(target) as tmp, tmp.open("wb") as stream:
        pickle.dump(obj, stream, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(target)


def write_parquet(array: Any, target: str | os.PathLike[str]) -> Path:
    """Write an awkward array (or a dict of equal-length columns) to Parquet atomically."""
    import awkward as ak

    if isinstance(array, dict):
        array = ak.zip(dict(array), depth_limit=1)
    with atomic_path(target) as tmp:
        ak.to_parquet(array, tmp)
    return Path(target)


def write_root_histograms(histograms: dict[str, Any], target: str | os.PathLike[str]) -> Path:
    """Write ``{path: hist.Hist}`` (1D) to a ROOT file of TH1Ds with uproot, atomically.

    Keys may contain ``/`` to make ROOT directories, e.g. ``"qcd/mjj_SR"``.
    """
    import uproot

    with atomic_path(target) as tmp, uproot.recreate(tmp) as root_file:
        for key, histogram in histograms.items():
            root_file[key] = histogram
    return Path(target)
