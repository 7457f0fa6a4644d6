"""Histogram references and 1D templates: what the workspace builder eats.

A *histogram reference* names one 1D histogram in a file:

``FILE.json:KEY[SELECTION]``
    a UHI JSON file of named ``hist.Hist`` (:mod:`gbi.hists`), as ``gbi process`` writes
    (``DIR/histograms.json`` = ``{"<dataset>/<name>": histogram}``) and ``gbi detect``
    (``hists.json``). ``KEY`` is the histogram's name, e.g. ``qcd/mjj``. ``SELECTION`` picks
    one value of each extra axis, e.g. ``qcd/mjj[region=SR]``; a continuous axis can be
    summed over a range of bin edges, ``[region=SR,score=0.8:]`` (``lo:hi``, either side
    open). Axes not named in the selection must leave exactly one axis: the observable. A
    range on the observable itself restricts it to those bins:
    ``qcd/mjj[region=SR,mjj=3300:3700]``.
``FILE.root:PATH``
    a TH1 in a ROOT file, read with uproot (sum of weights squared becomes the variance).
``FILE.pkl:KEY[SELECTION]``
    a pickled (nested) dict of ``hist.Hist`` (``KEY`` walks it with ``/``). A pickle can run
    code when it is loaded, so it is read only with ``allow_pickle=True`` (``gbi workspace
    --allow-pickle``, ``allow_pickle: true`` in a workspace config); use the JSON file.

A :class:`Template` is the plain-array form: bin contents (events), variances
(events², the finite-statistics uncertainty of MC or generator samples) and edges
(units of the observable, e.g. GeV).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.hists import load_pickle, read_histogram

__all__ = ["Template", "load_hist", "parse_ref", "template_from_hist"]

_REF = re.compile(
    r"^(?P<file>.+?\.(?:json|pkl|pickle|root)):(?P<key>[^\[\]]+)(?:\[(?P<sel>[^\]]*)\])?$"
)


@dataclass(frozen=True)
class Template:
    """One binned 1D template.

    ``values`` and ``variances`` have shape ``(nbins,)``, ``edges`` has ``(nbins + 1,)``.
    ``variances`` is ``None`` for histograms without a variance (Double storage).

    >>> t = Template(np.array([1.0, 2.0]), np.array([1.0, 4.0]), np.array([0.0, 1.0, 2.0]))
    >>> t.nbins, t.total
    (2, 3.0)
    """

    values: np.ndarray
    variances: np.ndarray | None
    edges: np.ndarray
    source: str = "<array>"

    @property
    def nbins(self) -> int:
        return int(self.values.shape[0])

    @property
    def total(self) -> float:
        return float(np.sum(self.values))

    def scaled(self, factor: float) -> Template:
        """Multiply contents by ``factor`` (variances by ``factor**2``)."""
        variances = None if self.variances is None else self.variances * factor**2
        return Template(self.values * factor, variances, self.edges, self.source)


def template_from_hist(histogram: Any, source: str = "<hist>") -> Template:
    """Convert a 1D ``hist.Hist`` (or a :class:`Template`) to a :class:`Template`.

    >>> import hist
    >>> h = hist.Hist.new.Reg(2, 0, 2, name="x").Weight()
    >>> h.fill(x=[0.5, 1.5, 1.5], weight=[1.0, 2.0, 2.0])
    Hist(Regular(2, 0, 2, name='x'), storage=Weight()) # Sum: WeightedSum(value=5, variance=9)
    >>> template_from_hist(h).variances
    array([1., 8.])
    """
    if isinstance(histogram, Template):
        return histogram
    if not hasattr(histogram, "axes") or not hasattr(histogram, "values"):
        raise GbiInputError(
            f"{source}: expected a 1D hist.Hist, found {type(histogram).__name__}; "
            "pass a hist.Hist with Weight storage or a histogram reference FILE.json:KEY"
        )
    if histogram.ndim != 1:
        names = [axis.name for axis in histogram.axes]
        raise GbiInputError(
            f"{source}: expected a 1D histogram, found {histogram.ndim} axes {names}; "
            "select the extra axes, e.g. KEY[region=SR]"
        )
    axis = histogram.axes[0]
    if not hasattr(axis, "edges") or (getattr(axis, "traits", None) and axis.traits.discrete):
        raise GbiInputError(f"{source}: the observable axis {axis.name!r} must be continuous")
    values = np.asarray(histogram.values(flow=False), dtype=float).copy()
    variances = histogram.variances(flow=False)
    variances = None if variances is None else np.asarray(variances, dtype=float).copy()
    return Template(values, variances, np.asarray(axis.edges, dtype=float).copy(), source)


def parse_ref(ref: str) -> tuple[Path, str, dict[str, str]]:
    """Split ``FILE:KEY[a=b,...]`` into the path, the key and the selection.

    >>> parse_ref("out/histograms.json:qcd/mjj[region=SR, score=0.8:]")
    (PosixPath('out/histograms.json'), 'qcd/mjj', {'region': 'SR', 'score': '0.8:'})
    """
    match = _REF.match(ref.strip())
    if not match:
        raise GbiInputError(
            f"histogram reference {ref!r}: expected FILE.json:KEY[axis=value,...] or "
            "FILE.root:PATH, e.g. out/histograms.json:qcd/mjj[region=SR]"
        )
    selection: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (match["sel"] or "").split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GbiInputError(
                f"histogram reference {ref!r}: selection item {item!r} is not AXIS=VALUE"
            )
        selection[name.strip()] = value.strip()
    return Path(match["file"]), match["key"].strip(), selection


def load_hist(
    ref: str, base_dir: str | Path | None = None, *, allow_pickle: bool = False
) -> Template:
    """Load the histogram named by ``ref`` (relative paths start at ``base_dir``).

    A ``FILE.pkl`` reference is refused unless ``allow_pickle`` (a pickle can run code).

    >>> import hist, tempfile, pathlib
    >>> from gbi.hists import write_histograms
    >>> h = hist.Hist.new.StrCat(["SR", "CR"], name="region").Reg(2, 0, 2, name="mjj").Weight()
    >>> _ = h.fill(region="SR", mjj=[0.5, 1.5])
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_histograms({"qcd": {"mjj": h}}, d / "h.json")
    >>> load_hist("h.json:qcd/mjj[region=SR]", base_dir=d).values
    array([1., 1.])
    """
    path, key, selection = parse_ref(ref)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise GbiInputError(f"histogram reference {ref!r}: file {str(path)!r} does not exist")
    if path.suffix == ".root":
        histogram = _read_root(path, key, ref)
    elif path.suffix == ".json":
        try:
            histogram = read_histogram(path, key)
        except GbiInputError as err:
            raise GbiInputError(f"histogram reference {ref!r}: {err}") from err
    else:
        histogram = _read_pickle(path, key, ref, allow_pickle)
    histogram = _select(histogram, selection, ref)
    return template_from_hist(histogram, source=ref)


def _read_root(path: Path, key: str, ref: str) -> Any:
    import uproot

    with uproot.open(path) as root_file:
        if key not in root_file:
            found = sorted({k.split(";")[0] for k in root_file.keys(cycle=False)})[:20]
            raise GbiInputError(f"{ref!r}: no object {key!r} in {path}; found {found}")
        try:
            return root_file[key].to_hist()
        except AttributeError as err:
            raise GbiInputError(
                f"{ref!r}: {key!r} is a {root_file[key].classname}, expected a TH1"
            ) from err


def _read_pickle(path: Path, key: str, ref: str, allow_pickle: bool) -> Any:
    hint = (
        f"reference the UHI JSON file instead ('gbi process' writes histograms.json beside "
        f"histograms.pkl: {path.with_suffix('.json')}:{key}), or, only for a file you trust, "
        "pass --allow-pickle (gbi workspace), allow_pickle: true (workspace config) or "
        "allow_pickle=True (Python)"
    )
    try:
        obj: Any = load_pickle(path, allow_pickle=allow_pickle, hint=hint)
    except GbiInputError as err:
        raise GbiInputError(f"histogram reference {ref!r}: {err}") from err
    walked: list[str] = []
    for part in key.split("/"):
        if not isinstance(obj, dict) or part not in obj:
            keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
            where = "/".join(walked) or "the top level"
            raise GbiInputError(f"{ref!r}: no key {part!r} at {where} of {path}; found {keys}")
        obj = obj[part]
        walked.append(part)
    return obj


def _select(histogram: Any, selection: dict[str, str], ref: str) -> Any:
    if not selection:
        return histogram
    names = [axis.name for axis in getattr(histogram, "axes", [])]
    # When every axis is named, the one continuous axis among them is the observable: its
    # range restricts the bins (e.g. mjj=3300:3700) instead of summing over them.
    observable = None
    if set(names) <= set(selection):
        continuous = [n for n in selection if n in names and not histogram.axes[n].traits.discrete]
        observable = continuous[0] if len(continuous) == 1 else None
    index: dict[str, Any] = {}
    for name, value in selection.items():
        if name not in names:
            raise GbiInputError(f"{ref!r}: the histogram has no axis {name!r}; its axes: {names}")
        axis = histogram.axes[name]
        if axis.traits.discrete:
            categories = list(axis)
            typed: Any = int(value) if categories and isinstance(categories[0], int) else value
            if typed not in categories:
                raise GbiInputError(f"{ref!r}: axis {name!r} has no {value!r}; it has {categories}")
            index[name] = typed
        else:
            index[name] = _edge_range(axis, value, ref, restrict=name == observable)
    return histogram[index]


def _edge_range(axis: Any, value: str, ref: str, restrict: bool = False) -> Any:
    import hist

    lo_text, sep, hi_text = value.partition(":")
    if not sep:
        raise GbiInputError(
            f"{ref!r}: continuous axis {axis.name!r} takes a range LO:HI (either side may be "
            f"empty) to sum over, found {value!r}"
        )
    try:
        lo = hist.loc(float(lo_text)) if lo_text else None
        hi = hist.loc(float(hi_text)) if hi_text else None
    except ValueError as err:
        raise GbiInputError(f"{ref!r}: range {value!r} of axis {axis.name!r} is not LO:HI") from err
    return slice(lo, hi) if restrict else slice(lo, hi, sum)
