"""Atomic output writing, and output folders that a command owns.

Every file is written to a temporary sibling and renamed into place: a crash or Ctrl-C
during writing leaves either the previous file or no file, never a half-written one.

:func:`prepare_output_dir` makes a command the owner of its output folder: the folder is
new or empty, or holds only what the same command wrote there before (listed in the
folder's manifest ``.gbi-output.json``), which ``overwrite=True`` removes first. So no file
of an earlier run is left beside the new ones to be read as data later.
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
from types import TracebackType
from typing import Any

from gbi.errors import GbiInputError

__all__ = [
    "MANIFEST_NAME",
    "OutputDir",
    "atomic_path",
    "prepare_output_dir",
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


#: File name of the manifest that marks a folder as a gbi command's output.
MANIFEST_NAME = ".gbi-output.json"
_MANIFEST_FORMAT = "gbi-output-1.0"
_LISTED_MAX = 5  # files named in an error message


class OutputDir:
    """An output folder owned by one gbi command; made by :func:`prepare_output_dir`.

    :meth:`finish` lists every file in the folder in its manifest (the folder held no other
    file when the command started). As a context manager, ``finish`` runs on success; on an
    error a folder without outputs is removed again (the manifest, and the folder itself
    when this run created it), and partial outputs are listed in a manifest that marks
    the run as unfinished (``"complete": false``), so that ``overwrite`` can replace them.
    A run killed outright leaves its first manifest, which lists no file: then the folder
    is refused, naming the files, and the user removes them.
    """

    def __init__(self, path: Path, command: str, created: bool) -> None:
        self.path, self.command, self.created = path, command, created

    def finish(self, *, complete: bool = True) -> Path:
        """Write the manifest listing the command's outputs; return its path."""
        files = sorted(_files_in(self.path))
        return _write_manifest(self.path, self.command, files, complete=complete)

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        elif _files_in(self.path):
            self.finish(complete=False)
        else:  # nothing written: leave the folder as it was
            (self.path / MANIFEST_NAME).unlink(missing_ok=True)
            _prune_empty_dirs(self.path, keep_root=not self.created)


def prepare_output_dir(path: str | os.PathLike[str], *, overwrite: bool, command: str) -> OutputDir:
    """Make ``path`` the output folder of ``command`` (e.g. ``"process"``, ``"fit --plot"``).

    - a folder that does not exist is created; an empty one is used;
    - a folder that ``command`` wrote before (its manifest says so) is refused unless
      ``overwrite``; with ``overwrite`` the files that the manifest lists are removed first;
    - any other file in the folder (not listed in a manifest of ``command``) is never
      removed: the folder is refused, naming those files.

    Raises :class:`GbiInputError` when the folder is refused. Returns an :class:`OutputDir`
    whose ``finish()`` (or ``with`` block) writes the manifest at the end. A command that
    has an ``--out`` folder uses it in one line:
    ``with prepare_output_dir(args.out, overwrite=args.overwrite, command="detect"):``.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with prepare_output_dir(out, overwrite=False, command="demo"):
    ...     _ = (out / "result.json").write_text("{}")
    >>> prepare_output_dir(out, overwrite=False, command="demo")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: output folder ... holds the outputs of an earlier 'gbi demo' run (result.json); pass --overwrite to replace them, or choose another folder
    >>> _ = prepare_output_dir(out, overwrite=True, command="demo")
    >>> sorted(p.name for p in out.iterdir())
    ['.gbi-output.json']
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GbiInputError(
            f"output folder {str(path)!r} is a file; expected a folder (new or empty): "
            "choose another path"
        )
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    top_level = {entry.name for entry in os.scandir(path)} - {MANIFEST_NAME}
    if top_level:
        manifest = _read_manifest(path)
        # a folder that is not gbi's (a home folder, say) is refused without walking it
        present = _files_in(path) if manifest is not None else top_level
        if present:  # else only empty folders of gbi's, pruned below
            _check_owner(path, command, manifest, present, overwrite)
        for name in present:  # all listed in the manifest (checked): only what gbi wrote
            (path / name).unlink(missing_ok=True)
        _prune_empty_dirs(path, keep_root=True)
    _write_manifest(path, command, [], complete=False)
    return OutputDir(path, command, created)


def _check_owner(
    path: Path, command: str, manifest: dict[str, Any] | None, present: set[str], overwrite: bool
) -> None:
    """Raise :class:`GbiInputError` unless ``overwrite`` may replace everything present."""
    where = f"output folder {str(path)!r}"
    if manifest is None:
        raise GbiInputError(
            f"{where} is not empty and was not written by gbi {command} (it has no "
            f"{MANIFEST_NAME}); found {_some(present)}; expected a new or empty folder: "
            "choose another folder, or move those files away"
        )
    if manifest["command"] != command:
        raise GbiInputError(
            f"{where} holds the outputs of 'gbi {manifest['command']}', not of "
            f"'gbi {command}': choose another folder"
        )
    unknown = present - set(manifest["files"])
    if unknown:
        state = "" if manifest.get("complete") else " (an unfinished run)"
        raise GbiInputError(
            f"{where} has files that the earlier 'gbi {command}' run{state} did not list as "
            f"its outputs: {_some(unknown)}; gbi never removes files it did not write: move "
            "them away, or choose another folder"
        )
    if not overwrite:
        state = "" if manifest.get("complete") else "unfinished "
        raise GbiInputError(
            f"{where} holds the outputs of an earlier {state}'gbi {command}' run "
            f"({_some(present)}); pass --overwrite to replace them, or choose another folder"
        )


def _some(names: set[str]) -> str:
    listed = sorted(names)
    more = f" and {len(listed) - _LISTED_MAX} more" if len(listed) > _LISTED_MAX else ""
    return ", ".join(listed[:_LISTED_MAX]) + more


def _files_in(folder: Path) -> set[str]:
    """Relative POSIX paths of the files (and links) under ``folder``, manifest excluded."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]  # never walked into
        for name in [*files, *links]:
            found.add((here / name).relative_to(folder).as_posix())
    found.discard(MANIFEST_NAME)
    return found


def _prune_empty_dirs(folder: Path, *, keep_root: bool) -> None:
    for root, _, _ in sorted(os.walk(folder), key=lambda item: -len(item[0])):
        if keep_root and Path(root) == folder:
            continue
        with contextlib.suppress(OSError):  # not empty: a file is left there
            Path(root).rmdir()


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it has none or one that is not gbi's."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != _MANIFEST_FORMAT
        or not isinstance(manifest.get("command"), str)
        or not isinstance(manifest.get("files"), list)
        or not all(isinstance(f, str) for f in manifest["files"])
    ):
        return None
    return manifest


def _write_manifest(folder: Path, command: str, files: list[str], complete: bool = True) -> Path:
    from gbi import __version__

    document = {
        "format": _MANIFEST_FORMAT,
        "command": command,
        "gbi_version": __version__,
        "complete": complete,
        "files": files,
    }
    return write_json(document, folder / MANIFEST_NAME)
