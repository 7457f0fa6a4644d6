"""Filesets: which ROOT files make up which dataset, and up-front checks of those files.

Accepted forms (JSON files or Python objects):

- the coffea dict form ``{"dataset": {"files": {"path.root": "Events"}}}``, where ``files``
  may also be a list of paths (tree name from ``treename``, default ``Events``) and the
  optional ``metadata`` dict is passed through;
- a plain list of paths ``["a.root", "b.root"]``: one dataset per file, named after the
  file stem.

Relative paths in a fileset JSON are relative to the JSON file's folder.

Every file is opened with uproot before processing, so a missing file, a truncated or
corrupt file, a missing tree or missing branches give one clear error naming the file
(or, with ``skip_bad_files``, a line in the summary) instead of a failure deep in a worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uproot

from gbi.errors import GbiInputError

__all__ = [
    "BadFile",
    "FileInfo",
    "check_files",
    "inspect_file",
    "inspect_files",
    "load_fileset",
    "normalize_fileset",
]

DEFAULT_TREE = "Events"
_DATASET_FIELDS = {"files", "treename", "metadata"}


@dataclass(frozen=True)
class BadFile:
    """A file that cannot be processed, with the reason in words."""

    dataset: str
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"dataset": self.dataset, "file": self.path, "reason": self.reason}


def load_fileset(path: str | Path, default_tree: str = DEFAULT_TREE) -> dict[str, dict[str, Any]]:
    """Read a fileset JSON and return it in normalised coffea form.

    ``default_tree`` is the tree of datasets that set no ``treename``.

    Raises :class:`GbiInputError` naming the file and the field on any problem.
    """
    path = Path(path)
    if not path.is_file():
        raise GbiInputError(
            f"fileset {path} does not exist (expected a JSON fileset or ROOT files)"
        )
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise GbiInputError(
            f"fileset {path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    return normalize_fileset(
        document, base=path.parent, source=str(path), default_tree=default_tree
    )


def normalize_fileset(
    fileset: Any, base: str | Path = ".", source: str = "fileset", default_tree: str = DEFAULT_TREE
) -> dict[str, dict[str, Any]]:
    """Normalise a fileset to ``{dataset: {"files": {abs_path: tree}, "metadata": {...}}}``.

    ``default_tree`` is the tree of files whose dataset sets no ``treename`` (and of a
    plain list of paths). ``source`` names the fileset in error messages.

    >>> normalize_fileset({"qcd": {"files": ["/d/a.root"]}}, source="f.json")
    {'qcd': {'files': {'/d/a.root': 'Events'}, 'metadata': {}}}
    >>> normalize_fileset({"qcd": {"file": ["a.root"]}}, source="f.json")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: f.json: dataset 'qcd' has unknown field 'file'; expected fields: 'files', 'metadata', 'treename' (did you mean 'files'?)
    """
    base = Path(base)
    if isinstance(fileset, list | tuple):
        return _from_list(fileset, base, source, default_tree)
    if not isinstance(fileset, Mapping) or not fileset:
        raise GbiInputError(
            f"{source}: expected a non-empty JSON object {{dataset: {{'files': ...}}}} or a list "
            f"of ROOT file paths, found {type(fileset).__name__} {fileset!r:.80}"
        )
    normalized: dict[str, dict[str, Any]] = {}
    for dataset, spec in fileset.items():
        if isinstance(spec, list | tuple):
            spec = {"files": list(spec)}
        if not isinstance(spec, Mapping):
            raise GbiInputError(
                f"{source}: dataset {dataset!r} must be an object with a 'files' field or a list "
                f"of paths, found {type(spec).__name__}"
            )
        unknown = set(spec) - _DATASET_FIELDS
        if unknown:
            field = sorted(unknown)[0]
            hint = _did_you_mean(field, _DATASET_FIELDS)
            raise GbiInputError(
                f"{source}: dataset {dataset!r} has unknown field {field!r}; expected fields: "
                f"{', '.join(repr(f) for f in sorted(_DATASET_FIELDS))}{hint}"
            )
        if "files" not in spec:
            raise GbiInputError(f"{source}: dataset {dataset!r} has no 'files' field")
        tree = spec.get("treename", default_tree)
        files = spec["files"]
        if isinstance(files, str):
            files = [files]
        if isinstance(files, Mapping):
            pairs = [(str(f), str(t or tree)) for f, t in files.items()]
        elif isinstance(files, list | tuple):
            pairs = [(str(f), str(tree)) for f in files]
        else:
            raise GbiInputError(
                f"{source}: dataset {dataset!r}: 'files' must be a list of paths or a "
                f"{{path: treename}} object, found {type(files).__name__}"
            )
        if not pairs:
            raise GbiInputError(f"{source}: dataset {dataset!r} lists no files")
        metadata = dict(spec.get("metadata", {}))
        if "dataset" in metadata:
            raise GbiInputError(
                f"{source}: dataset {dataset!r}: 'dataset' is reserved in 'metadata' (coffea sets it)"
            )
        normalized[str(dataset)] = {
            "files": {_resolve(f, base): t for f, t in pairs},
            "metadata": metadata,
        }
    return normalized


def _from_list(
    paths: Iterable[Any], base: Path, source: str, tree: str
) -> dict[str, dict[str, Any]]:
    fileset: dict[str, dict[str, Any]] = {}
    for entry in paths:
        if not isinstance(entry, str | Path):
            raise GbiInputError(f"{source}: expected file paths in the list, found {entry!r}")
        name = stem = Path(entry).name.removesuffix(".root")
        counter = 1
        while name in fileset:
            counter += 1
            name = f"{stem}_{counter}"
        fileset[name] = {"files": {_resolve(str(entry), base): tree}, "metadata": {}}
    if not fileset:
        raise GbiInputError(f"{source}: the list of files is empty")
    return fileset


def _resolve(path: str, base: Path) -> str:
    if "://" in path:  # remote (root://, https://, s3://): leave to uproot/fsspec
        return path
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    return str(candidate.resolve())


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_files(
    fileset: Mapping[str, Mapping[str, Any]], required_branches: Iterable[str]
) -> list[BadFile]:
    """Open every file and check its tree and branches; return the problems found.

    Returns one :class:`BadFile` per unusable file (missing, unreadable/truncated, no such
    tree, missing branches, or not a TTree). Nothing is raised here: the caller decides
    between stopping with the first problem and skipping bad files.
    """
    return inspect_files(fileset, required_branches)[0]


@dataclass
class FileInfo:
    """What :func:`inspect_files` learnt about a good file."""

    branches: set[str] = field(default_factory=set)
    entries: int = 0
    uuid: bytes = b""


def inspect_files(
    fileset: Mapping[str, Mapping[str, Any]],
    required_branches: Iterable[str],
    map_function: Callable[..., Iterable[Any]] = map,
) -> tuple[list[BadFile], dict[str, FileInfo]]:
    """:func:`check_files`, also returning the branches, entries and ROOT UUID of every good
    file (by path), so that later steps need not open the files again.

    ``map_function`` (like the built-in ``map``, which is the default) applies the check
    to every file: pass a process pool's or a dask client's map to check many files in
    parallel. Reading a TTree's metadata is pure Python: about 5 ms per file with the 13
    branches of the LHCO files, 220-330 ms with the 947 of the CMS NanoAOD test file.
    """
    required = list(required_branches)
    tasks = [
        (dataset, path, tree_name)
        for dataset, spec in fileset.items()
        for path, tree_name in spec["files"].items()
    ]
    outcomes = map_function(
        inspect_file, [path for _, path, _ in tasks], [tree for _, _, tree in tasks],
        [required] * len(tasks),
    )  # fmt: skip
    problems: list[BadFile] = []
    good: dict[str, FileInfo] = {}
    for (dataset, path, _), (reason, info) in zip(tasks, outcomes, strict=True):
        if reason:
            problems.append(BadFile(dataset, path, reason))
        else:
            good[path] = info
    return problems, good


def inspect_file(
    path: str, tree_name: str, required_branches: list[str]
) -> tuple[str | None, FileInfo]:
    """Check one file: ``(None, info)`` when it is usable, else ``(reason, info)`` where
    ``info`` holds what was learnt before the problem (use it only for good files).

    A top-level function, so that process pools and dask workers can run it.
    """
    info = FileInfo()
    reason = _check_one(path, tree_name, required_branches, info)
    return reason, info


def _check_one(path: str, tree_name: str, required: list[str], info: FileInfo) -> str | None:
    if "://" not in path and not Path(path).is_file():
        return "file does not exist; check its path"
    if "://" not in path and Path(path).stat().st_size == 0:
        return "is an empty file (0 bytes), not a ROOT file; copy it again"
    try:
        with uproot.open(path) as root_file:
            if "://" not in path:
                size, expected = Path(path).stat().st_size, int(root_file.file.fEND)
                if size < expected:
                    return (
                        f"is truncated: {size} bytes on disk, the ROOT header says {expected}; "
                        "copy it again"
                    )
            if tree_name not in root_file:
                return _no_tree(tree_name, root_file)
            tree = root_file[tree_name]
            if not isinstance(tree, uproot.TTree):
                return f"{tree_name!r} is a {type(tree).__name__}, expected a TTree"
            available = set(tree.keys())
            info.branches, info.entries = available, int(tree.num_entries)
            info.uuid = root_file.file.fUUID
            missing = [b for b in required if b not in available]
            if missing:
                return (
                    f"tree {tree_name!r} lacks the branches {', '.join(missing)} needed here; "
                    "expected NanoAOD-style FatJet branches (FatJet_pt, FatJet_eta, ..., "
                    "see gbi.features) and run/luminosityBlock/event"
                )
            if tree.num_entries == 0:
                return f"tree {tree_name!r} has no entries"
    except Exception as err:  # uproot raises many types for damaged files
        return (
            f"cannot be read as a ROOT file ({type(err).__name__}: {err}); it may be truncated "
            "or corrupt: copy it again"
        )
    return None


def _no_tree(tree_name: str, root_file: Any) -> str:
    """The reason for a missing tree, naming the trees there are and how to choose one."""
    trees = sorted(
        {k.split(";")[0] for k, c in root_file.classnames(recursive=False).items() if c == "TTree"}
    )
    keys = sorted({k.split(";")[0] for k in root_file.keys(recursive=False)})
    found = ", ".join(keys) or "nothing"
    choice = trees[0] if len(trees) == 1 else "NAME"
    return (
        f"has no tree {tree_name!r} (found: {found}); name the tree with --treename {choice} "
        "(gbi process) or 'treename' in the fileset JSON"
    )
