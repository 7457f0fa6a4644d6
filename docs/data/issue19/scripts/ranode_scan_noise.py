"""How noisy is the R-ANODE ``w`` scan? A 5-d toy with an exactly known background.

Usage: python ranode_scan_noise.py MU FOLDS SEED

Background N(0, 1) in 5 dimensions (its exact log density is given to the scan), 30k
events; signal: 70% a core (sigma 0.2) and 30% tails (sigma 0.6) at (1.5, 1.5) in two
dimensions, shifted (0.5, sigma 0.8) in two more, a narrow peak (sigma 0.3) in the last.
Prints the scan points, their held-out log likelihoods and ``mu_hat / mu_true`` as JSON
(:func:`gbi.infer.signal_flow.scan_signal_flows` with its defaults and ``folds``). Stop 28
ran it with MU 0.013, FOLDS 2, SEED 1 under three training variants (issue 19 note):
neighbouring scan points differ by 20-35 nats from the training alone.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from scipy import stats

from gbi.infer.signal_flow import SignalFlowConfig, scan_fit, scan_signal_flows


def events(rng: np.random.Generator, n: int, mu: float) -> tuple[np.ndarray, np.ndarray, float]:
    is_sig = rng.random(n) < mu
    x = rng.normal(0.0, 1.0, (n, 5))
    ns = int(is_sig.sum())
    core = rng.random(ns) < 0.7
    s = np.empty((ns, 5))
    s[:, :2] = np.where(
        core[:, None],
        rng.normal([1.5, 1.5], 0.2, (ns, 2)),
        rng.normal([1.5, 1.5], 0.6, (ns, 2)),
    )
    s[:, 2:4] = rng.normal(0.5, 0.8, (ns, 2))
    s[:, 4] = rng.normal(0.0, 0.3, ns)
    x[is_sig] = s
    return x, stats.norm.logpdf(x).sum(1), float(is_sig.mean())


def main(mu: float, folds: int, seed: int) -> None:
    torch.set_num_threads(1)
    x, log_bkg, mu_true = events(np.random.default_rng(seed), 30000, mu)
    start = time.perf_counter()
    scan = scan_signal_flows(x, log_bkg, SignalFlowConfig(folds=folds), seed=seed)
    ratios = np.exp(np.clip(scan.log_sig - log_bkg[:, None], -700, 700))
    fit = scan_fit(scan.w, ratios)
    print(
        json.dumps(
            {
                "mu_true": mu_true,
                "mu_hat": fit.mu_hat,
                "ratio": fit.mu_hat / mu_true,
                "interval": fit.interval,
                "w": scan.w.tolist(),
                "log_likelihood": fit.per_hypothesis["log_likelihood"].tolist(),
                "seconds": time.perf_counter() - start,
            }
        )
    )


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
