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
    Densities are per ``unit``."""
    import mplhep
    from matplotlib.figure import Figure

    real = np.asarray(real, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    low, high = np.quantile(real, [0.001, 0.999])
    edges = np.linspace(low, high, bins + 1)
    n_r, _ = np.histogram(real, edges)
    n_g, _ = np.histogram(generated, edges)
    width = np.diff(edges)
    d_r = n_r / (len(real) * width)
    d_g = n_g / (len(generated) * width)
    e_r = np.sqrt(n_r) / (len(real) * width)
    e_g = np.sqrt(n_g) / (len(generated) * width)
    fig = Figure(figsize=(6, 5.5))
    top, bottom = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
    )
    mplhep.histplot(
        d_r, edges, yerr=e_r, ax=top, histtype="errorbar", color="black", label=labels[0]
    )
    mplhep.histplot(
        d_g, edges, yerr=e_g, ax=top, histtype="step", color="tab:blue", label=labels[1]
    )
    top.set_ylabel("density" + (f" [1/{unit}]" if unit else ""))
    top.set_yscale("log")
    top.legend()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_r > 0, d_g / d_r, np.nan)
        ratio_err = np.where(
            d_r > 0,
            ratio * np.sqrt((e_g / np.where(d_g > 0, d_g, 1)) ** 2 + (e_r / d_r) ** 2),
            np.nan,
        )
    centers = 0.5 * (edges[1:] + edges[:-1])
    bottom.errorbar(centers, ratio, yerr=ratio_err, fmt="o", ms=2, color="tab:blue")
    bottom.axhline(1.0, color="black", lw=0.8)
    bottom.set_ylim(0.5, 1.5)
    bottom.set_ylabel(f"{labels[1]}/{labels[0]}")
    bottom.set_xlabel(name + (f" [{unit}]" if unit else ""))
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
