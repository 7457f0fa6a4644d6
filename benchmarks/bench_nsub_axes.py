"""N-subjettiness axes compared on the same generated jets: tau2/tau1 > 1 and time.

Generates ``--events`` kept QCD (or W') events with gbi's Pythia settings and jet selection,
then computes tau1..tau3 of the same jets with every ``--nsub-axes`` choice. Reports, per
axes, the fraction of the two leading jets with tau2/tau1 > 1 (tau1 > 0) and the time of the
tau computation relative to ``kt`` (measured in the same run; the machine is shared). Also
reads the fraction from the shipped sample (made with ``kt`` axes). Usage::

    python benchmarks/bench_nsub_axes.py [--events 400] [--process qcd] [--seed 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import awkward as ak
import numpy as np

from gbi.generate.clustering import LEADING_PT_MIN, cluster_fatjets, visible_final_state
from gbi.generate.nsubjettiness import NSUB_AXES, nsubjettiness
from gbi.generate.pythia_config import ProcessConfig
from gbi.generate.runner import _make_pythia

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "gbi" / "data" / "sample"


def leading_constituents(process: str, events: int, seed: int) -> ak.Array:
    """Constituents of the (at most) two leading jets of ``events`` kept events."""
    pythia = _make_pythia(ProcessConfig.create(process), seed)
    kept: list[ak.Array] = []
    n_kept = 0
    while n_kept < events:
        jets = cluster_fatjets(visible_final_state(pythia.nextBatch(500)))
        jets = jets[ak.fill_none(ak.firsts(jets["pt"]), 0.0) > LEADING_PT_MIN][: events - n_kept]
        kept.append(ak.flatten(jets["constituents"][:, :2], axis=1))
        n_kept += len(jets)
    return ak.concatenate(kept)


def fraction_above_one(tau1: np.ndarray, tau2: np.ndarray) -> float:
    ok = tau1 > 0
    return float(np.mean(tau2[ok] / tau1[ok] > 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400, help="kept events [400]")
    parser.add_argument("--process", default="qcd", help="qcd or wprime [qcd]")
    parser.add_argument("--seed", type=int, default=5, help="Pythia seed [5]")
    args = parser.parse_args()
    constituents = leading_constituents(args.process, args.events, args.seed)
    print(f"{args.process}: {args.events} events, {len(constituents)} leading jets")
    seconds = {}
    for axes in ("kt", *[a for a in NSUB_AXES if a != "kt"]):
        start = time.perf_counter()
        taus = nsubjettiness(constituents, axes=axes)
        seconds[axes] = time.perf_counter() - start
        frac = fraction_above_one(taus[:, 0], taus[:, 1])
        print(
            f"  {axes:11s} tau2/tau1 > 1: {100 * frac:5.2f} %   mean tau1 "
            f"{np.mean(taus[:, 0]):.4f} tau2 {np.mean(taus[:, 1]):.4f} tau21 "
            f"{np.mean(taus[:, 1] / np.where(taus[:, 0] > 0, taus[:, 0], 1)):.4f}   "
            f"time {seconds[axes]:.2f} s ({seconds[axes] / seconds['kt']:.2f} x kt)"
        )
    import uproot

    with uproot.open(SAMPLE / "qcd.root") as root_file:
        tree = root_file["Events"].arrays(["FatJet_tau1", "FatJet_tau2"])
    tau1 = ak.to_numpy(ak.flatten(tree["FatJet_tau1"][:, :2]))
    tau2 = ak.to_numpy(ak.flatten(tree["FatJet_tau2"][:, :2]))
    print(f"shipped sample qcd.root (kt axes): {100 * fraction_above_one(tau1, tau2):.2f} %")


if __name__ == "__main__":
    main()
