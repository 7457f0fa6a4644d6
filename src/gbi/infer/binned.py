"""Binned cross-check: anomaly-score cut, then a cut-and-count pyhf fit.

The CATHODE classifier (SR data vs generated SR background, k-fold, out-of-fold scores)
defines a cut keeping ``efficiency`` of the generated background. In the SR after the cut
the data passing are counted against the generated events passing, weighted by
``n_SR / n_generated`` (``staterror`` for the finite generated sample), in the shared
cut-and-count fit :func:`gbi.workspace.counting.fit_cut_and_count` (the fit of ``gbi
search``).

Two results, labelled:

- ``n_signal_passing`` (``result_kind: "model-independent"``), always: the signal sample
  has unit yield, so the POI is the **number of signal events passing the cut**, with its
  MINOS 68% interval, the 95% CL CLs upper limits (observed, expected with the band), q0 and
  the local significance. It assumes no signal in the sideband control windows (a signal
  that leaks there raises ``k`` and lowers the count: conservative for discovery).
- ``signal_fraction`` (``result_kind: "signal-fraction"``), only when the efficiency of the
  cut belongs to a stated signal: the parametrized fit's masses where that fit has evidence
  for a signal (its masses are undefined without), or ``--binned-mass``. The
  cut's efficiency (and the signal leaking into the control windows) is measured on the
  nearest grid points with their jet masses morphed to those masses (or, for features
  without the jet masses, interpolated between grid points; :mod:`gbi.infer.efficiency`);
  the fit is
  repeated with a signal of ``n_SR x efficiency`` per unit POI, so ``mu`` is the signal
  fraction of SR events; the efficiency's statistical, mass-interval and morphing errors are added to
  the interval in quadrature (relative), and the upper limit is divided by
  ``1 - relative error`` (conservative); without evidence in the count its 68% interval starts
  at 0, as the count's does. Otherwise the fraction is ``None`` with the reason
  (``signal_fraction_reason``): the efficiency of one assumed signal turned the count into a
  fraction wrong by the efficiency ratio for any other signal (issue 19: 5.7x for an
  off-grid W'). With a fraction, its ``n_signal_passing`` (``result_kind:
  "with-signal-leak"``) is the same fit in events: the SR signal passing the cut with the
  assumed signal's leak into the control windows modelled (:func:`passing_with_leak`), the
  number to compare with the model-independent count when the resonance's mjj tails reach
  the windows.

The top-level ``mu_*`` of the method are the signal fraction's (``None`` without one);
``significance`` and ``q0`` are the model-independent fit's.

Sideband closure. The flow mismodels the tails of the background a little everywhere, and
the cut selects exactly the events where the data exceed the generated background, so a
signal-free SR can show an excess after the cut. The same cut applied to the data of the
sideband windows next to the SR (``sideband_width`` GeV on each side) and to events
generated at their mjj measures that mismodelling where the resonance is small:
``k = eff_data / eff_generated`` (always reported). ``sideband_closure`` chooses its use:

- ``"control"`` (default): the windows become a second pyhf channel (low and high window,
  one bin each) and ``k`` a free ``normfactor`` of the generated background of both
  channels, so the windows fit it. ``extrapolation_uncertainty`` (a ``normsys`` on the SR
  background) covers the difference between ``k`` in the windows and in the SR: 4.5% by
  default, the scatter of the SR excess around the window ``k`` beyond its statistical error
  in 22 signal-free LHCO-style runs, corrected for their shared background (README, section
  8; 6% until stop 31, a conservative rounding that made the fraction's interval overcover).
- ``"systematic"``: no fit of ``k``; ``sqrt((k - 1)^2 + err_k^2)`` as a ``normsys``.
- ``"off"``: only report ``k``.

The flow ensemble's spread is a ``normsys`` ``generator_ensemble`` on the SR background:
of the background passing the cut, or, with the control windows (whose ``k`` absorbs what
the members share), of each member's ratio of SR to window background passing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from gbi.background import MethodRun, thresholds, train_method
from gbi.classifiers import ClassifierConfig
from gbi.errors import GbiInputError
from gbi.infer.closure import control_channel, sideband_closure
from gbi.infer.efficiency import (
    JET_MASS_FEATURES,
    GridEfficiency,
    MassHypothesis,
    morphed_efficiency,
)
from gbi.infer.uncertainty import EVIDENCE_THRESHOLD
from gbi.metrics.ensembles import ensemble_error
from gbi.tables import Table, to_matrix

__all__ = [
    "SIDEBAND_CLOSURE_MODES",
    "BinnedConfig",
    "BinnedSignal",
    "fit_binned",
    "fraction_conflict",
    "passing_with_leak",
]

#: What the sideband closure factor ``k`` does to the background template.
SIDEBAND_CLOSURE_MODES: tuple[str, ...] = ("control", "systematic", "off")

#: Seed offsets of the scoring streams (added to the run's seed).
_SEED_SIDE_DATA, _SEED_SIDE_GEN, _SEED_SIGNAL = 17, 18, 19


@dataclasses.dataclass(frozen=True)
class BinnedConfig:
    """Cut of the cross-check (``efficiency`` of the generated background kept;
    ``sideband_width`` in GeV on each side of the SR for the sideband closure)."""

    efficiency: float = 0.02
    n_folds: int = 5
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    sideband_closure: str = "control"
    sideband_width: float = 200.0
    extrapolation_uncertainty: float = 0.045

    def __post_init__(self) -> None:
        if not 0 < self.efficiency < 1:
            raise GbiInputError(
                f"binned efficiency: expected a fraction in (0, 1), found {self.efficiency}"
            )
        if self.sideband_closure not in SIDEBAND_CLOSURE_MODES:
            raise GbiInputError(
                f"binned sideband_closure: expected one of {SIDEBAND_CLOSURE_MODES}, "
                f"found {self.sideband_closure!r}"
            )
        if not 0 <= self.extrapolation_uncertainty < 1:
            raise GbiInputError(
                "binned extrapolation_uncertainty: expected a relative uncertainty in [0, 1), "
                f"found {self.extrapolation_uncertainty}"
            )
        if not self.sideband_width > 0:
            raise GbiInputError(
                f"binned sideband_width: expected a width > 0 GeV, found {self.sideband_width}"
            )


@dataclasses.dataclass(frozen=True)
class BinnedSignal:
    """What a signal fraction needs: the grid's SR events per ``(mX, mY)`` (``tables``), its
    events outside the SR (``outside``, for the leak into the control windows) and the
    fitted signal's masses (``hypothesis``)."""

    tables: Mapping[tuple[float, float], Table]
    outside: Mapping[tuple[float, float], Table]
    hypothesis: MassHypothesis


def _matrix(table: Mapping[str, np.ndarray], features: tuple[str, ...]) -> np.ndarray:
    return to_matrix(table, features)


def _closure_terms(
    run: MethodRun,
    cut: float,
    features: tuple[str, ...],
    config: BinnedConfig,
    sideband: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None,
    low_edge: float,
    seed: int,
) -> tuple[dict[str, Any], dict[str, tuple[float, float]], Any, np.ndarray | None]:
    """The sideband closure: ``(closure summary, normsys, control channel or None, which
    generated window events pass the cut or None)``."""
    if sideband is None:
        return {"mode": "none"}, {}, None, None
    side_data, side_gen = sideband
    # One random fold model per event: distributed like the out-of-fold scores the cut
    # was set on (the fold mean is smoother and would pass a different fraction).
    pass_data = run.score_single(_matrix(side_data, features), seed=seed + _SEED_SIDE_DATA) > cut
    pass_gen = run.score_single(_matrix(side_gen, features), seed=seed + _SEED_SIDE_GEN) > cut
    closure: dict[str, Any] = {
        "mode": config.sideband_closure,
        **sideband_closure(pass_data, pass_gen),
    }
    normsys: dict[str, tuple[float, float]] = {}
    control = None
    if config.sideband_closure == "control":
        control = control_channel(pass_data, pass_gen, side_data, side_gen, None, low_edge)
    elif config.sideband_closure == "systematic":
        size = float(np.hypot(closure["k"] - 1.0, closure["k_rel_err"]))
        if size > 0:
            normsys["sideband_closure"] = (max(1.0 - size, 0.05), 1.0 + size)
    return closure, normsys, control, pass_gen


def _generator_normsys(
    pass_gen: np.ndarray,
    member_weights: np.ndarray | None,
    windows: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, tuple[float, float]]:
    """The flow ensemble's spread of the SR background prediction after the cut, as a
    ``normsys`` on the SR background (none for one flow).

    Without control windows the prediction is the generated background passing, and its
    spread over the members is the error. With them (``windows``: which generated window
    events pass, and the members' weights there) the windows fit the normalisation
    ``sideband_k``, so the prediction is ``k x`` (SR passing) with ``k`` = data / (window
    passing): a member that passes more everywhere is absorbed by ``k``, and only the spread
    of each member's ratio (SR passing) / (window passing) is left. (Taking the SR spread
    alone counted the absorbed part a second time: it widened the interval by the members'
    common normalisation.)
    """
    if member_weights is None or len(member_weights) < 2:
        return {}
    members = np.array([float(w[pass_gen].sum()) for w in member_weights])
    nominal = float(pass_gen.sum())
    if windows is not None:
        side_pass, side_weights = windows
        if len(side_weights) != len(member_weights):
            raise GbiInputError(
                f"binned: expected member weights of the same {len(member_weights)} flows in "
                f"the SR and the sideband windows, found {len(side_weights)} in the windows"
            )
        side = np.array([float(w[side_pass].sum()) for w in side_weights])
        members = members / np.maximum(side, 1e-12)
        nominal = nominal / max(float(side_pass.sum()), 1.0)
    rel = float(ensemble_error(members[:, None])[0]) / max(nominal, 1e-12)
    return {"generator_ensemble": (max(1.0 - rel, 1e-3), 1.0 + rel)} if rel > 0 else {}


def _train_cut(
    data_sr: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    features: tuple[str, ...],
    config: BinnedConfig,
    seed: int,
) -> tuple[MethodRun, float]:
    """The k-fold CATHODE classifier (SR data vs generated) and its score cut keeping
    ``config.efficiency`` of the generated background."""
    clf = dataclasses.replace(config.classifier, seed=config.classifier.seed + seed)
    x_data, x_gen = _matrix(data_sr, features), _matrix(generated, features)
    run = train_method("cathode", x_data, x_gen, clf, n_folds=config.n_folds)
    if not run.usable:
        raise GbiInputError(
            f"binned: the data-vs-generated classifier was not trained: {run.message}"
        )
    assert run.background_scores is not None
    return run, float(thresholds(run.background_scores, [config.efficiency])[0])


def _model_independent(fit: dict[str, Any]) -> dict[str, Any]:
    """The count fit's numbers, labelled: the POI is the number of signal events passing."""
    keys = (
        "mu_hat", "mu_err", "mu_lo", "mu_hi", "upper_limit_obs", "upper_limit_exp",
        "upper_limit_exp_band", "local_significance", "p0_local", "q0",
    )  # fmt: skip
    return {"result_kind": "model-independent", **{k: fit[k] for k in keys}}


def from_zero_without_evidence(
    fraction: dict[str, Any], count_significance: float, zero_below: float
) -> dict[str, Any]:
    """The fraction with its lower edges at 0 when the count (the reported significance)
    has no evidence. The fraction's own fit puts the signal's leak into the control windows
    and can find evidence that the count has not (its fit then keeps its lower edge): its
    interval must not contradict the significance reported beside it.

    >>> f = {"mu_hat": 0.09, "mu_lo": 0.009, "mu_lo_stat": 0.048, "mu_hi": 0.17}
    >>> from_zero_without_evidence(f, 1.86, 2.0)["mu_lo"], f["mu_lo"]
    (0.0, 0.009)
    >>> from_zero_without_evidence(f, 2.5, 2.0) == f
    True
    """
    if count_significance >= zero_below:
        return fraction
    return {**fraction, "mu_lo": 0.0, "mu_lo_stat": 0.0}


def fraction_conflict(
    count: Mapping[str, Any], fraction: Mapping[str, Any], n_sr: int, zero_below: float
) -> str | None:
    """Why the signal fraction contradicts the model-independent count, or ``None``.

    The fraction's fit adds the assumed signal's leak into the control windows; a signal
    that leaks there raises the count, never lowers it. When the count has evidence
    (significance >= ``zero_below``) but the fraction's signal passing the cut,
    ``mu_hat n_SR efficiency``, lies more than 2 standard errors of the count below it,
    the assumed signal predicts more events in the control windows than the data hold:
    its mjj shape (the grid's resonance mass) is not the data's, and no fraction is quoted
    (measured: a W' at 3700 GeV with a grid at 3500 GeV, fraction 0 beside a count with
    Z = 4.6-6.0).

    >>> count = {"mu_hat": 380.0, "mu_err": 65.0, "local_significance": 6.0}
    >>> frac = {"mu_hat": 1e-8, "efficiency": {"efficiency": 0.54}}
    >>> fraction_conflict(count, frac, 30000, 2.0)[:46]
    'no signal fraction: the assumed signal implies'
    >>> fraction_conflict(count, {**frac, "mu_hat": 0.025}, 30000, 2.0) is None
    True
    """
    if not count["local_significance"] >= zero_below:
        return None
    implied = float(fraction["mu_hat"]) * n_sr * float(fraction["efficiency"]["efficiency"])
    low = float(count["mu_hat"]) - 2.0 * float(count["mu_err"])
    if implied >= low:
        return None
    return (
        f"no signal fraction: the assumed signal implies {implied:.1f} signal events passing "
        f"the cut where the model-independent count finds {count['mu_hat']:.1f} +- "
        f"{count['mu_err']:.1f} (Z = {count['local_significance']:.1f}): its leak into the "
        "sideband control windows (from the grid's resonance mass) is more than the data "
        "allow, so it is not the data's signal; use a grid at the resonance's mass"
    )


def passing_with_leak(fraction: Mapping[str, Any], n_sr: int) -> dict[str, Any]:
    """The number of signal events passing the cut in the SR with the fitted signal's leak
    into the sideband control windows modelled: the fraction's fit in events.

    The model-independent count assumes no signal in the control windows; a resonance whose
    mjj tails reach them raises the windows' ``k`` and the count comes out low (measured:
    0.72 of the true number passing, 95% limit below the truth in 10/10 runs for a W' at
    4000 GeV; 0.77 and 25/50 at 3500 GeV). The fraction's fit adds the assumed signal's
    leak, so its POI times ``n_SR x efficiency`` is the SR signal passing with the leak
    taken out of ``k``; the efficiency cancels but for the leak per SR event passing,
    ``leak / efficiency``, whose error is not in the interval. The interval and limit are
    the fit's (``mu_lo_stat``, ``mu_hi_stat``, ``mu_upper_limit_95_stat``: generator and
    extrapolation normsys included, the efficiency's errors not, as they cancel), so they
    start at 0 exactly when the fraction's do.

    >>> f = {"mu_hat": 0.02, "mu_lo_stat": 0.015, "mu_hi_stat": 0.025,
    ...      "mu_upper_limit_95_stat": 0.03,
    ...      "efficiency": {"efficiency": 0.5, "leak_low": 0.1, "leak_high": 0.05}}
    >>> n = passing_with_leak(f, 30000)
    >>> n["mu_hat"], n["mu_lo"], n["mu_hi"], n["upper_limit_obs"]
    (300.0, 225.0, 375.0, 450.0)
    >>> round(n["leak_per_passing"], 6)  # (0.1 + 0.05) / 0.5
    0.3
    """
    eff = fraction["efficiency"]
    efficiency = float(eff["efficiency"])  # > 0: ``_fraction`` refuses a cut without signal
    per_unit = n_sr * efficiency
    leak = (float(eff["leak_low"]) + float(eff["leak_high"])) / efficiency
    return {
        "result_kind": "with-signal-leak",
        "mu_hat": float(fraction["mu_hat"]) * per_unit,
        "mu_lo": float(fraction["mu_lo_stat"]) * per_unit,
        "mu_hi": float(fraction["mu_hi_stat"]) * per_unit,
        "upper_limit_obs": float(fraction["mu_upper_limit_95_stat"]) * per_unit,
        "leak_per_passing": leak,
    }


def _fraction(
    counting: dict[str, Any],
    signal: BinnedSignal,
    passes: Any,
    features: tuple[str, ...],
    window: tuple[float, float],
    n_sr: int,
    config: BinnedConfig,
    zero_below: float,
) -> dict[str, Any]:
    """The signal fraction of SR events for ``signal.hypothesis``: the count fit repeated
    with the signal of ``n_SR x efficiency`` per unit POI (module docstring)."""
    from gbi.workspace.counting import fit_cut_and_count

    width = config.sideband_width
    windows = ((window[0] - width, window[0]), (window[1], window[1] + width))
    columns = set.intersection(*(set(t) for t in signal.tables.values()))
    if set(JET_MASS_FEATURES) <= set(features) and set(JET_MASS_FEATURES) <= columns:
        eff = morphed_efficiency(signal.tables, signal.outside, passes, windows, signal.hypothesis)
    else:  # features without the jet masses: interpolate the grid's efficiencies
        grid = GridEfficiency.measure(signal.tables, signal.outside, passes, windows)
        eff = grid.at(signal.hypothesis)
    if not eff["efficiency"] > 0:
        raise GbiInputError(
            "binned: no simulated signal event near the fitted masses passes the score cut "
            f"({signal.hypothesis}): the cut has no sensitivity to this signal"
        )
    control_signal = None
    if counting["control"] is not None:
        control_signal = (n_sr * eff["leak_low"], n_sr * eff["leak_high"])
    fit = fit_cut_and_count(
        **counting,
        zero_below=zero_below,
        signal_yield=n_sr * eff["efficiency"],
        control_signal=control_signal,
    )
    errors = ("efficiency_err_stat", "efficiency_err_mass", "efficiency_err_morph")
    rel = float(np.sqrt(sum(eff.get(k, 0.0) ** 2 for k in errors))) / eff["efficiency"]
    mu = fit["mu_hat"]
    h = signal.hypothesis
    return {
        "result_kind": "signal-fraction",
        "mu_hat": mu,
        "mu_err": float(np.hypot(fit["mu_err"], mu * rel)),
        "mu_lo": max(mu - float(np.hypot(mu - fit["mu_lo"], mu * rel)), 0.0)
        if fit["mu_lo"] > 0
        else 0.0,
        "mu_hi": mu + float(np.hypot(fit["mu_hi"] - mu, mu * rel)),
        "mu_lo_stat": fit["mu_lo"],
        "mu_hi_stat": fit["mu_hi"],
        "mu_upper_limit_95": fit["upper_limit_obs"] / max(1.0 - rel, 0.1),
        "mu_upper_limit_95_exp": fit["upper_limit_exp"],
        "mu_upper_limit_95_stat": fit["upper_limit_obs"],
        "efficiency_rel_err": rel,
        "significance": fit["local_significance"],
        "efficiency": eff,
        "masses": {
            "mX": h.mX,
            "mX_lo": h.mX_range[0],
            "mX_hi": h.mX_range[1],
            "mY": h.mY,
            "mY_lo": h.mY_range[0],
            "mY_hi": h.mY_range[1],
        },
        "source": h.source,
    }


def fit_binned(
    data_sr: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    features: tuple[str, ...],
    window: tuple[float, float],
    config: BinnedConfig | None = None,
    seed: int = 0,
    member_weights: np.ndarray | None = None,
    zero_below: float = EVIDENCE_THRESHOLD,
    sideband: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None = None,
    signal: BinnedSignal | None = None,
    no_fraction_reason: str = "no fitted signal to take the cut's efficiency from",
    labels: np.ndarray | None = None,
    sideband_member_weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """Cut on the CATHODE score and fit the count with pyhf; returns a result dict.

    Always the model-independent number of signal events passing the cut
    (``n_signal_passing``); with ``signal`` also the signal fraction at its masses
    (``signal_fraction``), else ``signal_fraction: None`` and ``no_fraction_reason`` as
    ``signal_fraction_reason`` (module docstring). ``member_weights`` ``(K, n_generated)``:
    ``p_k / p_mix`` of each flow of the background ensemble at the generated events
    (:meth:`gbi.flows.FlowModel.member_weights`), their spread of the background passing
    the cut is a ``normsys``; ``sideband_member_weights`` ``(K, n_generated windows)``, the
    same at the generated window events, make it the spread of the SR-to-window ratio when
    the windows fit ``k`` (:func:`_generator_normsys`). When the local significance is
    below ``zero_below`` the lower edges of the intervals are 0. ``sideband``: ``(data,
    generated)`` events of the sideband windows next to the SR (module docstring); ``None``
    skips the closure. ``window``: the SR in GeV. ``labels`` (1 = signal, truth of a test sample) only add ``truth`` counts.
    """
    from gbi.workspace.counting import fit_cut_and_count

    config = config or BinnedConfig()
    n_sr, n_gen = len(data_sr["mjj"]), len(generated["mjj"])
    run, cut = _train_cut(data_sr, generated, features, config, seed)
    assert run.data_scores is not None
    assert run.background_scores is not None
    pass_data = run.data_scores > cut
    pass_gen = run.background_scores > cut
    closure, normsys, control, side_pass = _closure_terms(
        run, cut, features, config, sideband, window[0], seed
    )
    windows = None
    if control is not None and side_pass is not None and sideband_member_weights is not None:
        windows = (side_pass, np.asarray(sideband_member_weights))
    generator = _generator_normsys(pass_gen, member_weights, windows)
    counting = {
        "n_observed": int(pass_data.sum()),
        "n_generated_pass": int(pass_gen.sum()),
        "weight": n_sr / n_gen,
        "control": control,
        "window": window,
        "extrapolation_uncertainty": config.extrapolation_uncertainty,
        "normsys": {**normsys, **generator},
    }
    fit = fit_cut_and_count(**counting, zero_below=zero_below)
    if control is not None:
        closure["k_fitted"], closure["k_fitted_err"] = fit["k_fitted"], fit["k_fitted_err"]
        closure["extrapolation_uncertainty"] = config.extrapolation_uncertainty
    out: dict[str, Any] = {
        "result_kind": "model-independent",
        "n_signal_passing": _model_independent(fit),
        "significance": fit["local_significance"],
        "q0": fit["q0"],
        "generator_normsys": sorted(generator),
        "generator_normsys_rel": {name: hi - 1.0 for name, (_, hi) in sorted(generator.items())},
        "sideband_closure": closure,
        "cut": {
            "background_efficiency": config.efficiency,
            "threshold": cut,
            "sr_events": n_sr,
            "observed": int(pass_data.sum()),
            "expected_background": float(pass_gen.sum() * n_sr / n_gen),
            "expected_background_err": float(np.sqrt(pass_gen.sum()) * n_sr / n_gen),
        },
        "classifier": run.to_dict(),
        "workspace": fit["workspace"],
    }
    if labels is not None:
        labels = np.asarray(labels)
        out["truth"] = {
            "signal_in_sr": int((labels == 1).sum()),
            "signal_passing": int((labels[pass_data] == 1).sum()),
        }
    fraction = None
    if signal is not None:

        def passes(table: Table) -> np.ndarray:
            # One random fold model per event, like the out-of-fold data scores.
            return np.asarray(run.score_single(_matrix(table, features), seed + _SEED_SIGNAL) > cut)

        fraction = _fraction(counting, signal, passes, features, window, n_sr, config, zero_below)
        fraction = from_zero_without_evidence(fraction, fit["local_significance"], zero_below)
        fraction["n_signal_passing"] = passing_with_leak(fraction, n_sr)
        conflict = fraction_conflict(fit, fraction, n_sr, zero_below)
        if conflict is None:
            out["result_kind"] = "signal-fraction"
        else:
            fraction, no_fraction_reason = None, conflict
    names: tuple[str, ...] = ("mu_hat", "mu_err", "mu_lo", "mu_hi", "mu_lo_stat", "mu_hi_stat")
    names += ("mu_upper_limit_95", "mu_upper_limit_95_exp")
    out.update({k: None if fraction is None else fraction[k] for k in names})
    out["signal_fraction"] = fraction
    if fraction is None:
        out["signal_fraction_reason"] = no_fraction_reason
    return out
