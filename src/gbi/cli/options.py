"""Options shared by several commands: output folders, the signal region, bad rows, help
defaults (argparse only: cheap to import).

One path from the command line to :class:`gbi.regions.Regions`: ``--regions REGIONS.json``
(schema ``regions-1.0``) and/or ``--sr LOW HIGH`` (GeV; replaces the file's signal region,
keeps its mjj range). Used by ``gbi detect`` and ``gbi infer``, and usable by ``gbi process``.

>>> import argparse
>>> parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
>>> add_region_options(parser)
>>> resolve_regions(parser.parse_args(["--sr", "3000", "3400"])).signal_region
(3000.0, 3400.0)
>>> _ = parser.add_argument("--cuts", nargs="+", default=[0.1, 0.01], help="efficiencies")
>>> "efficiencies (default: 0.1 0.01)" in " ".join(parser.format_help().split())
True
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gbi.regions import Regions

__all__ = [
    "HelpFormatter",
    "add_drop_invalid_option",
    "add_overwrite_option",
    "add_region_options",
    "add_threads_option",
    "resolve_regions",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to every option that has a default (not to ``None``/off flags)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS:
            return text
        if "%(default)" in text or "(default:" in text:
            return text
        if isinstance(default, (list, tuple)):  # as typed on the command line
            default = " ".join(map(str, default))
        return f"{text} (default: {str(default).replace('%', '%%')})"


def add_region_options(parser: argparse.ArgumentParser) -> None:
    """``--sr LOW HIGH`` and ``--regions REGIONS.json``."""
    parser.add_argument(
        "--sr",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="signal region [LOW, HIGH) in GeV (replaces that of --regions; default: 3300 3700)",
    )
    parser.add_argument(
        "--regions",
        type=Path,
        metavar="REGIONS.json",
        help="signal region and mjj range, a regions-1.0 JSON file (default: the LHCO SR "
        "3.3-3.7 TeV in 1-10 TeV)",
    )


def resolve_regions(args: argparse.Namespace) -> Regions:
    """The :class:`~gbi.regions.Regions` of ``--regions`` and ``--sr`` (GeV)."""
    from gbi.regions import Regions

    regions = Regions.from_json(args.regions) if getattr(args, "regions", None) else Regions()
    if getattr(args, "sr", None):
        regions = Regions(
            sr_low=args.sr[0],
            sr_high=args.sr[1],
            range_low=regions.range_low,
            range_high=regions.range_high,
        )
    return regions


def add_drop_invalid_option(parser: argparse.ArgumentParser) -> None:
    """``--drop-invalid``: drop (and count) rows with NaN/inf instead of stopping."""
    parser.add_argument("--drop-invalid", action="store_true", help="drop NaN/inf rows (counted)")


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace what the same command wrote to its output folder before.

    Pass ``args.overwrite`` to :func:`gbi.io.prepare_output_dir`, which refuses any other
    non-empty folder and never removes a file that gbi did not write.
    """
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the outputs of an earlier run of this command in the output folder "
        "(files gbi did not write are never removed)",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the command's budget of torch, OpenMP and BLAS threads
    (:func:`gbi.threads.thread_budget`; ``None``: the cores available to the process)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for torch, OpenMP and BLAS (default: the cores available to the process)",
    )
