"""``gbi generate``: LHCO R&D-style events with Pythia 8 + FastJet into NanoAOD-style ROOT files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

# The defaults shown by --help, written here so that building the parser does not import
# gbi.generate (numpy, awkward: 0.35 s); tests/test_cli_startup.py checks that they agree.
PROCESSES: tuple[str, ...] = ("qcd", "wprime")
DEFAULT_MASSES: tuple[float, float, float] = (3500.0, 500.0, 100.0)
DEFAULT_EVENTS_PER_FILE = 10_000
DEFAULT_BATCH_SIZE = 500
NSUB_AXES: tuple[str, ...] = ("onepass-kt", "kt", "wta-kt")
DEFAULT_NSUB_AXES = "onepass-kt"


def register(subparsers: Any) -> None:
    """Add the ``generate`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "generate",
        help="generate LHCO R&D-style dijet events (needs gbi[generate])",
        description=(
            "Generate events with the LHCO R&D recipe: Pythia 8 at 13 TeV, anti-kT R=1.0 jets "
            "of visible final-state particles (pT > 200 GeV, |eta| < 2.5), leading jet "
            "pT > 1200 GeV, up to four jets with N-subjettiness (beta=1, R0=1, --nsub-axes). "
            "Writes NanoAOD-style ROOT files DIR/{tag}_{seed}_{index:03d}.root; complete "
            "files are skipped on a rerun, so an interrupted run resumes."
        ),
    )
    parser.add_argument(
        "--process", required=True, help=f"process to generate: {' or '.join(PROCESSES)}"
    )
    parser.add_argument(
        "--events", required=True, type=int, help="number of selected events to write"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    for name, default, what in zip(
        ("mW", "mX", "mY"), DEFAULT_MASSES, ("W'", "X", "Y"), strict=True
    ):
        parser.add_argument(
            f"--{name}",
            type=float,
            default=None,
            help=f"wprime only: {what} mass in GeV (default: {default:g})",
        )
    parser.add_argument(
        "--events-per-file",
        type=int,
        default=DEFAULT_EVENTS_PER_FILE,
        help=f"events per output file (default: {DEFAULT_EVENTS_PER_FILE})",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="parallel processes, one file each (default: 1)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"Pythia events clustered together (default: {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--nsub-axes",
        choices=NSUB_AXES,
        default=DEFAULT_NSUB_AXES,
        help="N-subjettiness axes: onepass-kt (minimised, as CMS NanoAOD's FatJet_tau*), kt "
        f"(plain exclusive kT, as the shipped sample) or wta-kt (default: {DEFAULT_NSUB_AXES})",
    )
    parser.add_argument(
        "--mX-grid",
        default=None,
        metavar="GRID",
        help="wprime only: make a signal grid, mX values 'start:stop:step' or 'a,b,c' (GeV); "
        "--events per point, points with mY <= mX, cached (complete files are skipped)",
    )
    parser.add_argument(
        "--mY-grid", default=None, metavar="GRID", help="wprime only: mY values of the grid (GeV)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``gbi generate`` with parsed ``args``; returns the exit code."""
    from gbi.generate import generate

    if args.mX_grid or args.mY_grid:
        return _run_grid(args)
    result = generate(
        args.process,
        args.events,
        args.out,
        seed=args.seed,
        mW=args.mW,
        mX=args.mX,
        mY=args.mY,
        events_per_file=args.events_per_file,
        workers=args.workers,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        nsub_axes=args.nsub_axes,
    )
    for path in result.files:
        state = "skipped (complete)" if path in result.skipped else "written"
        print(f"{path}: {state}")
    _warn_about_other_files(result.files)
    if result.events_generated:
        print(
            f"generated {result.events_generated} events in {result.seconds:.1f} s "
            f"({result.rate:.1f} kept events/s)"
        )
    return 0


def _warn_about_other_files(files: list[Path]) -> None:
    """Name the files of the same process and seed that this run did not plan (left by an
    earlier run with more --events): a glob of the folder would read them as well."""
    if not files:
        return
    prefix = files[0].name.rsplit("_", 1)[0]  # "{tag}_{seed}"
    others = sorted(set(files[0].parent.glob(f"{prefix}_[0-9][0-9][0-9].root")) - set(files))
    if others:
        names = ", ".join(p.name for p in others[:5]) + (" ..." if len(others) > 5 else "")
        print(
            f"warning: {files[0].parent} also holds {len(others)} file(s) of this process and "
            f"seed that this run did not make ({names}); 'gbi process "
            f"{files[0].parent}/*.root' would read them too: remove them, or list the files "
            "of this run",
            file=sys.stderr,
        )


def _run_grid(args: argparse.Namespace) -> int:
    """``--mX-grid/--mY-grid``: one file of ``--events`` per ``(mX, mY)`` point."""
    from gbi.errors import GbiInputError
    from gbi.infer.signal_grid import generate_grid, grid_points, parse_range

    if args.process != "wprime" or not (args.mX_grid and args.mY_grid):
        raise GbiInputError(
            "--mX-grid/--mY-grid: expected both, with --process wprime; found "
            f"--process {args.process}, --mX-grid {args.mX_grid}, --mY-grid {args.mY_grid}"
        )
    points = grid_points(parse_range(args.mX_grid), parse_range(args.mY_grid))
    files = generate_grid(
        args.out,
        points,
        args.events,
        seed=args.seed,
        m_w=args.mW or 3500.0,
        workers=args.workers,
        progress=not args.no_progress,
        nsub_axes=args.nsub_axes,
    )
    print(f"signal grid: {len(points)} mass points, {len(files)} files in {args.out}")
    return 0
