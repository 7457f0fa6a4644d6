#!/usr/bin/env python
"""Wall time of ``gbi.search.run_search`` per window and in total, and the speed-up from 1
to 2 workers.

A toy spectrum (falling mjj, two Gaussian features, a bump at 3200 GeV) is scanned with
``WindowConfig.small()`` (a few seconds per window) on the futures executor with 1 and
then 2 workers, one thread per task; each run writes into a fresh folder so nothing is
reused. The per-window time is the task's own ``seconds`` (flow, classifier, fit); the
total includes starting the worker processes.

Usage::

    python benchmarks/bench_search.py [--events 40000] [--windows 2200:4200:250] [--width 400]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np

from gbi.search import WindowConfig, WindowGrid, run_search


def toy(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mjj = 1500.0 + rng.exponential(600.0, size=3 * n)
    mjj = mjj[mjj < 6000.0][:n]
    s = 150
    return {
        "mjj": np.concatenate([mjj, rng.normal(3200.0, 128.0, s)]),
        "f1": np.concatenate([rng.normal(mjj / 2000.0, 1.0), rng.normal(3.0, 0.3, s)]),
        "f2": np.concatenate([rng.normal(0.0, 1.0, len(mjj)), rng.normal(-2.0, 0.3, s)]),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=40_000)
    p.add_argument("--windows", default="2200:4200:250")
    p.add_argument("--width", type=float, default=400.0)
    args = p.parse_args()
    data = toy(args.events)
    grid = WindowGrid.from_range(args.windows, args.width)
    config = WindowConfig.small(features=("f1", "f2"))
    totals = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            result = run_search(
                data, grid, config, out_dir=out, executor="futures", workers=workers,
                threads=1, global_toys=10_000,
            )  # fmt: skip
            totals[workers] = time.perf_counter() - start
        per_window = [w.details["seconds"] for w in result.windows]
        print(f"{workers} worker(s): {len(grid.windows)} windows in {totals[workers]:.1f} s")
        for w in result.windows:
            print(f"  {w.name}: {w.details['seconds']:.1f} s ({w.status})")
        print(f"  per window: median {statistics.median(per_window):.1f} s")
    print(f"speed-up 1 -> 2 workers: {totals[1] / totals[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
