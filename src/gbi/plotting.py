"""Plots of processor histograms with mplhep (CMS-like style), written atomically as PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gbi.io import atomic_path
from gbi.regions import Regions

__all__ = ["plot_feature", "plot_mjj"]


def _pyplot() -> Any:
    import matplotlib.pyplot as plt  # the backend is the caller's choice (the CLI: Agg)

    return plt


def plot_mjj(
    hists: Mapping[str, Mapping[str, Any]],
    out_path: str | Path,
    regions: Regions | None = None,
    title: str = "gbi dijet sample",
) -> Path:
    """Plot mjj (summed over regions) of every dataset, with the signal region shaded.

    ``hists`` is ``{dataset: {"mjj": hist.Hist(region, mjj)}}`` as written by ``gbi process``.
    Returns the path of the PNG.
    """
    return plot_feature(hists, "mjj", out_path, regions=regions, title=title, logy=True)


def plot_feature(
    hists: Mapping[str, Mapping[str, Any]],
    feature: str,
    out_path: str | Path,
    regions: Regions | None = None,
    title: str = "gbi dijet sample",
    logy: bool = False,
    region: str | None = None,
) -> Path:
    """Plot one feature of every dataset (one region or all) as weighted step histograms."""
    import mplhep

    plt = _pyplot()
    plt.style.use(mplhep.style.CMS)
    fig, ax = plt.subplots(figsize=(9, 7))
    selection: Any = region if region is not None else sum
    for dataset, by_feature in hists.items():
        histogram = by_feature[feature][{"region": selection}]
        if histogram.sum().value <= 0:
            continue
        # errors from the Weight storage (sqrt of sum of w^2); mplhep's default Poisson
        # interval would draw a bar up to 1.8 for every empty bin of a weighted histogram
        errors = np.sqrt(histogram.variances())
        mplhep.histplot(histogram, ax=ax, label=dataset, yerr=errors, histtype="step", flow="none")
    if regions is not None and feature == "mjj":
        ax.axvspan(*regions.signal_region, color="tab:orange", alpha=0.15, label="signal region")
        ax.set_xlim(regions.range_low, min(regions.range_high, 8000.0))
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel("weighted events / bin")
    ax.legend(title=title if region is None else f"{title} ({region})")
    mplhep.label.exp_label(exp="gbi", llabel="Simulation", rlabel="13 TeV", ax=ax)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out_path
