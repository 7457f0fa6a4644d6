"""Binned cross-check: anomaly-score cut + pyhf fit of the signal fraction.

The CATHODE classifier (SR data vs generated SR background, k-fold, out-of-fold scores)
defines a cut keeping ``efficiency`` of the generated background. In the SR after the cut:

- observed: data passing, histogrammed in mjj (``bins`` equal bins over the SR, GeV);
- background: generated events passing, weighted by ``n_SR / n_generated`` (Weight storage,
  so the finite generated sample becomes pyhf ``staterror``);
- signal: simulated signal at one mass point scored by the same classifier (fold mean),
  normalised to ``n_SR x efficiency_signal``, so the pyhf ``normfactor`` is the signal
  fraction ``mu`` of SR events, comparable with the other methods.

The pyhf fit (numpy backend, minuit) gives ``mu_hat`` with its HESSE error, ``q0`` and the
CLs upper limit (:func:`gbi.workspace.fit.fit_workspace`).

Sideband closure. The flow mismodels the tails of the background a little everywhere, and
the cut selects exactly the events where the data exceed the generated background, so a
signal-free SR can show an excess after the cut. The same cut applied to the data of the
sideband windows next to the SR (``sideband_width`` GeV on each side) and to events
generated at their mjj measures that mismodelling where the resonance is small:
``k = eff_data / eff_generated`` (always reported). ``sideband_closure`` chooses its use:

- ``"control"`` (default): the windows become a second pyhf channel (low and high window,
  one bin each) and ``k`` a free ``normfactor`` shared by the generated background of both
  channels, so the windows fit it; the simulated signal that leaks into the windows is a
  sample there with the same ``mu``, so a real signal does not inflate ``k``.
  ``extrapolation_uncertainty`` (a ``normsys`` on the SR background) covers the difference
  between ``k`` in the windows and in the SR: 6% by default, from the scatter of the SR
  excess around the window ``k`` in signal-free LHCO-style runs (README, section 8).
- ``"systematic"``: no fit of ``k``; ``sqrt((k - 1)^2 + err_k^2)`` as a ``normsys``
  (a real signal leaking into the windows inflates it).
- ``"off"``: only report ``k``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import hist
import numpy as np

from gbi.background import MethodRun, thresholds, train_method
from gbi.classifiers import ClassifierConfig
from gbi.errors import GbiInputError
from gbi.infer.closure import control_channel, sideband_closure
from gbi.infer.uncertainty import EVIDENCE_THRESHOLD
from gbi.metrics.ensembles import ensemble_error
from gbi.tables import to_matrix

__all__ = ["SIDEBAND_CLOSURE_MODES", "BinnedConfig", "fit_binned"]

#: What the sideband closure factor ``k`` does to the background template.
SIDEBAND_CLOSURE_MODES: tuple[str, ...] = ("control", "systematic", "off")


@dataclasses.dataclass(frozen=True)
class BinnedConfig:
    """Cut and binning of the cross-check (``efficiency`` of the generated background kept;
    ``sideband_width`` in GeV on each side of the SR for the sideband closure)."""

    efficiency: float = 0.02
    #: One SR bin (cut and count) by default: with the background normalisation fitted in
    #: the sideband windows, extra mjj bins let a shape fluctuation of the 1-2k-event signal
    #: template pull mu (one LHCO-style run, N = 1000: mu_hat/mu_true 0.75 with 4 bins,
    #: 1.02 with 1 bin, Z 4.1 with both).
    bins: int = 1
    n_folds: int = 5
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    sideband_closure: str = "control"
    sideband_width: float = 200.0
    extrapolation_uncertainty: float = 0.06

    def __post_init__(self) -> None:
        if not 0 < self.efficiency < 1:
            raise GbiInputError(
                f"binned efficiency: expected a fraction in (0, 1), found {self.efficiency}"
            )
        if self.bins < 1:
            raise GbiInputError(f"binned bins: expected >= 1 mjj bins, found {self.bins}")
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


def _hist(mjj: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> hist.Hist:
    h = hist.Hist(
        hist.axis.Variable(edges, name="mjj", label="mjj [GeV]"), storage=hist.storage.Weight()
    )
    h.fill(mjj=mjj, weight=weight)
    return h


def _matrix(table: Mapping[str, np.ndarray], features: tuple[str, ...]) -> np.ndarray:
    return to_matrix(table, features)


def _sideband_terms(
    run: MethodRun,
    cut: float,
    features: tuple[str, ...],
    config: BinnedConfig,
    sideband: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None,
    signal_sideband: Mapping[str, np.ndarray] | None,
    signal_weight: float,
    low_edge: float,
    seed: int,
) -> tuple[dict[str, Any], dict[str, tuple[float, float]], list[str], list[Any]]:
    """The sideband closure: ``(closure summary, normsys, normfactors, control channels)``."""
    closure: dict[str, Any] = {"mode": "none"}
    normsys: dict[str, tuple[float, float]] = {}
    normfactors: list[str] = []
    control: list[Any] = []
    if sideband is None:
        return closure, normsys, normfactors, control
    side_data, side_gen = sideband
    # One random fold model per event: distributed like the out-of-fold scores the cut
    # was set on (the fold mean is smoother and would pass a different fraction).
    pass_side_data = run.score_single(_matrix(side_data, features), seed=seed + 17) > cut
    pass_side_gen = run.score_single(_matrix(side_gen, features), seed=seed + 18) > cut
    closure = {"mode": config.sideband_closure, **sideband_closure(pass_side_data, pass_side_gen)}
    if config.sideband_closure == "control":
        signal_side = None
        if signal_sideband is not None and len(signal_sideband["mjj"]):
            x_sig = _matrix(signal_sideband, features)
            pass_sig_side = run.score_single(x_sig, seed=seed + 20) > cut
            signal_side = (signal_sideband["mjj"][pass_sig_side], signal_weight)
            closure["signal_passing"] = int(pass_sig_side.sum())
        control.append(
            control_channel(
                pass_side_data, pass_side_gen, side_data, side_gen, signal_side, low_edge
            )
        )
        normfactors = ["sideband_k"]
        u = config.extrapolation_uncertainty
        if u > 0:
            normsys["sideband_extrapolation"] = (1.0 - u, 1.0 + u)
    elif config.sideband_closure == "systematic":
        size = float(np.hypot(closure["k"] - 1.0, closure["k_rel_err"]))
        if size > 0:
            normsys["sideband_closure"] = (max(1.0 - size, 0.05), 1.0 + size)
    return closure, normsys, normfactors, control


def _generator_histosys(
    generated_mjj: np.ndarray,
    pass_gen: np.ndarray,
    member_weights: np.ndarray | None,
    background: hist.Hist,
    scale: float,
    edges: np.ndarray,
) -> list[Any]:
    """The flow ensemble's background templates as one ``histosys`` (none for one flow)."""
    from gbi.workspace import HistoSys

    if member_weights is None or len(member_weights) < 2:
        return []
    members = np.stack(
        [
            _hist(generated_mjj[pass_gen], scale * w[pass_gen], edges).values()
            for w in member_weights
        ]
    )
    spread = ensemble_error(members)  # bootstrap members: error of the mixture template
    nominal = background.values()
    up, down = background.copy(), background.copy()
    up.view().value = nominal + spread  # type: ignore[attr-defined]  # Weight storage view
    down.view().value = np.maximum(nominal - spread, 1e-3 * nominal)  # type: ignore[attr-defined]
    return [HistoSys("generator_ensemble", up, down)]


def _summary(fit: dict[str, Any], zero_below: float) -> dict[str, Any]:
    """mu_hat, its interval (lower edge at 0 without evidence), limits and q0 of a pyhf fit."""
    mu_lo = fit["mu_hat"] - fit["mu_err"]
    if not fit["q0_significance"] >= zero_below:
        mu_lo = min(mu_lo, 0.0)
    return {
        "mu_hat": fit["mu_hat"],
        "mu_err": fit["mu_err"],
        "mu_lo": mu_lo,
        "mu_hi": fit["mu_hat"] + fit["mu_err"],
        "mu_lo_stat": fit["mu_hat"] - fit["mu_err"],
        "mu_hi_stat": fit["mu_hat"] + fit["mu_err"],
        "mu_upper_limit_95": fit["cls_upper_limit_obs"],
        "mu_upper_limit_95_exp": fit["cls_upper_limit_exp"],
        "q0": fit["q0"],
    }


def _checked_templates(background: hist.Hist, pass_sig: np.ndarray, config: BinnedConfig) -> None:
    if not pass_sig.any():
        raise GbiInputError(
            f"binned: none of the {len(pass_sig)} simulated signal events passes the score "
            f"cut (background efficiency {config.efficiency}): the cut has no sensitivity to "
            "this signal, so there is no finite upper limit; pick another --binned-mass"
        )
    if (background.values() <= 0).any():
        raise GbiInputError(
            f"binned: a mjj bin has no generated background after the cut ({background.values()}); "
            "use fewer --binned-bins or a looser --binned-efficiency"
        )


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


def _workspace(
    signal: hist.Hist,
    background: hist.Hist,
    observed: hist.Hist,
    modifiers: tuple[list[Any], dict[str, tuple[float, float]], list[str]],
    control: list[Any],
    poi_high: float,
) -> Any:
    """The pyhf workspace: SR channel (signal, data-driven background with its
    ``(histosys, normsys, normfactors)``) plus the sideband control channels."""
    from gbi.workspace import Channel, Sample, build_workspace

    histosys, normsys, normfactors = modifiers
    bkg_sample = Sample(
        "background",
        background,
        kind="data-driven",
        histosys=histosys,
        normsys=normsys,
        normfactors=normfactors,
    )
    sr = Channel(
        "signal_region",
        [Sample("signal", signal, signal=True, staterror=False), bkg_sample],
        data=observed,
    )
    return build_workspace([sr, *control], poi_bounds=(0.0, poi_high))


def fit_binned(
    data_sr: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    signal: Mapping[str, np.ndarray],
    features: tuple[str, ...],
    window: tuple[float, float],
    config: BinnedConfig | None = None,
    seed: int = 0,
    member_weights: np.ndarray | None = None,
    zero_below: float = EVIDENCE_THRESHOLD,
    sideband: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None = None,
    signal_sideband: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Cut on the CATHODE score and fit ``mu`` with pyhf; returns a result dict.

    ``member_weights`` ``(K, n_generated)``: ``p_k / p_mix`` of each flow of the background
    ensemble at the generated events (:meth:`gbi.flows.FlowModel.member_weights`); the
    background templates they give (mean +- standard deviation per bin) enter as a
    ``histosys``, the generator uncertainty of the background shape and normalisation.
    The 68% interval is ``mu_hat +- HESSE error``, with the lower edge at 0 when the pyhf
    significance is below ``zero_below`` (:mod:`gbi.infer.uncertainty`).
    ``sideband``: ``(data, generated)`` events of the sideband windows next to the SR, for
    the sideband closure (module docstring); ``None`` skips it. ``signal_sideband``: the
    simulated signal events of the same windows (same sample as ``signal``, whose SR events
    set the normalisation), for the ``"control"`` closure. ``window``: the SR in GeV.
    """
    from gbi.workspace.fit import fit_workspace

    config = config or BinnedConfig()
    n_sr, n_gen = len(data_sr["mjj"]), len(generated["mjj"])
    run, cut = _train_cut(data_sr, generated, features, config, seed)
    assert run.data_scores is not None
    assert run.background_scores is not None
    # One random fold model per signal event, scored like the out-of-fold data the cut
    # is applied to (the fold mean is a different, smoother score).
    signal_scores = run.score_single(_matrix(signal, features), seed=seed + 19)
    edges = np.linspace(window[0], window[1], config.bins + 1)
    pass_data = run.data_scores > cut
    pass_gen = run.background_scores > cut
    pass_sig = signal_scores > cut
    eff_sig = float(pass_sig.mean())
    observed = _hist(data_sr["mjj"][pass_data], np.ones(int(pass_data.sum())), edges)
    background = _hist(
        generated["mjj"][pass_gen], np.full(int(pass_gen.sum()), n_sr / n_gen), edges
    )
    n_sig = max(len(signal_scores), 1)
    sig_hist = _hist(signal["mjj"][pass_sig], np.full(int(pass_sig.sum()), n_sr / n_sig), edges)
    _checked_templates(background, pass_sig, config)
    closure, normsys, normfactors, control = _sideband_terms(
        run, cut, features, config, sideband, signal_sideband, n_sr / n_sig, window[0], seed
    )
    histosys = _generator_histosys(
        generated["mjj"], pass_gen, member_weights, background, n_sr / n_gen, edges
    )
    ws = _workspace(
        sig_hist,
        background,
        observed,
        (histosys, normsys, normfactors),
        control,
        poi_high=max(1.0, 20.0 * (pass_data.sum() + 10) / n_sr / max(eff_sig, 1e-3)),
    )
    result = fit_workspace(ws)
    for par in result["parameters"]:
        if par["name"] == "sideband_k":
            closure["k_fitted"], closure["k_fitted_err"] = par["value"], par["error"]
    return {
        **_summary(result, zero_below),
        "generator_histosys": [h.name for h in histosys],
        "sideband_closure": closure,
        "significance": result["q0_significance"],
        "cut": {
            "background_efficiency": config.efficiency,
            "threshold": cut,
            "signal_efficiency": eff_sig,
            "observed": int(pass_data.sum()),
            "expected_background": float(background.values().sum()),
            "expected_background_err": float(np.sqrt(np.asarray(background.variances()).sum())),
        },
        "classifier": run.to_dict(),
        "workspace": ws,
    }
