#!/usr/bin/env python
"""Run ``AnomalyScoreProcessor`` with plain coffea: score events with classifiers saved by
``gbi detect`` and write the per-cut mjj histograms.

Usage::

    python processors/anomaly_scores.py FILESET.json --classifier OUT/classifier_cathode \\
        [--classifier OUT/classifier_idealized] [--executor iterative|futures] \\
        [--out anomaly_hists.json]

Each ``--classifier`` is a ``classifier_<method>/`` directory of ``gbi detect`` (data only:
a JSON manifest and one file per fold). ``--out`` is UHI JSON
(``{"<dataset>/<method>": hist.Hist(cut, region, mjj [GeV])}``); an ``--out`` ending in
``.pkl`` writes a pickle for coffea users instead. ``--allow-pickle`` also reads pickled
classifiers of earlier gbi versions (a pickle can run code: only for files you trust).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gbi.errors import GbiError
from gbi.execution import run_processor
from gbi.fileset import load_fileset
from gbi.hists import write_histograms
from gbi.io import write_pickle
from gbi.processors.anomaly import AnomalyScoreProcessor
from gbi.processors.dijet import OPTIONAL_BRANCHES, REQUIRED_BRANCHES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("--classifier", action="append", required=True, metavar="DIR")
    parser.add_argument("--executor", choices=("iterative", "futures"), default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("anomaly_hists.json"))
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="also read pickled classifiers (.pkl; a pickle can run code: trusted files only)",
    )
    args = parser.parse_args()
    classifiers = {
        Path(p).name.removesuffix(".pkl").removeprefix("classifier_"): p for p in args.classifier
    }
    try:
        processor = AnomalyScoreProcessor(classifiers, allow_pickle=args.allow_pickle)
        output = run_processor(
            load_fileset(args.fileset),
            processor,
            required_branches=REQUIRED_BRANCHES,
            preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
            executor=args.executor,
            workers=args.workers,
            chunksize=args.chunksize,
        ).output
    except GbiError as err:
        print(f"anomaly_scores.py: error: {err}", file=sys.stderr)
        return 2
    for dataset, part in output.items():
        for method, h in part["hists"].items():
            counts = {c: float(h[c, "SR", :].sum().value) for c in h.axes["cut"]}
            print(dataset, method, part["cutflow"], "SR counts per cut:", counts)
    hists = {d: p["hists"] for d, p in output.items()}
    if args.out.suffix == ".pkl":
        write_pickle(hists, args.out)
    else:
        write_histograms(hists, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
