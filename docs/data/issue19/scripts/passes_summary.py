"""``mu_hat / mu_true`` of the parametrized fit per sideband-subtraction pass (issue 19, stop 44).

Usage: python passes_summary.py FILE.json [...]

Reads ``sideband_signal.passes`` (``mu_hat`` of the first fit and after each pass, runs
made with ``--sideband-passes``) of the parametrized rows and prints them per run over the
truth, the change of the last pass, whether the reported 68% interval holds the truth, and
the medians per pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(paths: list[str]) -> None:
    table = []
    for path in paths:
        for r in json.loads(Path(path).read_text())["results"]:
            passes = (r.get("sideband_signal") or {}).get("passes")
            if r["method"] != "parametrized" or not passes:
                continue
            t = r["mu_true"]
            ratios = [m / t for m in passes]
            table.append(ratios)
            inside = r["mu_lo"] <= t <= r["mu_hi"]
            print(
                f"seed {r['seed']} N = {r['n_signal']}: "
                + " -> ".join(f"{x:.3f}" for x in ratios)
                + f"  last pass {ratios[-1] - ratios[-2]:+.3f}  interval "
                f"[{r['mu_lo'] / t:.2f}, {r['mu_hi'] / t:.2f}] {'holds' if inside else 'misses'}"
                f"  wall {r['wall_s']:.0f} s"
            )
    width = min(len(x) for x in table)
    medians = [float(np.median([x[k] for x in table])) for k in range(width)]
    last = [x[-1] - x[-2] for x in table]
    print(
        f"{len(table)} runs; medians per pass (first fit first): "
        + ", ".join(f"{m:.3f}" for m in medians)
        + f"; last pass change mean {np.mean(last):+.3f} +- {np.std(last, ddof=1) / np.sqrt(len(last)):.3f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
