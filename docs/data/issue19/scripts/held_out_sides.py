"""The parametrized held-out sideband toys from each side of the SR separately (issue 19,
stop 39): does the flows' mismatch with real events show on the sparse upper side?

Usage: the arguments of ``examples/gbi_injection_scan.py`` for one seed, e.g.::

    python held_out_sides.py --signal SIG.root --background qcd_*.parquet \\
        --background-events 200000 --signal-grid grid3500 --first-seed 413 --seeds 1 \\
        --toys 20 --sideband-signal subtract --threads 1 --jobs 1 --n-signal 0 \\
        --methods parametrized --sr 3800 4200 --true-mass 450 150 4000 \\
        --json d413.json --out d413/

Runs the scan (``--jobs 1``: in this process), keeps its ``InferResult`` and computes
:func:`gbi.infer.steps.parametrized_held_out_q0` three times: with each flow member's
unseen sideband events within 500 GeV of the SR on both sides (the default), below the SR
only and above it only. Prints one ``DIAG`` JSON line: the generated toys' ``q0``, the
three sets of held-out ``q0`` (scaled by ``n_SR / n_toy`` as the calibration scales them:
divide by it for the raw value) with the toys' sizes, and the data's ``Z``, local ``q0``
and masses.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import gbi.infer.steps as steps

SCAN = Path(__file__).resolve().parents[4] / "examples" / "gbi_injection_scan.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("scan", SCAN)
    assert spec is not None
    assert spec.loader is not None
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    captured: dict[str, Any] = {}
    run_inference = scan.run_inference

    def capture(*args: Any, **kwargs: Any) -> Any:
        result = run_inference(*args, **kwargs)
        captured.update(result=result, data=args[0], config=kwargs["config"])
        return result

    scan.run_inference = capture
    scan.main(sys.argv[1:])
    result, config = captured["result"], captured["config"]
    sr = config.regions.signal_region
    mjj = captured["data"]["mjj"]
    n_sr = int(((mjj >= sr[0]) & (mjj < sr[1])).sum())
    unseen_near_sr = steps._unseen_near_sr
    out: dict[str, Any] = {
        "seed": config.seed,
        "n_sr": n_sr,
        "toys": [float(x) for x in result.parametrized_toys],
    }
    for side in ("both", "low", "high"):

        def unseen(background: Any, signal_region: Any, margin: float, side: str = side) -> Any:
            table_mjj = np.asarray(background.training_table["mjj"], dtype=np.float64)
            low, high = signal_region
            kept = []
            for rows in unseen_near_sr(background, signal_region, margin):
                m = table_mjj[rows]
                keep = {"both": np.ones(len(rows), bool), "low": m < low, "high": m > high}
                kept.append(rows[keep[side]])
            return kept

        steps._unseen_near_sr = unseen
        q0, sizes = steps.parametrized_held_out_q0(
            result.background,
            result.parametrized_model,
            sr,
            n_sr,
            config.parametrized.reference_per_sr_event,
            config.seed,
        )
        out[side] = {"q0_scaled": [float(x) for x in q0], "sizes": sizes}
    steps._unseen_near_sr = unseen_near_sr
    values = result.methods["parametrized"].values
    out["Z"] = values["significance"]
    out["q0_local"] = values.get("significance_local", 0.0) ** 2
    out["masses"] = [values["masses"]["mX"], values["masses"]["mY"]]
    print("DIAG", json.dumps(out))


if __name__ == "__main__":
    main()
