"""The R-ANODE ridge on the 2-d toy of ``unbinned_toy_overshoot.py``: the fit with the true
signal density, and EM steps started low on the scan's plateau.

Usage: python unbinned_toy_ridge.py SEED MU EVENTS [WIDTH] [DELTAS]

Prints ``mu_hat / mu_true`` with the true signal density (only ``w`` fitted), the scan's
(default :class:`gbi.infer.signal_flow.SignalFlowConfig`, seed 1, standardised inputs as
:func:`gbi.infer.unbinned.fit_unbinned` uses), and for each ``delta`` (nats, comma
separated, default ``0.5,2``) the EM steps started at the smallest scan point within
``delta`` of the maximum (the ensemble's ``w`` per step). Stop 36 ran seeds 21 and 22 (3%
of 6000 and 1% of 20000 events) and seed 23 (3% of 6000, WIDTH 0.4) for the oracle.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from scipy import stats

from gbi.infer.signal_flow import SignalFlowConfig, refine_em_members, scan_fit, scan_signal_flows


def main(seed: int, mu: float, n: int, width: float, deltas: list[float]) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    is_signal = rng.random(n) < mu
    x = rng.normal(0.0, 1.0, (n, 2))
    x[is_signal] = rng.normal([1.5, 1.5], [width, width], (int(is_signal.sum()), 2))
    log_bkg, mu_true = stats.norm.logpdf(x).sum(1), float(is_signal.mean())
    config = SignalFlowConfig()
    grid = np.geomspace(config.w_start, config.w_max, 4 * config.grid_points)
    r_true = np.exp(stats.norm.logpdf(x, 1.5, width).sum(1) - log_bkg)
    oracle = scan_fit(grid, np.repeat(r_true[:, None], len(grid), 1))
    print(f"seed {seed}: true signal density {oracle.mu_hat / mu_true:.2f}")
    mean, scale = x.mean(0), x.std(0)
    z, lb = (x - mean) / scale, log_bkg + np.log(scale).sum()
    scan = scan_signal_flows(z, lb, config, seed=1)
    members = scan.member_log_sig
    assert members is not None
    fit = scan_fit(scan.w, np.exp(np.clip(members - lb[:, None], -700, 700)))
    ll = fit.per_hypothesis["log_likelihood"]
    print(f"  scan {fit.mu_hat / mu_true:.2f}")
    seeds = [1 + 97 * m for m in range(len(members))]
    for delta in deltas:
        j = int(np.flatnonzero(ll >= ll.max() - delta)[0])
        _, _, steps, _ = refine_em_members(
            z, lb, float(scan.w[j]), members[:, :, j], config, seeds, scan.fold
        )
        print(
            f"  EM from {delta} nats below the maximum: "
            + " ".join(f"{w / mu_true:.2f}" for w in steps)
        )


if __name__ == "__main__":
    a = sys.argv[1:]
    main(
        int(a[0]),
        float(a[1]),
        int(a[2]),
        float(a[3]) if len(a) > 3 else 0.2,
        [float(d) for d in a[4].split(",")] if len(a) > 4 else [0.5, 2.0],
    )
