"""Diagnostic plots of ``gbi infer``: likelihood scans, the (mX, mY) profile, injection scans.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> plot_profile({"u": {"mu": [0.0, 0.01, 0.02], "two_delta_nll": [4.0, 0.0, 4.0]}},
...     out / "p.png").is_file()
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_mass_scan", "plot_profile", "plot_scan"]

_COLORS = {"parametrized": "tab:blue", "unbinned": "tab:orange", "binned": "tab:green"}


def _figure(**kwargs: Any) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    return plt.subplots(**kwargs)


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    import matplotlib.pyplot as plt

    from gbi.io import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_profile(
    profiles: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | os.PathLike[str],
    mu_true: float | None = None,
) -> Path:
    """``2 dlogL`` vs ``mu`` (signal fraction) per method, with the 68% and 95% lines."""
    fig, ax = _figure(figsize=(8, 6))
    for name, prof in profiles.items():
        ax.plot(prof["mu"], prof["two_delta_nll"], label=name, color=_COLORS.get(name))
    for level, text in ((1.0, "68%"), (3.84, "95%")):
        ax.axhline(level, color="grey", ls=":", lw=1)
        ax.text(ax.get_xlim()[0], level, text, va="bottom", fontsize=12)
    if mu_true is not None:
        ax.axvline(mu_true, color="black", ls="--", lw=1, label="true")
    ax.set_xlabel(r"signal fraction $\mu$ in the SR")
    ax.set_ylabel(r"$-2\Delta\ln L$")
    ax.set_ylim(0, 10)
    ax.legend(fontsize=14)
    return _save(fig, path)


def plot_mass_scan(scan: Mapping[str, Sequence[float]], path: str | os.PathLike[str]) -> Path:
    """Profile ``2 dlogL`` over (mX, mY) (GeV), mu (and mW, when scanned) profiled, with the
    best point."""
    mx, my = np.asarray(scan["mX"]), np.asarray(scan["mY"])
    z = np.asarray(scan["two_delta_nll"])
    if "mW" in scan:  # the minimum over mW at each (mX, mY)
        pairs, inverse = np.unique(np.stack([mx, my], 1), axis=0, return_inverse=True)
        profile = np.full(len(pairs), np.inf)
        np.minimum.at(profile, inverse.ravel(), z)
        mx, my, z = pairs[:, 0], pairs[:, 1], profile
    z = np.minimum(z, 25.0)
    fig, ax = _figure(figsize=(8, 6.5))
    sc = ax.scatter(mx, my, c=z, cmap="viridis_r", s=60, marker="s")
    best = int(np.argmin(z))
    ax.plot(mx[best], my[best], "r*", ms=18, label="best fit")
    fig.colorbar(sc, ax=ax, label=r"$-2\Delta\ln L$ (capped at 25)")
    ax.set_xlabel(r"$m_X$ [GeV]")
    ax.set_ylabel(r"$m_Y$ [GeV]")
    ax.legend(fontsize=14)
    return _save(fig, path)


def _plot_counts(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """The binned method's number of signal events passing the cut vs the true number
    passing: the model-independent count (rows with ``n_pass_hat`` and ``n_pass_true``)
    and, where a fraction was quoted, the same fit with the signal's leak into the control
    windows modelled (``n_pass_leak_hat``)."""
    sel = [r for r in rows if r.get("n_pass_hat") is not None and r.get("n_pass_true") is not None]
    if not sel:
        return []
    fig, ax = _figure(figsize=(8, 7))
    top = 1.0
    kinds = (("n_pass", "model-independent", "o"), ("n_pass_leak", "signal leak modelled", "s"))
    for i, (prefix, label, marker) in enumerate(kinds):
        part = [r for r in sel if r.get(f"{prefix}_hat") is not None]
        if not part:
            continue
        x = np.array([r["n_pass_true"] for r in part], dtype=float)
        y = np.array([r[f"{prefix}_hat"] for r in part], dtype=float)
        err = np.array(
            [[r[f"{prefix}_hat"] - r[f"{prefix}_lo"], r[f"{prefix}_hi"] - r[f"{prefix}_hat"]]
             for r in part]
        )  # fmt: skip
        top = max(top, float(x.max()), float(y.max()))
        ax.errorbar(x, y, yerr=np.maximum(err.T, 0), fmt=marker, ms=4, alpha=0.7,
                    color=_COLORS["binned"] if i == 0 else "tab:gray",
                    label=f"binned, {label}")  # fmt: skip
    top *= 1.1
    ax.plot([0, top], [0, top], color="black", lw=1, ls="--", label="truth")
    ax.set_xlabel("true signal events passing the cut")
    ax.set_ylabel("fitted signal events passing (68% interval)")
    ax.legend(fontsize=14)
    return [_save(fig, out / "count_vs_true.png")]


def plot_scan(rows: Sequence[Mapping[str, Any]], out: str | os.PathLike[str]) -> list[Path]:
    """Injection-scan plots: estimated vs true mu (68% intervals), Z vs injected N, and the
    binned model-independent count vs the true count passing the cut (``count_vs_true.png``)."""
    out = Path(out)
    all_rows = [r for r in rows if r.get("status", "ok") == "ok"]
    rows = [r for r in all_rows if r.get("mu_hat") is not None]
    paths = _plot_counts(all_rows, out)
    if not rows:
        return paths
    methods = sorted({r["method"] for r in rows})
    fig, ax = _figure(figsize=(8, 7))
    top = max(max(r["mu_true"] for r in rows), 1e-4) * 1.3
    low, high = -0.3 * top, 1.8 * top  # a failed fit far off scale must not hide the rest
    ax.plot([0, top], [0, top], color="black", lw=1, ls="--", label="truth")
    for k, method in enumerate(methods):
        sel = [r for r in rows if r["method"] == method]
        x = np.array([r["mu_true"] for r in sel]) + 0.012 * top * (k - 1)
        y = np.array([r["mu_hat"] for r in sel])
        err = np.array([[r["mu_hat"] - r["mu_lo"], r["mu_hi"] - r["mu_hat"]] for r in sel]).T
        off = int(((y < low) | (y > high)).sum())
        ax.errorbar(
            x,
            np.clip(y, low, high),
            yerr=np.maximum(err, 0),
            fmt="o",
            ms=4,
            color=_COLORS.get(method),
            label=method + (f" ({off} off scale, drawn at the edge)" if off else ""),
            alpha=0.7,
        )
    ax.set_ylim(low, high)
    ax.set_xlabel(r"true $\mu$ (signal fraction in the SR)")
    ax.set_ylabel(r"estimated $\mu$ (68% interval)")
    ax.legend(fontsize=14)
    paths.append(_save(fig, out / "mu_vs_true.png"))
    fig, ax = _figure(figsize=(8, 6))
    # Every method's significance, binned's also without a signal fraction.
    for method in sorted({r["method"] for r in all_rows}):
        ns = sorted({r["n_signal"] for r in all_rows if r["method"] == method})
        z = [
            [
                r["significance"] or 0.0
                for r in all_rows
                if r["method"] == method and r["n_signal"] == n
            ]
            for n in ns
        ]
        med = [np.median(v) for v in z]
        lo = [np.quantile(v, 0.16) for v in z]
        hi = [np.quantile(v, 0.84) for v in z]
        ax.plot(ns, med, "o-", color=_COLORS.get(method), label=method)
        ax.fill_between(ns, lo, hi, color=_COLORS.get(method), alpha=0.2)
    ax.axhline(2.0, color="grey", ls=":", lw=1)
    ax.set_yscale("symlog", linthresh=2)
    ticks = [0, 1, 2, 5, 10, 20, 50]
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.set_ylim(0, None)
    ax.set_xlabel("injected signal events N")
    ax.set_ylabel("significance Z (median, 68% band)")
    ax.legend(fontsize=14)
    paths.append(_save(fig, out / "significance_vs_n.png"))
    return paths
