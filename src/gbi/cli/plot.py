"""``gbi plot``: mplhep plots of the histograms written by ``gbi process``."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

from gbi.errors import GbiInputError

__all__ = ["make_plots", "register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot", help="plots (mjj and each feature) of the histograms of a gbi process output folder"
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="output folder of gbi process")
    parser.add_argument("--out", type=Path, help="folder for the PNGs [default: DIR/plots]")
    parser.set_defaults(func=run)


def make_plots(process_dir: Path, plot_dir: Path | None = None) -> list[Path]:
    """Plot mjj (log scale, SR shaded) and every feature in the SR; return the PNG paths."""
    from gbi.features import FEATURE_COLUMNS
    from gbi.plotting import plot_feature, plot_mjj
    from gbi.regions import Regions

    pickle_path = process_dir / "histograms.pkl"
    if not pickle_path.is_file():
        raise GbiInputError(
            f"{pickle_path} does not exist: expected the output folder of 'gbi process'"
        )
    with pickle_path.open("rb") as stream:
        hists = pickle.load(stream)  # our own output file, written by gbi process
    regions_path = process_dir / "regions.json"
    regions = Regions.from_json(regions_path) if regions_path.is_file() else Regions()
    plot_dir = plot_dir or process_dir / "plots"
    paths = [plot_mjj(hists, plot_dir / "mjj.png", regions=regions)]
    for feature in FEATURE_COLUMNS[1:]:
        paths.append(
            plot_feature(
                hists, feature, plot_dir / f"{feature}_SR.png", regions=regions, region="SR"
            )
        )
    return paths


def run(args: argparse.Namespace) -> int:
    for path in make_plots(args.dir, args.out):
        print(path)
    return 0
