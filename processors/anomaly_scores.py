#!/usr/bin/env python
"""Run ``AnomalyScoreProcessor`` with plain coffea: score events with classifiers saved by
``gbi detect`` and write the per-cut mjj histograms.

Usage::

    python processors/anomaly_scores.py FILESET.json --classifier OUT/classifier_cathode.pkl \\
        [--classifier OUT/classifier_idealized.pkl] [--executor iterative|futures] [--out hists.pkl]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gbi.execution import run_processor
from gbi.fileset import load_fileset
from gbi.io import write_pickle
from gbi.processors.anomaly import AnomalyScoreProcessor
from gbi.processors.dijet import OPTIONAL_BRANCHES, REQUIRED_BRANCHES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("--classifier", action="append", required=True, metavar="PKL")
    parser.add_argument("--executor", choices=("iterative", "futures"), default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("anomaly_hists.pkl"))
    args = parser.parse_args()
    classifiers = {Path(p).stem.removeprefix("classifier_"): p for p in args.classifier}
    output = run_processor(
        load_fileset(args.fileset),
        AnomalyScoreProcessor(classifiers),
        required_branches=REQUIRED_BRANCHES,
        preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
        executor=args.executor,
        workers=args.workers,
        chunksize=args.chunksize,
    ).output
    for dataset, part in output.items():
        for method, h in part["hists"].items():
            counts = {c: float(h[c, "SR", :].sum().value) for c in h.axes["cut"]}
            print(dataset, method, part["cutflow"], "SR counts per cut:", counts)
    write_pickle({d: p["hists"] for d, p in output.items()}, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
