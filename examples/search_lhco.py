#!/usr/bin/env python
"""Scan the LHCO-style dijet spectrum: all 200k ``qcd_a`` events as data, optional W'.

The ROOT files are processed once (``gbi.feature_job.process_fileset``, into
``OUT/process``; reused when there); ``--inject N`` adds N W' events drawn at random (seed
``--seed``) from the W' file. The scan (:func:`gbi.search.run_search`) writes
``OUT/search`` (``search.json``, ``search.md``, ``p0_vs_mass.png``, ``limits_vs_mass.png``,
``windows/``, ``workspaces/``); a rerun with the same options resumes it.

Usage::

    python examples/search_lhco.py --inject 1000 --windows 2800:4400:200 --width 400 \\
        --sideband-width 800 --flow-epochs 10 --folds 3 --out search-lhco

The window grid is a command-line option and nothing is tuned to the W' mass.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from gbi.classifiers import ClassifierConfig
from gbi.feature_job import process_fileset
from gbi.fileset import normalize_fileset
from gbi.search import WindowConfig, WindowGrid, run_search
from gbi.tables import read_table


def load(data: Path, out: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Feature tables of ``qcd_a`` and of the W' file (processed once into ``out``)."""
    features = out / "features"
    if not (features / "qcd.parquet").is_file() or not (features / "wprime.parquet").is_file():
        fileset = normalize_fileset(
            {
                "qcd": {"files": sorted(str(p) for p in data.glob("qcd_a_*.root"))},
                "wprime": {"files": sorted(str(p) for p in data.glob("wprime_*.root"))},
            }
        )
        process_fileset(fileset, out, executor="iterative")
    return read_table(features / "qcd.parquet"), read_table(features / "wprime.parquet")


def main() -> int:
    here = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=here.parent / "shared" / "data" / "lhco_like")
    p.add_argument("--out", type=Path, default=Path("search-lhco"))
    p.add_argument("--inject", type=int, default=0, help="W' events added to the data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--windows", default="2800:4400:200", help="START:STOP:STEP (GeV)")
    p.add_argument("--width", type=float, default=400.0)
    p.add_argument("--sideband-width", type=float, default=None)
    p.add_argument("--flow-epochs", type=int, default=30)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--max-iter", type=int, default=300, help="hgb boosting iterations")
    p.add_argument("--oversampling", type=float, default=4.0)
    p.add_argument("--executor", choices=("iterative", "futures", "dask"), default="iterative")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()

    qcd, wprime = load(args.data, args.out / "process")
    columns = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")
    pick = np.random.default_rng(args.seed).choice(len(wprime["mjj"]), args.inject, replace=False)
    data = {c: np.concatenate([qcd[c], wprime[c][pick]]) for c in columns}
    data["label"] = np.concatenate([np.zeros(len(qcd["mjj"])), np.ones(args.inject)])
    base = WindowConfig()
    config = dataclasses.replace(
        base,
        flow_train=dataclasses.replace(base.flow_train, epochs=args.flow_epochs),
        n_folds=args.folds,
        classifier=ClassifierConfig(max_iter=args.max_iter),
        oversampling=args.oversampling,
        seed=args.seed,
    )
    grid = WindowGrid.from_range(args.windows, args.width, sideband_width=args.sideband_width)
    result = run_search(
        data,
        grid,
        config,
        out_dir=args.out / "search",
        executor=args.executor,
        workers=args.workers,
        threads=args.threads,
        progress=True,
    )
    print((args.out / "search" / "search.md").read_text())
    best = result.best
    if best is not None:
        print(f"best window {best.name}: truth {best.details.get('truth')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
