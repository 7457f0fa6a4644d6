"""The unbinned flow's interval with the cross-fit error, against the members-only one, on
the same runs (issue 19, stop 34).

Usage: python cross_fit_summary.py FILE.json [...]

For each unbinned row with a signal: ``mu_hat / mu_true``, the likelihood half-width, the
cross-fit error (the folds' spread, ``mu_sys_cross_fit``) and the members' training spread,
relative to ``mu_true``, which of the two the interval took (``signal_density_error``), and
whether the reported interval holds the truth. The members-only interval (the construction
before stop 34: the likelihood interval with ``t x hypot(mu_sys_flows,
mu_sys_signal_flow_training)``) is recomputed from the stored fields for comparison.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from gbi.infer.uncertainty import combined_dof, total_interval


def members_interval(x: dict) -> tuple[float, float]:
    flows, training = x["mu_sys_flows"], x["mu_sys_signal_flow_training"]
    dof = combined_dof(
        [
            (flows, len(x["mu_hat_flow_members"]) - 1),
            (training, len(x["mu_hat_signal_flow_members"]) - 1),
        ]
    )
    return total_interval(
        x["mu_hat"],
        (x["mu_lo_stat"], x["mu_hi_stat"]),
        sigma_gen=math.hypot(flows, training),
        z_global=x["significance"],
        sigma_gen_dof=dof,
    )


def main(paths: list[str]) -> None:
    rows = []
    for p in paths:
        with open(p) as f:
            rows += [
                x
                for x in json.load(f)["results"]
                if x["method"] == "unbinned" and x["n_signal"] > 0 and x["mu_hat"] is not None
            ]
    for n in sorted({x["n_signal"] for x in rows}):
        r = [x for x in rows if x["n_signal"] == n]
        t = np.array([x["mu_true"] for x in r])
        ratio = np.array([x["mu_hat"] for x in r]) / t
        new = np.array([[x["mu_lo"], x["mu_hi"]] for x in r])
        old = np.array([members_interval(x) for x in r])
        print(f"N = {n}: {len(r)} runs")
        for x, rt, tt, (lo, hi) in zip(r, ratio, t, new, strict=True):
            stat = (x["mu_hi_stat"] - x["mu_lo_stat"]) / 2 / tt
            folds = np.round(np.array(x["mu_hat_fold_members"]) / tt, 2).tolist()
            print(
                f"  seed {x['seed']}: ratio {rt:.3f} stat {stat:.3f} cross-fit "
                f"{x['mu_sys_cross_fit'] / tt:.3f} members {x['mu_sys_signal_flow_training'] / tt:.3f} "
                f"flows {x['mu_sys_flows'] / tt:.3f} -> {x['signal_density_error']:9s} "
                f"half-width {(hi - lo) / 2 / tt:.3f} covers {lo <= tt <= hi}  folds {folds}"
            )
        for name, iv in (("cross-fit (reported)", new), ("members only", old)):
            cov = (iv[:, 0] <= t) & (t <= iv[:, 1])
            c = float(cov.mean())
            print(
                f"  {name:21s} median ratio {np.median(ratio):.3f} (std {ratio.std(ddof=1):.3f}) "
                f"half-width median {np.median((iv[:, 1] - iv[:, 0]) / 2 / t):.3f}  "
                f"68% coverage {cov.sum()}/{len(r)} = {c:.2f} +- {math.sqrt(c * (1 - c) / len(r)):.2f}"
            )
        kinds = [x["signal_density_error"] for x in r]
        print(f"  cross-fit taken in {kinds.count('cross-fit')}/{len(r)} runs")


if __name__ == "__main__":
    main(sys.argv[1:])
