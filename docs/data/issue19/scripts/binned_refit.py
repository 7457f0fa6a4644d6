"""Refit the binned signal fraction of stored scan rows with another extrapolation
uncertainty (issue 19, stop 31).

Usage: python binned_refit.py [--u REL ...] [--shared-fraction F] [--signal-free] FILE.json [...]

Only the last step of ``binned`` depends on ``extrapolation_uncertainty``: the cut-and-count
fit (:func:`gbi.workspace.counting.fit_cut_and_count`). The rows keep its inputs (SR data and
generated events passing, the windows' sums, the efficiency with its leaks, the ensemble
normsys), except the split between the two control windows: here each window holds half of
their sum (for the background exact: both share ``k`` and one weight; the signal leak is
averaged). ``n_SR`` (rows before stop 31 lack ``cut.sr_events``) is fixed by the stored
``mu_hat``; the 6% refit then checks the approximation against the stored intervals (printed:
min, median, max of refit / stored edge).

``--signal-free``: rows at N = 0 instead, the model-independent count's local significance
(the false-evidence rate), refitted alike (the 6% refit is compared with the stored Z).

``--shared-fraction F`` adds the coverage expected with independent background samples, as
``coverage_summary.py`` computes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

import hist
import numpy as np
from scipy.stats import norm

from gbi.workspace import Channel, Sample
from gbi.workspace.counting import fit_cut_and_count

sys.path.insert(0, str(Path(__file__).parent))
from coverage_summary import _sigma_data

STORED = 0.06  # the extrapolation uncertainty of the runs before stop 31
SR = (3300.0, 3700.0)
EFFICIENCY_ERRORS = ("efficiency_err_stat", "efficiency_err_mass", "efficiency_err_morph")


def _two_halves(value: float, variance: float) -> hist.Hist:
    h = hist.Hist(hist.axis.Regular(2, 0, 2, name="window"), storage=hist.storage.Weight())
    h.view().value[:] = value / 2
    h.view().variance[:] = variance / 2
    return h


def _control(sc: dict[str, Any]) -> Channel:
    g, d, w = sc["generated_pass"], sc["data_pass"], sc["data"] / sc["generated"]
    background = Sample(
        "background", _two_halves(g * w, g * w * w), kind="data-driven", normfactors=["sideband_k"]
    )
    return Channel("sideband_windows", [background], data=_two_halves(d, d))


def _fit(x: dict[str, Any], u: float, **signal: Any) -> dict[str, Any]:
    """The row's cut-and-count fit at extrapolation ``u``; ``signal``: the signal model's
    arguments of :func:`fit_cut_and_count` (none: the model-independent count)."""
    c = x["cut"]
    weight = c["expected_background_err"] ** 2 / c["expected_background"]
    g = (x.get("generator_normsys_rel") or {}).get("generator_ensemble")
    return fit_cut_and_count(
        c["observed"],
        round(c["expected_background"] / weight),
        weight,
        _control(x["sideband_closure"]),
        window=SR,
        extrapolation_uncertainty=u,
        normsys={"generator_ensemble": (max(1 - g, 1e-3), 1 + g)} if g else None,
        **signal,
    )


def refit(x: dict[str, Any], u: float) -> tuple[float, float, float, float]:
    """``(nu_hat, nu_lo, nu_hi, efficiency_rel_err)``: nu = mu x n_SR (signal events in the SR)."""
    e = x["signal_fraction_efficiency"]
    leak = (e["leak_low"] + e["leak_high"]) / 2
    f = _fit(x, u, zero_below=2.0, signal_yield=e["efficiency"], control_signal=(leak, leak))
    rel = math.sqrt(sum(e.get(k, 0.0) ** 2 for k in EFFICIENCY_ERRORS)) / e["efficiency"]
    return f["mu_hat"], f["mu_lo"], f["mu_hi"], rel


def refit_count_z(x: dict[str, Any], u: float) -> float:
    """The model-independent count's local significance (signal-free rows)."""
    return float(_fit(x, u)["local_significance"])


def _signal_free(files: list[str], us: list[float]) -> None:
    rows = [
        x
        for f in files
        for x in json.loads(Path(f).read_text())["results"]
        if x["method"] == "binned" and x["n_signal"] == 0 and x["cut"] is not None
    ]
    for u in us:
        z = np.array([refit_count_z(x, u) for x in rows])
        stored = np.array([x["significance"] for x in rows])
        line = (
            f"signal-free, extrapolation {u:.3f}: runs {len(z)}  Z < 2 in {(z < 2).sum()}/"
            f"{len(z)}  median Z {np.median(z):.2f}  max {z.max():.2f}"
        )
        if u == STORED:
            line += f"  (refit - stored Z: max |diff| {np.abs(z - stored).max():.3f})"
        print(line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--u", type=float, nargs="+", default=[STORED, 0.045])
    p.add_argument("--shared-fraction", type=float, default=0.0)
    p.add_argument(
        "--signal-free", action="store_true", help="N = 0 rows: the count's Z < 2 rate instead"
    )
    a = p.parse_args()
    logging.disable(logging.WARNING)
    if a.signal_free:
        _signal_free(a.files, a.u)
        return
    rows = [
        x
        for f in a.files
        for x in json.loads(Path(f).read_text())["results"]
        if x["method"] == "binned"
        and x["n_signal"] > 0
        and x.get("result_kind") == "signal-fraction"
        and x["sideband_closure"].get("extrapolation_uncertainty", STORED) == STORED
    ]
    out: dict[float, list[tuple[float, ...]]] = {u: [] for u in a.u}
    for x in rows:
        stored = refit(x, STORED)
        n_sr = x["cut"].get("sr_events") or stored[0] / x["mu_hat"]
        for u in a.u:
            nu, lo, hi, rel = stored if u == STORED else refit(x, u)
            mu, lo, hi = nu / n_sr, lo / n_sr, hi / n_sr
            total_lo = max(mu - math.hypot(mu - lo, mu * rel), 0.0) if lo > 0 else 0.0
            total_hi = mu + math.hypot(hi - mu, mu * rel)
            refitted = {
                **x,
                "mu_lo_stat": lo,
                "mu_hi_stat": hi,
                "sideband_closure": {**x["sideband_closure"], "extrapolation_uncertainty": u},
            }
            sd = math.sqrt(a.shared_fraction) * _sigma_data(refitted)
            out[u].append((x["mu_true"], total_lo, total_hi, sd, x["mu_lo"], x["mu_hi"]))
    for u, r in out.items():
        t, lo, hi, sd, slo, shi = np.array(r).T
        cov = (lo <= t) & (t <= hi)
        n, c = len(t), float(cov.mean())
        line = (
            f"extrapolation {u:.3f}: runs {n}  68% coverage {cov.sum()}/{n} = {c:.2f} +- "
            f"{math.sqrt(c * (1 - c) / n):.2f}  half-width / mu_true median "
            f"{np.median((hi - lo) / 2 / t):.3f}"
        )
        if a.shared_fraction > 0:
            expected = np.mean(norm.cdf((t - lo) / sd) - norm.cdf((t - hi) / sd))
            line += f"  (independent samples, expected: {expected:.2f})"
        print(line)
        if u == STORED:
            q = [0, 50, 100]
            print(
                "  refit / stored (min, median, max): lower edge "
                f"{np.round(np.percentile(lo / slo, q), 4)}, upper edge "
                f"{np.round(np.percentile(hi / shi, q), 4)}"
            )


if __name__ == "__main__":
    main()
