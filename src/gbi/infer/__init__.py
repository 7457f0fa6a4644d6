"""Generator-based inference (``gbi infer``): measure the signal, not only flag it.

With the background generator learned in the sidebands, estimate the signal fraction ``mu``
of signal-region events (and the resonance masses) with intervals and a significance:

- :mod:`gbi.infer.mixture`      profile likelihood of ``mu`` from per-event density ratios
- :mod:`gbi.infer.signal_grid`  the simulated (mX, mY) signal grid made with ``gbi generate``
- :mod:`gbi.infer.parametrized` classifier parametrised in (mX, mY), mixture fit (PAWS-style)
- :mod:`gbi.infer.unbinned`     flow background, learned signal density, EM fit (R-ANODE style)
- :mod:`gbi.infer.binned`       anomaly-score cut + pyhf fit (cross-check)
- :mod:`gbi.infer.uncertainty`  generator (flow-ensemble) uncertainty and the reported interval
- :mod:`gbi.infer.config`       :class:`InferConfig`, the methods
- :mod:`gbi.infer.steps`        one function per method on a prepared run
- :mod:`gbi.infer.result`       :class:`InferResult` (typed result, ``to_dict()`` is the JSON)
- :mod:`gbi.infer.pipeline`     :func:`run_inference`

The sideband split, the generator and its SR sample come from :mod:`gbi.background`.
- :mod:`gbi.infer.plots`        likelihood scans, mass scan, injection-scan plots
"""

from __future__ import annotations

from gbi.infer.binned import BinnedConfig, fit_binned
from gbi.infer.config import INFER_METHODS, InferConfig
from gbi.infer.mixture import MixtureFit, global_significance, profile_mixture, toy_q0
from gbi.infer.parametrized import ParametrizedConfig, ParametrizedModel, fit_parametrized
from gbi.infer.pipeline import run_inference
from gbi.infer.result import InferCounts, InferMethodResult, InferResult
from gbi.infer.signal_grid import SignalGrid, generate_grid, grid_points, load_signal_grid
from gbi.infer.unbinned import UnbinnedConfig, fit_unbinned

__all__ = [
    "INFER_METHODS",
    "BinnedConfig",
    "InferConfig",
    "InferCounts",
    "InferMethodResult",
    "InferResult",
    "MixtureFit",
    "ParametrizedConfig",
    "ParametrizedModel",
    "SignalGrid",
    "UnbinnedConfig",
    "fit_binned",
    "fit_parametrized",
    "fit_unbinned",
    "generate_grid",
    "global_significance",
    "grid_points",
    "load_signal_grid",
    "profile_mixture",
    "run_inference",
    "toy_q0",
]
