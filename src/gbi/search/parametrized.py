"""The model-dependent result of one window: ``gbi infer``'s parametrized fit (``--signal-grid``).

For a window ``[low, high)`` (GeV) and a simulated signal grid (one resonance mass ``mW``,
points ``(mX, mY)`` in GeV), the grid is split anew for the window
(:meth:`gbi.infer.signal_grid.SignalGrid.for_region`: each point's events with mjj in the
window) and the window's own sideband generator, already trained for the model-independent
fit, is reused: :func:`gbi.infer.run_inference` with ``methods=("parametrized",)`` trains
the classifier ``f(x, mX, mY)`` on the grid against generated background, fits the signal
fraction ``mu`` of the window's SR events and the masses, calibrates the significance with
background-only toys over the mass scan, and adds the generator spread to the interval.

The result is ``mu`` (fraction of SR events, dimensionless) with its 68% interval, its 95% CL
upper limit, the significance and the fitted masses. Windows that the grid's resonance does
not reach (fewer than ``min_signal_events`` grid events of any point in the window) are
skipped with that reason: their limits on the grid's signals would be extrapolations. A
window that the resonance reaches but whose range does not hold the grid's W' mass fits the
grid moved to the window's centre, as ``gbi infer`` does (mjj scaled, jet features kept;
``gbi.infer.pipeline``, README section 8): its events there are the resonance's tail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gbi.background import SidebandBackground
from gbi.infer import InferConfig, run_inference
from gbi.infer.parametrized import ParametrizedConfig
from gbi.infer.signal_grid import SignalGrid
from gbi.regions import Regions
from gbi.search.config import WindowConfig
from gbi.search.windows import Window

__all__ = ["fit_parametrized_window", "window_regions"]

#: What the window result keeps of the parametrized method's figures.
#: The fitted masses kept per window (GeV; ``mW`` only for a grid of several W' masses).
MASS_KEYS = tuple(f"{m}{end}" for m in ("mX", "mY", "mW") for end in ("", "_lo", "_hi"))
KEPT = (
    "mu_hat",
    "mu_lo",
    "mu_hi",
    "mu_upper_limit_95",
    "significance",
    "p_value",
    "significance_calibration",
    "mu_sys_generator",
)


def window_regions(window: Window, mjj: np.ndarray) -> Regions:
    """The window as :class:`~gbi.regions.Regions` (signal region ``[low, high)`` GeV) with an
    mjj range that holds every event of ``mjj``."""
    return Regions(
        sr_low=window.low,
        sr_high=window.high,
        range_low=min(float(np.min(mjj)), window.low - 1.0),
        range_high=max(float(np.max(mjj)) + 1.0, window.high + 1.0),
    )


def fit_parametrized_window(
    table: Mapping[str, np.ndarray],
    window: Window,
    background: SidebandBackground,
    signal_grid: SignalGrid,
    config: WindowConfig,
    seed: int,
) -> dict[str, Any]:
    """The parametrized fit of the grid's signals in ``window`` (JSON-ready dict with
    ``status`` ok or skipped, see the module docstring)."""
    regions = window_regions(window, np.asarray(table["mjj"]))
    grid = signal_grid.for_region(regions, min_events=config.min_signal_events)
    if grid is None:
        return {
            "status": "skipped",
            "message": f"no point of the signal grid ({signal_grid.describe_m_w()}) has "
            f"{config.min_signal_events} events in [{window.low:g}, {window.high:g}) GeV",
        }
    infer_config = InferConfig(
        methods=("parametrized",),
        features=config.features,
        regions=regions,
        flow_ensemble=config.flow_ensemble,
        oversampling=config.oversampling,
        toys=config.parametrized_toys,
        parametrized=ParametrizedConfig(
            features=config.features,
            epochs=config.parametrized_epochs,
            ensemble=config.parametrized_ensemble,
            # The grid's own masses: the morphed extension (gbi infer's default) is not
            # measured for the search's windows yet, and costs each window about 1.5x.
            extend_steps=0,
        ),
        min_sr_events=config.min_sr_events,
        # The window reuses its model-independent fit's generator; taking the fitted signal
        # out of its sidebands (gbi infer's default) would train it again in every window
        # with evidence. Not measured for the search yet: kept off.
        sideband_signal="off",
        seed=seed,
    )
    method = run_inference(
        dict(table), config=infer_config, signal_grid=grid, background=background
    ).methods["parametrized"]
    if method.status != "ok":
        return {"status": method.status, "message": method.message}
    values = method.values
    masses = values.get("masses", {})
    return {
        "status": "ok",
        "message": "",
        **{k: values[k] for k in KEPT if k in values},
        "masses": {k: masses[k] for k in MASS_KEYS if k in masses},
        "grid_points": len(grid.tables),
        "m_w": signal_grid.m_w,
        **({"m_ws": list(signal_grid.m_ws)} if signal_grid.m_w is None else {}),
    }
