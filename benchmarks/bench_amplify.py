"""Throughput of flow training and sampling (events/s), with ratios to baselines.

Baselines measured in the same run, on the same machine and data size:

- training: the default unconditional NSF of ``gbi amplify train`` (ratio 1.00), against
  which MAF and conditional variants are compared;
- sampling: ``torch.randn`` of the same shape (the cost of the base distribution alone),
  plus the default NSF for the other variants.

::

    python benchmarks/bench_amplify.py [--events 20000] [--epochs 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gbi.flows import FlowConfig, TrainConfig, train_model

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")


def toy(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mjj = 2500.0 + rng.exponential(700.0, n)
    return {
        "mjj": mjj,
        "mj1": rng.gamma(3.0, 40.0, n) + 0.02 * (mjj - 2500.0),
        "delta_mj": rng.exponential(100.0, n),
        "tau21_j1": rng.beta(5.0, 3.0, n),
        "tau21_j2": rng.beta(4.0, 4.0, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="training events")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=100_000, help="events to sample")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = toy(args.events)

    start = time.perf_counter()
    for _ in range(10):
        torch.randn(args.sample, len(FEATURES))
    randn_rate = 10 * args.sample / (time.perf_counter() - start)

    # warm-up (first torch/zuko calls, allocator): not timed
    warm = FlowConfig(flow="nsf", features=FEATURES)
    train_model(
        toy(2048), warm, TrainConfig(epochs=1, batch_size=256, device=args.device), progress=False
    ).sample(4096, seed=0)

    variants = [("nsf", ()), ("maf", ()), ("nsf", ("mjj",)), ("maf", ("mjj",))]
    rows = []
    for flow, context in variants:
        features = tuple(f for f in FEATURES if f not in context)
        config = FlowConfig(flow=flow, features=features, context=context)
        train = TrainConfig(epochs=args.epochs, patience=args.epochs + 1, device=args.device)
        start = time.perf_counter()
        model = train_model(table, config, train, progress=False)
        seconds = time.perf_counter() - start
        train_rate = args.epochs * model.metadata["members"][0]["n_train"] / seconds
        ctx = None if not context else table["mjj"][np.arange(args.sample) % args.events]
        start = time.perf_counter()
        model.sample(args.sample, context=ctx, seed=0)
        sample_rate = args.sample / (time.perf_counter() - start)
        rows.append(
            (f"{flow}{'|' + ','.join(context) if context else ''}", train_rate, sample_rate)
        )

    base_train, base_sample = rows[0][1], rows[0][2]
    device = model.members[0].device
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {args.events} training events, "
        f"{args.epochs} epochs, {args.sample} sampled events"
    )
    print(f"baseline torch.randn sampling: {randn_rate:,.0f} events/s")
    print(
        f"{'flow':<12}{'train ev/s':>14}{'ratio':>8}{'sample ev/s':>14}{'ratio':>8}{'vs randn':>10}"
    )
    for name, tr, sa in rows:
        print(
            f"{name:<12}{tr:>14,.0f}{tr / base_train:>8.2f}{sa:>14,.0f}{sa / base_sample:>8.2f}"
            f"{sa / randn_rate:>10.4f}"
        )


if __name__ == "__main__":
    main()
