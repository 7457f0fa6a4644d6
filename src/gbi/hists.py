"""Histogram files as data: UHI JSON writing and reading, and the explicit pickle opt-in.

gbi writes its ``hist.Hist`` outputs in the UHI JSON format of Scikit-HEP (the ``uhi``
package's histogram schema, via ``hist.serialization.to_uhi`` / ``from_uhi``): a JSON
object of named histograms, ``{"<dataset>/<feature>": histogram}``. Nested dicts such as
``{dataset: {feature: hist.Hist}}`` are flattened with ``/``, the convention of ``uhi``'s
own file reader (``uhi.io``), and :func:`nest` undoes it. Reading a JSON file cannot run
code; bin contents (events, or sum of weights), variances (events²) and bin edges (the
axis unit, e.g. GeV) round-trip exactly (floats are written with Python's shortest
round-tripping ``repr``; ``tests/test_no_code_in_files.py`` checks Weight storage with
category and regular axes bit for bit).

Pickles (``histograms.pkl``, still written by ``gbi process`` for coffea users) can run
arbitrary code when they are loaded, so gbi never loads one unless asked:
:func:`load_pickle` refuses without ``allow_pickle=True`` and says why.

>>> import hist, tempfile, pathlib
>>> h = hist.Hist.new.StrCat(["SR"], name="region").Reg(2, 0, 2, name="mjj").Weight()
>>> _ = h.fill(region="SR", mjj=[0.5, 1.5], weight=[0.5, 2.0])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "histograms.json"
>>> _ = write_histograms({"qcd": {"mjj": h}}, path)
>>> read_histogram(path, "qcd/mjj") == h
True
>>> read_histogram(path, "qcd/mj1")
Traceback (most recent call last):
...
gbi.errors.GbiInputError: ...histograms.json: no histogram 'qcd/mj1'; it holds ['qcd/mjj']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gbi.errors import GbiInputError
from gbi.io import atomic_path

__all__ = [
    "PICKLE_RISK",
    "flatten",
    "load_pickle",
    "nest",
    "read_histogram",
    "read_histograms",
    "write_histograms",
]

PICKLE_RISK = "a pickle can run arbitrary code when it is loaded"


def flatten(hists: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{a: {b: h}}`` -> ``{"a/b": h}`` (any depth).

    >>> flatten({"qcd": {"mjj": 1, "mj1": 2}, "sig": 3})
    {'qcd/mjj': 1, 'qcd/mj1': 2, 'sig': 3}
    """
    flat: dict[str, Any] = {}
    for key, value in hists.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, prefix=f"{name}/"))
        else:
            flat[name] = value
    return flat


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a/b": h}`` -> ``{a: {b: h}}``, the inverse of :func:`flatten`.

    >>> nest({"qcd/mjj": 1, "qcd/mj1": 2, "sig": 3})
    {'qcd': {'mjj': 1, 'mj1': 2}, 'sig': 3}
    """
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split("/")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def write_histograms(hists: Mapping[str, Any], target: str | os.PathLike[str]) -> Path:
    """Write ``hist.Hist`` objects (a dict, nested dicts allowed) as UHI JSON, atomically."""
    from hist.serialization import to_uhi
    from uhi.io.json import default

    document = {key: to_uhi(histogram) for key, histogram in flatten(hists).items()}
    with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as stream:
        json.dump(document, stream, default=default, separators=(",", ":"))
    return Path(target)


def read_histograms(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a UHI JSON file written by :func:`write_histograms`: ``{name: hist.Hist}``.

    A file holding one histogram (a top-level ``uhi_schema`` key) is returned as
    ``{"": histogram}``. Raises :class:`GbiInputError` naming the file (and the histogram)
    for a missing, unreadable or non-UHI file.
    """
    path = Path(path)
    document = _document(path)
    return {key: _from_uhi(value, path, key) for key, value in document.items()}


def read_histogram(path: str | os.PathLike[str], key: str) -> Any:
    """The histogram ``key`` (e.g. ``"qcd/mjj"``) of a UHI JSON file (only it is decoded)."""
    path = Path(path)
    document = _document(path)
    if key not in document:
        found = sorted(document)
        shown = found[:20] + (["..."] if len(found) > 20 else [])
        raise GbiInputError(f"{path}: no histogram {key!r}; it holds {shown}")
    return _from_uhi(document[key], path, key)


def _document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise GbiInputError(
            f"histogram file {str(path)!r} does not exist: expected a UHI JSON file "
            "written by gbi (e.g. the histograms.json of 'gbi process')"
        )
    try:
        with path.open(encoding="utf-8") as stream:
            document = json.load(stream)
    except (ValueError, UnicodeDecodeError) as err:
        raise GbiInputError(
            f"{path}: expected a UHI JSON histogram file, found content that is not JSON "
            f"({err}); re-write it with gbi or check that it is the right file"
        ) from err
    if isinstance(document, dict) and "uhi_schema" in document:
        return {"": document}
    if not isinstance(document, dict):
        raise GbiInputError(
            f"{path}: expected a JSON object of named UHI histograms, found a JSON "
            f"{type(document).__name__}; re-write it with gbi or check that it is the right file"
        )
    return {str(key): value for key, value in document.items()}


def _from_uhi(document: Any, path: Path, key: str) -> Any:
    from hist.serialization import from_uhi
    from uhi.io.json import object_hook

    try:
        return from_uhi(object_hook(dict(document)))  # raises on a non-dict too
    except Exception as err:  # boost-histogram raises KeyError, TypeError, ValueError, ...
        detail = _schema_problem(document) or f"{type(err).__name__}: {err}"
        raise GbiInputError(
            f"{path}: histogram {key!r} is not a valid UHI histogram ({detail}); "
            "re-write the file with gbi or check that it is the right file"
        ) from err


def _schema_problem(document: Any) -> str | None:
    """The first violation of uhi's histogram schema, for a precise error message."""
    from importlib import resources

    import jsonschema

    schema = json.loads(
        (resources.files("uhi") / "resources" / "histogram.schema.json").read_text()
    )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft7Validator(schema).iter_errors(document)
    )
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path)) or "top level"
    return f"at {where}: {error.message[:200]}"


def load_pickle(path: str | os.PathLike[str], *, allow_pickle: bool = False, hint: str = "") -> Any:
    """Unpickle ``path`` only when ``allow_pickle`` is true; otherwise refuse and say why.

    ``hint`` tells the caller's way to opt in or the data file to read instead.

    >>> load_pickle("out/histograms.pkl", hint="read out/histograms.json instead")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: out/histograms.pkl: refusing to load a pickle: a pickle can run arbitrary code when it is loaded, so gbi reads one only when asked; read out/histograms.json instead
    """
    path = Path(path)
    if not allow_pickle:
        raise GbiInputError(
            f"{path}: refusing to load a pickle: {PICKLE_RISK}, so gbi reads one only when "
            f"asked; {hint or 'pass allow_pickle=True, only for a file you trust'}"
        )
    import pickle

    with path.open("rb") as stream:
        try:
            return pickle.load(stream)  # explicitly allowed by the caller
        except Exception as err:  # UnpicklingError, EOFError, AttributeError, ...
            raise GbiInputError(
                f"{path}: expected a pickle, could not load it ({type(err).__name__}: {err})"
            ) from err
