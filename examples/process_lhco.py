#!/usr/bin/env python
"""End to end on the LHCO-style samples: process QCD + W' with a chosen executor and plot.

Usage::

    python examples/process_lhco.py [--data ../shared/data/lhco_like] [--out lhco-out] [--executor futures]

Writes the ``gbi process`` outputs to ``OUT/process`` and the plots to ``OUT/plots``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from gbi.feature_job import process_fileset
from gbi.fileset import normalize_fileset


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=here.parent / "shared" / "data" / "lhco_like")
    parser.add_argument("--out", type=Path, default=Path("lhco-out"))
    parser.add_argument("--executor", choices=("iterative", "futures", "dask"), default="futures")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    fileset = normalize_fileset(
        {
            "qcd": {"files": sorted(str(p) for p in args.data.glob("qcd_a_*.root"))},
            "wprime": {"files": sorted(str(p) for p in args.data.glob("wprime_*.root"))},
        }
    )
    summary = process_fileset(
        fileset, args.out / "process", executor=args.executor, workers=args.workers
    )
    print(f"{summary['events_read']:,} events, {summary['events_per_second']:,.0f} events/s")
    # the plots are what `gbi plot` makes of a process folder: run that command (it prints
    # the PNG paths) rather than import the command-line package
    plot = [sys.executable, "-m", "gbi", "plot", str(args.out / "process")]
    env = {**os.environ, "MPLBACKEND": os.environ.get("MPLBACKEND", "Agg")}
    return subprocess.run([*plot, "--out", str(args.out / "plots")], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
