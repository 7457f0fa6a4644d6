#!/usr/bin/env python
"""The GPU path, measured: flow training and sampling and classifier training on each device,
with the fidelity of what each device trained, so CUDA is checked against the CPU.

For every device of ``--devices`` (default ``cpu cuda``; a device that torch does not see is
reported and skipped) the benchmark

1. trains the default generator (:class:`gbi.flows.FlowConfig` defaults, 5 LHCO features,
   unconditional) for ``--epochs`` epochs on the training sample: training events/s per epoch;
2. samples it: events/s of the flow alone (tensors left on the device, synchronised) and of
   :meth:`gbi.flows.FlowModel.sample` (float64 NumPy arrays in physical units, what
   ``gbi amplify sample`` writes), for each ``--batch-sizes``;
3. grades it: the classifier two-sample test (:func:`gbi.metrics.c2st`, held-out folds) of the
   sampled events against the independent reference sample; the devices must agree within
   their errors (same architecture, same data, same seed; different arithmetic);
4. evaluates the CPU-trained flow's log-density on the device: the largest difference to the
   CPU's (nats; float32 arithmetic);
5. trains the classifiers that can use the device (``mlp``: torch; ``xgb``: xgboost's ``hist``
   with ``device="cuda"``; ``hgb`` runs on the CPU only and is the baseline) on the toy of
   ``bench_classifiers.py``: training events/s and held-out AUC.

Ratios are against the CPU measured in the same run. Inputs: ``--train`` and ``--reference``
(feature Parquet files or ``gbi process`` folders; e.g. ``qcd_a`` and ``qcd_b`` of the
LHCO-style samples); without them the shipped default QCD sample is processed and split in
halves. Usage::

    python benchmarks/bench_gpu.py --train feats/features/qcd_a.parquet \\
        --reference feats/features/qcd_b.parquet --epochs 10 --sample 20000000 \\
        --json gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gbi.background import read_features
from gbi.flows import FlowConfig, FlowModel, TrainConfig, train_model
from gbi.metrics import c2st
from gbi.threads import resolve_threads, thread_budget

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classifiers import measure, toy  # a sibling benchmark's toy and timing

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")


def load_inputs(args: argparse.Namespace) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(training table, reference table): the given files, or the shipped sample's halves."""
    if args.train and args.reference:
        train = read_features([args.train], "train", columns=FEATURES)
        ref = read_features([args.reference], "reference", columns=FEATURES)
        assert train is not None
        assert ref is not None
        return train.table, ref.table
    from gbi.feature_job import process_fileset
    from gbi.fileset import normalize_fileset
    from gbi.sample import default_sample_path

    work = Path(tempfile.mkdtemp(prefix="gbi_bench_gpu_"))
    files = [str(default_sample_path("qcd"))]
    process_fileset(normalize_fileset(files, source="qcd"), work, progress=False)
    got = read_features([work], "shipped sample", columns=FEATURES)
    assert got is not None
    table = got.table
    n = len(table["mjj"])
    order = np.random.default_rng(0).permutation(n)
    halves = order[: n // 2], order[n // 2 :]
    return tuple({k: v[idx] for k, v in table.items()} for idx in halves)  # type: ignore[return-value]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flow_rate(model: FlowModel, n: int, batch: int) -> float:
    """Events/s of the flow alone: tensors stay on the device."""
    member = model.members[0]
    done = 0
    with torch.inference_mode():
        member.flow().sample((min(batch, n),))  # warm-up (kernels, allocator)
        sync(member.device)
        start = time.perf_counter()
        while done < n:
            member.flow().sample((min(batch, n - done),))
            done += min(batch, n - done)
        sync(member.device)
    return n / (time.perf_counter() - start)


def full_rate(model: FlowModel, n: int, batch: int) -> tuple[float, dict[str, np.ndarray]]:
    """Events/s of FlowModel.sample (float64 NumPy, physical units) and the events."""
    model.sample(min(batch, n), seed=1, batch_size=batch)  # warm-up
    start = time.perf_counter()
    events = model.sample(n, seed=0, batch_size=batch)
    return n / (time.perf_counter() - start), events


def bench_device(
    name: str,
    args: argparse.Namespace,
    train: dict[str, np.ndarray],
    reference: np.ndarray,
    cpu_model: FlowModel | None,
) -> tuple[dict[str, Any], FlowModel]:
    device = torch.device(name)
    n_train = len(train["mjj"])
    config = FlowConfig(features=FEATURES)
    # patience = epochs: every device runs the same number of epochs
    tc = TrainConfig(epochs=args.epochs, patience=args.epochs, seed=0, device=name)
    start = time.perf_counter()
    model = train_model(train, config, tc, progress=False)
    sync(device)
    train_s = time.perf_counter() - start
    n_fit = round(n_train * (1 - tc.val_fraction))
    row: dict[str, Any] = {
        "device": name,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "flow": config.to_dict(),
        "train_seconds": train_s,
        "train_events_per_s_per_epoch": n_fit * args.epochs / train_s,
        "sampling": [],
    }
    events = None
    for batch in args.batch_sizes:
        raw = flow_rate(model, args.sample, batch)
        full, events = full_rate(model, min(args.sample, args.sample_full), batch)
        row["sampling"].append(
            {"batch_size": batch, "flow_events_per_s": raw, "sample_events_per_s": full}
        )
    assert events is not None
    gen = np.column_stack([events[k] for k in FEATURES])
    test = c2st(reference, gen[: len(reference)], seed=0, n_threads=args.threads)
    row["c2st_auc"], row["c2st_auc_err"] = test.auc, test.auc_err
    if cpu_model is not None:  # the CPU-trained flow's density, evaluated on this device
        member = cpu_model.members[0]
        x = reference[:50_000]
        on_cpu = member.log_prob(x)
        member.flow.to(device)
        member.device = device
        on_dev = member.log_prob(x)
        member.flow.to("cpu")
        member.device = torch.device("cpu")
        row["log_prob_max_abs_diff_to_cpu"] = float(np.max(np.abs(on_dev - on_cpu)))
    data = {
        "train": toy(args.classifier_events, 1),
        "val": toy(args.classifier_events // 4, 2),
        "test": toy(args.classifier_events, 3),
    }
    kinds = ["hgb", "mlp", "xgb"] if device.type == "cpu" else ["mlp", "xgb"]
    row["classifiers"] = []
    for kind in kinds:
        try:
            row["classifiers"].append(measure(kind, data, repeat=1, device=name))
        except ImportError as err:  # xgboost is an extra
            row["classifiers"].append({"kind": kind, "skipped": str(err)})
    return row, model


def report(rows: list[dict[str, Any]]) -> None:
    cpu = rows[0]
    print(f"{'device':<28}{'train ev/s/epoch':>18}{'C2ST AUC':>18}{'logp diff':>12}")
    for r in rows:
        ratio = r["train_events_per_s_per_epoch"] / cpu["train_events_per_s_per_epoch"]
        diff = r.get("log_prob_max_abs_diff_to_cpu")
        auc = f"{r['c2st_auc']:.4f}±{r['c2st_auc_err']:.4f}"
        print(
            f"{r['device_name'][:27]:<28}"
            f"{r['train_events_per_s_per_epoch']:>10,.0f} ({ratio:4.1f}x)"
            f"{auc:>18}{'-' if diff is None else f'{diff:.1e}':>12}"
        )
    print(f"\n{'device':<28}{'batch':>10}{'flow ev/s':>22}{'sample ev/s':>22}")
    for r in rows:
        for s, s0 in zip(r["sampling"], cpu["sampling"], strict=True):
            a = s["flow_events_per_s"] / s0["flow_events_per_s"]
            b = s["sample_events_per_s"] / s0["sample_events_per_s"]
            print(
                f"{r['device_name'][:27]:<28}{s['batch_size']:>10}"
                f"{s['flow_events_per_s']:>14,.0f} ({a:4.1f}x)"
                f"{s['sample_events_per_s']:>14,.0f} ({b:4.1f}x)"
            )
    print(f"\n{'device':<28}{'classifier':>10}{'train ev/s':>14}{'test AUC':>10}")
    for r in rows:
        for c in r["classifiers"]:
            if "skipped" in c:
                print(f"{r['device_name'][:27]:<28}{c['kind']:>10}  skipped: {c['skipped']}")
                continue
            print(
                f"{r['device_name'][:27]:<28}{c['kind']:>10}"
                f"{c['train_events_per_s']:>14,.0f}{c['test_auc']:>10.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", help="training features (Parquet or gbi process folder)")
    p.add_argument("--reference", help="independent reference features for the C2ST")
    p.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=5, help="flow training epochs")
    p.add_argument("--sample", type=int, default=2_000_000, help="events per flow timing")
    p.add_argument(
        "--sample-full",
        type=int,
        default=2_000_000,
        help="events per FlowModel.sample timing (float64 arrays in memory)",
    )
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16_384, 262_144])
    p.add_argument("--classifier-events", type=int, default=50_000, help="per class")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: cores)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    threads = resolve_threads(args.threads)
    args.threads = threads
    train, ref = load_inputs(args)
    reference = np.column_stack([ref[k] for k in FEATURES])
    rows: list[dict[str, Any]] = []
    cpu_model = None
    with thread_budget(threads):
        for name in args.devices:
            if name.startswith("cuda") and not torch.cuda.is_available():
                print(f"{name}: torch sees no CUDA device (torch {torch.__version__}); skipped")
                continue
            print(f"{name}: training, sampling, grading ...", flush=True)
            row, model = bench_device(name, args, train, reference, cpu_model)
            rows.append(row)
            if name == "cpu":
                cpu_model = model
    if not rows:
        print("no device was benchmarked")
        return 1
    print(
        f"\ntorch {torch.__version__}, {threads} CPU threads, {len(train['mjj'])} training "
        f"events, {args.epochs} epochs; ratios against the first device ({rows[0]['device']})"
    )
    report(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
