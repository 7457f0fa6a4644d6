"""Where does the parametrized fit's model-seed scatter come from? (issue 19, stop 29)

Usage: python generated_sample_scatter.py --signal SIG.root --background QCD.parquet [...]
       --signal-grid GRID [--seed 233] [--repeats 5] [--examples DIR]

One LHCO-style pseudo-experiment (200k background events drawn as
``examples/gbi_injection_scan.py`` draws them for ``--seed``, 1000 W' injected, sideband
subtraction off) is run once with ``gbi.infer.run_inference``; then, with its data and
flows fixed and one reference sample of 10 n_SR generated events for all, single-member
classifiers are retrained ``--repeats`` times (A) on fresh generated samples with the same
classifier seed, (B) on the run's generated sample with new classifier seeds. Prints
``mu_hat / mu_true`` of each fit. Output of stop 29: ``../generated_sample_scatter_seed233.txt``.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from _draw import parser, pseudo_experiment

from gbi.background import n_generated
from gbi.infer import InferConfig, load_signal_grid, run_inference
from gbi.infer.parametrized import ParametrizedModel, fit_parametrized


def main() -> None:
    p = parser(__doc__ or "", seed=233)
    p.add_argument("--signal-grid", nargs="+", required=True)
    p.add_argument("--repeats", type=int, default=5)
    p.set_defaults(threads=2)
    args = p.parse_args()
    seed = args.seed
    base = InferConfig(methods=("parametrized",), sideband_signal="off", toys=20)
    columns = ("mjj", *base.features)
    data = pseudo_experiment(args, columns, "gbi_sample_scatter_")
    grid = load_signal_grid(args.signal_grid)
    res = run_inference(data, config=dataclasses.replace(base, seed=seed), signal_grid=grid)
    truth = res.mu_true
    assert truth is not None
    m = res.methods["parametrized"].values
    members = np.array(m["mu_hat_classifier_members"]) / truth
    print("run mu_hat/true", m["mu_hat"] / truth, "members", members, flush=True)
    lo, hi = base.regions.signal_region
    sr = (data["mjj"] >= lo) & (data["mjj"] < hi)
    data_sr = {c: data[c][sr] for c in columns}
    n_sr = int(sr.sum())
    bg = res.background
    assert bg is not None
    reference = bg.sample_sr(10 * n_sr, seed=91000)
    n_gen = n_generated(n_sr, base.oversampling)
    run_sample = bg.sample_sr(n_gen, seed=seed + 101)  # the run's own (SR_SAMPLE_SEED)
    one = dataclasses.replace(base.parametrized, ensemble=1)
    for k in range(args.repeats):
        for label in "AB":
            start = time.time()
            if label == "A":
                sample, cfg = (
                    bg.sample_sr(n_gen, seed=50000 + k),
                    dataclasses.replace(one, seed=seed),
                )
            else:
                sample, cfg = run_sample, dataclasses.replace(one, seed=seed + 100 + k)
            model = ParametrizedModel.train(grid, sample, cfg)
            fit, _, hyp = fit_parametrized(model, data_sr, normalise_with=reference)
            print(
                f"{label}{k}: mu_hat/true {fit.mu_hat / truth:.3f} best {hyp[fit.best]} "
                f"({time.time() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
