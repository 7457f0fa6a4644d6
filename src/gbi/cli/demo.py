"""``gbi demo``: the whole chain on the default sample shipped with gbi (no external data)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the chain on the small default sample shipped with gbi (QCD + W' signal)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("gbi-demo"), help="output folder [default: gbi-demo]"
    )
    parser.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask"),
        default="iterative",
        help="coffea executor",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers for futures/dask [default: 2]"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gbi.cli.plot import make_plots
    from gbi.cli.process import print_summary
    from gbi.feature_job import process_fileset
    from gbi.sample import default_fileset

    process_dir = args.out / "process"
    summary = process_fileset(
        default_fileset(),
        process_dir,
        executor=args.executor,
        workers=args.workers,
        chunksize=10_000,
        progress=not args.no_progress,
    )
    print_summary(summary, process_dir)
    for path in make_plots(process_dir, args.out / "plots"):
        print(f"plot: {path}")
    return 0
