#!/usr/bin/env python
"""Benchmark ``gbi infer``: wall time per method for one fit, and the mixture-fit kernels.

1. One :func:`gbi.infer.run_inference` on data = background + ``--n-signal`` signal events
   (all three methods), wall time per stage (flow training, parametrised-classifier
   training, the fit with toys and generator spread, unbinned, binned).
2. The kernels of the parametrised fit on the fitted density-ratio matrix
   ``(n_SR, n_hypotheses)``: the profile fit, and background-only toys with the screened
   Newton solver against the exhaustive one (all hypotheses, the baseline), as a ratio
   measured in the same run.

Usage::

    python benchmarks/bench_infer.py --background qcd_a/features/*.parquet \\
        --signal wprime.parquet --signal-grid GRID_DIR --n-signal 1000 --json bench_infer.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gbi.infer import InferConfig, load_signal_grid, run_inference
from gbi.infer.mixture import profile_mixture, toy_q0

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from lhco_injection_scan import load_features


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--background", nargs="+", required=True)
    p.add_argument("--signal", nargs="+", required=True)
    p.add_argument("--signal-grid", nargs="+", required=True)
    p.add_argument("--n-signal", type=int, default=1000)
    p.add_argument("--flow-ensemble", type=int, default=3)
    p.add_argument("--toys", type=int, default=100)
    p.add_argument("--kernel-toys", type=int, default=30)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "gbi_bench_infer"
    background = load_features(args.background, work, "background")
    signal = load_features(args.signal, work, "signal")
    grid = load_signal_grid(args.signal_grid)
    columns = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")
    pick = np.random.default_rng(0).permutation(len(signal["mjj"]))[: args.n_signal]
    data = {c: np.concatenate([background[c], signal[c][pick]]) for c in columns}
    config = InferConfig(toys=args.toys, flow_ensemble=args.flow_ensemble)
    result, total = timed(run_inference, data, config=config, signal_grid=grid)
    summary = result.to_dict()
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": "cuda" if torch.cuda.is_available() else "cpu",
        },
        "n_signal_region": summary["counts"]["signal_region"],
        "total_seconds": total,
        "stages": summary["stages"],
        "mu_hat": {m: r.get("mu_hat") for m, r in summary["methods"].items()},
    }
    fit = result.fits["parametrized"]
    ratios = fit.ratios
    _, t_profile = timed(profile_mixture, ratios)
    pool = ratios[np.random.default_rng(1).integers(len(ratios), size=2 * len(ratios))]
    n = len(ratios)
    exhaustive, t_exhaustive = timed(toy_q0, pool, n, args.kernel_toys, seed=3, screen=0)
    report["kernels"] = {
        "ratio_matrix_shape": list(ratios.shape),
        "profile_fit_seconds": t_profile,
        "toy_seconds_exhaustive": t_exhaustive / args.kernel_toys,
    }
    for screen in (8, 16, 32):
        screened, t_screened = timed(toy_q0, pool, n, args.kernel_toys, seed=3, screen=screen)
        report["kernels"][f"screen_{screen}"] = {
            "toy_seconds": t_screened / args.kernel_toys,
            "speedup": t_exhaustive / t_screened,
            "q0_max_abs_difference": float(np.abs(screened - exhaustive).max()),
            "q0_toys_differing": int((np.abs(screened - exhaustive) > 1e-6).sum()),
        }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
