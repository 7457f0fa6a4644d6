"""Coverage of parametrized and binned at N = 1000 from the stored scan JSON (issue 19).

Usage: python coverage_summary.py [--student] [--shared-fraction F] [--budget] FILE.json [...]

Rows of ``sideband_subtract_*seeds200-211.json`` were made with the classifier members'
grid bootstrap (since removed): their parametrized interval is recomputed with the members'
mean error, as the default computes it. ``--student`` recomputes every parametrized interval
with Student's t quantile for the generator uncertainty (``gbi.infer.uncertainty``,
"Few members"), from the stored stat interval, member spreads and (rows since stop 28) the
normalisation error.

``--shared-fraction F``: the runs draw their background from one finite sample (200k of
400k events: F = 0.5), so two runs share a fraction F of their events and the scatter of
``mu_hat`` between runs lacks a fraction F of the data's statistical variance (the
finite-population correction of sampling without replacement). The script then also prints
the coverage expected with independent samples: each run's deviation smeared by a Gaussian
of variance ``F x sigma_data**2`` (``sigma_data``: the data's statistical error of the run,
for parametrized the stat interval's half-width, for binned the SR and window data counts'
share of it), averaged over the runs. A model-based estimate, not a count.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from gbi.infer.uncertainty import combined_dof, total_interval

TRUE_MASSES = (500.0, 100.0)


def _interval(x: dict, student: bool) -> tuple[float, float]:
    if x["method"] != "parametrized":
        return x["mu_lo"], x["mu_hi"]
    m = np.array(x["mu_hat_classifier_members"])
    cls = float(np.std(m, ddof=1) / math.sqrt(len(m)))
    flows = x["mu_sys_flows"]
    norm = x.get("mu_sys_normalisation", 0.0)  # rows since stop 28 (known: no dof)
    dof = None
    if student:
        dof = combined_dof(
            [(flows, len(x["mu_hat_flow_members"]) - 1), (cls, len(m) - 1), (norm, None)]
        )
    return total_interval(
        x["mu_hat"],
        (x["mu_lo_stat"], x["mu_hi_stat"]),
        sigma_gen=math.sqrt(flows**2 + cls**2 + norm**2),
        z_global=x["significance"],
        sigma_gen_dof=dof,
    )


def _sigma_data(x: dict) -> float:
    """The data's statistical error of ``mu_hat`` in one run (``--shared-fraction``)."""
    stat = (x["mu_hi_stat"] - x["mu_lo_stat"]) / 2
    if x["method"] != "binned":  # parametrized, unbinned: the likelihood interval
        return stat
    c, s = x["cut"], x["sideband_closure"]
    b = c["expected_background"] * s["k_fitted"]
    rel_gen = c["expected_background_err"] / c["expected_background"]
    data = c["observed"] + (b * s["k_fitted_err"] / s["k_fitted"]) ** 2
    ensemble = sum(v**2 for v in (x.get("generator_normsys_rel") or {}).values())
    # stored since stop 31; the runs before used the then default, 6%
    extrapolation = s.get("extrapolation_uncertainty", 0.06)
    other = b**2 * (extrapolation**2 + rel_gen**2 + ensemble)
    return stat * math.sqrt(data / (data + other))


def _smeared_coverage(rows: list[dict], iv: np.ndarray, shared: float) -> float:
    from scipy.stats import norm

    p = []
    for x, (lo, hi) in zip(rows, iv, strict=True):
        s = math.sqrt(shared) * _sigma_data(x)
        t = x["mu_true"]
        p.append(norm.cdf((t - lo) / s) - norm.cdf((t - hi) / s))
    return float(np.mean(p))


def error_budget(rows: list[dict], shared: float) -> str:
    """``--budget``: the parametrized interval's terms against the runs' scatter, all as
    variances in units of ``mu_true**2``: each term's mean square over the runs (the stat
    half-width, ``mu_sys_flows``, ``mu_sys_classifiers``, ``mu_sys_normalisation``; their
    sum is what the interval, before Student's t, claims the variance of ``mu_hat`` to be)
    and the runs' variance of ``mu_hat / mu_true`` plus the ``shared`` fraction of the stat
    variance that runs sharing their background lack (``--shared-fraction``). With ``n``
    runs the observed variance has a relative error of about ``sqrt(2 / (n - 1))``."""
    r = [x for x in rows if x["method"] == "parametrized" and x["n_signal"] > 0]
    t = np.array([x["mu_true"] for x in r])
    terms = {
        "stat": np.array([_sigma_data(x) for x in r]) / t,
        **{
            k.removeprefix("mu_sys_"): np.array([x.get(k) or 0.0 for x in r]) / t
            for k in ("mu_sys_flows", "mu_sys_classifiers", "mu_sys_normalisation")
        },
    }
    claimed = {k: float(np.mean(v**2)) for k, v in terms.items()}
    ratio = np.array([x["mu_hat"] for x in r]) / t
    observed = float(ratio.var(ddof=1)) + shared * claimed["stat"]
    parts = ", ".join(f"{k} {v:.4f}" for k, v in claimed.items())
    return (
        f"parametrized error budget ({len(r)} runs, variances / mu_true^2): claimed "
        f"{sum(claimed.values()):.4f} ({parts}); observed {observed:.4f} "
        f"(+- {observed * math.sqrt(2 / (len(r) - 1)):.4f})"
    )


def summarise(rows: list[dict], student: bool, shared: float = 0.0) -> None:
    for method in ("parametrized", "binned", "unbinned"):
        r = [
            x
            for x in rows
            if x["method"] == method and x["mu_hat"] is not None and x["n_signal"] > 0
        ]
        if not r:
            continue
        t = np.array([x["mu_true"] for x in r])
        ratio = np.array([x["mu_hat"] for x in r]) / t
        iv = np.array([_interval(x, student) for x in r])
        cov = (iv[:, 0] <= t) & (t <= iv[:, 1])
        n, c = len(r), float(cov.mean())
        line = (
            f"{method:12s} runs {n:2d}  mu_hat/mu_true median {np.median(ratio):.3f} "
            f"mean {ratio.mean():.3f} +- {ratio.std(ddof=1) / math.sqrt(n):.3f} "
            f"std {ratio.std(ddof=1):.3f}  half-width median "
            f"{np.median((iv[:, 1] - iv[:, 0]) / 2 / t):.3f}  "
            f"68% coverage {cov.sum()}/{n} = {c:.2f} +- {math.sqrt(c * (1 - c) / n):.2f}"
        )
        if shared > 0:
            line += f"  (independent samples, expected: {_smeared_coverage(r, iv, shared):.2f})"
        if method == "parametrized":
            inside = [
                m["mX_lo"] <= mx <= m["mX_hi"] and m["mY_lo"] <= my <= m["mY_hi"]
                for m, (mx, my) in ((x["masses"], x["_true_mass"]) for x in r)
            ]
            line += f"  masses inside {sum(inside)}/{len(inside)}"
        elif method == "binned":
            count = np.array([x["n_pass_hat"] / x["n_pass_true"] for x in r])
            ccov = np.mean([x["n_pass_lo"] <= x["n_pass_true"] <= x["n_pass_hi"] for x in r])
            lim = np.mean([x["n_pass_upper_limit_95"] >= x["n_pass_true"] for x in r])
            line += (
                f"\n{'':13s}count passing / true: median {np.median(count):.3f}, "
                f"68% coverage {ccov:.2f}, 95% limit >= truth {lim:.2f}"
            )
        print(line)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--student", action="store_true")
    p.add_argument("--shared-fraction", type=float, default=0.0)
    p.add_argument("--budget", action="store_true", help="the parametrized error budget too")
    args = p.parse_args()
    rows = []
    for f in args.files:
        doc = json.loads(Path(f).read_text())
        # the scan's --true-mass (either order; the fit reports heavier, lighter), or the
        # W'(500, 100) of the early files that did not store it
        truth = sorted((doc.get("true_mass") or TRUE_MASSES)[:2], reverse=True)
        rows += [{**x, "_true_mass": tuple(truth)} for x in doc["results"]]
    summarise(rows, args.student, args.shared_fraction)
    if args.budget:
        print(error_budget(rows, args.shared_fraction))
