#!/usr/bin/env python
"""Run ``FlowDensityProcessor``: a saved flow's log density for every event, per chunk.

Usage::

    python processors/flow_density.py FILESET.json MODEL_DIR [--executor iterative|futures|dask]
        [--workers N] [--scheduler ADDRESS] [--chunksize N]

Prints the number of events per dataset and the quantiles of the log density; the model is
loaded once per worker process (``MODEL_DIR`` from ``gbi amplify train``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from coffea import processor

from gbi.execution import QuietNanoAODSchema
from gbi.executors import EXECUTORS, make_executor
from gbi.fileset import load_fileset
from gbi.processors import FlowDensityProcessor, assemble_columns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset", help="coffea fileset JSON")
    parser.add_argument("model_dir", help="flow model folder of 'gbi amplify train'")
    parser.add_argument("--executor", choices=EXECUTORS, default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of a running dask scheduler")
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args()

    with make_executor(args.executor, args.workers, args.scheduler, True, 0, {}) as (executor, _):
        runner = processor.Runner(executor, schema=QuietNanoAODSchema, chunksize=args.chunksize)
        output = runner(load_fileset(args.fileset), FlowDensityProcessor(args.model_dir))
    for dataset, part in output.items():
        log_prob = assemble_columns(part["chunks"])["flow_log_prob"]
        quantiles = np.nanquantile(log_prob, [0.01, 0.5, 0.99]) if len(log_prob) else []
        print(dataset, part["cutflow"], "log p quantiles (1%, 50%, 99%):", np.round(quantiles, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
