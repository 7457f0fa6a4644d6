"""Plots of processor histograms with mplhep (CMS-like style), written atomically as PNG.

Histograms are ``{dataset: {feature: hist.Hist(region, feature)}}`` (weighted events per
bin; the feature's unit, e.g. GeV, on the x axis). A plot with nothing to draw is refused
(:class:`gbi.errors.GbiInputError`) instead of being written as an empty PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.io import atomic_path
from gbi.regions import Regions

__all__ = ["has_entries", "plot_feature", "plot_mjj"]


def _pyplot() -> Any:
    import matplotlib.pyplot as plt  # the backend is the caller's choice (the CLI: Agg)

    return plt


def _selected(histogram: Any, region: str | None) -> Any:
    return histogram[{"region": region if region is not None else sum}]


def has_entries(
    hists: Mapping[str, Mapping[str, Any]], feature: str, region: str | None = None
) -> bool:
    """True when some dataset has a positive sum of weights in ``feature`` (and ``region``).

    >>> import hist
    >>> h = hist.Hist.new.StrCat(["SR"], name="region").Reg(2, 0, 2, name="x").Weight()
    >>> has_entries({"qcd": {"x": h}}, "x")
    False
    >>> _ = h.fill(region="SR", x=[0.5])
    >>> has_entries({"qcd": {"x": h}}, "x", region="SR")
    True
    """
    return any(
        _selected(by_feature[feature], region).sum().value > 0 for by_feature in hists.values()
    )


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
    """Plot one feature of every dataset (one region or all) as weighted step histograms.

    Datasets without entries are left out; raises :class:`GbiInputError` when no dataset
    has any (nothing would be drawn).
    """
    if not has_entries(hists, feature, region):
        where = f" in {region}" if region is not None else ""
        raise GbiInputError(
            f"nothing to plot for {feature!r}{where}: no dataset has events "
            f"({sorted(hists)}); the {Path(out_path).name} plot was not written"
        )
    import mplhep

    plt = _pyplot()
    plt.style.use(mplhep.style.CMS)
    fig, ax = plt.subplots(figsize=(9, 7))
    for dataset, by_feature in hists.items():
        histogram = _selected(by_feature[feature], region)
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
