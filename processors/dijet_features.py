#!/usr/bin/env python
"""Run ``DijetFeatureProcessor`` with plain coffea and print the cutflow per dataset.

Usage::

    python processors/dijet_features.py FILESET.json [--executor iterative|futures|dask]
        [--workers N] [--scheduler ADDRESS] [--chunksize N]

The pattern of every script here: a coffea executor (gbi's :func:`gbi.executors.make_executor`
gives the iterative, futures or dask one), ``processor.Runner`` with the NanoAOD schema, and
one of gbi's processors. For the full job with file checks and written outputs use
``gbi process``.
"""

from __future__ import annotations

import argparse
import sys

from coffea import processor

from gbi.execution import QuietNanoAODSchema
from gbi.executors import EXECUTORS, make_executor
from gbi.fileset import load_fileset
from gbi.processors import DijetFeatureProcessor, assemble_columns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fileset", help="coffea fileset JSON")
    parser.add_argument("--executor", choices=EXECUTORS, default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="address of a running dask scheduler")
    parser.add_argument("--chunksize", type=int, default=100_000)
    args = parser.parse_args()

    with make_executor(args.executor, args.workers, args.scheduler, True, 0, {}) as (executor, _):
        runner = processor.Runner(executor, schema=QuietNanoAODSchema, chunksize=args.chunksize)
        output = runner(load_fileset(args.fileset), DijetFeatureProcessor())
    for dataset, part in output.items():
        columns = assemble_columns(part.get("chunks", {}))
        print(dataset, part["cutflow"], f"{len(columns.get('mjj', []))} feature rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
