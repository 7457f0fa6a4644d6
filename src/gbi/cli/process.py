"""``gbi process``: stream ROOT files through the dijet processor and write features + histograms."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gbi.cli.options import add_overwrite_option, add_region_options
from gbi.errors import GbiInputError

__all__ = ["add_execution_options", "register", "resolve_fileset", "run"]


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a coffea processor."""
    parser.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask"),
        default="iterative",
        help="iterative: one process; futures: local process pool; dask: dask.distributed "
        "(local cluster, or --scheduler) [default: iterative]",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes [default: 2]")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of an existing dask scheduler (tcp://host:8786)",
    )
    parser.add_argument(
        "--chunksize", type=int, default=100_000, help="events per chunk [default: 100000]"
    )
    parser.add_argument(
        "--maxchunks", type=int, help="stop after this many chunks per file (testing)"
    )
    parser.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="leave out unreadable files or files without the needed branches, and list them in summary.json",
    )
    parser.add_argument(
        "--read-threads",
        type=int,
        metavar="N",
        help="threads that decompress the input baskets [default: the CPU count, at most 4, "
        "with the iterative executor; 1 with futures/dask]",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "process",
        help="dijet features, cutflow and weighted histograms from ROOT files",
        description="Run DijetFeatureProcessor over a fileset. FILESET is a JSON file in coffea "
        "form {dataset: {files: {path: tree}}}, a JSON list of paths, or ROOT files directly.",
    )
    parser.add_argument(
        "fileset", nargs="+", metavar="FILESET", help="fileset JSON or ROOT file(s)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder: new, empty, or an earlier gbi process output (with --overwrite)",
    )
    add_overwrite_option(parser)
    parser.add_argument(
        "--treename",
        default="Events",
        metavar="NAME",
        help="tree of the ROOT files given here, and of fileset datasets that set no "
        "'treename' [default: Events]",
    )
    add_region_options(parser)
    add_execution_options(parser)
    parser.set_defaults(func=run)


def resolve_fileset(entries: list[str], treename: str = "Events") -> dict:
    """A fileset JSON, or ROOT files given directly (one dataset per file, tree ``treename``)."""
    from gbi.fileset import load_fileset, normalize_fileset

    if len(entries) == 1 and entries[0].endswith(".json"):
        return load_fileset(entries[0], default_tree=treename)
    not_root = [e for e in entries if not e.endswith(".root")]
    if not_root:
        raise GbiInputError(
            f"expected one fileset .json or ROOT files ending in .root, found {not_root[0]!r}"
        )
    return normalize_fileset(list(entries), source="the input files", default_tree=treename)


def run(args: argparse.Namespace) -> int:
    from gbi.cli.options import resolve_regions
    from gbi.feature_job import process_fileset

    summary = process_fileset(
        resolve_fileset(args.fileset, args.treename),
        args.out,
        overwrite=args.overwrite,
        regions=resolve_regions(args),
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        chunksize=args.chunksize,
        maxchunks=args.maxchunks,
        read_threads=args.read_threads,
        skip_bad_files=args.skip_bad_files,
        progress=not args.no_progress,
    )
    print_summary(summary, args.out)
    return 0


def print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"gbi process -> {out}")
    for column in ("dataset", "events read", ">=2 FatJets", "SBL", "SR", "SBH"):
        table.add_column(column, justify="right" if column != "dataset" else "left")
    for name, part in summary["datasets"].items():
        cutflow = part["cutflow"]
        table.add_row(
            name, *(f"{int(cutflow[k]):,}" for k in ("events", "two_fatjets", "SBL", "SR", "SBH"))
        )
    console = Console()
    console.print(table)
    console.print(
        f"{summary['events_read']:,} events in {summary['seconds']:.1f} s "
        f"({summary['events_per_second'] or 0:,.0f} events/s, executor {summary['executor']})"
    )
    for bad in summary["skipped_files"]:
        console.print(f"[yellow]skipped[/] {bad['file']}: {bad['reason']}")
    console.print(f"summary: {json.dumps(str(out / 'summary.json'))}")
