"""Coverage of parametrized and binned at N = 1000 from the stored scan JSON (issue 19).

Usage: python coverage_summary.py [--student] FILE.json [FILE.json ...]

Rows of ``sideband_subtract_*seeds200-211.json`` were made with the classifier members'
grid bootstrap (since removed): their parametrized interval is recomputed with the members'
mean error, as the default computes it. ``--student`` recomputes every parametrized interval
with Student's t quantile for the generator uncertainty (``gbi.infer.uncertainty``,
"Few members"), from the stored stat interval and member spreads.
"""

from __future__ import annotations

import json
import math
import sys
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
    dof = None
    if student:
        dof = combined_dof([(flows, len(x["mu_hat_flow_members"]) - 1), (cls, len(m) - 1)])
    return total_interval(
        x["mu_hat"],
        (x["mu_lo_stat"], x["mu_hi_stat"]),
        sigma_gen=math.hypot(flows, cls),
        z_global=x["significance"],
        sigma_gen_dof=dof,
    )


def summarise(rows: list[dict], student: bool) -> None:
    for method in ("parametrized", "binned"):
        r = [x for x in rows if x["method"] == method and x["mu_hat"] is not None]
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
        if method == "parametrized":
            mx, my = TRUE_MASSES
            inside = [
                m["mX_lo"] <= mx <= m["mX_hi"] and m["mY_lo"] <= my <= m["mY_hi"]
                for m in (x["masses"] for x in r)
            ]
            line += f"  masses inside {sum(inside)}/{len(inside)}"
        else:
            count = np.array([x["n_pass_hat"] / x["n_pass_true"] for x in r])
            ccov = np.mean([x["n_pass_lo"] <= x["n_pass_true"] <= x["n_pass_hi"] for x in r])
            lim = np.mean([x["n_pass_upper_limit_95"] >= x["n_pass_true"] for x in r])
            line += (
                f"\n{'':13s}count passing / true: median {np.median(count):.3f}, "
                f"68% coverage {ccov:.2f}, 95% limit >= truth {lim:.2f}"
            )
        print(line)


if __name__ == "__main__":
    args = sys.argv[1:]
    student = "--student" in args
    files = [a for a in args if a != "--student"]
    summarise([x for f in files for x in json.loads(Path(f).read_text())["results"]], student)
