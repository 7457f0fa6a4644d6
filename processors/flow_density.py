#!/usr/bin/env python
"""Run ``FlowDensityProcessor``: a saved flow's log density for every event, per chunk.

Usage::

    python processors/flow_density.py FILESET.json MODEL_DIR [--executor iterative|futures|dask] [--workers N]

Prints the number of events per dataset and the quantiles of the log density; the model is
loaded once per worker process.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from gbi.execution import run_processor
from gbi.fileset import load_fileset
from gbi.processors import FlowDensityProcessor, assemble_columns
from gbi.processors.dijet import OPTIONAL_BRANCHES, REQUIRED_BRANCHES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("model_dir")
    parser.add_argument("--executor", choices=("iterative", "futures", "dask"), default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args()
    result = run_processor(
        load_fileset(args.fileset),
        FlowDensityProcessor(args.model_dir),
        required_branches=REQUIRED_BRANCHES,
        preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
        executor=args.executor,
        workers=args.workers,
        chunksize=args.chunksize,
    )
    for dataset, part in result.output.items():
        log_prob = assemble_columns(part["chunks"])["flow_log_prob"]
        quantiles = np.nanquantile(log_prob, [0.01, 0.5, 0.99]) if len(log_prob) else []
        print(dataset, part["cutflow"], "log p quantiles (1%, 50%, 99%):", np.round(quantiles, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
