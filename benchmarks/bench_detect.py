#!/usr/bin/env python
"""Benchmark the anomaly-detection pipeline: classifier training throughput and stage times.

1. Classifier training throughput (events/s = training events of a 5-fold ensemble fit,
   i.e. every event once, divided by the wall time) for HistGradientBoosting and the MLP,
   on SR events of the data background (label 1) vs the reference background (label 0),
   at several sample sizes.
2. (unless ``--no-pipeline``) the full pipeline (:func:`gbi.detect.run_detection`, all four
   methods) on data = background + ``--n-signal`` signal events, wall time per stage.

Inputs are feature Parquet files (``gbi process`` output). Usage::

    python benchmarks/bench_detect.py --background qcd_a.parquet \\
        --reference-background qcd_b.parquet --signal wprime.parquet \\
        --sizes 20000 60000 --n-signal 1000 --json bench_detect.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np

from gbi.classifiers import ClassifierConfig, KFoldEnsemble
from gbi.detect import DetectConfig, run_detection
from gbi.flows import FlowConfig, TrainConfig
from gbi.tables import read_table, subset

FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


def classifier_throughput(
    x1: np.ndarray, x0: np.ndarray, kind: str, size: int, max_iter: int, epochs: int
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n1 = min(len(x1), size // 2)
    n0 = min(len(x0), size - n1)
    x = np.concatenate(
        [x1[rng.choice(len(x1), n1, replace=False)], x0[rng.choice(len(x0), n0, replace=False)]]
    )
    y = np.concatenate([np.ones(n1), np.zeros(n0)])
    config = ClassifierConfig(kind=kind, max_iter=max_iter, epochs=epochs)  # type: ignore[arg-type]
    start = time.perf_counter()
    result = KFoldEnsemble(config, n_folds=5).fit(x, y)
    seconds = time.perf_counter() - start
    return {
        "kind": kind, "events": len(y), "seconds": seconds, "events_per_s": len(y) / seconds,
        "auc": result.auc,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--background", required=True)
    p.add_argument("--reference-background", required=True)
    p.add_argument("--signal", required=True)
    p.add_argument("--sizes", type=int, nargs="+", default=[20000, 60000])
    p.add_argument("--kinds", nargs="+", default=["hgb", "mlp"])
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--mlp-epochs", type=int, default=20)
    p.add_argument("--n-signal", type=int, default=1000)
    p.add_argument("--flow-epochs", type=int, default=20)
    p.add_argument("--no-pipeline", action="store_true")
    p.add_argument("--json", default="bench_detect.json")
    args = p.parse_args(argv)
    bkg, ref, sig = (
        read_table(f) for f in (args.background, args.reference_background, args.signal)
    )
    sr = lambda t: subset(t, t["region"] == 1)  # noqa: E731
    x1 = np.stack([sr(bkg)[f] for f in FEATURES], 1)
    x0 = np.stack([sr(ref)[f] for f in FEATURES], 1)
    doc: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg()},
        "classifiers": [],
    }  # fmt: skip
    for kind in args.kinds:
        for size in args.sizes:
            row = classifier_throughput(x1, x0, kind, size, args.max_iter, args.mlp_epochs)
            doc["classifiers"].append(row)
            print(
                f"{kind}: {row['events']} events, {row['seconds']:.1f} s, {row['events_per_s']:.0f} events/s"
            )
            _dump(doc, args.json)
    if not args.no_pipeline:
        order = np.random.default_rng(0).permutation(len(sig["mjj"]))
        injected = subset(sig, order[: args.n_signal])
        data = {k: np.concatenate([bkg[k], injected[k]]) for k in ("mjj", *FEATURES)}
        config = DetectConfig(
            classifier=ClassifierConfig(max_iter=args.max_iter),
            flow=FlowConfig(flow="maf", features=FEATURES, context=("mjj",)),
            flow_train=TrainConfig(epochs=args.flow_epochs, batch_size=1024, learning_rate=2e-3),
        )
        start = time.perf_counter()
        result = run_detection(
            data, config=config, reference=ref, signal=subset(sig, order[args.n_signal :])
        )
        doc["pipeline"] = {
            "n_signal": args.n_signal, "wall_s": time.perf_counter() - start,
            "stages_s": result.summary.stages, "counts": result.summary.counts.to_dict(),
            "flow_epochs": args.flow_epochs, "max_iter": args.max_iter,
        }  # fmt: skip
        for stage, seconds in result.summary.stages.items():
            print(f"{stage:28s} {seconds:8.1f} s")
        _dump(doc, args.json)
    return 0


def _dump(doc: dict[str, Any], path: str) -> None:
    with open(path, "w") as handle:
        json.dump(doc, handle, indent=1)


if __name__ == "__main__":
    sys.exit(main())
