"""The binned count of signal events passing the cut, with and without the signal's leak
into the sideband control windows, on stored scan rows (issue 19, stop 39).

Usage: python count_with_leak.py [--n-signal N] FILE.json [...]

The model-independent count (``n_pass_*`` of the rows) assumes no signal in the control
windows. The fraction's fit models the fitted signal's leak; in events it is
``mu x n_SR x efficiency`` with its fit interval ``[mu_lo_stat, mu_hi_stat]`` and 95% limit
(what ``gbi.infer.binned.passing_with_leak`` now reports as ``signal_fraction.
n_signal_passing``). Rows written before it have no such field: it is computed here from
the stored fraction, ``n_SR`` from ``cut.sr_events`` or, in rows before stop 31,
``expected_background / background_efficiency`` (the cut keeps that fraction of the
generated events, so this is ``n_SR`` up to the quantile's rounding). The stored 95% limit
of the fraction is divided by ``1 - efficiency error`` (conservative); the limit here
undoes that. Prints, per file group: runs, median fitted / true passing, 68% coverage and
how often the 95% limit is above the truth, for both counts.
"""

from __future__ import annotations

import argparse
import ast
import json
from typing import Any

import numpy as np


def _efficiency(row: dict[str, Any]) -> dict[str, Any] | None:
    eff = row.get("signal_fraction_efficiency")
    if isinstance(eff, str):  # early rows stored its repr
        eff = ast.literal_eval(eff)
    return eff


def _n_sr(row: dict[str, Any]) -> float:
    cut = row["cut"]
    if "sr_events" in cut:
        return float(cut["sr_events"])
    return float(cut["expected_background"]) / float(cut["background_efficiency"])


def leak_count(row: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """``(hat, lo, hi, 95% limit)`` of the count with the leak modelled, or ``None``."""
    if row.get("n_pass_leak_hat") is not None:
        return tuple(row[f"n_pass_leak_{k}"] for k in ("hat", "lo", "hi", "upper_limit_95"))
    eff = _efficiency(row)
    if row.get("mu_hat") is None or not eff:
        return None
    per_unit = _n_sr(row) * float(eff["efficiency"])
    errors = ("efficiency_err_stat", "efficiency_err_mass", "efficiency_err_morph")
    rel = float(np.sqrt(sum(float(eff.get(k, 0.0)) ** 2 for k in errors))) / eff["efficiency"]
    limit = float(row["mu_upper_limit_95"]) * max(1.0 - rel, 0.1)
    return (
        float(row["mu_hat"]) * per_unit,
        float(row["mu_lo_stat"]) * per_unit,
        float(row["mu_hi_stat"]) * per_unit,
        limit * per_unit,
    )


def summary(rows: list[dict[str, Any]]) -> str:
    model_independent, with_leak = [], []
    for r in rows:
        t = r.get("n_pass_true")
        if t is None or r.get("n_pass_hat") is None:
            continue
        model_independent.append(
            (
                r["n_pass_hat"] / t,
                r["n_pass_lo"] <= t <= r["n_pass_hi"],
                r["n_pass_upper_limit_95"] >= t,
            )
        )
        leak = leak_count(r)
        if leak is not None:
            with_leak.append((leak[0] / t, leak[1] <= t <= leak[2], leak[3] >= t))
    parts = []
    for name, vals in (("model-independent", model_independent), ("with signal leak", with_leak)):
        if not vals:
            parts.append(f"{name}: no rows")
            continue
        a = np.array(vals, dtype=float)
        k = int(a[:, 1].sum())
        n = len(a)
        err = np.sqrt(k / n * (1 - k / n) / n)
        parts.append(
            f"{name}: {n} runs, median fitted/true {np.median(a[:, 0]):.3f}, "
            f"68% coverage {k}/{n} = {k / n:.2f} +- {err:.2f}, 95% limit >= truth "
            f"{int(a[:, 2].sum())}/{n}"
        )
    return "\n  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--n-signal", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    for f in args.files:
        with open(f) as fh:
            rows += [
                r
                for r in json.load(fh)["results"]
                if r["method"] == "binned" and r.get("n_signal") == args.n_signal
            ]
    print(f"{len(args.files)} file(s), binned rows at N = {args.n_signal}:\n  {summary(rows)}")


if __name__ == "__main__":
    main()
