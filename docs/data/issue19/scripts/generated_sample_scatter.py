"""Where does the parametrized model-seed scatter come from? Seed-233 data and flows fixed;
single-member classifiers retrained (A) on fresh generated samples, (B) on the same generated
sample with new classifier seeds. Reference sample fixed (10 n_SR) for all."""
import dataclasses, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, "/work/main/examples")
from gbi_injection_scan import background_rows
from lhco_injection_scan import load_features
from gbi.infer import InferConfig, load_signal_grid, run_inference
from gbi.infer.parametrized import fit_parametrized, ParametrizedModel
from gbi.background import n_generated
from gbi.threads import limit_process_threads

limit_process_threads(2)
seed = 233
work = Path("/work/scratch/srcdiag")
bk = [f"/work/scratch/proc_qcd_{a}/features/qcd_{a}_00{i}.parquet" for a in "ab" for i in range(4)]
background = load_features(bk, work, "background")
signal = load_features(["/work/scratch/sig500/wprime_3500_500_100_23_000.root"], work, "signal")
grid = load_signal_grid(["/work/scratch/gen/grid3500"])
base = InferConfig(methods=("parametrized",), sideband_signal="off", toys=5)
columns = ("mjj", *base.features)
rng = np.random.default_rng(5000 + seed)
pick = background_rows(len(background["mjj"]), 200000, rng)
bkg = {c: background[c][pick] for c in columns}
order = rng.permutation(len(signal["mjj"]))
inj = {c: signal[c][order[:1000]] for c in columns}
data = {c: np.concatenate([bkg[c], inj[c]]) for c in columns}
data["label"] = np.r_[np.zeros(len(pick), int), np.ones(1000, int)]
res = run_inference(data, config=dataclasses.replace(base, seed=seed), signal_grid=grid)
m = res.methods["parametrized"].values
truth = res.mu_true
print("run mu_hat/true", m["mu_hat"] / truth, "members", np.array(m["mu_hat_classifier_members"]) / truth, flush=True)
lo, hi = base.regions.signal_region
sr = (data["mjj"] >= lo) & (data["mjj"] < hi)
data_sr = {c: data[c][sr] for c in columns}
n_sr = int(sr.sum())
bg = res.background
ref = bg.sample_sr(10 * n_sr, seed=91000)
gen0 = bg.sample_sr(n_generated(n_sr, base.oversampling), seed=seed + 101)
pcfg = dataclasses.replace(base.parametrized, ensemble=1)
for label, k in [(l, k) for k in range(5) for l in "AB"]:
    t = time.time()
    if label == "A":
        gen = bg.sample_sr(n_generated(n_sr, base.oversampling), seed=50000 + k)
        cfg = dataclasses.replace(pcfg, seed=seed)
    else:
        gen = gen0
        cfg = dataclasses.replace(pcfg, seed=seed + 100 + k)
    model = ParametrizedModel.train(grid, gen, cfg)
    fit, masses, hyp = fit_parametrized(model, data_sr, normalise_with=ref)
    print(f"{label}{k}: mu_hat/true {fit.mu_hat / truth:.3f} best {hyp[fit.best]} ({time.time()-t:.0f} s)", flush=True)
