#!/usr/bin/env python
"""Run ``AnomalyScoreProcessor`` with plain coffea: score events with classifiers saved by
``gbi detect`` and write the per-cut mjj histograms.

Usage::

    python processors/anomaly_scores.py FILESET.json --classifier OUT/classifier_cathode \\
        [--classifier OUT/classifier_idealized] [--executor iterative|futures|dask] \\
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

from coffea import processor

from gbi.errors import GbiError
from gbi.execution import QuietNanoAODSchema
from gbi.executors import EXECUTORS, make_executor
from gbi.fileset import load_fileset
from gbi.hists import write_histograms
from gbi.io import write_pickle
from gbi.processors import AnomalyScoreProcessor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("--classifier", action="append", required=True, metavar="DIR")
    parser.add_argument("--executor", choices=EXECUTORS, default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of a running dask scheduler")
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
        scores = AnomalyScoreProcessor(classifiers, allow_pickle=args.allow_pickle)
        fileset = load_fileset(args.fileset)
        with make_executor(args.executor, args.workers, args.scheduler, True, 0, {}) as (ex, _):
            runner = processor.Runner(ex, schema=QuietNanoAODSchema, chunksize=args.chunksize)
            output = runner(fileset, scores)
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
