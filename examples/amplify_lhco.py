"""Acceptance runs of the flow amplifier on the LHCO-like samples (../shared/data/lhco_like).

1. Unconditional amplification: ``gbi amplify train``'s defaults (its library call
   :func:`gbi.flows.amplify_train`) on the five LHCO features of ``qcd_a_000`` (50k events),
   evaluated against ``qcd_b_000`` (classifier two-sample AUC, per-feature divergences) and
   the amplification factor, measured against ``qcd_b_000`` and against the larger
   ``qcd_b_000..003`` (200k events).
2. Conditional sideband model (CATHODE style): ``p(mj1, delta_mj, tau21_j1, tau21_j2 | mjj)``
   trained on ``qcd_a_000`` outside 3300 < mjj < 3700 GeV, sampled inside it with mjj from a
   KDE of the signal-region mjj of ``qcd_a_000`` (never seen by the flow), compared with the
   true signal-region QCD of ``qcd_b_000..003``.

Writes ``summary.json`` and plots into ``--out``::

    python examples/amplify_lhco.py --out /tmp/amplify_lhco
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # plots go to files; set before matplotlib loads

import numpy as np

SR = (3300.0, 3700.0)


def lhco_features(root_file: Path, out: Path) -> Path:
    """Feature Parquet of one LHCO-like ROOT file (until ``gbi process`` is available)."""
    import awkward as ak
    import uproot

    from gbi.features import JET_FIELDS, dijet_features
    from gbi.tables import write_table

    target = out / f"{root_file.stem}.parquet"
    if target.is_file():
        return target
    with uproot.open(root_file) as handle:
        tree = handle["Events"]
        arrays = tree.arrays(["genWeight", "label", *[f"FatJet_{f}" for f in JET_FIELDS]])
    jets = ak.zip({f: arrays[f"FatJet_{f}"] for f in JET_FIELDS})
    mask, features = dijet_features(jets)
    columns = dict(features)
    columns["weight"] = np.asarray(arrays["genWeight"][mask], dtype=np.float64)
    columns["label"] = np.asarray(arrays["label"][mask])
    return write_table(columns, target)


def concat(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def unconditional(feat: dict[str, Path], out: Path, device: str, threads: int) -> dict:
    from gbi.features import FEATURE_COLUMNS, FEATURE_UNITS
    from gbi.flows import FlowConfig, TrainConfig, amplify_train, evaluate_model, load_model
    from gbi.flows.evaluation import evaluate_samples
    from gbi.metrics import amplification_factor
    from gbi.tables import read_table

    model_dir = out / "qcd_unconditional"
    start = time.perf_counter()
    # what `gbi amplify train FILE --out DIR --device DEVICE` runs: its defaults
    amplify_train(
        feat["qcd_a_000"],
        model_dir,
        FlowConfig(features=FEATURE_COLUMNS),
        TrainConfig(device=device),
        threads=threads,
    )
    train_seconds = time.perf_counter() - start
    report = evaluate_model(
        model_dir,
        feat["qcd_b_000"],
        out / "qcd_unconditional_eval.json",
        plot_dir=out / "plots_unconditional",
        device=device,
        threads=threads,
    )
    # amplification against the 4x larger independent sample, with 1M generated events
    model = load_model(model_dir, device=device)
    big = concat([read_table(feat[f"qcd_b_00{k}"]) for k in range(4)])
    start = time.perf_counter()
    generated = model.sample(1_000_000, seed=7)
    sample_seconds = time.perf_counter() - start
    n_train = model.metadata["training"]["n_events"]
    amp200k = {
        c: amplification_factor(generated[c], big[c], n_train).to_dict() for c in FEATURE_COLUMNS
    }
    # classifier test with 200k events per class: a sharper look at the same question
    big_report = evaluate_samples(
        big, generated, FEATURE_COLUMNS, n_train=n_train, units=FEATURE_UNITS
    )
    return {
        "train_seconds_wall": train_seconds,
        "members": model.metadata["members"][0] | {"history": None},
        "evaluate_vs_qcd_b_000": report,
        "amplification_vs_qcd_b_200k": amp200k,
        "c2st_vs_qcd_b_200k": {k: big_report[k] for k in ("c2st_auc", "c2st_auc_err")},
        "sampling_events_per_second_1M": 1_000_000 / sample_seconds,
    }


def conditional(feat: dict[str, Path], out: Path, device: str) -> dict:
    from gbi.features import FEATURE_UNITS
    from gbi.flows import FlowConfig, MjjKDE, TrainConfig, Window, train_model
    from gbi.flows.evaluation import evaluate_samples
    from gbi.tables import read_table

    data = read_table(feat["qcd_a_000"])
    sr = Window("mjj", *SR)
    sidebands = sr.drop(data)
    sr_data = sr.keep(data)
    truth = sr.keep(concat([read_table(feat[f"qcd_b_00{k}"]) for k in range(4)]))
    features = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")
    config = FlowConfig(flow="nsf", features=features, context=("mjj",))
    start = time.perf_counter()
    model = train_model(
        sidebands,
        config,
        TrainConfig(device=device, patience=20),
        out_dir=out / "qcd_sideband",
        source="qcd_a_000 sidebands",
    )
    train_seconds = time.perf_counter() - start
    kde = MjjKDE(sr_data["mjj"], low=SR[0], high=SR[1])
    n = len(truth["mjj"])
    start = time.perf_counter()
    generated = model.sample(n, context=kde, seed=11)
    sample_seconds = time.perf_counter() - start
    report = evaluate_samples(
        truth,
        generated,
        features,
        context=("mjj",),
        n_train=len(sidebands["mjj"]),
        plot_dir=out / "plots_sideband_sr",
        units=FEATURE_UNITS,
    )
    # the same comparison without mjj (features only), as CATHODE's background template
    no_mjj = evaluate_samples(truth, generated, features)
    return {
        "n_sideband_train": len(sidebands["mjj"]),
        "n_sr_kde": len(sr_data["mjj"]),
        "n_sr_truth": n,
        "train_seconds_wall": train_seconds,
        "members": model.metadata["members"][0] | {"history": None},
        "sampling_events_per_second": n / sample_seconds,
        "evaluate_sr": report,
        "c2st_features_only": {k: no_mjj[k] for k in ("c2st_auc", "c2st_auc_err")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared/data/lhco_like",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("unconditional", "conditional"), default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    feature_dir = args.out / "features"
    feature_dir.mkdir(exist_ok=True)
    names = ["qcd_a_000", *[f"qcd_b_00{k}" for k in range(4)]]
    feat = {name: lhco_features(args.data / f"{name}.root", feature_dir) for name in names}
    summary: dict = {}
    summary_path = args.out / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
    from gbi.io import write_json

    if args.only in (None, "unconditional"):
        summary["unconditional"] = unconditional(feat, args.out, args.device, args.threads)
        write_json(summary, summary_path)
    if args.only in (None, "conditional"):
        summary["conditional"] = conditional(feat, args.out, args.device)
        write_json(summary, summary_path)
    print(json.dumps(summary, indent=1, default=str)[:4000])


if __name__ == "__main__":
    main()
