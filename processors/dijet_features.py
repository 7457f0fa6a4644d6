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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset")
    parser.add_argument("--executor", choices=("iterative", "futures", "dask"), default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args()

    if args.executor == "iterative":
        executor = processor.IterativeExecutor()
    elif args.executor == "futures":
        executor = processor.FuturesExecutor(workers=args.workers)
    else:
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1))
        executor = processor.DaskExecutor(client=client)
    runner = processor.Runner(executor=executor, schema=NanoAODSchema, chunksize=args.chunksize)
    output = runner(load_fileset(args.fileset), DijetFeatureProcessor())
    for dataset, part in output.items():
        columns = assemble_columns(part.get("chunks", {}))
        print(dataset, part["cutflow"], f"{len(columns.get('mjj', []))} feature rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
