"""Sampling speed of flow generators (events/s), side by side, with the old loop as baseline.

Every candidate is a one-member :class:`gbi.flows.FlowModel` with the default 5 features
and logit preprocessing; :meth:`FlowModel.sample` (what ``gbi amplify sample`` and the
histogram filling call) draws ``--events`` events, float64 in physical units. Flows are
untrained: sampling cost depends on the architecture, not on the weights. Rows:

- ``old default``: the default generator before issue 21 (``zuko.flows.NSF``,
  autoregressive, 4 x [64, 64], 8 bins) with the sampling loop before issue 21
  (``torch.no_grad``, a float64 torch copy per batch), the baseline (ratio 1.00);
- ``default``: what ``FlowConfig()`` builds now;
- ``nsf zuko``: the old flow with the current loop (``torch.inference_mode``);
- ``nsf``: the same autoregressive NSF built by :func:`gbi.flows.models.build_flow` (the
  faster spline of :mod:`gbi.flows.splines` and the one-inversion-per-feature inverse of
  :mod:`gbi.flows.autoregressive`, same parameters);
- ``nsf cpl zuko`` / ``nsf cpl``: NSF with ``passes=2`` (coupling: 2 network passes per
  inverse instead of 5), zuko's spline and inverse / gbi's; ``nsf cpl [32,32]``: narrower
  networks; ``nsf p3``: 3 passes (feature groups of 2, 2, 1);
- ``maf`` / ``maf cpl``: affine MAF, 4 x [64, 64], autoregressive / coupling.

Each (candidate, threads, batch size) is timed ``--repeats`` times, interleaved (every
round runs every case once, so a burst of load hits all of them), and the best is kept.
``--compile`` adds ``torch.compile``-d NSF and MAF (compilation takes about a minute
per flow on one core and is not counted)::

    python benchmarks/bench_sampling.py [--events 200000] [--threads 1 2]
        [--batch-sizes 16384 131072] [--repeats 3] [--compile] [--only default maf ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import zuko

from gbi.flows import FlowConfig, FlowModel, TrainConfig, train_model
from gbi.flows.generator import FlowMember, seeded_torch
from gbi.flows.models import build_flow
from gbi.threads import thread_budget

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")


class OldLoopMember(FlowMember):
    """:meth:`FlowMember.sample` as it was before issue 21 (the baseline)."""

    @torch.no_grad()
    def sample(
        self,
        n: int,
        context: np.ndarray | None = None,
        seed: int | None = None,
        batch_size: int = 16_384,
    ) -> np.ndarray:
        z = np.empty((int(n), len(self.config.features)))
        with seeded_torch(0 if seed is None else seed, self.device):
            for start in range(0, int(n), batch_size):
                stop = min(int(n), start + batch_size)
                z[start:stop] = self.flow().sample((stop - start,)).double().cpu().numpy()
        return self.feature_pre.inverse(z)


class CompiledFlow(torch.nn.Module):
    """A flow whose unconditional ``sample`` is ``torch.compile``-d (benchmark only)."""

    def __init__(self, flow: torch.nn.Module) -> None:
        super().__init__()
        self.inner = flow
        self._sample = torch.compile(lambda shape: flow().sample(shape), dynamic=False)

    def forward(self) -> CompiledFlow:
        return self

    def sample(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self._sample(shape)


def toy(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Toy dijet features (GeV; tau21 in [0, 1]) to fit the preprocessing on."""
    rng = np.random.default_rng(seed)
    mjj = 2500.0 + rng.exponential(700.0, n)
    return {
        "mjj": mjj,
        "mj1": rng.gamma(3.0, 40.0, n) + 0.02 * (mjj - 2500.0),
        "delta_mj": rng.exponential(100.0, n),
        "tau21_j1": rng.beta(5.0, 3.0, n),
        "tau21_j2": rng.beta(4.0, 4.0, n),
    }


def candidates(
    compile_flows: bool,
) -> dict[str, tuple[type[FlowMember], Callable[[], torch.nn.Module]]]:
    """Name -> (member class, flow factory); 5 features, no context."""
    d = len(FEATURES)

    def gbi_flow(**kwargs: object) -> Callable[[], torch.nn.Module]:
        return lambda: build_flow(FlowConfig(features=FEATURES, **kwargs))  # type: ignore[arg-type]

    zuko_nsf = lambda: zuko.flows.NSF(d, 0, transforms=4, hidden_features=(64, 64), bins=8)  # noqa: E731
    out: dict[str, tuple[type[FlowMember], Callable[[], torch.nn.Module]]] = {
        "old default": (OldLoopMember, zuko_nsf),
        "default": (FlowMember, gbi_flow()),
        "nsf zuko": (FlowMember, zuko_nsf),
        "nsf": (FlowMember, gbi_flow(flow="nsf", passes=None)),
        "nsf cpl zuko": (
            FlowMember,
            lambda: zuko.flows.NSF(d, 0, transforms=4, hidden_features=(64, 64), passes=2),
        ),
        "nsf cpl": (FlowMember, gbi_flow(flow="nsf", passes=2)),
        "nsf p3": (FlowMember, gbi_flow(flow="nsf", passes=3)),
        "nsf cpl [32,32]": (
            FlowMember,
            gbi_flow(flow="nsf", passes=2, hidden_features=(32, 32)),
        ),
        "maf": (FlowMember, gbi_flow(flow="maf", passes=None)),
        "maf cpl": (FlowMember, gbi_flow(flow="maf", passes=2)),
    }
    if compile_flows:
        out["nsf cpl compiled"] = (
            FlowMember,
            lambda: CompiledFlow(gbi_flow(flow="nsf", passes=2)()),
        )
        out["maf compiled"] = (FlowMember, lambda: CompiledFlow(gbi_flow(flow="maf")()))
    return out


def rate(model: FlowModel, n: int, batch_size: int) -> float:
    """Events/s of ``model.sample(n)``."""
    start = time.perf_counter()
    model.sample(n, seed=0, batch_size=batch_size)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per timing")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16_384, 131_072])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="add torch.compile-d flows")
    parser.add_argument(
        "--only", nargs="+", default=None, help="rows to time (always with 'old default')"
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    with thread_budget(1):  # the default preprocessing, fitted on a toy (weights unused)
        base = train_model(
            toy(2000),
            FlowConfig(features=FEATURES, transforms=1, hidden_features=(8,)),
            TrainConfig(epochs=1, batch_size=256, device="cpu"),
            progress=False,
        ).members[0]
    config = FlowConfig(features=FEATURES)
    models = {
        name: FlowModel([cls(config, factory(), base.feature_pre, None, "cpu")])
        for name, (cls, factory) in candidates(args.compile).items()
        if args.only is None or name in {"old default", *args.only}
    }
    cases = [(name, t, b) for name in models for t in args.threads for b in args.batch_sizes]
    best = dict.fromkeys(cases, 0.0)
    for model in models.values():  # warm-up (first calls, compilation): not timed
        with thread_budget(max(args.threads)):
            model.sample(args.batch_sizes[0] + 1, seed=0, batch_size=args.batch_sizes[0])
    for _ in range(args.repeats):
        for case in cases:
            name, threads, batch = case
            with thread_budget(threads):
                best[case] = max(best[case], rate(models[name], args.events, batch))

    print(
        f"{args.events} events per timing, best of {args.repeats}, interleaved; "
        f"torch {torch.__version__}, zuko {zuko.__version__}, CPU"
    )
    header = "".join(f"{f'{t} thr, batch {b}':>24}" for t in args.threads for b in args.batch_sizes)
    print(f"{'flow':<17}{header}")
    for name in models:
        cells = []
        for t in args.threads:
            for b in args.batch_sizes:
                value = best[(name, t, b)]
                ratio = value / best[("old default", t, b)]
                cells.append(f"{value:>13,.0f} ({ratio:5.2f}x)")
        print(f"{name:<17}" + "".join(f"{c:>24}" for c in cells))
    print("ratios: against 'old default' at the same threads and batch size")


if __name__ == "__main__":
    main()
