"""Generated-versus-real plots per feature, with ratio panels (matplotlib + mplhep).

:func:`feature_figure` returns a :class:`matplotlib.figure.Figure` to show or adjust;
:func:`plot_feature` and :func:`plot_features` also write it to a file, atomically. The
figures are made without :mod:`matplotlib.pyplot`, so they never choose or need a
backend (and are not kept open by pyplot).

>>> import numpy as np, tempfile, pathlib
>>> rng = np.random.default_rng(0)
>>> fig = feature_figure(rng.normal(size=500), rng.normal(size=500), "x", bins=10)
>>> [ax.get_ylabel() for ax in fig.axes]
['density', 'generated/real']
>>> out = pathlib.Path(tempfile.mkdtemp()) / "x.png"
>>> _ = plot_feature(rng.normal(size=500), rng.normal(size=500), "x", out, bins=10)
>>> out.is_file()
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["feature_figure", "plot_feature", "plot_features", "save_figure"]


def _density_hist(values: np.ndarray, edges: np.ndarray) -> Any:
    """``hist.Hist`` of ``values`` weighted ``1 / (n * bin width)`` (uniform ``edges``):
    contents are densities, variances those of the scaled Poisson counts."""
    import hist

    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    return h.fill(values, weight=1.0 / (max(len(values), 1) * (edges[1] - edges[0])))


def feature_figure(
    real: np.ndarray,
    generated: np.ndarray,
    name: str,
    *,
    bins: int = 50,
    unit: str = "",
    labels: tuple[str, str] = ("real", "generated"),
) -> Figure:
    """Normalised histograms of ``real`` and ``generated`` (shape ``(n,)``, in ``unit``) with
    the ratio generated/real below; binning over the 0.1-99.9% quantile range of ``real``.
    Densities are per ``unit``. The panels are :func:`mplhep.comp.hists` with the
    ``split_ratio`` comparison: generated's uncertainty as error bars, real's as a band."""
    from matplotlib.figure import Figure
    from mplhep import comp

    real = np.asarray(real, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    low, high = np.quantile(real, [0.001, 0.999])
    edges = np.linspace(low, high, bins + 1)
    fig = Figure(figsize=(6, 5.5))
    # not sharex: mplhep blanks the top panel's tick labels, which a shared axis would share
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
    comp.hists(
        _density_hist(generated, edges),
        _density_hist(real, edges),
        fig=fig,
        ax_main=top,
        ax_comparison=bottom,
        h1_label=labels[1],
        h2_label=labels[0],
        xlabel=name + (f" [{unit}]" if unit else ""),
        ylabel="density" + (f" [1/{unit}]" if unit else ""),
        comparison="split_ratio",
        comparison_ylim=(0.5, 1.5),
        flow="none",
    )
    top.set_yscale("log")
    bottom.set_ylabel(f"{labels[1]}/{labels[0]}")
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format of its suffix (PNG by default)."""
    from gbi.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return path


def plot_feature(
    real: np.ndarray,
    generated: np.ndarray,
    name: str,
    path: str | os.PathLike[str],
    *,
    bins: int = 50,
    unit: str = "",
    labels: tuple[str, str] = ("real", "generated"),
) -> Path:
    """:func:`feature_figure` written to ``path``; returns the path."""
    fig = feature_figure(real, generated, name, bins=bins, unit=unit, labels=labels)
    return save_figure(fig, path)


def plot_features(
    real: Mapping[str, Any],
    generated: Mapping[str, Any],
    columns: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    units: Mapping[str, str] | None = None,
    bins: int = 50,
) -> list[Path]:
    """One ``<column>.png`` per column in ``out_dir``; returns the paths."""
    units = dict(units or {})
    return [
        plot_feature(
            real[c], generated[c], c, Path(out_dir) / f"{c}.png", bins=bins, unit=units.get(c, "")
        )
        for c in columns
    ]
