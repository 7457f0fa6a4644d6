"""The w-conditional R-ANODE signal flow on the 5-d toy of ``ranode_scan_noise.py``.

Usage: python ranode_conditional_toy.py MU FIRST_SEED SEEDS [ENSEMBLE] [EM_STEPS] [EM_TOL]

(``EM_STEPS``: ``SignalFlowConfig.em_steps``, default 0; ``EM_TOL``: ``em_tol``, default 0;
the w after each step is printed, each member's and the ensemble's.)

For each seed: 30k events (exact background log density), :func:`gbi.infer.unbinned.fit_unbinned`
with ``signal_model="flow"`` and the default (conditional) scan; prints one JSON line per
seed with ``mu_hat / mu_true``, the likelihood interval, the signal flows' training error
(the spread of the members' own fits over sqrt(K)) and the total interval as
``gbi infer`` builds it (Student's t for the training error's K - 1 degrees of freedom),
and whether each covers the truth.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import numpy as np
import torch
from ranode_scan_noise import events

from gbi.infer.signal_flow import SignalFlowConfig
from gbi.infer.unbinned import UnbinnedConfig, fit_unbinned, training_refits
from gbi.infer.uncertainty import total_result
from gbi.metrics.ensembles import ensemble_error


def main(mu: float, first: int, seeds: int, ensemble: int, em: int = 0, tol: float = 0.0) -> None:
    torch.set_num_threads(1)
    for seed in range(first, first + seeds):
        x, log_bkg, mu_true = events(np.random.default_rng(seed), 30000, mu)
        start = time.perf_counter()
        flow = dataclasses.replace(SignalFlowConfig(), ensemble=ensemble, em_steps=em, em_tol=tol)
        fit = fit_unbinned(x, log_bkg, UnbinnedConfig(signal_model="flow", seed=seed, flow=flow))
        members = training_refits(fit)
        sigma = ensemble_error(members, "mean")
        total = total_result(
            fit, sigma_gen=sigma, sigma_gen_dof=max(len(members) - 1, 1), z_for_zero=99.0
        )
        print(
            json.dumps(
                {
                    "seed": seed,
                    "mu_true": mu_true,
                    "mu_hat": fit.mu_hat,
                    "ratio": fit.mu_hat / mu_true if mu_true > 0 else None,
                    "interval_stat": fit.interval,
                    "members": members,
                    "sigma_training": sigma,
                    "interval": [total["mu_lo"], total["mu_hi"]],
                    "covered_stat": fit.interval[0] <= mu_true <= fit.interval[1],
                    "covered": total["mu_lo"] <= mu_true <= total["mu_hi"],
                    "q0": fit.q0,
                    "em_w_steps": fit.per_hypothesis["em_steps"].tolist()
                    if "em_steps" in fit.per_hypothesis
                    else None,
                    "em_w_ensemble_steps": fit.per_hypothesis["em_ensemble_steps"].tolist()
                    if "em_ensemble_steps" in fit.per_hypothesis
                    else None,
                    "seconds": time.perf_counter() - start,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(
        float(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]) if len(sys.argv) > 4 else 3,
        int(sys.argv[5]) if len(sys.argv) > 5 else 0,
        float(sys.argv[6]) if len(sys.argv) > 6 else 0.0,
    )
