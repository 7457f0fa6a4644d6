"""Generator-based inference on SR data: ``mu`` (signal fraction of SR events), masses, Z.

:func:`run_inference` splits the data into SR and sidebands, trains (or reuses) the sideband
background generator, samples it in the SR (all with :mod:`gbi.background`) and runs the
requested methods (:mod:`gbi.infer.steps`, one function each):

================ ==============================================================================
``parametrized`` classifier ``f(x, mX, mY)`` signal grid vs generated background, mixture fit
                 of ``mu`` and the masses (:mod:`gbi.infer.parametrized`); toy-calibrated Z
``unbinned``     flow background density, learned Gaussian-mixture signal density, EM fit
                 of ``mu`` (:mod:`gbi.infer.unbinned`); local Z
``binned``       anomaly-score cut and cut-and-count pyhf fit (:mod:`gbi.infer.binned`): the
                 model-independent number of signal events passing the cut, and a signal
                 fraction only at the parametrized fit's masses (or ``--binned-mass``)
================ ==============================================================================

Every method reports ``mu_hat``, the 68% interval ``[mu_lo, mu_hi]``, the 95% CL upper
limit and a significance (``binned``: ``mu_*`` are ``None`` without a fitted signal, see
``signal_fraction_reason``; its count is under ``n_signal_passing``); :meth:`InferResult.to_dict` gives the ``infer-result-1.0`` JSON. A
method that cannot run (no signal grid, too few events) is reported with ``status: skipped``
and a message. mjj and masses in GeV, stage times in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from gbi.background import RegionSplit, SidebandBackground, Stages, split_regions
from gbi.errors import GbiInputError
from gbi.infer.config import INFER_METHODS, InferConfig
from gbi.infer.parametrized import ParametrizedModel
from gbi.infer.result import InferCounts, InferMethodResult, InferResult
from gbi.infer.signal_grid import SignalGrid
from gbi.infer.steps import InferRun, run_binned, run_parametrized, run_unbinned, unbinned_toys

__all__ = ["INFER_METHODS", "InferConfig", "InferResult", "run_inference", "unbinned_toys"]

log = logging.getLogger(__name__)


def _start(data: Mapping[str, np.ndarray], config: InferConfig) -> tuple[InferResult, RegionSplit]:
    """The result with its counts, and the SR/sideband split (columns checked)."""
    missing = [c for c in ("mjj", *config.features) if c not in data]
    if missing:
        raise GbiInputError(
            f"features: expected column(s) {missing}, found {sorted(data)}; use 'gbi process' output"
        )
    split = split_regions(data, config.regions)
    counts = InferCounts(len(data["mjj"]), split.n_sr, split.n_sb)
    result = InferResult(config=config.to_dict(), counts=counts)
    if "label" in data:
        labels = np.asarray(data["label"])[split.sr]
        counts.signal_region_true_signal = int((labels == 1).sum())
        result.has_truth = True
        result.mu_true = float((labels == 1).mean()) if split.n_sr else None
    return result, split


def run_inference(
    data: Mapping[str, np.ndarray],
    *,
    config: InferConfig | None = None,
    signal_grid: SignalGrid | None = None,
    background: SidebandBackground | None = None,
    parametrized_model: ParametrizedModel | None = None,
    flow_dir: str | None = None,
) -> InferResult:
    """Run the methods of ``config`` on ``data`` (features + mjj, GeV).

    ``background``/``parametrized_model``: trained models to reuse (e.g. from an earlier
    :class:`InferResult`) instead of training them; ``flow_dir`` keeps the trained flows.
    """
    config = config or InferConfig()
    result, split = _start(data, config)
    too_few = split.too_few(config.min_sr_events, 10 * config.min_sr_events)
    if too_few is not None:
        result.methods = {name: InferMethodResult.skipped(too_few) for name in config.methods}
        return result
    data = dict(data)
    stages = Stages()
    if background is None:
        with stages("flow_training"):
            background = SidebandBackground.train(
                data, split, config.generator_config, out_dir=flow_dir
            )
    result.background = background
    # Every flow's density at the SR data, once: the unbinned fit's background and the
    # member weights of the generator uncertainty.
    log_members_sr = None
    if {"parametrized", "unbinned"} & set(config.methods):
        log_members_sr = background.model.member_log_probs(
            split.signal_region(data), source="signal-region data"
        )
    with stages("flow_sampling"):
        generated = background.generate(split.n_sr, config.oversampling, config.seed)
    run = InferRun(
        data, split, config, background, generated, stages, result, signal_grid, log_members_sr
    )
    if "parametrized" in config.methods:
        result.methods["parametrized"] = run_parametrized(run, parametrized_model)
    if "unbinned" in config.methods:
        result.methods["unbinned"] = run_unbinned(run)
    if "binned" in config.methods:
        result.methods["binned"] = run_binned(run, result.methods.get("parametrized"))
    result.stages = stages.to_dict()
    return result
