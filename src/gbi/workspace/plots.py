"""Plots of a ``fit-result-1.0`` document: nuisance-parameter pulls and the CLs limit.

:func:`pulls_figure` and :func:`limit_figure` take the result dict of
:func:`gbi.workspace.fit.fit_workspace` and return a :class:`matplotlib.figure.Figure`;
:func:`plot_pulls` and :func:`plot_limit` also write it as PNG/PDF atomically. The figures
are made without :mod:`matplotlib.pyplot`, so they never choose or need a backend, and
with matplotlib's default style, which their sizes are made for (a style set globally by
another plot, e.g. mplhep's CMS fonts, would not fit a pulls plot of a few parameters).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gbi.metrics.plots import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["limit_figure", "plot_limit", "plot_pulls", "pulls_figure"]


def _default_style(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        import matplotlib.style

        with matplotlib.style.context("default"):
            return draw(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def plot_pulls(result: dict[str, Any], target: str | os.PathLike[str], max_pars: int = 40) -> Path:
    """:func:`pulls_figure` written to ``target``; returns the path."""
    return save_figure(pulls_figure(result, max_pars), target, dpi=120)


def plot_limit(result: dict[str, Any], target: str | os.PathLike[str]) -> Path:
    """:func:`limit_figure` written to ``target``; returns the path."""
    return save_figure(limit_figure(result), target, dpi=120)


@_default_style
def pulls_figure(result: dict[str, Any], max_pars: int = 40) -> Figure:
    """Pulls (value - aux)/sigma with error bars of the constrained parameters.

    Shows the ``max_pars`` parameters with the largest ``|pull|`` (staterror gammas
    of many bins would otherwise crowd the plot).
    """
    pulled = [p for p in result["parameters"] if "pull" in p]
    pulled.sort(key=lambda p: -abs(p["pull"]))
    pulled = pulled[:max_pars][::-1]
    fig, ax = _figure(6.0, 1.2 + 0.28 * max(len(pulled), 1))
    y = np.arange(len(pulled))
    ax.axvspan(-2, 2, color="#ffe08a", zorder=0)
    ax.axvspan(-1, 1, color="#8fd18f", zorder=0)
    ax.axvline(0, color="black", lw=0.8)
    if pulled:
        ax.errorbar(
            [p["pull"] for p in pulled], y, xerr=[p["pull_err"] for p in pulled],
            fmt="o", color="black", ms=4,
        )  # fmt: skip
    ax.set_yticks(y, [p["name"] for p in pulled])
    ax.set_xlim(-3, 3)
    ax.set_xlabel(r"$(\hat\theta - \theta_0) / \Delta\theta$")
    ax.set_title(f"{result['poi']} = {result['mu_hat']:.3g} ± {result['mu_err']:.2g}", fontsize=10)
    fig.tight_layout()
    return fig


@_default_style
def limit_figure(result: dict[str, Any]) -> Figure:
    """The CLs scan (Brazil plot, :func:`pyhf.contrib.viz.brazil.plot_results`) if the result
    has one, else the limit band summary."""
    fig, ax = _figure(6.0, 4.0)
    level = result.get("cls_level", 0.05)
    band = result["cls_upper_limit_exp_band"]
    if "cls_scan" in result:
        from pyhf.contrib.viz import brazil

        scan = result["cls_scan"]
        tests = list(zip(scan["obs"], scan["exp"], strict=True))  # (CLs_obs, 5 expected)
        brazil.plot_results(scan["mu"], tests, test_size=level, ax=ax, xlabel=result["poi"])
    else:
        ax.axhspan(-0.5, 0.5, xmin=0, xmax=1, alpha=0)
        ax.barh(
            0, band[4] - band[0], left=band[0], color="#ffe08a", label=r"expected $\pm 2\sigma$"
        )
        ax.barh(
            0, band[3] - band[1], left=band[1], color="#8fd18f", label=r"expected $\pm 1\sigma$"
        )
        ax.plot([band[2]] * 2, [-0.4, 0.4], "k--", label="expected")
        ax.plot(result["cls_upper_limit_obs"], 0, "ko", label="observed")
        ax.set_yticks([])
        ax.set_xlabel(f"{100 * (1 - level):g}% CL upper limit on {result['poi']}")
        ax.legend(fontsize=8)  # plot_results makes its own legend
    ax.set_title(
        f"obs {result['cls_upper_limit_obs']:.3g}, exp {band[2]:.3g} "
        f"[{band[1]:.3g}, {band[3]:.3g}]",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
