"""Closure of the grid extension's morphing against simulated points (issue 19, stop 42).

Each target is a simulated W' point; it is made from a simulated grid point by the plain
scaling (``gbi.infer.efficiency.morph``, the extension until stop 42) and by the measured
jet-mass response (``gbi.infer.jet_response.JetResponse``, now the extension's), and the
two jet-mass distributions are compared with the simulated ones: the largest
Kolmogorov-Smirnov distance of the lighter and the heavier jet's mass, and the share of
events with both jets within 10% / 20% of the target's masses (the signal a classifier
selects) minus the simulated share.

* leave-one-out on the grid: every point at the grid's highest mX made from the point one
  mX step below it, the response measured without the target's mX column (extrapolated);
* the share of lost X jets in the ``--signal`` and ``--other`` files (W' at any mass)
  against the grid's loss curve, at the particle mass and at the mass scaled by the W'
  masses (a moved grid: ``JetResponse.morph``'s ``boost``);
* beyond the grid: the ``--signal`` files (other simulated W' at one mW), made from the
  nearest grid point (as ``SignalGrid.extended`` picks it) and from the point at the same
  mY, the response measured on the whole grid.

    python docs/data/issue19/scripts/morph_closure.py --grid GRID_DIR --signal DIR ... \
        [--other DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from gbi.infer.efficiency import morph, morph_distance
from gbi.infer.jet_response import JetResponse
from gbi.infer.signal_grid import load_signal_grid, parse_masses
from gbi.regions import Regions


def jets(t: dict) -> tuple[np.ndarray, np.ndarray]:
    light = np.asarray(t["mj1"], dtype=float)
    return light, light + np.asarray(t["delta_mj"], dtype=float)


def window(t: dict, target: tuple[float, float], width: float) -> float:
    light, heavy = jets(t)
    return float(
        np.mean((abs(heavy / target[0] - 1) < width) & (abs(light / target[1] - 1) < width))
    )


def compare(made: dict, truth: dict, target: tuple[float, float]) -> str:
    (ml, mh), (tl, th) = jets(made), jets(truth)
    d = [window(made, target, w) - window(truth, target, w) for w in (0.1, 0.2)]
    return f"KS {max(ks_2samp(ml, tl).statistic, ks_2samp(mh, th).statistic):.3f}  d10 {d[0]:+.3f}  d20 {d[1]:+.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", required=True)
    p.add_argument("--signal", nargs="*", default=[])
    p.add_argument("--other", nargs="*", default=[], help="W' at other masses: loss share only")
    args = p.parse_args()
    grid = load_signal_grid([args.grid])
    tables = grid.tables
    full = JetResponse.measure(tables)
    print(
        f"response on the grid: radiation {np.sqrt(full.radiation2):.1f} GeV (in quadrature), "
        f"loss curve {full.loss_coef}, lost-jet pool {len(full.lost_mass)}; "
        "loss at 600/700/800 GeV: "
        + ", ".join(f"{float(full.loss(m)):.3f}" for m in (600.0, 700.0, 800.0))
    )
    print("target <- source | scaling | measured response")
    top = max(k[0] for k in tables)
    below = max(k[0] for k in tables if k[0] < top)
    loo = JetResponse.measure({k: t for k, t in tables.items() if k[0] < top})
    print(
        f"leave-one-out: the response without mX = {top:g}: loss at {top:g} GeV "
        f"{float(loo.loss(top)):.3f}"
    )
    for target in sorted(k for k in tables if k[0] == top):
        source = (below, target[1]) if (below, target[1]) in tables else None
        if source is None:
            continue
        truth = tables[target]
        print(
            f"{target} <- {source} | {compare(morph(tables[source], source, target), truth, target)}"
            f" | {compare(loo.morph(tables[source], source, target), truth, target)}"
        )
    grid_m_w = grid.m_w or 3500.0
    print(
        "share of lost X jets (heavier jet below 0.8 mX) in the --signal and --other files, "
        "and the grid's curve at mX and at mX x (grid's mW) / (signal's mW):"
    )
    for path in args.signal + args.other:
        m_w, m_x, m_y = parse_masses(next(iter(sorted(Path(path).glob("wprime_*"))), path))
        _, heavy = jets(
            next(
                iter(
                    load_signal_grid([path], regions=Regions(m_w - 200, m_w + 200)).tables.values()
                )
            )
        )
        mx = max(m_x, m_y)
        k, n = int(np.sum(heavy < 0.8 * mx)), len(heavy)
        print(
            f"  W'({m_w:g}; {m_x:g}, {m_y:g}): {k / n:.3f} +- {np.sqrt(k) / n:.3f} ({n} SR events); "
            f"curve {float(full.loss(mx)):.3f}, at {mx * grid_m_w / m_w:.0f} GeV "
            f"{float(full.loss(mx * grid_m_w / m_w)):.3f}"
        )
    for path in args.signal:
        for key, truth in load_signal_grid([path]).tables.items():
            target = key[:2]
            nearest = min(tables, key=lambda k: (morph_distance(k, target), k))
            same_y = max((k for k in tables if k[1] == target[1]), default=None)
            for source in dict.fromkeys([nearest, same_y]):
                if source is None:
                    continue
                print(
                    f"{target} <- {source} | "
                    f"{compare(morph(tables[source], source, target), truth, target)} | "
                    f"{compare(full.morph(tables[source], source, target), truth, target)}"
                )


if __name__ == "__main__":
    main()
