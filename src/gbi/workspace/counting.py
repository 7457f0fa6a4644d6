"""The cut-and-count fit after an anomaly-score cut: a one-bin SR with a sideband control
channel, in pyhf. Shared by ``gbi search`` (each window, :mod:`gbi.search.window`) and
``gbi infer --method binned`` (:mod:`gbi.infer.binned`).

After the score cut the workspace has two channels:

- ``signal_region``, one bin over the window's SR: observed = data events passing;
  background = generated events passing x ``n_SR / n_generated`` (``staterror`` for the
  finite generated sample), times the free factor ``sideband_k`` and a ``normsys``
  ``sideband_extrapolation`` (``extrapolation_uncertainty``); signal = a sample of **unit
  yield**, so the POI ``mu`` is directly the number of signal events passing the cut;
- ``sideband_windows``, the control windows next to the SR (one bin each, built by
  :func:`gbi.infer.closure.control_channel`): data passing the same cut, and generated
  background at their mjj x ``sideband_k``; no signal.

``sideband_k`` is thereby fitted where a narrow resonance is small: it absorbs the
mismodelling of the flow that the cut selects. The model-independent result has no signal
model, so it assumes that no signal leaks into the control windows. A signal that does leak
raises ``k``, so the SR background is overestimated: ``mu_hat`` and the local significance
come out low (conservative for discovery) and the upper limits too strong. Windows wider
than the signal's mjj peak keep the leak small.

The fit (:func:`gbi.workspace.fit.fit_workspace`, pyhf numpy backend, minuit) gives
``mu_hat`` with its MINOS interval, the discovery test q0 (local p0 and Z) and the 95% CL CLs
upper limits, observed and expected with the +-1/2 sigma band, on the number of signal
events passing the cut.

A signal *model* turns the POI into something else: ``signal_yield`` (the SR signal per unit
POI, e.g. ``n_SR x efficiency`` for a signal fraction) and ``control_signal`` (the signal
leaking into the two control windows per unit POI) give the model-dependent fit; the
defaults (1, none) are the model-independent one. ``control=None`` drops the control channel
(no ``sideband_k``), ``normsys`` adds normalisation uncertainties to the SR background.

>>> import hist
>>> h = hist.Hist(hist.axis.Regular(2, 0, 2, name="window"), storage=hist.storage.Weight())
>>> _ = h.fill(window=[0.5] * 160 + [1.5] * 160, weight=0.25)  # 4x generated, as the SR
>>> d = h.copy()  # observed = background in the control windows: k = 1 +- 0.12
>>> from gbi.workspace import Channel, Sample
>>> control = Channel("sideband_windows",
...     [Sample("background", h, kind="data-driven", normfactors=["sideband_k"])], data=d)
>>> out = fit_cut_and_count(160, 400, 0.25, control, window=(3000.0, 3400.0))
>>> round(out["mu_hat"], 1), round(out["local_significance"], 1)
(60.0, 2.9)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gbi.errors import GbiInputError

__all__ = ["fit_cut_and_count"]


def _signal_region(
    n_observed: int,
    n_generated_pass: int,
    weight: float,
    window: tuple[float, float],
    extrapolation_uncertainty: float,
    signal_yield: float = 1.0,
    normsys: dict[str, tuple[float, float]] | None = None,
    fitted_k: bool = True,
) -> Any:
    """The one-bin SR channel: signal of ``signal_yield`` per unit POI, background x
    ``sideband_k`` (when ``fitted_k``) with ``normsys``, data passing."""
    from gbi.workspace import Channel, Sample
    from gbi.workspace.histograms import Template

    if n_generated_pass < 1:
        raise GbiInputError(
            "no generated background event passes the score cut in the signal region, so the "
            "background has no template there; use a looser efficiency or more oversampling"
        )
    edges = np.array(window, dtype=np.float64)
    background = Template(
        np.array([n_generated_pass * weight]),
        np.array([n_generated_pass * weight**2]),
        edges,
        "generated background passing",
    )
    signal = Template(np.array([signal_yield]), np.array([0.0]), edges, "signal per unit POI")
    observed = Template(np.array([float(n_observed)]), None, edges, "data passing")
    normsys = dict(normsys or {})
    if fitted_k and extrapolation_uncertainty > 0:
        u = extrapolation_uncertainty
        normsys["sideband_extrapolation"] = (1.0 - u, 1.0 + u)
    sr = Channel(
        "signal_region",
        [
            Sample("signal", signal, signal=True, staterror=False),
            Sample(
                "background",
                background,
                kind="data-driven",
                normsys=normsys,
                normfactors=["sideband_k"] if fitted_k else [],
            ),
        ],
        data=observed,
    )
    return sr


def _with_signal(control: Any, control_signal: tuple[float, float] | None) -> Any:
    """The control channel with a signal sample of ``control_signal`` (low, high window)
    per unit POI; unchanged without one."""
    from gbi.workspace import Channel, Sample
    from gbi.workspace.histograms import Template

    if control is None or control_signal is None or not sum(control_signal) > 0:
        return control
    edges = np.array([0.0, 1.0, 2.0])  # the two windows (gbi.infer.closure.window_hist)
    leak = Template(np.asarray(control_signal, float), np.zeros(2), edges, "signal leak")
    signal = Sample("signal", leak, signal=True, staterror=False)
    return Channel(control.name, [signal, *control.samples], data=control.data)


def fit_cut_and_count(
    n_observed: int,
    n_generated_pass: int,
    weight: float,
    control: Any,
    *,
    window: tuple[float, float],
    extrapolation_uncertainty: float = 0.045,
    zero_below: float = 2.0,
    signal_yield: float = 1.0,
    control_signal: tuple[float, float] | None = None,
    normsys: dict[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Build and fit the cut-and-count workspace (module docstring).

    ``n_observed``: data events passing in the SR; ``n_generated_pass``: generated events
    passing, each of weight ``weight`` (``n_SR / n_generated``); ``control``: the
    ``sideband_windows`` :class:`gbi.workspace.Channel`; ``window``: SR edges (GeV).
    The 68% interval is MINOS's (HESSE's symmetric error, also reported as ``mu_err``, is
    meaningless when ``mu_hat`` sits at its bound 0: 411 events where MINOS gives 23 in one
    LHCO-style window); when the local significance is below ``zero_below`` (sigma) its
    lower edge is 0 (no evidence of a signal, as in ``gbi infer``).
    Returns the numbers and the workspace spec (``"workspace"``, a JSON-ready dict);
    ``k_fitted`` is 1 (error 0) without a control channel.
    """
    from gbi.workspace import build_workspace
    from gbi.workspace.fit import fit_workspace

    if not signal_yield > 0:
        raise GbiInputError(f"cut and count: expected a signal yield > 0, found {signal_yield}")
    sr = _signal_region(
        n_observed,
        n_generated_pass,
        weight,
        window,
        extrapolation_uncertainty,
        signal_yield,
        normsys,
        fitted_k=control is not None,
    )
    # The POI times signal_yield is a count of events: an excess cannot exceed the observed
    # count, and a limit lies within a few standard deviations of it, far below this bound.
    # At least 1: the POI starts at 1 (a signal fraction has this bound anyway).
    upper = (2.0 * n_observed + 10.0 * math.sqrt(n_observed + 1.0) + 20.0) / signal_yield
    upper = max(upper, 1.0)
    control = _with_signal(control, control_signal)
    channels = [sr] if control is None else [sr, control]
    ws = build_workspace(channels, poi_bounds=(0.0, upper))
    result = fit_workspace(ws, minos=True)
    k = next(
        (p for p in result["parameters"] if p["name"] == "sideband_k"),
        {"value": 1.0, "error": 0.0},
    )
    mu_hat, mu_err = result["mu_hat"], result["mu_err"]
    z = float(result["q0_significance"])
    lo, hi = result["mu_minos"]
    mu_lo = lo if z >= zero_below else 0.0
    return {
        "local_significance": z,
        "p0_local": float(result["p0"]),
        "q0": float(result["q0"]),
        "mu_hat": mu_hat,
        "mu_err": mu_err,
        "mu_lo": mu_lo,
        "mu_hi": hi,
        "upper_limit_obs": float(result["cls_upper_limit_obs"]),
        "upper_limit_exp": float(result["cls_upper_limit_exp"]),
        # pyhf order: the -2, -1, 0, +1, +2 sigma expected limits.
        "upper_limit_exp_band": [float(v) for v in result["cls_upper_limit_exp_band"]],
        "k_fitted": float(k["value"]),
        "k_fitted_err": float(k["error"]),
        "expected_background_prefit": float(n_generated_pass * weight),
        "workspace": dict(ws),
    }
