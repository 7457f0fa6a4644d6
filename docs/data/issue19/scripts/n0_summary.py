"""Signal-free (N = 0) runs of the unbinned fit: how often Z >= 2, as run and recalibrated.

Usage: python n0_summary.py FILES

For each scan JSON (``examples/gbi_injection_scan.py --n-signal 0 --methods unbinned``):
the local Z, the calibrated Z as the run reported it, and, where the rows keep their
background-only toys (``toy_q0``), the Z of :func:`gbi.infer.unbinned.calibrated_significance`
as it is now (the data's ``q0`` is the local Z squared).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gbi.infer.unbinned import calibrated_significance


def main(files: list[str]) -> None:
    rows = [
        r
        for f in files
        for r in json.loads(Path(f).read_text())["results"]
        if r["method"] == "unbinned"
    ]
    rows = [r for r in rows if r["n_signal"] == 0 and r["status"] == "ok"]
    print("seed  local Z  Z (as run)  Z (now)  toy q0")
    now_z = []
    for r in sorted(rows, key=lambda r: r["seed"]):
        toys = r.get("toy_q0")
        z_now = None
        if toys:
            z_now = calibrated_significance(r["significance_local"] ** 2, toys)["significance"]
            now_z.append(z_now)
        print(
            f"{r['seed']:4d}  {r['significance_local']:7.2f}  {r['significance']:10.2f}  "
            f"{'-' if z_now is None else f'{z_now:7.2f}'}  {toys}"
        )
    as_run = sum(r["significance"] >= 2.0 for r in rows)
    print(f"{len(rows)} runs: Z >= 2 in {as_run} as run", end="")
    if now_z:
        print(f", {sum(z >= 2.0 for z in now_z)} of {len(now_z)} recalibrated")
    else:
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
