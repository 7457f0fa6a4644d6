"""The three inference methods, one function each, on a prepared :class:`InferRun`.

Each takes the run (SR data, the trained sideband generator, its SR sample, the signal grid,
the stage timer) and returns an :class:`~gbi.infer.result.InferMethodResult`; fits and
models for plots and reuse go into the run's :class:`~gbi.infer.result.InferResult`.
``mu`` is the signal fraction of SR events; masses and mjj in GeV.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, cast

import numpy as np
from scipy.special import logsumexp

from gbi.background import RegionSplit, SidebandBackground, Stages
from gbi.errors import GbiError
from gbi.flows import member_weights_from_log_probs
from gbi.flows.fitting import unseen_rows
from gbi.infer.binned import BinnedSignal, fit_binned
from gbi.infer.config import InferConfig
from gbi.infer.efficiency import MassHypothesis
from gbi.infer.mixture import MixtureFit, global_significance, scan_q0, toy_q0
from gbi.infer.parametrized import (
    MASS_NAMES,
    ParametrizedModel,
    beyond_grid_note,
    fit_parametrized,
    normalisation_error,
    normalised_ratios,
    training_grid,
)
from gbi.infer.result import InferMethodResult, InferResult
from gbi.infer.sidebands import resonance_grid
from gbi.infer.signal_flow import em_converged
from gbi.infer.signal_grid import SignalGrid
from gbi.infer.unbinned import (
    MjjBandDensity,
    MjjSidebandDensity,
    UnbinnedConfig,
    calibrated_significance,
    fit_unbinned,
    free_fit,
    free_fit_q0,
    learned_density_note,
    member_refits,
    signal_summary,
    training_refits,
)
from gbi.infer.uncertainty import (
    combined_dof,
    cross_fit_error,
    em_path_interval,
    generator_spread,
    model_spread,
    signal_density_error,
    total_result,
)
from gbi.metrics.ensembles import ensemble_error
from gbi.tables import Table, subset, to_matrix

__all__ = [
    "InferRun",
    "held_out_scale",
    "held_out_toys",
    "member_samples",
    "parametrized_held_out_q0",
    "run_binned",
    "run_parametrized",
    "run_unbinned",
    "support_mask",
    "unbinned_toys",
]

log = logging.getLogger(__name__)

#: Seed offsets of the random streams (added to the run's seed).
POOL_SEED, TOYS_SEED, REFERENCE_SEED, MEMBER_SAMPLE_SEED = 202, 303, 404, 808
TOY_MJJ_SEED, TOY_FEATURES_SEED, SIDEBAND_SEED, HELD_OUT_SEED = 505, 606, 707, 909


@dataclasses.dataclass
class InferRun:
    """A prepared inference run: the inputs every method reads."""

    data: Table
    split: RegionSplit
    config: InferConfig
    background: SidebandBackground
    generated: Table
    stages: Stages
    result: InferResult
    signal_grid: SignalGrid | None = None
    log_members_sr: np.ndarray | None = None  # (K, n_sr) log p_k of the SR data

    @property
    def data_sr(self) -> Table:
        return self.split.signal_region(self.data)

    @property
    def n_sr(self) -> int:
        return self.split.n_sr

    @property
    def seed(self) -> int:
        return self.config.seed


def _mass_errors(masses: dict[str, Any], hypotheses: np.ndarray, spread: Any, models: Any) -> None:
    """Widen the mass intervals (``mX``, ``mY``, and ``mW`` when fitted) by the flow and
    classifier spreads, in quadrature (GeV); ``{name}_sigma``: the parabola's statistical
    error (:func:`~gbi.infer.parametrized.profile_parabola`) with the same spreads."""
    for j, name in enumerate(MASS_NAMES[: hypotheses.shape[1]]):
        sigma_m = math.hypot(spread.error_of(hypotheses[:, j]), models.error_of(hypotheses[:, j]))
        best_m = masses[name]
        masses[f"{name}_lo"] = best_m - math.hypot(best_m - masses[f"{name}_lo"], sigma_m)
        masses[f"{name}_hi"] = best_m + math.hypot(masses[f"{name}_hi"] - best_m, sigma_m)
        masses[f"{name}_sys_generator"] = sigma_m
        masses[f"{name}_sigma"] = math.hypot(masses[f"{name}_sigma_stat"], sigma_m)


def member_samples(run: InferRun, members: int) -> list[Table]:
    """A generated SR background sample for each of ``members`` classifiers: the run's own
    for the first, fresh ones of the same size (seeds ``seed + MEMBER_SAMPLE_SEED + k``)
    for the others, so the members' spread holds the finite generated sample
    (:meth:`~gbi.infer.parametrized.ParametrizedModel.train`)."""
    n = len(run.generated["mjj"])
    return [run.generated] + [
        run.background.sample_sr(n, seed=run.seed + MEMBER_SAMPLE_SEED + k)
        for k in range(1, members)
    ]


def run_parametrized(run: InferRun, model: ParametrizedModel | None = None) -> InferMethodResult:
    """Classifier ``f(x, mX, mY)`` vs generated background, mixture fit, toy-calibrated Z.

    The toys that calibrate Z for the mass scan are drawn from generated events, which the
    flows describe exactly; with ``parametrized_calibration`` ``"held-out"`` (the default
    with a bootstrap ensemble) the same fit on each member's unseen sideband events
    (:func:`parametrized_held_out_q0`) measures how much larger ``q0`` grows on real events,
    and the data's ``q0`` is divided by that (:func:`held_out_scale`, at least 1).

    With ``extend_morph="auto"`` (the default) the classifier trained here sees the points
    beyond the grid scaled; a fit with evidence beyond the simulated masses trains it again
    on points with the measured jet-mass response and is made again, and so is every later
    fit of the run (:data:`~gbi.infer.parametrized.EXTEND_MORPHS` says why)."""
    config, seed, grid = run.config, run.seed, run.signal_grid
    if grid is None:
        return InferMethodResult.skipped("needs a signal grid (--signal-grid DIR)")
    pcfg = dataclasses.replace(config.parametrized, seed=config.parametrized.seed + seed)
    morph_with = _morph_with(run)
    trained_here = model is None
    if model is None:
        with run.stages("parametrized_training"):
            trained_on = training_grid(grid, pcfg, morph_with)
            if trained_on.morphed:
                log.info(
                    "parametrized: %d grid points made by morphing (%s), %d grid step(s) beyond "
                    "the simulated masses (--extend-grid)",
                    len(trained_on.morphed),
                    morph_with,
                    pcfg.extend_steps,
                )
            model = ParametrizedModel.train(trained_on, member_samples(run, pcfg.ensemble), pcfg)
    run.result.parametrized_model = model
    morphed = len(model.grid_masses) - len(grid.tables)  # the points training_grid added
    if morphed > 0 and run.result.signal_grid is not None:
        run.result.signal_grid["morphed_points"] = morphed
        if trained_here:
            run.result.signal_grid["morph"] = morph_with
    with run.stages("parametrized_fit"):
        # Held-out generated samples: one normalises the ratios, one feeds the toys.
        n_reference = max(1, round(config.parametrized.reference_per_sr_event * run.n_sr))
        reference = run.background.sample_sr(n_reference, seed=seed + REFERENCE_SEED)
        pool = run.background.sample_sr(2 * run.n_sr, seed=seed + POOL_SEED)
        fit, masses, hypotheses = fit_parametrized(model, run.data_sr, normalise_with=reference)
        pool_ratios = normalised_ratios(model, pool, hypotheses, fit.per_hypothesis["ratio_norm"])
        toys = toy_q0(pool_ratios, run.n_sr, config.toys, seed=seed + TOYS_SEED)
        held_out: np.ndarray = np.empty(0)
        held_out_sizes: list[int] = []
        if config.parametrized_calibration == "held-out":
            held_out, held_out_sizes = parametrized_held_out_q0(
                run.background,
                model,
                config.regions.signal_region,
                run.n_sr,
                config.parametrized.reference_per_sr_event,
                seed,
            )
        scale = held_out_scale(held_out, toys)
        assert fit.ratios is not None
        assert run.log_members_sr is not None
        spread = generator_spread(fit.ratios, member_weights_from_log_probs(run.log_members_sr))
        assert fit.member_ratios is not None
        classifiers = model_spread(fit.member_ratios)
        norm_err = normalisation_error(fit)
        sigma_gen = math.sqrt(spread.error_mu**2 + classifiers.error_mu**2 + norm_err**2)
        dof = combined_dof(
            [
                (spread.error_mu, spread.dof),
                (classifiers.error_mu, classifiers.dof),
                (norm_err, None),  # from thousands of reference events: known
            ]
        )
        calibrated = global_significance(fit.q0 / scale, toys)
        _mass_errors(masses, hypotheses, spread, classifiers)
    run.result.fits["parametrized"] = fit
    run.result.mass_scan = masses["scan"]
    run.result.parametrized_toys = toys
    result = InferMethodResult.ok(
        {
            **total_result(
                fit,
                sigma_gen=sigma_gen,
                sigma_gen_dof=dof,
                z_for_zero=calibrated["significance"],
                zero_below=config.evidence_threshold,
            ),
            "mu_hat_flow_members": spread.mu_members,
            "mu_sys_flows": spread.error_mu,
            "mu_hat_classifier_members": classifiers.mu_members,
            "mu_sys_classifiers": classifiers.error_mu,
            "mu_sys_normalisation": norm_err,
            "significance": calibrated["significance"],
            "p_value": calibrated["p_value"],
            "significance_calibration": str(calibrated["method"])
            + (f", q0 / {scale:.2f} (held-out toys)" if scale > 1 else ""),
            "toys": config.toys,
            "toy_q0_held_out": [float(q) for q in held_out] or None,
            "toy_events_held_out": held_out_sizes or None,
            "q0_held_out_scale": scale if len(held_out) else None,
            "masses": {k: v for k, v in masses.items() if k != "scan"},
            "grid": grid.counts(),
            # A grid of several W' masses only (one: reported as before).
            **({"grid_m_w": list(grid.m_ws)} if grid.m_w is None else {}),
            "training_epochs": [len(h) for h in model.history],
        }
    )
    if calibrated["significance"] >= config.evidence_threshold:
        result.message = beyond_grid_note(masses, grid.masses, morph_with)
        auto = trained_here and pcfg.extend_morph == "auto" and morph_with == "scaling"
        if result.message and morphed > 0 and auto and run.result.signal_grid is not None:
            # Beyond the simulated masses: the points there made with the measured jet-mass
            # response instead, from here on (the fit after the sideband subtraction too);
            # EXTEND_MORPHS says why not everywhere.
            log.info(
                "parametrized: fitted masses beyond the simulated grid; trained again on "
                "points morphed with the measured jet-mass response (--extend-morph auto)"
            )
            run.result.signal_grid["morph"] = "measured"
            return run_parametrized(run)
    return result


def _morph_with(run: InferRun) -> str:
    """How the grid's points beyond its masses are morphed for this run's classifier:
    ``config.parametrized.extend_morph``, where ``"auto"`` means ``"scaling"`` until a fit
    landed beyond the grid (``result.signal_grid["morph"]``, set by :func:`run_parametrized`)."""
    how = run.config.parametrized.extend_morph
    if how != "auto":
        return how
    info = run.result.signal_grid or {}
    return "measured" if info.get("morph") == "measured" else "scaling"


def support_mask(
    background: SidebandBackground,
    events: Table,
    source: str = "toy events",
    members: list[int] | None = None,
) -> np.ndarray:
    """Which ``events`` lie inside the range the background flows were trained on (every
    member's, or ``members``'), bool ``(n,)``; the others are logged.

    Outside it the flows' transforms clip, and the density there is an artefact many orders
    of magnitude below any density of the training data, so a free signal density takes such
    an event as signal with a likelihood ratio of up to ``10^20``: one event with a jet's
    tau21 of 1.54, beyond the sidebands' largest 1.49, made a 10-sigma "signal" (local Z
    9.95, 50 of the 54 nats of the fit) in a background-only LHCO-style run (issue 19, seed
    315). The R-ANODE code masks signal-region events outside the sidebands' logit range
    the same way. The fraction ``mu`` is then that of the events inside."""
    inside = background.model.inside_support(events, members=members, source=source)
    n_out = int(np.sum(~inside))
    if n_out:
        # A handful is the tail of the background; many are a signal (or a feature) that
        # the sidebands do not reach, which this fit cannot measure: say so.
        many = n_out > max(10, 0.001 * len(inside))
        log.log(
            logging.WARNING if many else logging.INFO,
            "unbinned: %d of %d %s outside the background flows' training range, not fitted%s",
            n_out,
            len(inside),
            source,
            " (more than the tail of a background: a signal outside the sidebands' feature "
            "range is not measured here; see events_outside_support)"
            if many
            else "",
        )
    return inside


def unbinned_toys(
    background: SidebandBackground,
    mjj_density: MjjSidebandDensity,
    n_events: int,
    n_toys: int,
    unbinned: UnbinnedConfig,
    columns: tuple[str, ...],
    seed: int,
) -> np.ndarray:
    """``q0`` of ``n_toys`` background-only toys of the unbinned fit: ``n_events`` events at
    mjj drawn from the sideband fit, generated by one member of the flow ensemble (toy
    ``t`` by member ``t mod K``) and fitted like the data with the ensemble's density
    (free fit), except that the R-ANODE scan trains one signal flow per fold instead of its
    ensemble (a third of the time) and takes no EM steps (``q0`` is the scan's).

    The data differ from the ensemble's density by the generator's error, and a free signal
    density absorbs some of it: toys generated by the ensemble itself have no such error
    (on the LHCO-style background alone their mean ``q0`` was at most 1 in the runs whose
    data reached a local Z of 2.78 and 2.91: calibrated, 2.55 and 2.69). A bootstrap member
    differs from the ensemble by about that error (more: the members' spread is the error
    of one flow, the ensemble's is smaller), so its toys carry it into the calibration.
    With one member the toys are the ensemble's own. The scan part is conservative too:
    the data's ``q0`` is twice the maximum of the members' mean ``l(w)``, which is at most
    the mean of their maxima, each of which is distributed like one toy's."""
    if unbinned.signal_model == "flow":
        unbinned = dataclasses.replace(
            unbinned, flow=dataclasses.replace(unbinned.flow, ensemble=1, em_steps=0)
        )
    out = np.empty(n_toys)
    members = len(background.model.members)
    for t in range(n_toys):
        mjj = mjj_density.sample(n_events, seed=seed + TOY_MJJ_SEED + t)
        toy = dict(background.sample_at(mjj, seed=seed + TOY_FEATURES_SEED + t, member=t % members))
        toy["mjj"] = mjj
        toy = subset(toy, support_mask(background, toy))
        mjj = toy["mjj"]
        log_members = background.model.member_log_probs(toy)
        log_bkg = (
            logsumexp(log_members, axis=0) - math.log(len(log_members)) + mjj_density.log_pdf(mjj)
        )
        out[t] = free_fit(to_matrix(toy, columns), log_bkg, unbinned, columns)[1]
    return out


def _unseen_near_sr(
    background: SidebandBackground, signal_region: tuple[float, float], margin: float
) -> list[np.ndarray]:
    """Each flow member's unseen training rows (:func:`gbi.flows.fitting.unseen_rows`)
    whose mjj lies within ``margin`` GeV of the SR (GeV), the held-out toys' events; the
    background must hold its training table."""
    assert background.training_table is not None
    mjj = np.asarray(background.training_table["mjj"], dtype=np.float64)
    low, high = signal_region
    near = ((mjj >= low - margin) & (mjj < low)) | ((mjj > high) & (mjj <= high + margin))
    return [rows[near[rows]] for rows in unseen_rows(background.model)]


def held_out_toys(
    background: SidebandBackground,
    signal_region: tuple[float, float],
    n_events: int,
    n_toys: int,
    unbinned: UnbinnedConfig,
    columns: tuple[str, ...],
    seed: int,
    margin: float = 500.0,
) -> tuple[np.ndarray, list[int]]:
    """``q0`` of ``n_toys`` background-only toys made of **real sideband events** that the
    flow member fitting them never saw (:func:`gbi.flows.fitting.unseen_rows`): toy ``t``
    takes member ``t mod K``'s unseen events within ``margin`` GeV of the SR (``n_events``
    of them drawn at random, or all if fewer), fitted like the data (free fit, one signal
    flow per fold, no EM steps) with that member's density times an exponential mjj
    density fitted to each of the toy's two mjj bands (weighted by its share of events).

    The generated toys (:func:`unbinned_toys`) are made by the flows, which describe them
    exactly but for the members' differences; the data differ from the flows by the
    generator's error, which a free signal density absorbs. These toys carry that error as
    real data show it (a single member's, larger than the ensemble's: conservative), next
    to the SR, where the mjj density is exponential as in the SR's own fit (far from it,
    the spectrum's turn-on is not: toys over the whole sidebands gave ``q0`` above 10^4).
    What they miss is an error of the interpolation into the SR that no sideband event
    shows. A toy with fewer events than the SR has its ``q0`` scaled by ``n_events / n``
    (a mismatch's ``q0`` grows like the events; scaling the noise as well is
    conservative). Any signal in the sidebands is in the toys too, which lowers the
    significance (conservative). Returns the ``q0`` and each toy's number of events: a
    member whose unseen events near the SR number no more than ``n_events`` makes one toy
    (a repeat would be the same fit; on the LHCO-style samples, 200k events, each member
    has about 25k for an SR of about 25k), so fewer than ``n_toys`` may come back.
    """
    table = background.training_table
    if table is None:
        raise GbiError(
            "unbinned calibration 'held-out': expected a background trained in this run "
            "(its sideband events), found a loaded one; use --unbinned-calibration generated"
        )
    if unbinned.signal_model == "flow":
        unbinned = dataclasses.replace(
            unbinned, flow=dataclasses.replace(unbinned.flow, ensemble=1, em_steps=0)
        )
    unseen = _unseen_near_sr(background, signal_region, margin)
    low, high = signal_region
    out: list[float] = []
    sizes: list[int] = []
    whole: set[int] = set()  # members whose toy held all their events: a repeat is no toy
    for t in range(n_toys):
        k = t % len(unseen)
        if k in whole:
            continue
        rows = unseen[k]
        size = min(n_events, len(rows))
        if len(rows) <= n_events:
            whole.add(k)
        rng = np.random.default_rng(seed + TOY_FEATURES_SEED + t)
        pick = np.sort(rng.choice(rows, size=size, replace=False))
        toy = {name: np.asarray(table[name], dtype=np.float64)[pick] for name in columns}
        toy = subset(toy, support_mask(background, toy, members=[k]))
        mjj = toy["mjj"]
        log_mjj = np.empty(len(mjj))
        for side, band in ((mjj < low, (low - margin, low)), (mjj > high, (high, high + margin))):
            if side.any():
                density = MjjBandDensity(mjj[side], [band])
                log_mjj[side] = density.log_pdf(mjj[side]) + math.log(side.mean())
        log_bkg = background.model.member_log_probs(toy)[k] + log_mjj
        q0 = free_fit(to_matrix(toy, columns), log_bkg, unbinned, columns)[1]
        out.append(q0 * max(n_events / max(len(mjj), 1), 1.0))
        sizes.append(len(mjj))
    if min(sizes) < n_events:
        log.info(
            "unbinned held-out toys: %d-%d unseen sideband events within %.0f GeV of the SR "
            "per toy where the SR has %d; their q0 scaled by the ratio",
            min(sizes),
            max(sizes),
            margin,
            n_events,
        )
    if len(out) < n_toys:
        log.info(
            "unbinned held-out toys: %d distinct of the %d asked (each flow member's unseen "
            "sideband events near the SR make one toy when they number no more than the SR's)",
            len(out),
            n_toys,
        )
    return np.asarray(out), sizes


def parametrized_held_out_q0(
    background: SidebandBackground,
    model: ParametrizedModel,
    signal_region: tuple[float, float],
    n_events: int,
    reference_per_event: float,
    seed: int,
    margin: float = 500.0,
) -> tuple[np.ndarray, list[int]]:
    """``q0`` (maximised over the mass hypotheses, :func:`~gbi.infer.mixture.scan_q0`) of
    the parametrized fit on **real sideband events** that a flow member never saw, one toy
    per member: member ``k``'s unseen events within ``margin`` GeV of the SR
    (:func:`gbi.flows.fitting.unseen_rows`; ``n_events`` of them at random, or all if
    fewer), their classifier ratios normalised, per hypothesis, by the mean ratio of
    ``reference_per_event`` events per toy event that member ``k`` generates at the toy's
    own mjj values (GeV). A toy's ``q0`` is then what the fit finds where the data differ
    from the flow only by the flow's error, as the SR data do (plus the interpolation into
    the SR, which no sideband event shows); the generated toys (:func:`toy_q0`) have no
    such error. A toy with fewer events than the SR has its ``q0`` scaled by
    ``n_events / n`` (a mismatch's ``q0`` grows like the events; conservative). Where the
    flows were trained with weights (``--sideband-signal subtract``: each event's
    probability to be background), each event enters a toy with its weight's probability.
    Signal left in the sidebands is in these toys too, which can only raise their ``q0``
    (conservative; measured at N = 1000 on a W' at 4000 GeV before the weights were used:
    toy ``q0`` of 22-246 where signal-free runs there gave 2.9-43, stop 38).
    Returns the ``q0`` and the toys' sizes; none without the flows' training events."""
    table = background.training_table
    if table is None:
        return np.empty(0), []
    hypotheses = model.hypotheses()
    out: list[float] = []
    sizes: list[int] = []
    for k, rows in enumerate(_unseen_near_sr(background, signal_region, margin)):
        if len(rows) == 0:
            continue
        rng = np.random.default_rng(seed + HELD_OUT_SEED + k)
        if background.training_weights is not None:
            # Weighted training (signal taken out of the sidebands): each event kept with
            # its weight, so the toy is drawn from what the flows were trained to describe.
            rows = rows[rng.random(len(rows)) < background.training_weights[rows]]
        pick = np.sort(rng.choice(rows, size=min(n_events, len(rows)), replace=False))
        toy = {name: np.asarray(col, dtype=np.float64)[pick] for name, col in table.items()}
        toy = subset(toy, support_mask(background, toy, "held-out sideband events", [k]))
        n = len(toy["mjj"])
        n_ref = max(1, round(reference_per_event * n))
        reference = background.sample_at(
            rng.choice(toy["mjj"], size=n_ref), seed=seed + HELD_OUT_SEED + 100 + k, member=k
        )
        norm = model.member_ratios(reference, hypotheses).mean(axis=1)
        q0 = scan_q0(normalised_ratios(model, toy, hypotheses, norm))
        out.append(q0 * max(n_events / max(n, 1), 1.0))
        sizes.append(n)
    return np.asarray(out), sizes


def held_out_scale(held_out: np.ndarray, toys: np.ndarray, level: float = 0.95) -> float:
    """How much larger the held-out toys' ``q0`` are than the generated toys' (the ratio of
    their means), where that is more than chance: 1 unless the held-out mean exceeds the
    ``level`` quantile of the mean of as many generated toys (resampled). The data's
    ``q0`` is divided by it before the generated toys calibrate it for the mass scan
    (:func:`~gbi.infer.mixture.global_significance`), so a mismatch of the flows with real
    events, which the generated toys cannot hold, cannot pass for a signal. A scaled chi2
    matched to the toys' mean, as the unbinned calibration does
    (:func:`~gbi.infer.unbinned.calibrated_significance`). With one toy per flow member the
    held-out mean is noisy (``q0`` maximised over masses scatters about as much as its
    mean): without the gate, two toys of ``q0`` 0 and 6.2 against a generated mean of 1.9
    divided a small test run's ``q0`` by 1.66; with it, only a mismatch is corrected
    (one that smears the flows' peaks gives 200 times the generated ``q0``,
    ``tests/infer/test_calibration_toys.py``).

    >>> toys = np.random.default_rng(0).chisquare(3, 100)
    >>> round(held_out_scale(np.array([18.0, 30.0, 12.0]), toys), 1)  # a mismatch
    6.9
    >>> held_out_scale(np.array([0.0, 6.2]), toys)  # within the toys' scatter
    1.0
    """
    held_out = np.asarray(held_out, dtype=np.float64)
    toys = np.asarray(toys, dtype=np.float64)
    if len(held_out) == 0 or len(toys) == 0 or not float(np.mean(toys)) > 0:
        return 1.0
    rng = np.random.default_rng(0)
    means = toys[rng.integers(len(toys), size=(4000, len(held_out)))].mean(axis=1)
    mean = float(np.mean(held_out))
    if mean <= float(np.quantile(means, level)):
        return 1.0
    return max(1.0, mean / float(np.mean(toys)))


def run_unbinned(run: InferRun) -> InferMethodResult:
    """Flow background density, learned signal density (R-ANODE flow, or a Gaussian mixture),
    fit of ``mu``; toy-calibrated Z.

    The background-only toys come first: the R-ANODE EM steps run only where the scan's
    significance, calibrated with them, reaches ``evidence_threshold`` (the steps measure a
    signal, they do not look for one: on a signal-free LHCO-style run whose scan reached a
    local Z of 3.4, calibrated 1.5, they raised ``w`` at each of 8 steps, 0.0037 -> 0.0165,
    and with it the 95% limit, stop 36)."""
    config = run.config
    mjj_density = MjjSidebandDensity(run.data["mjj"], config.regions.signal_region)
    # Events outside the flows' training range get a clipped, artefact density that a
    # free signal density takes as signal (support_mask doc): fitted without them.
    all_sr = run.data_sr  # a property that selects the SR rows: once
    inside = support_mask(run.background, all_sr, "signal-region data")
    data_sr = subset(all_sr, inside)
    log_mjj = mjj_density.log_pdf(data_sr["mjj"])
    columns = (*config.features, "mjj")
    ucfg = dataclasses.replace(config.unbinned, seed=config.unbinned.seed + run.seed)
    with run.stages("unbinned_toys"):
        toy_sizes: list[int] | None = None
        if config.unbinned_calibration == "held-out":
            toys, toy_sizes = held_out_toys(
                run.background,
                config.regions.signal_region,
                len(log_mjj),
                config.unbinned_toys,
                ucfg,
                columns,
                run.seed,
            )
        else:
            toys = unbinned_toys(
                run.background,
                mjj_density,
                len(log_mjj),
                config.unbinned_toys,
                ucfg,
                columns,
                run.seed,
            )

    def evidence_of(scan: MixtureFit) -> bool:
        z = calibrated_significance(free_fit_q0(scan), toys)["significance"]
        return bool(z >= config.evidence_threshold)

    with run.stages("unbinned_fit"):
        assert run.log_members_sr is not None
        log_members = run.log_members_sr[:, inside]
        log_bkg = logsumexp(log_members, axis=0) - math.log(len(log_members)) + log_mjj
        x = to_matrix(data_sr, columns)
        fit = fit_unbinned(x, log_bkg, ucfg, columns, em_gate=evidence_of)
        # Generator uncertainty: refits with each bootstrap flow's density.
        mu_members = member_refits(x, fit, log_members, log_mjj, ucfg, columns)
        sigma_flows = ensemble_error(mu_members)
        # The signal flows' own training noise (conditional ensemble; 0 otherwise), or the
        # cross-fit error where it is larger: the learned density's dependence on the data,
        # which the likelihood interval leaves out (uncertainty.cross_fit_error).
        mu_training = training_refits(fit)
        sigma_training = ensemble_error(mu_training, "mean")
        fold_mu = fit.per_hypothesis.get("fold_mu_hat")
        sigma_cross, dof_cross = cross_fit_error(fold_mu)
    calibrated = calibrated_significance(free_fit_q0(fit), toys)
    # The cross-fit error only with evidence for a signal: near w = 0 the folds' fits sit on
    # the boundary (one at 0, one not) and are no Gaussian error; the scan's members share
    # one split, 1 degree of freedom, and Student's t (95% quantile 6.3) then gave a
    # signal-free run a 95% limit of 0.039 (another 0.027) where those with the members'
    # spread had 0.003-0.009 (stop 34).
    evidence = calibrated["significance"] >= config.evidence_threshold
    sigma_signal, dof_signal, signal_error = signal_density_error(
        0.5 * (fit.interval[1] - fit.interval[0]),
        (sigma_training, max(len(mu_training) - 1, 1)),
        (sigma_cross, dof_cross) if evidence else (0.0, None),
    )
    sigma_u = math.hypot(sigma_flows, sigma_signal)
    dof_u = combined_dof([(sigma_flows, max(len(mu_members) - 1, 1)), (sigma_signal, dof_signal)])
    run.result.fits["unbinned"] = fit
    em_array = fit.per_hypothesis.get("em_ensemble_steps")
    scan_array = fit.per_hypothesis.get("scan_fit")
    scan_fit_values = (
        None
        if scan_array is None
        else dict(zip(("mu_hat", "mu_lo_stat", "mu_hi_stat"), map(float, scan_array), strict=True))
    )
    em_w: list[float] = [] if em_array is None else em_array.tolist()
    converged = em_converged(em_w, config.unbinned.flow)
    if converged is False:
        log.warning(
            "unbinned: the EM steps reached --unbinned-em-steps %d still rising (w per step %s): "
            "mu_hat is no fixed point and may lie above the truth; the 68%% interval reaches "
            "down to the scan's w",
            config.unbinned.flow.em_steps,
            ", ".join(f"{w:.5f}" for w in em_w),
        )
    result = InferMethodResult.ok(
        {
            **em_path_interval(
                total_result(
                    fit,
                    sigma_gen=sigma_u,
                    sigma_gen_dof=dof_u,
                    z_for_zero=calibrated["significance"],
                    zero_below=config.evidence_threshold,
                ),
                em_w,
                converged,
            ),
            "mu_hat_flow_members": mu_members,
            "mu_sys_flows": sigma_flows,
            "mu_hat_signal_flow_members": mu_training,
            "mu_sys_signal_flow_training": sigma_training,
            "mu_hat_fold_members": None
            if fold_mu is None
            else [[float(v) if np.isfinite(v) else None for v in row] for row in fold_mu],
            "mu_sys_cross_fit": sigma_cross,
            "mu_sys_signal_density": sigma_signal,
            "signal_density_error": signal_error,
            "em_converged": converged,
            "scan_fit": scan_fit_values,
            "significance": calibrated["significance"],
            "p_value": calibrated["p_value"],
            "significance_calibration": calibrated["method"],
            "toys": len(toys),
            "toy_q0": [float(q) for q in toys],
            "toy_calibration": config.unbinned_calibration,
            **({} if toy_sizes is None else {"toy_events": toy_sizes}),
            "mjj_slope_per_gev": mjj_density.slope,
            "events_outside_support": int(np.sum(~inside)),
            "signal_model": signal_summary(fit, columns),
        }
    )
    result.message = learned_density_note(em_w, evidence)
    return result


def _sideband_windows(run: InferRun) -> tuple[Any, Any]:
    """Data and generated events of the sideband windows next to the SR (the binned fit's
    closure, :mod:`gbi.infer.binned`)."""
    lo, hi = run.config.regions.signal_region
    width = run.config.binned.sideband_width
    mjj = run.data["mjj"]
    side_data = subset(run.data, run.split.sb & (mjj >= lo - width) & (mjj < hi + width))
    side_mjj = np.repeat(side_data["mjj"], max(1, round(run.config.oversampling)))
    return side_data, run.background.sample_at(side_mjj, seed=run.seed + SIDEBAND_SEED)


def _binned_signal(
    run: InferRun, parametrized: InferMethodResult | None
) -> tuple[BinnedSignal | None, str]:
    """The signal whose cut efficiency turns the count into a fraction, or why there is none:
    ``--binned-mass`` if given, else the parametrized fit's masses (with their intervals)."""
    why = "no signal fraction: the cut's efficiency depends on the signal, and "
    grid, config = run.signal_grid, run.config
    if grid is None:
        return None, why + "there is no signal grid to measure it on (--signal-grid DIR)"
    fitted_m_w: float | None = None
    if config.binned_mass is not None:
        mx, my = (float(m) for m in config.binned_mass)
        hypothesis = MassHypothesis(mx, my, (mx, mx), (my, my), "--binned-mass (assumed)")
    elif parametrized is None:
        return None, why + "no signal was fitted (add --method parametrized, or --binned-mass)"
    elif "masses" not in parametrized.values:
        return None, why + f"the parametrized fit did not run: {parametrized.message}"
    elif (z := float(parametrized.values.get("significance") or 0.0)) < config.evidence_threshold:
        # Without evidence the masses are undefined (the likelihood does not depend on them
        # at mu = 0): their efficiency is that of a mass point picked by noise, and a
        # fraction from it is no measurement (a signal-free run at 4000 GeV: 0.089 with the
        # 68% interval [0.009, 0.167], twice the fraction 1000 injected events make).
        return None, why + (
            f"the parametrized fit has no evidence for a signal (Z = {z:.2f} < "
            f"--evidence-threshold {config.evidence_threshold:g}), so its masses are undefined; "
            "name a signal with --binned-mass MX MY"
        )
    else:
        masses = parametrized.values["masses"]
        fitted_m_w = float(masses["mW"]) if "mW" in masses else None
        hypothesis = MassHypothesis.from_masses(
            masses, "parametrized fit (mX, mY with 68% intervals)"
        )
    # The grid's points at the W' mass nearest the fitted mW (else the SR's centre), their
    # mjj moved to that resonance: the window leaks of a signal the grid was not made at
    # (gbi.infer.sidebands.resonance_grid; the sideband subtraction takes the same).
    at, moved = resonance_grid(grid, fitted_m_w, config.regions)
    notes = []
    if grid.m_w is None and moved["grid_mW"] is not None:
        notes.append(f"grid points at mW = {moved['grid_mW']:g} GeV")
    if moved["resonance_mW"] is not None and moved["resonance_mW"] != moved["grid_mW"]:
        notes.append(f"mjj moved to mW = {moved['resonance_mW']:g} GeV ({moved['source']})")
    if notes:
        hypothesis = dataclasses.replace(hypothesis, source="; ".join([hypothesis.source, *notes]))
    tables = cast(dict[tuple[float, float], Table], at.tables)
    outside = cast(dict[tuple[float, float], Table], at.outside)
    return BinnedSignal(tables, outside, hypothesis), ""


def run_binned(run: InferRun, parametrized: InferMethodResult | None) -> InferMethodResult:
    """Anomaly-score cut and cut-and-count pyhf fit: the model-independent number of signal
    events passing, and the signal fraction when ``parametrized`` (its result) or
    ``config.binned_mass`` names the signal (:mod:`gbi.infer.binned`)."""
    config = run.config
    signal, reason = _binned_signal(run, parametrized)
    data_sr = run.data_sr
    model = run.background.model
    with run.stages("binned"):
        try:
            sideband = _sideband_windows(run)
            # only the control windows' fit of k needs the members' weights there
            side_weights = None
            if config.binned.sideband_closure == "control" and len(model.members) > 1:
                side_weights = model.member_weights(sideband[1])
            res = fit_binned(
                data_sr,
                run.generated,
                config.features,
                config.regions.signal_region,
                config.binned,
                seed=run.seed,
                member_weights=model.member_weights(run.generated),
                zero_below=config.evidence_threshold,
                sideband=sideband,
                sideband_member_weights=side_weights,
                signal=signal,
                no_fraction_reason=reason,
                labels=data_sr.get("label") if run.result.has_truth else None,
            )
        except GbiError as err:  # bad input, or a pyhf fit that did not converge
            return InferMethodResult.skipped(str(err))
    run.result.workspace = res.pop("workspace")
    return InferMethodResult.ok(res)
