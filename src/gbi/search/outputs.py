"""Plots and tables of a scan: local p0 vs mass, limits vs mass, a Markdown table.

The plot functions return a ``matplotlib.figure.Figure`` built without pyplot, so they never
choose a backend (saving a Figure to PNG needs none); :func:`write_outputs` saves them
atomically with the table and ``search.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from gbi.io import atomic_path, write_json
from gbi.schema import validate
from gbi.search.result import SearchResult, WindowResult

__all__ = ["limits_figure", "markdown_table", "p0_figure", "write_outputs"]


def _figure() -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def p0_figure(windows: list[WindowResult], global_z: float | None = None) -> Any:
    """Local p0 vs window centre (GeV), log y, with the 1-3 sigma lines."""
    fig, ax = _figure()
    fitted = [w for w in windows if w.status == "ok" and w.p0_local is not None]
    x = np.array([w.center for w in fitted])
    p0 = np.array([max(w.p0_local or 0.0, 1e-300) for w in fitted])
    ax.plot(x, p0, "o-", color="k", label="observed local $p_0$")
    lowest = min([*p0.tolist(), norm.sf(3.5)]) if len(p0) else norm.sf(3.5)
    for z in (1, 2, 3, 4, 5):
        p = norm.sf(z)
        if p >= 0.3 * lowest:
            ax.axhline(p, color="tab:red", lw=0.8, ls="--")
            ax.text(1.0, p, f" {z}$\\sigma$", transform=ax.get_yaxis_transform(), va="center")
    ax.set_yscale("log")
    ax.set_ylim(0.3 * lowest, 1.0)
    ax.set_xlabel("window centre $m_{jj}$ [GeV]")
    ax.set_ylabel("local $p_0$")
    title = "gbi search"
    if global_z is not None:
        title += f" (global significance {global_z:.2f}$\\sigma$)"
    ax.set_title(title)
    ax.legend(loc="lower left")
    return fig


def limits_figure(windows: list[WindowResult]) -> Any:
    """95% CL upper limits on signal events passing the cut vs window centre (GeV):
    observed, and expected with the +-1/2 sigma band."""
    fig, ax = _figure()
    fitted = [w for w in windows if w.status == "ok" and w.upper_limit_exp_band is not None]
    x = np.array([w.center for w in fitted])
    band = np.array([w.upper_limit_exp_band for w in fitted]).reshape(-1, 5)
    obs = np.array([w.upper_limit_obs for w in fitted], dtype=float)
    ax.fill_between(x, band[:, 0], band[:, 4], color="yellow", label=r"expected $\pm 2\sigma$")
    ax.fill_between(x, band[:, 1], band[:, 3], color="limegreen", label=r"expected $\pm 1\sigma$")
    ax.plot(x, band[:, 2], "k--", label="expected")
    ax.plot(x, obs, "ko-", label="observed")
    ax.set_xlabel("window centre $m_{jj}$ [GeV]")
    ax.set_ylabel("95% CL upper limit on signal events passing")
    ax.set_ylim(bottom=0)
    ax.legend()
    return fig


def _cell(value: Any, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def markdown_table(result: SearchResult) -> str:
    """The windows as a Markdown table, with the best window and the global significance."""
    lines = [
        "| window [GeV] | n_SR | local Z | p0 | mu_hat [68%] | UL obs | UL exp | status |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for w in result.windows:
        interval = (
            f"{w.mu_hat:.1f} [{w.mu_lo:.1f}, {w.mu_hi:.1f}]"
            if w.mu_hat is not None and w.mu_lo is not None and w.mu_hi is not None
            else ""
        )
        status = w.status if w.status == "ok" else f"{w.status}: {w.message}"
        lines.append(
            f"| {w.low:g}-{w.high:g} | {_cell(w.n_sr, 'd')} | "
            f"{_cell(w.local_significance, '.2f')} | {_cell(w.p0_local, '.3g')} | {interval} | "
            f"{_cell(w.upper_limit_obs, '.1f')} | {_cell(w.upper_limit_exp, '.1f')} | {status} |"
        )
    best, g = result.best, result.global_significance
    lines.append("")
    if best is not None:
        lines.append(
            f"Best window: {best.low:g}-{best.high:g} GeV, local significance "
            f"{best.local_significance:.2f} sigma."
        )
    if g is not None:
        lines.append(
            f"Global significance: {g['significance']:.2f} sigma (p = {g['p_value']:.3g}, "
            f"{g['method']}, {g['toys']} toys, {g['n_windows']} windows)."
        )
    return "\n".join(lines) + "\n"


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def write_outputs(result: SearchResult, out_dir: Path, plots: bool = True) -> dict[str, str]:
    """Write ``search.json`` (validated), ``search.md`` and the two plots into ``out_dir``."""
    out_dir = Path(out_dir)
    outputs = {"search": "search.json", "table": "search.md"}
    if plots and result.fitted:
        outputs.update(p0_vs_mass="p0_vs_mass.png", limits_vs_mass="limits_vs_mass.png")
        g = result.global_significance
        _save(
            p0_figure(result.windows, g["significance"] if g else None), out_dir / "p0_vs_mass.png"
        )
        _save(limits_figure(result.windows), out_dir / "limits_vs_mass.png")
    result.outputs = {**outputs, "windows": "windows/", "workspaces": "workspaces/"}
    document = result.to_dict()
    validate(document, "search-result", "the search result")
    with atomic_path(out_dir / "search.md") as tmp:
        tmp.write_text(markdown_table(result))
    write_json(document, out_dir / "search.json")
    return result.outputs
