"""Flow generator candidates on the LHCO-like samples: training and sampling speed next to
fidelity, with the generator before issue 21 (``old default``) as baseline in the same run.

For every candidate (a :class:`~gbi.flows.FlowConfig` and :class:`~gbi.flows.TrainConfig`):

1. unconditional: trained on the five features of ``qcd_a_000`` (50k events, the README's
   amplification run), ``C2ST AUC`` of as many generated events as ``qcd_b_000`` holds
   against ``qcd_b_000`` (independent QCD);
2. conditional sideband model: ``p(mj1, delta_mj, tau21_j1, tau21_j2 | mjj)`` trained on
   ``qcd_a_000`` outside 3300 < mjj < 3700 GeV, sampled inside with mjj from a KDE of the
   signal-region mjj of ``qcd_a_000``, ``C2ST AUC`` against the true signal-region QCD of
   ``qcd_b_000..003`` (the acceptance of ``examples/amplify_lhco.py``).

Printed per candidate: training events/s per epoch (training events x epochs run / training
seconds, validation included) of both models, epochs run, sampling events/s of the trained
unconditional model (best of ``--repeats`` on ``--sample-threads``) and both AUCs, with the
ratio to ``old default``. Training runs on ``--threads`` (default 1)::

    python benchmarks/bench_flow_fidelity.py --work /tmp/flow_fidelity
        [--candidates "old default" default] [--threads 1] [--sample-threads 2]
        [--speed-epochs 2 --repeats 3]   # training speed only, interleaved
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zuko

from gbi.flows import FlowConfig, FlowModel, MjjKDE, TrainConfig, Window, train_model
from gbi.flows.evaluation import evaluate_samples
from gbi.flows.models import build_flow
from gbi.tables import read_table
from gbi.threads import thread_budget

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")
SR = (3300.0, 3700.0)

#: name -> (FlowConfig keywords, TrainConfig keywords); "old default" is the generator
#: before issue 21 (with zuko's spline), "default" what FlowConfig()/TrainConfig() give
#: now; "nsf coupling" uses zuko's spline, "nsf cpl ..." gbi's (gbi.flows.splines).
CANDIDATES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "old default": (
        {"flow": "nsf", "passes": None, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "nsf cpl": (
        {"flow": "nsf", "passes": 2, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "nsf cpl b1024": (
        {"flow": "nsf", "passes": 2, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 1024, "learning_rate": 6e-4},
    ),
    "nsf cpl b2048": (
        {"flow": "nsf", "passes": 2, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 2048, "learning_rate": 1e-3},
    ),
    "default": ({}, {}),
    "nsf coupling": (
        {"flow": "nsf", "passes": 2, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "maf coupling": (
        {"flow": "maf", "passes": 2, "transforms": 4, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "maf coupling 6": (
        {"flow": "maf", "passes": 2, "transforms": 6, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "maf": (
        {"flow": "maf", "passes": None, "transforms": 4, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 3e-4},
    ),
    "maf lr1e-3": (
        {"flow": "maf", "passes": None, "transforms": 4, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 1e-3},
    ),
    "maf 6 lr1e-3": (
        {"flow": "maf", "passes": None, "transforms": 6, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 1e-3},
    ),
    "maf 8 lr1e-3": (
        {"flow": "maf", "passes": None, "transforms": 8, "hidden_features": (64, 64)},
        {"batch_size": 512, "learning_rate": 1e-3},
    ),
    "maf 6 [128] lr1e-3": (
        {"flow": "maf", "passes": None, "transforms": 6, "hidden_features": (128, 128)},
        {"batch_size": 512, "learning_rate": 1e-3},
    ),
    "nsf coupling b2048": (
        {"flow": "nsf", "passes": 2, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 2048, "learning_rate": 1e-3},
    ),
    "default seed 1": ({}, {"seed": 1}),
    "default seed 2": ({}, {"seed": 2}),
    "nsf ar": ({"passes": None}, {}),
    "nsf ar seed 1": ({"passes": None}, {"seed": 1}),
    "nsf p3": ({"passes": 3}, {}),
    "nsf p3 seed 1": ({"passes": 3}, {"seed": 1}),
    "nsf p3 seed 2": ({"passes": 3}, {"seed": 2}),
    "nsf ar seed 2": ({"passes": None}, {"seed": 2}),
    "old default seed 1": (
        {"flow": "nsf", "passes": None, "transforms": 4, "hidden_features": (64, 64), "bins": 8},
        {"batch_size": 512, "learning_rate": 3e-4, "seed": 1},
    ),
    "nsf cpl 6": ({"transforms": 6}, {}),
    "nsf cpl 8": ({"transforms": 8}, {}),
    "nsf cpl 16 bins": ({"bins": 16}, {}),
    "nsf cpl 6 [32,32]": ({"transforms": 6, "hidden_features": (32, 32)}, {}),
    "nsf cpl 8 [32,32]": ({"transforms": 8, "hidden_features": (32, 32)}, {}),
    "nsf cpl 6 16 bins [48,48]": ({"transforms": 6, "bins": 16, "hidden_features": (48, 48)}, {}),
    "maf coupling 6 b2048": (
        {"flow": "maf", "passes": 2, "transforms": 6, "hidden_features": (64, 64)},
        {"batch_size": 2048, "learning_rate": 1e-3},
    ),
}


def features(data: Path, work: Path) -> dict[str, Path]:
    """Feature Parquet files of ``qcd_a_000`` and ``qcd_b_000..003`` (cached in ``work``)."""
    sys.path.insert(0, str(EXAMPLES))
    from amplify_lhco import lhco_features

    out = work / "features"
    out.mkdir(parents=True, exist_ok=True)
    names = ["qcd_a_000", *[f"qcd_b_00{k}" for k in range(4)]]
    return {name: lhco_features(data / f"{name}.root", out) for name in names}


def concat(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def train_rate(model: FlowModel) -> tuple[float, int]:
    """Training events/s per epoch (validation included) and epochs run."""
    member = model.metadata["members"][0]
    rate = member["n_train"] * member["epochs_run"] / member["train_seconds"]
    return rate, int(member["epochs_run"])


def sample_rate(model: FlowModel, n: int, threads: int, repeats: int) -> float:
    """Best events/s of ``model.sample(n)`` on ``threads`` threads."""
    best = 0.0
    with thread_budget(threads):
        model.sample(4096, seed=0)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model.sample(n, seed=0)
            best = max(best, n / (time.perf_counter() - start))
    return best


#: candidates built with zuko's own spline (zuko.flows.NSF), as before issue 21
ZUKO_SPLINE = {"old default", "old default seed 1", "nsf coupling"}


@contextlib.contextmanager
def zuko_spline(active: bool) -> Iterator[None]:
    """Build NSFs with ``zuko.flows.NSF`` (the flow before issue 21) while active."""
    import gbi.flows.fitting as fitting

    def build(config: FlowConfig) -> torch.nn.Module:
        if config.flow != "nsf":
            return build_flow(config)
        return zuko.flows.NSF(
            len(config.features),
            len(config.context),
            bins=config.bins,
            transforms=config.transforms,
            hidden_features=config.hidden_features,
            passes=config.passes,
        )

    saved = fitting.build_flow
    fitting.build_flow = build if active else build_flow  # type: ignore[assignment]
    try:
        yield
    finally:
        fitting.build_flow = saved  # type: ignore[assignment]


def run(
    name: str, feat: dict[str, Path], args: argparse.Namespace, cache: dict[str, Any]
) -> dict[str, Any]:
    with zuko_spline(name in ZUKO_SPLINE):
        return _run(name, feat, args, cache)


def _run(
    name: str, feat: dict[str, Path], args: argparse.Namespace, cache: dict[str, Any]
) -> dict[str, Any]:
    flow_kw, train_kw = CANDIDATES[name]
    train = TrainConfig(device="cpu", **train_kw)
    qcd_a = read_table(feat["qcd_a_000"])
    qcd_b0 = read_table(feat["qcd_b_000"])
    out: dict[str, Any] = {"flow": flow_kw, "train": train_kw}
    with thread_budget(args.threads):
        model = train_model(qcd_a, FlowConfig(features=FEATURES, **flow_kw), train, progress=False)
    out["unconditional_train_rate"], out["unconditional_epochs"] = train_rate(model)
    out["config"] = model.members[0].config.to_dict()
    out["sample_rate"] = sample_rate(model, args.sample, args.sample_threads, args.repeats)
    with thread_budget(args.threads):
        generated = model.sample(len(qcd_b0["mjj"]), seed=7)
        report = evaluate_samples(qcd_b0, generated, FEATURES)
    out["unconditional_auc"] = (report["c2st_auc"], report["c2st_auc_err"])

    sr = Window("mjj", *SR)
    sidebands, sr_data = sr.drop(qcd_a), sr.keep(qcd_a)
    if "truth" not in cache:
        cache["truth"] = sr.keep(concat([read_table(feat[f"qcd_b_00{k}"]) for k in range(4)]))
    truth = cache["truth"]
    cond = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")
    config = FlowConfig(features=cond, context=("mjj",), **flow_kw)
    with thread_budget(args.threads):
        model = train_model(
            sidebands, config, TrainConfig(device="cpu", patience=20, **train_kw), progress=False
        )
        kde = MjjKDE(sr_data["mjj"], low=SR[0], high=SR[1])
        generated = model.sample(len(truth["mjj"]), context=kde, seed=11)
        report = evaluate_samples(truth, generated, cond, context=("mjj",))
    out["conditional_train_rate"], out["conditional_epochs"] = train_rate(model)
    out["conditional_auc"] = (report["c2st_auc"], report["c2st_auc_err"])
    return out


def train_speed(names: list[str], feat: dict[str, Path], args: argparse.Namespace) -> None:
    """Training events/s per epoch only: ``--speed-epochs`` epochs of the unconditional
    model per candidate, ``--repeats`` interleaved rounds, best kept (fairer than the
    single long runs on a shared machine)."""
    qcd_a = read_table(feat["qcd_a_000"])
    best = dict.fromkeys(names, 0.0)
    for _ in range(args.repeats):
        for name in names:
            flow_kw, train_kw = CANDIDATES[name]
            train = TrainConfig(
                device="cpu", epochs=args.speed_epochs, patience=args.speed_epochs + 1, **train_kw
            )
            with zuko_spline(name in ZUKO_SPLINE), thread_budget(args.threads):
                model = train_model(
                    qcd_a, FlowConfig(features=FEATURES, **flow_kw), train, progress=False
                )
            best[name] = max(best[name], train_rate(model)[0])
    base = best.get("old default")
    print(
        f"training events/s per epoch, {args.speed_epochs} epochs, best of {args.repeats}, "
        f"interleaved, {args.threads} thread(s)"
    )
    for name, value in best.items():
        ratio = f" ({value / base:.2f}x)" if base else ""
        print(f"{name:<22}{value:>12,.0f}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/lhco_like"
    )
    parser.add_argument("--work", type=Path, required=True, help="feature cache and results")
    parser.add_argument(
        "--candidates", nargs="+", default=["old default", "default"], choices=list(CANDIDATES)
    )
    parser.add_argument("--threads", type=int, default=1, help="threads of training")
    parser.add_argument("--sample-threads", type=int, default=2)
    parser.add_argument("--sample", type=int, default=200_000, help="events per sampling timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--speed-epochs",
        type=int,
        default=0,
        help="only time training: this many epochs per candidate, --repeats rounds",
    )
    args = parser.parse_args()

    feat = features(args.data, args.work)
    if args.speed_epochs:
        train_speed(args.candidates, feat, args)
        return
    results: dict[str, Any] = {}
    cache: dict[str, Any] = {}
    for name in args.candidates:
        results[name] = run(name, feat, args, cache)
        print(name, json.dumps(results[name]), flush=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=1))

    base = results.get("old default")
    print(
        f"\ntraining on {args.threads} thread(s), sampling on {args.sample_threads}; "
        "ratios against 'old default' in this run"
    )
    print(
        f"{'candidate':<22}{'train ev/s (uncond)':>22}{'train ev/s (cond)':>22}"
        f"{'sample ev/s':>20}{'AUC uncond':>18}{'AUC cond SR':>18}"
    )
    for name, r in results.items():

        def cell(key: str, r: dict[str, Any] = r) -> str:
            ratio = f" ({r[key] / base[key]:4.2f}x)" if base else ""
            return f"{r[key]:,.0f}{ratio}"

        ua, ca = r["unconditional_auc"], r["conditional_auc"]
        print(
            f"{name:<22}{cell('unconditional_train_rate'):>22}{cell('conditional_train_rate'):>22}"
            f"{cell('sample_rate'):>20}{f'{ua[0]:.3f} ± {ua[1]:.3f}':>18}"
            f"{f'{ca[0]:.3f} ± {ca[1]:.3f}':>18}"
        )
    print(
        "epochs run (uncond, cond): "
        + ", ".join(
            f"{n}: {r['unconditional_epochs']}/{r['conditional_epochs']}"
            for n, r in results.items()
        )
    )


if __name__ == "__main__":
    main()
