#!/usr/bin/env python
"""Training and scoring throughput of every classifier kind on the same data, hgb first.

The data are a toy of the size and shape of a CATHODE training set: 5 Gaussian features,
class 1 with 5% of its events shifted (a weak, localised difference, as data vs generated).
Each kind trains one model with a fixed validation set (early stopping as in gbi detect),
``--repeat`` times, interleaved; the best time of each is reported as events/s, with the
ratio to hgb measured in the same run. The held-out AUC shows that the kinds learned the
same thing. Usage::

    python benchmarks/bench_classifiers.py --events 100000 --threads 2 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from gbi.classifiers import CLASSIFIER_KINDS, ClassifierConfig, make_classifier
from gbi.threads import thread_budget


def toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0: 5 standard normals; class 1: the same with 5% of events shifted by 1.5."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * n, 5))
    y = np.repeat([0, 1], n)
    shifted = (y == 1) & (rng.random(2 * n) < 0.05)
    x[shifted] += 1.5
    return x, y


def measure(kind: str, data: dict, repeat: int, device: str = "auto") -> dict:
    best_fit, best_score, auc = np.inf, np.inf, float("nan")
    x, y, xv, yv, xt, yt = data["train"] + data["val"] + data["test"]
    for _ in range(repeat):
        model = make_classifier(ClassifierConfig(kind=kind, seed=0, device=device))
        t0 = time.perf_counter()
        model.fit(x, y, np.ones(len(y)), xv, yv, np.ones(len(yv)))
        t1 = time.perf_counter()
        scores = model.score(xt)
        t2 = time.perf_counter()
        best_fit, best_score = min(best_fit, t1 - t0), min(best_score, t2 - t1)
        auc = float(roc_auc_score(yt, scores))
    return {
        "kind": kind,
        "train_seconds": best_fit,
        "train_events_per_s": len(y) / best_fit,
        "iterations": int(getattr(model, "best_iteration", 0) or 0),
        "score_events_per_s": len(yt) / best_score,
        "test_auc": auc,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000, help="training events per class")
    p.add_argument("--kinds", nargs="+", default=list(CLASSIFIER_KINDS))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args()
    n = args.events
    data = {"train": toy(n, 1), "val": toy(n // 4, 2), "test": toy(n // 2, 3)}
    with thread_budget(args.threads) as threads:
        rows = [measure(kind, data, args.repeat) for kind in args.kinds]
    base = next((r for r in rows if r["kind"] == "hgb"), rows[0])
    print(f"{2 * n} training events, {threads} threads, best of {args.repeat}")
    print("kind  train ev/s  (x hgb)  iterations  score ev/s  (x hgb)  test AUC")
    for r in rows:
        r["train_ratio"] = r["train_events_per_s"] / base["train_events_per_s"]
        r["score_ratio"] = r["score_events_per_s"] / base["score_events_per_s"]
        print(
            f"{r['kind']:5} {r['train_events_per_s']:10.0f}  ({r['train_ratio']:5.2f})"
            f"  {r['iterations']:10d}  {r['score_events_per_s']:10.0f}  ({r['score_ratio']:5.2f})"
            f"  {r['test_auc']:.4f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": threads, "events": 2 * n, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
