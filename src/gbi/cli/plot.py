"""``gbi plot``: mplhep plots of the histograms written by ``gbi process``.

Reads ``DIR/histograms.json`` (UHI JSON, :mod:`gbi.hists`). A folder with only the pickle
``histograms.pkl`` is refused unless ``--allow-pickle``: a pickle can run code when it is
loaded. A run without events (0 passing the selection) has nothing to plot: that is an
error (exit status 2), not a set of empty PNGs.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gbi.errors import GbiInputError

__all__ = ["load_process_histograms", "make_plots", "register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot", help="plots (mjj and each feature) of the histograms of a gbi process output folder"
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="output folder of gbi process")
    parser.add_argument("--out", type=Path, help="folder for the PNGs [default: DIR/plots]")
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read DIR/histograms.pkl when DIR has no histograms.json (a pickle can run code: "
        "only for files you trust)",
    )
    parser.set_defaults(func=run)


def load_process_histograms(process_dir: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
    """``{dataset: {feature: hist.Hist(region, feature)}}`` of a ``gbi process`` folder.

    Reads ``histograms.json``; ``histograms.pkl`` only when there is no JSON file and
    ``allow_pickle`` is true. Raises :class:`GbiInputError` (one line) for a missing file
    or content of another shape.
    """
    from gbi.features import FEATURE_COLUMNS
    from gbi.hists import load_pickle, nest, read_histograms

    json_path, pickle_path = process_dir / "histograms.json", process_dir / "histograms.pkl"
    if json_path.is_file():
        source, hists = json_path, nest(read_histograms(json_path))
    elif pickle_path.is_file():
        hint = (
            f"{process_dir} has no histograms.json: re-run 'gbi process' (it writes one), or, "
            "only for a file you trust, pass --allow-pickle (Python: allow_pickle=True)"
        )
        source, hists = pickle_path, load_pickle(pickle_path, allow_pickle=allow_pickle, hint=hint)
    else:
        raise GbiInputError(
            f"{json_path} does not exist: expected the output folder of 'gbi process'"
        )
    _check_shape(hists, source, FEATURE_COLUMNS)
    return hists


def _check_shape(hists: Any, source: Path, features: tuple[str, ...]) -> None:
    expected = "expected {dataset: {feature: hist.Hist(region, feature)}} as 'gbi process' writes"
    if not isinstance(hists, Mapping):
        raise GbiInputError(f"{source}: {expected}, found a {type(hists).__name__}")
    for dataset, by_feature in hists.items():
        if not isinstance(by_feature, Mapping):
            found = type(by_feature).__name__
            raise GbiInputError(f"{source}: {expected}, found a {found} for {dataset!r}")
        for feature in features:
            histogram = by_feature.get(feature)
            names = [axis.name for axis in getattr(histogram, "axes", [])]
            if names != ["region", feature]:
                found = f"axes {names}" if names else type(histogram).__name__
                raise GbiInputError(
                    f"{source}: {expected}; {dataset}/{feature} is missing or not such a "
                    f"histogram (found {found})"
                )


def make_plots(
    process_dir: Path, plot_dir: Path | None = None, *, allow_pickle: bool = False
) -> list[Path]:
    """Plot mjj (log scale, SR shaded) and every feature in the SR; return the PNG paths.

    A plot without entries is not written (logged instead); a folder whose histograms hold
    no events at all raises :class:`GbiInputError` ("nothing to plot").
    """
    from gbi.features import FEATURE_COLUMNS
    from gbi.plotting import has_entries, plot_feature, plot_mjj
    from gbi.regions import Regions

    hists = load_process_histograms(process_dir, allow_pickle=allow_pickle)
    if not has_entries(hists, "mjj"):
        raise GbiInputError(
            f"{process_dir}: nothing to plot: the histograms hold no events "
            f"({len(hists)} dataset(s), 0 events passing the selection in each); "
            "see the cutflow in summary.json"
        )
    regions_path = process_dir / "regions.json"
    regions = Regions.from_json(regions_path) if regions_path.is_file() else Regions()
    plot_dir = plot_dir or process_dir / "plots"
    paths = [plot_mjj(hists, plot_dir / "mjj.png", regions=regions)]
    for feature in FEATURE_COLUMNS[1:]:
        if not has_entries(hists, feature, region="SR"):
            log.warning("no %s plot: no dataset has events in the signal region", feature)
            continue
        paths.append(
            plot_feature(
                hists, feature, plot_dir / f"{feature}_SR.png", regions=regions, region="SR"
            )
        )
    return paths


def run(args: argparse.Namespace) -> int:
    for path in make_plots(args.dir, args.out, allow_pickle=args.allow_pickle):
        print(path)
    return 0
