"""Closure of the parametrized fit's normalisation error (issue 19, stop 41)

Usage: python normalisation_closure.py --signal SIG.root --background QCD.parquet [...]
       --signal-grid GRID [--seed 600] [--redraws 12] [--json OUT.json]

``mu_sys_normalisation`` claims how far ``mu_hat`` moves when the finite reference sample
that normalises the classifier's ratios (``reference_per_sr_event`` x n_SR generated SR
events, seed ``seed + REFERENCE_SEED``) is drawn again. This checks it: one LHCO-style
pseudo-experiment, drawn as ``examples/gbi_injection_scan.py`` draws it for ``--seed`` (200k
background events, 1000 W' injected, the default sideband subtraction and grid extension),
is run once with ``gbi.infer.run_inference``; then, with its data, flows and classifier
fixed, the fit is repeated with ``--redraws`` fresh reference samples of the same size. The
standard deviation of those ``mu_hat`` is the true normalisation error of this run; their
``normalisation_error`` the claimed one. The pipeline's own reference is refitted first
(``pipeline_reference``: must reproduce the reported ``mu_hat``). Prints one JSON object.
Output of stop 41: ``../stop41_normalisation_closure_seeds600-601.jsonl``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from _draw import parser, pseudo_experiment

from gbi.background import split_regions
from gbi.infer import InferConfig, load_signal_grid, run_inference
from gbi.infer.parametrized import fit_parametrized, normalisation_error
from gbi.infer.steps import REFERENCE_SEED
from gbi.regions import Regions


def main() -> None:
    p = parser(__doc__ or "", seed=600)
    p.add_argument("--signal-grid", nargs="+", required=True)
    p.add_argument("--redraws", type=int, default=12)
    p.add_argument("--json", default=None, help="also write the object here")
    args = p.parse_args()
    seed = args.seed
    regions = Regions(sr_low=3300.0, sr_high=3700.0)
    grid = load_signal_grid(args.signal_grid, regions=regions)
    base = InferConfig(
        methods=("parametrized",), toys=20, regions=regions, sideband_signal="subtract"
    )
    columns = ("mjj", *base.features)
    data = pseudo_experiment(args, columns, "gbi_norm_closure_")
    config = dataclasses.replace(base, seed=seed)
    res = run_inference(data, config=config, signal_grid=grid)
    reported = res.methods["parametrized"].values
    model, bg = res.parametrized_model, res.background
    assert model is not None
    assert bg is not None
    split = split_regions(data, regions)  # the SR events as the pipeline cuts them
    data_sr = split.signal_region(data)
    n_ref = max(1, round(config.parametrized.reference_per_sr_event * split.n_sr))

    def refit(ref_seed: int) -> tuple[float, float]:
        ref = bg.sample_sr(n_ref, seed=ref_seed)
        fit, _, _ = fit_parametrized(model, data_sr, normalise_with=ref)
        return float(fit.mu_hat), normalisation_error(fit)

    pipeline_mu, _ = refit(seed + REFERENCE_SEED)
    fits = [refit(10_000_000 + 7919 * k + seed) for k in range(args.redraws)]
    mus = [m for m, _ in fits]
    out = {
        "seed": seed,
        "mu_true": res.mu_true,
        "mu_hat": reported["mu_hat"],
        "pipeline_reference": pipeline_mu,
        "mu_sys_normalisation": reported["mu_sys_normalisation"],
        "mu_sys_classifiers": reported["mu_sys_classifiers"],
        "n_reference": n_ref,
        "redraw_mu_hat": mus,
        "redraw_normalisation_error": [e for _, e in fits],
        "redraw_sd": float(np.std(mus, ddof=1)),
        "redraw_rms_error": float(np.sqrt(np.mean(np.square([e for _, e in fits])))),
    }
    text = json.dumps(out)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
