"""Generator-based inference on SR data: ``mu`` (signal fraction of SR events), masses, Z.

:func:`run_inference` trains (or reuses) the sideband background flow, samples it in the
SR, and runs the requested methods:

================ ==============================================================================
``parametrized`` classifier ``f(x, mX, mY)`` signal grid vs generated background, mixture fit
                 of ``mu`` and the masses (:mod:`gbi.infer.parametrized`); toy-calibrated Z
``unbinned``     flow background density, learned Gaussian-mixture signal density, EM fit
                 of ``mu`` (:mod:`gbi.infer.unbinned`); local Z
``binned``       anomaly-score cut and pyhf fit of the SR mjj histogram (:mod:`gbi.infer.binned`)
================ ==============================================================================

Every method reports ``mu_hat``, the 68% interval ``[mu_lo, mu_hi]``, the 95% CL upper
limit and a significance, in the ``infer-result-1.0`` schema. A method that cannot run
(no signal grid, too few events) is reported with ``status: skipped`` and a message.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import logsumexp

from gbi.detect.background import SidebandBackground
from gbi.errors import GbiError, GbiInputError
from gbi.flows import (
    FlowConfig,
    TrainConfig,
    ensemble_error,
    member_weights_from_log_probs,
)
from gbi.infer.binned import BinnedConfig, fit_binned
from gbi.infer.mixture import global_significance, toy_q0
from gbi.infer.parametrized import (
    ParametrizedConfig,
    ParametrizedModel,
    fit_parametrized,
    normalised_ratios,
)
from gbi.infer.signal_grid import SignalGrid
from gbi.infer.unbinned import (
    MjjSidebandDensity,
    UnbinnedConfig,
    calibrated_significance,
    fit_unbinned,
    free_fit,
    free_fit_q0,
    signal_summary,
)
from gbi.infer.uncertainty import (
    EVIDENCE_THRESHOLD,
    generator_spread,
    model_spread,
    total_result,
)
from gbi.regions import Regions
from gbi.tables import DEFAULT_FEATURES, subset

__all__ = ["INFER_METHODS", "InferConfig", "run_inference"]

log = logging.getLogger(__name__)

INFER_METHODS: tuple[str, ...] = ("parametrized", "unbinned", "binned")


@dataclasses.dataclass(frozen=True)
class InferConfig:
    """Settings of one inference run (masses and mjj in GeV)."""

    methods: tuple[str, ...] = INFER_METHODS
    features: tuple[str, ...] = DEFAULT_FEATURES
    regions: Regions = dataclasses.field(default_factory=Regions)
    flow: str = "maf"
    flow_ensemble: int = 3
    flow_bootstrap: bool = True
    flow_train: TrainConfig = dataclasses.field(
        default_factory=lambda: TrainConfig(epochs=30, batch_size=1024, learning_rate=2e-3)
    )
    oversampling: float = 4.0
    toys: int = 100
    #: Background-only toys (full EM fits) calibrating the unbinned significance.
    unbinned_toys: int = 10
    parametrized: ParametrizedConfig = dataclasses.field(default_factory=ParametrizedConfig)
    unbinned: UnbinnedConfig = dataclasses.field(default_factory=UnbinnedConfig)
    binned: BinnedConfig = dataclasses.field(default_factory=BinnedConfig)
    binned_mass: tuple[float, float] | None = None
    min_sr_events: int = 200
    #: Below this significance (sigma) the reported 68% interval starts at mu = 0
    #: (:mod:`gbi.infer.uncertainty`, "Zero in the interval").
    evidence_threshold: float = EVIDENCE_THRESHOLD
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in INFER_METHODS]
        if unknown or not self.methods:
            raise GbiInputError(f"methods: expected some of {INFER_METHODS}, found {unknown or []}")
        if self.unbinned_toys < 1:
            raise GbiInputError(f"unbinned_toys: expected >= 1 toys, found {self.unbinned_toys}")
        if not self.evidence_threshold >= 0:
            raise GbiInputError(
                f"evidence_threshold: expected a significance >= 0 (sigma), "
                f"found {self.evidence_threshold}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "features": list(self.features),
            "regions": self.regions.to_dict(),
            "flow": self.flow,
            "flow_ensemble": self.flow_ensemble,
            "flow_bootstrap": self.flow_bootstrap,
            "flow_train": dataclasses.asdict(self.flow_train),
            "oversampling": self.oversampling,
            "toys": self.toys,
            "unbinned_toys": self.unbinned_toys,
            "parametrized": dataclasses.asdict(self.parametrized),
            "unbinned": dataclasses.asdict(self.unbinned),
            "binned": {**dataclasses.asdict(self.binned), "mass": self.binned_mass},
            "evidence_threshold": self.evidence_threshold,
            "seed": self.seed,
        }


def _skipped(message: str) -> dict[str, Any]:
    return {"status": "skipped", "message": message}


def unbinned_toys(
    background: SidebandBackground,
    mjj_density: MjjSidebandDensity,
    n_events: int,
    config: InferConfig,
    unbinned: UnbinnedConfig,
    columns: tuple[str, ...],
    seed: int,
) -> np.ndarray:
    """``q0`` of background-only toys of the unbinned fit: ``n_events`` events generated by
    the flow ensemble at mjj drawn from the sideband fit, fitted like the data (free fit)."""
    out = np.empty(config.unbinned_toys)
    for t in range(config.unbinned_toys):
        mjj = mjj_density.sample(n_events, seed=seed + 505 + t)
        toy = dict(background.sample_at(mjj, seed=seed + 606 + t))
        toy["mjj"] = mjj
        log_members = background.model.member_log_probs(toy)
        log_bkg = (
            logsumexp(log_members, axis=0) - math.log(len(log_members)) + mjj_density.log_pdf(mjj)
        )
        x = np.stack([toy[c] for c in columns], 1)
        out[t] = free_fit(x, log_bkg, unbinned, columns)[1]
    return out


def run_inference(
    data: Mapping[str, np.ndarray],
    *,
    config: InferConfig | None = None,
    signal_grid: SignalGrid | None = None,
    background: SidebandBackground | None = None,
    parametrized_model: ParametrizedModel | None = None,
    flow_dir: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the methods of ``config`` on ``data`` (features + mjj, GeV).

    Returns ``(summary, extras)``: ``summary`` follows ``infer-result-1.0``; ``extras`` holds
    arrays for plots (likelihood profiles, mass scan) and the trained background model.
    """
    config = config or InferConfig()
    regions = config.regions
    missing = [c for c in ("mjj", *config.features) if c not in data]
    if missing:
        raise GbiInputError(
            f"features: expected column(s) {missing}, found {sorted(data)}; use 'gbi process' output"
        )
    stages: dict[str, float] = {}
    sr = regions.in_signal_region(data["mjj"])
    sb = regions.in_sidebands(data["mjj"])
    data_sr = subset(data, sr)
    n_sr, n_sb = int(sr.sum()), int(sb.sum())
    methods: dict[str, dict[str, Any]] = {}
    extras: dict[str, Any] = {}
    summary: dict[str, Any] = {
        "version": "1.0",
        "config": config.to_dict(),
        "counts": {"data": len(data["mjj"]), "signal_region": n_sr, "sidebands": n_sb},
        "methods": methods,
        "stages": stages,
    }
    if "label" in data:
        summary["counts"]["signal_region_true_signal"] = int((data_sr["label"] == 1).sum())
        summary["mu_true"] = float((data_sr["label"] == 1).mean()) if n_sr else None
    if n_sr < config.min_sr_events or n_sb < 10 * config.min_sr_events:
        msg = (
            f"the signal region holds {n_sr} and the sidebands {n_sb} data events: too few "
            f"(expected at least {config.min_sr_events} and {10 * config.min_sr_events})"
        )
        for name in config.methods:
            methods[name] = _skipped(msg)
        return summary, extras
    seed = config.seed
    if background is None:
        start = time.perf_counter()
        flow = FlowConfig(flow=config.flow, features=config.features, context=("mjj",))
        background = SidebandBackground.train(
            subset(data, sb),
            flow,
            dataclasses.replace(config.flow_train, seed=config.flow_train.seed + seed),
            sr_mjj=data_sr["mjj"],
            window=regions.signal_region,
            ensemble=config.flow_ensemble,
            bootstrap=config.flow_bootstrap and config.flow_ensemble > 1,
            out_dir=flow_dir,
        )
        stages["flow_training"] = time.perf_counter() - start
    extras["background"] = background
    # Every flow's density at the SR data, once: the unbinned fit's background and the
    # member weights of the generator uncertainty.
    log_members_sr = None
    if {"parametrized", "unbinned"} & set(config.methods):
        log_members_sr = background.model.member_log_probs(data_sr, source="signal-region data")
    start = time.perf_counter()
    n_gen = max(1, round(config.oversampling * n_sr))
    generated = background.sample_sr(n_gen, seed=seed + 101)
    stages["flow_sampling"] = time.perf_counter() - start
    best_mass: tuple[float, float] | None = None
    if "parametrized" in config.methods:
        if signal_grid is None:
            methods["parametrized"] = _skipped("needs a signal grid (--signal-grid DIR)")
        else:
            model = parametrized_model
            if model is None:
                start = time.perf_counter()
                pcfg = dataclasses.replace(
                    config.parametrized, seed=config.parametrized.seed + seed
                )
                model = ParametrizedModel.train(signal_grid, generated, pcfg)
                stages["parametrized_training"] = time.perf_counter() - start
            extras["parametrized_model"] = model
            start = time.perf_counter()
            # Held-out generated samples: one normalises the ratios, one feeds the toys.
            reference = background.sample_sr(2 * n_sr, seed=seed + 404)
            pool = background.sample_sr(2 * n_sr, seed=seed + 202)
            fit, masses, hypotheses = fit_parametrized(model, data_sr, normalise_with=reference)
            pool_ratios = normalised_ratios(
                model, pool, hypotheses, fit.per_hypothesis["ratio_norm"]
            )
            toys = toy_q0(pool_ratios, n_sr, config.toys, seed=seed + 303)
            calibrated = global_significance(fit.q0, toys)
            assert fit.ratios is not None
            spread = generator_spread(fit.ratios, member_weights_from_log_probs(log_members_sr))
            assert fit.member_ratios is not None
            classifiers = model_spread(fit.member_ratios)
            sigma_gen = math.hypot(spread.error_mu, classifiers.error_mu)
            for j, name in enumerate(("mX", "mY")):
                # Flow and classifier spreads of the best mass, in quadrature (GeV).
                sigma_m = math.hypot(
                    spread.error_of(hypotheses[:, j]), classifiers.error_of(hypotheses[:, j])
                )
                best_m = masses[name]
                masses[f"{name}_lo"] = best_m - math.hypot(best_m - masses[f"{name}_lo"], sigma_m)
                masses[f"{name}_hi"] = best_m + math.hypot(masses[f"{name}_hi"] - best_m, sigma_m)
                masses[f"{name}_sys_generator"] = sigma_m
            stages["parametrized_fit"] = time.perf_counter() - start
            best_mass = (masses["mX"], masses["mY"])
            methods["parametrized"] = {
                "status": "ok",
                "message": "",
                **total_result(
                    fit,
                    sigma_gen=sigma_gen,
                    z_for_zero=calibrated["significance"],
                    zero_below=config.evidence_threshold,
                ),
                "mu_hat_flow_members": spread.mu_members,
                "mu_sys_flows": spread.error_mu,
                "mu_hat_classifier_members": classifiers.mu_members,
                "mu_sys_classifiers": classifiers.error_mu,
                "significance": calibrated["significance"],
                "p_value": calibrated["p_value"],
                "significance_calibration": calibrated["method"],
                "toys": config.toys,
                "masses": {k: v for k, v in masses.items() if k != "scan"},
                "grid": signal_grid.counts(),
                "training_epochs": [len(h) for h in model.history],
            }
            extras["parametrized"] = {"fit": fit, "masses": masses, "toys": toys}
    if "unbinned" in config.methods:
        start = time.perf_counter()
        mjj_density = MjjSidebandDensity(data["mjj"], regions.signal_region)
        log_mjj = mjj_density.log_pdf(data_sr["mjj"])
        log_members = log_members_sr
        assert log_members is not None
        log_bkg = logsumexp(log_members, axis=0) - math.log(len(log_members)) + log_mjj
        columns = (*config.features, "mjj")
        x = np.stack([data_sr[c] for c in columns], 1)
        ucfg = dataclasses.replace(config.unbinned, seed=config.unbinned.seed + seed)
        fit = fit_unbinned(x, log_bkg, ucfg, columns)
        # Generator uncertainty: the free fit with each bootstrap flow's density.
        mu_members = (
            [free_fit(x, lp + log_mjj, ucfg, columns)[0] for lp in log_members]
            if len(log_members) > 1
            else [fit.mu_hat]
        )
        sigma_u = ensemble_error(mu_members)
        stages["unbinned_fit"] = time.perf_counter() - start
        start = time.perf_counter()
        toys_u = unbinned_toys(background, mjj_density, n_sr, config, ucfg, columns, seed)
        calibrated_u = calibrated_significance(free_fit_q0(fit), toys_u)
        stages["unbinned_toys"] = time.perf_counter() - start
        methods["unbinned"] = {
            "status": "ok",
            "message": "",
            **total_result(
                fit,
                sigma_gen=sigma_u,
                z_for_zero=calibrated_u["significance"],
                zero_below=config.evidence_threshold,
            ),
            "mu_hat_flow_members": mu_members,
            "significance": calibrated_u["significance"],
            "p_value": calibrated_u["p_value"],
            "significance_calibration": calibrated_u["method"],
            "toys": len(toys_u),
            "toy_q0": [float(q) for q in toys_u],
            "mjj_slope_per_gev": mjj_density.slope,
            "signal_model": signal_summary(fit, columns),
        }
        extras["unbinned"] = {"fit": fit}
    if "binned" in config.methods:
        point = config.binned_mass or best_mass
        if signal_grid is None:
            methods["binned"] = _skipped(
                "needs a signal grid (--signal-grid DIR) for the signal template"
            )
        else:
            masses_grid = signal_grid.masses
            point = point or (
                masses_grid[len(masses_grid) // 2][0],
                masses_grid[len(masses_grid) // 2][1],
            )
            nearest = tuple(masses_grid[np.argmin(((masses_grid - np.array(point)) ** 2).sum(1))])
            start = time.perf_counter()
            # Sideband closure of the cut (binned module docstring); "off" still reports k.
            lo, hi = regions.signal_region
            width = config.binned.sideband_width
            near = sb & (data["mjj"] >= lo - width) & (data["mjj"] < hi + width)
            side_data = subset(data, near)
            side_mjj = np.repeat(side_data["mjj"], max(1, round(config.oversampling)))
            sideband = (side_data, background.sample_at(side_mjj, seed=seed + 707))
            signal_side = signal_grid.outside.get(nearest)
            if signal_side is not None:
                m = signal_side["mjj"]
                signal_side = subset(signal_side, (m >= lo - width) & (m < hi + width))
            try:
                res = fit_binned(
                    data_sr,
                    generated,
                    signal_grid.tables[nearest],
                    config.features,
                    regions.signal_region,
                    config.binned,
                    seed=seed,
                    member_weights=background.model.member_weights(generated),
                    zero_below=config.evidence_threshold,
                    sideband=sideband,
                    signal_sideband=signal_side,
                )
            except GbiError as err:  # bad input, or a pyhf fit that did not converge
                methods["binned"] = _skipped(str(err))
            else:
                extras["binned"] = {"workspace": res.pop("workspace")}
                methods["binned"] = {
                    "status": "ok",
                    "message": "",
                    **res,
                    "signal_template_mass": {"mX": nearest[0], "mY": nearest[1]},
                }
            stages["binned"] = time.perf_counter() - start
    return summary, extras
