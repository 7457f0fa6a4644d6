"""The unbinned R-ANODE fit on a 2-d toy whose background a small flow learns easily.

Usage: python unbinned_toy_overshoot.py SEED MU EVENTS [SEED MU EVENTS ...]

Background N(0, 1) in 2 dimensions (its exact log density is given to the fit), signal a
bump of width 0.2 at (1.5, 1.5): the toy of ``tests/infer/test_signal_flow.py``. For each
(seed, fraction, events) prints one JSON line with ``mu_hat / mu_true`` of the scan alone
(``em_steps=0``) and with the default EM steps (the ensemble's ``w`` per step), both
:func:`gbi.infer.unbinned.fit_unbinned` with ``signal_model="flow"`` and seed 1 (README
section 8, "A known limit": the mixture likelihood is flat above the true ``w``, and the
fit walks up where the flow absorbs the background easily).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from scipy import stats

from gbi.infer.signal_flow import SignalFlowConfig
from gbi.infer.unbinned import UnbinnedConfig, fit_unbinned


def events(rng: np.random.Generator, n: int, mu: float) -> tuple[np.ndarray, np.ndarray, float]:
    is_signal = rng.random(n) < mu
    x = rng.normal(0.0, 1.0, (n, 2))
    x[is_signal] = rng.normal([1.5, 1.5], [0.2, 0.2], (int(is_signal.sum()), 2))
    return x, stats.norm.logpdf(x).sum(1), float(is_signal.mean())


def main(args: list[str]) -> None:
    torch.set_num_threads(1)
    for i in range(0, len(args), 3):
        seed, mu, n = int(args[i]), float(args[i + 1]), int(args[i + 2])
        x, log_bkg, mu_true = events(np.random.default_rng(seed), n, mu)
        row: dict = {"seed": seed, "mu": mu, "events": n, "mu_true": mu_true}
        for name, em_steps in (("scan", 0), ("em", SignalFlowConfig.em_steps)):
            start = time.perf_counter()
            flow = SignalFlowConfig(em_steps=em_steps)
            fit = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=1, flow=flow))
            steps = fit.per_hypothesis.get("em_ensemble_steps")
            row[name] = {
                "ratio": fit.mu_hat / mu_true,
                "interval": [v / mu_true for v in fit.interval],
                "significance_local": fit.significance,
                "em_steps": None if steps is None else [v / mu_true for v in steps],
                "seconds": time.perf_counter() - start,
            }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
