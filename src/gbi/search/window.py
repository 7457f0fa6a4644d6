"""One window of the scan, start to end: :func:`run_window` (pure, seeded).

For a window ``[low, high)`` (GeV) of a :class:`~gbi.search.windows.WindowGrid`:

1. checks: the SR lies inside the data's mjj range and holds ``min_sr_events``; each of
   the two sidebands holds ``min_sideband_events`` (the flow interpolates between them);
   a window that fails is returned as ``status: skipped`` with the reason;
2. a conditional flow ``p(features | mjj)`` trained on the window's sidebands, sampled in
   the SR (``oversampling x n_SR`` events, mjj from a KDE of the SR data);
3. the CATHODE classifier, SR data vs generated SR background, k-fold with out-of-fold
   scores; a cut keeping ``efficiency`` of the generated background;
4. the same cut on the control windows' data and on events generated at their mjj, and the
   model-independent fit of :mod:`gbi.workspace.counting`.

The window's seed comes from the scan seed and its edges only
(:func:`gbi.search.config.window_seed`), so its result does not depend on the executor, the
order, or the other windows (given the same thread count: float sums in torch can differ in
the last bits with another number of threads).

This is the only module of :mod:`gbi.search` that imports the steps it shares with
``gbi detect`` and ``gbi infer``: the background-model core (:mod:`gbi.background`: sideband
generator, k-fold classifier, cuts) and the sideband-closure channel of
:mod:`gbi.infer.closure`.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

from gbi.background import (
    GeneratorConfig,
    RegionSplit,
    SidebandBackground,
    n_generated,
    thresholds,
    train_method,
)
from gbi.errors import GbiError
from gbi.flows import FlowConfig
from gbi.infer.closure import control_channel, sideband_closure
from gbi.infer.signal_grid import SignalGrid
from gbi.infer.uncertainty import EVIDENCE_THRESHOLD
from gbi.search.config import WindowConfig, window_seed
from gbi.search.parametrized import fit_parametrized_window, window_regions
from gbi.search.windows import Window, WindowGrid
from gbi.tables import subset, to_matrix
from gbi.threads import thread_budget
from gbi.workspace.counting import fit_cut_and_count

__all__ = ["run_window"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def run_window(
    data: Mapping[str, np.ndarray],
    window: Window,
    grid: WindowGrid,
    config: WindowConfig,
    *,
    threads: int | None = None,
    key: str = "",
    signal_grid: SignalGrid | None = None,
) -> dict[str, Any]:
    """The result of one window as a JSON-ready dict (``status`` ok, skipped or failed).

    ``data``: feature table (``config.features`` and ``mjj`` in GeV; a ``label`` column,
    1 = signal, only adds truth counts to the result, it is never an input). ``threads``
    caps torch and OpenMP/BLAS in the task (:func:`gbi.threads.thread_budget`); ``key``
    (:func:`gbi.search.config.result_key`) is stored as ``config_hash``. Never raises for
    a problem of the window: a :class:`~gbi.errors.GbiError` gives ``skipped``, any other
    exception ``failed``, with the message. The workspace spec is under ``"workspace"``.
    With ``signal_grid``, a window that is ``ok`` also gets ``"parametrized"``, the fit of
    the grid's signals (:mod:`gbi.search.parametrized`; its own ``status``: a problem there
    never loses the model-independent result).
    """
    result: dict[str, Any] = {
        "low": window.low,
        "high": window.high,
        "center": window.center,
        "config_hash": key,
        "seed": window_seed(config.seed, window),
        "started": _now(),
    }
    start = time.perf_counter()
    try:
        with thread_budget(threads) as used:
            result["threads"] = used
            computed, background = _compute(data, window, grid, config, result["seed"])
            result.update(computed)
            if signal_grid is not None and background is not None:
                result["parametrized"] = _parametrized(
                    data, window, background, signal_grid, config, result["seed"]
                )
    except GbiError as err:
        result.update(status="skipped", message=str(err))
    except Exception as err:  # a window that breaks must not stop the others
        result.update(
            status="failed",
            message=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=8),
        )
    result["seconds"] = time.perf_counter() - start
    result["finished"] = _now()
    return result


def _parametrized(
    data: Mapping[str, np.ndarray],
    window: Window,
    background: SidebandBackground,
    signal_grid: SignalGrid,
    config: WindowConfig,
    seed: int,
) -> dict[str, Any]:
    columns = ("mjj", *config.features)
    table = {c: np.asarray(data[c], dtype=np.float64) for c in columns}
    try:
        return fit_parametrized_window(table, window, background, signal_grid, config, seed)
    except GbiError as err:
        return {"status": "skipped", "message": str(err)}


def _skipped(counts: dict[str, Any], message: str) -> dict[str, Any]:
    return {**counts, "status": "skipped", "message": message}


def _check(
    mjj: np.ndarray, window: Window, grid: WindowGrid, config: WindowConfig
) -> tuple[dict[str, Any], str | None]:
    """Event counts of the window's regions, and why it cannot run (``None``: it can)."""
    sr = window.in_signal_region(mjj)
    side_lo, side_hi = grid.sidebands(window, mjj)
    counts = {
        "n_sr": int(sr.sum()),
        "n_sideband_low": int(side_lo.sum()),
        "n_sideband_high": int(side_hi.sum()),
    }
    where = f"window [{window.low:g}, {window.high:g}) GeV"
    if not len(mjj) or window.high <= mjj.min() or window.low > mjj.max():
        span = f"[{mjj.min():.1f}, {mjj.max():.1f}]" if len(mjj) else "(no events)"
        return counts, f"{where} lies outside the data's mjj range {span} GeV"
    if counts["n_sr"] < config.min_sr_events:
        return counts, (
            f"{where}: the signal region holds {counts['n_sr']} data events, expected at "
            f"least {config.min_sr_events} (min_sr_events)"
        )
    for side in ("low", "high"):
        n = counts[f"n_sideband_{side}"]
        if n < config.min_sideband_events:
            return counts, (
                f"{where}: the {side} sideband holds {n} data events, expected at least "
                f"{config.min_sideband_events} (min_sideband_events): the flow would "
                "extrapolate into the signal region instead of interpolating"
            )
    return counts, None


def _background(
    table: dict[str, np.ndarray],
    sr: np.ndarray,
    sideband: np.ndarray,
    window: Window,
    config: WindowConfig,
    seed: int,
) -> SidebandBackground:
    """The window's sideband flow ``p(features | mjj)`` (the SR mjj feeds its KDE), trained
    by the shared background core on this window's own SR and sideband masks."""
    regions = window_regions(window, table["mjj"])
    generator = GeneratorConfig(
        flow=FlowConfig(
            flow=config.flow,
            features=config.features,
            context=("mjj",),
            transforms=config.flow_transforms,
            hidden_features=config.flow_hidden,
        ),
        train=dataclasses.replace(config.flow_train, seed=config.flow_train.seed + seed),
        ensemble=config.flow_ensemble,
        bootstrap=config.flow_ensemble > 1,
    )
    return SidebandBackground.train(table, RegionSplit(regions, sr, sideband), generator)


def _control(
    side_data: dict[str, np.ndarray],
    background: SidebandBackground,
    run: Any,
    cut: float,
    window: Window,
    config: WindowConfig,
    seed: int,
) -> tuple[Any, dict[str, float]]:
    """The control channel (data of the control windows and background generated at their
    mjj, after the cut) and its closure numbers. Each event is scored by one random fold
    model, distributed like the out-of-fold scores the cut was set on (as gbi.infer.binned)."""
    side_mjj = np.repeat(side_data["mjj"], max(1, round(config.oversampling)))
    side_gen = background.sample_at(side_mjj, seed=seed + 707)
    pass_data = run.score_single(to_matrix(side_data, config.features), seed=seed + 17) > cut
    pass_gen = run.score_single(to_matrix(side_gen, config.features), seed=seed + 18) > cut
    channel = control_channel(pass_data, pass_gen, side_data, side_gen, None, window.low)
    return channel, sideband_closure(pass_data, pass_gen)


def _compute(
    data: Mapping[str, np.ndarray],
    window: Window,
    grid: WindowGrid,
    config: WindowConfig,
    seed: int,
) -> tuple[dict[str, Any], SidebandBackground | None]:
    """The model-independent result of the window, and its sideband generator (``None``
    when the window was skipped before training it)."""
    mjj = np.asarray(data["mjj"], dtype=np.float64)
    counts, reason = _check(mjj, window, grid, config)
    if reason is not None:
        return _skipped(counts, reason), None
    sr = window.in_signal_region(mjj)
    side_lo, side_hi = grid.sidebands(window, mjj)
    columns = (*config.features, "mjj")
    table = {c: np.asarray(data[c], dtype=np.float64) for c in columns}
    data_sr = subset(table, sr)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    background = _background(table, sr, side_lo | side_hi, window, config, seed)
    n_gen = n_generated(counts["n_sr"], config.oversampling)
    generated = background.generate(counts["n_sr"], config.oversampling, seed)
    timing["flow"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clf = dataclasses.replace(config.classifier, seed=config.classifier.seed + seed)
    run = train_method(
        "cathode",
        to_matrix(data_sr, config.features),
        to_matrix(generated, config.features),
        clf,
        n_folds=config.n_folds,
    )
    if not run.usable:
        reason = f"window [{window.low:g}, {window.high:g}) GeV: the data-vs-generated "
        return _skipped(counts, reason + f"classifier: {run.message}"), None
    assert run.data_scores is not None
    assert run.background_scores is not None
    cut = float(thresholds(run.background_scores, [config.efficiency])[0])
    pass_data = run.data_scores > cut
    pass_gen = run.background_scores > cut
    side_data = subset(table, grid.controls(window, mjj))
    control, closure = _control(side_data, background, run, cut, window, config, seed)
    timing["classifier"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted = fit_cut_and_count(
        int(pass_data.sum()),
        int(pass_gen.sum()),
        counts["n_sr"] / n_gen,
        control,
        window=(window.low, window.high),
        extrapolation_uncertainty=config.extrapolation_uncertainty,
        zero_below=EVIDENCE_THRESHOLD,
    )
    timing["fit"] = time.perf_counter() - t0
    out: dict[str, Any] = {
        **counts,
        "status": "ok",
        "message": "",
        **fitted,
        "n_generated": n_gen,
        "n_control": len(side_data["mjj"]),
        "observed_passing": int(pass_data.sum()),
        "generated_passing": int(pass_gen.sum()),
        "threshold": cut,
        "classifier_status": run.status,
        "classifier": run.to_dict(),
        "sideband_closure": closure,
        # Rows of the input table passing the cut in the SR: the overlap between windows
        # gives the correlation of their local significances (gbi.search.significance).
        "passing_events": np.flatnonzero(sr)[pass_data].tolist(),
        "timing_s": timing,
    }
    if "label" in data:
        label = np.asarray(data["label"])[sr]
        out["truth"] = {
            "signal_in_sr": int((label == 1).sum()),
            "signal_passing": int((label[pass_data] == 1).sum()),
        }
    return out, background
