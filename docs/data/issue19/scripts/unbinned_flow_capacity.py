"""Signal-flow capacity of the conditional R-ANODE fit on one LHCO-style run (issue 19, stop 29).

Usage: python unbinned_flow_capacity.py --signal SIG.root --background QCD.parquet [...]
       [--seed 234] [--examples DIR]

One pseudo-experiment (200k background events drawn as ``examples/gbi_injection_scan.py``
draws them for ``--seed``, 1000 W' injected, sideband subtraction off) is run with the
Gaussian-mixture unbinned fit; then, on the same background flows, the R-ANODE flow fit
(``signal_model="flow"``) with the default signal flow, a bigger one (4 transforms, 64x64)
and the default with patience 12 and 80 epochs. Prints ``mu_hat / mu_true`` per variant.
Output of stop 29: ``../unbinned_flow_capacity_seed234.txt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

from _draw import parser, pseudo_experiment
from scipy.special import logsumexp

from gbi.infer import InferConfig, run_inference
from gbi.infer.signal_flow import SignalFlowConfig
from gbi.infer.unbinned import MjjSidebandDensity, UnbinnedConfig, fit_unbinned, training_refits
from gbi.tables import to_matrix


def main() -> None:
    args = parser(__doc__ or "", seed=234).parse_args()
    seed = args.seed
    base = InferConfig(methods=("unbinned",), sideband_signal="off", unbinned_toys=1)
    columns = ("mjj", *base.features)
    data = pseudo_experiment(args, columns, "gbi_flow_capacity_")
    res = run_inference(data, config=dataclasses.replace(base, seed=seed))
    truth = res.mu_true
    assert truth is not None
    assert res.background is not None
    print("gmm default", res.methods["unbinned"].values["mu_hat"] / truth, flush=True)
    lo, hi = base.regions.signal_region
    sr = (data["mjj"] >= lo) & (data["mjj"] < hi)
    data_sr = {c: data[c][sr] for c in columns}
    mjj_density = MjjSidebandDensity(data["mjj"], base.regions.signal_region)
    log_members = res.background.model.member_log_probs(data_sr)
    log_bkg = (
        logsumexp(log_members, axis=0)
        - math.log(len(log_members))
        + mjj_density.log_pdf(data_sr["mjj"])
    )
    cols = (*base.features, "mjj")
    x = to_matrix(data_sr, cols)
    for name, flow in [
        ("default", SignalFlowConfig()),
        ("4 transforms, 64x64", SignalFlowConfig(transforms=4, hidden_features=(64, 64))),
        ("default, patience 12, epochs 80", SignalFlowConfig(patience=12, epochs=80)),
    ]:
        start = time.time()
        config = UnbinnedConfig(signal_model="flow", seed=seed, flow=flow)
        fit = fit_unbinned(x, log_bkg, config, cols)
        row = {
            "variant": name,
            "ratio": fit.mu_hat / truth,
            "interval": [v / truth for v in fit.interval],
            "members": [m / truth for m in training_refits(fit)],
            "epochs": int(fit.per_hypothesis["epochs"][0]),
            "s": time.time() - start,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
