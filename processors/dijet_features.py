#!/usr/bin/env python
"""Run ``DijetFeatureProcessor`` with plain coffea and print the cutflow per dataset.

Usage::

    python processors/dijet_features.py FILESET.json [--executor iterative|futures|dask] [--workers N]
"""

from __future__ import annotations

import argparse
import sys

from coffea import processor
from coffea.nanoevents import NanoAODSchema

from gbi.fileset import load_fileset
from gbi.processors import DijetFeatureProcessor, assemble_columns


def _run(executor: processor.executor.ExecutorBase, fileset: dict, chunksize: int) -> dict:
    runner = processor.Runner(executor=executor, schema=NanoAODSchema, chunksize=chunksize)
    return runner(fileset, DijetFeatureProcessor())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("--executor", choices=("iterative", "futures", "dask"), default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args()

    fileset = load_fileset(args.fileset)
    if args.executor == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=args.workers, threads_per_worker=1) as cluster,
            Client(cluster) as client,
        ):
            output = _run(processor.DaskExecutor(client=client), fileset, args.chunksize)
    elif args.executor == "futures":
        output = _run(processor.FuturesExecutor(workers=args.workers), fileset, args.chunksize)
    else:
        output = _run(processor.IterativeExecutor(), fileset, args.chunksize)
    for dataset, part in output.items():
        columns = assemble_columns(part.get("chunks", {}))
        print(dataset, part["cutflow"], f"{len(columns.get('mjj', []))} feature rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
