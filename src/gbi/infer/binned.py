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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import hist
import numpy as np

from gbi.classifiers import ClassifierConfig
from gbi.detect.methods import train_method
from gbi.detect.selection import thresholds
from gbi.errors import GbiInputError
from gbi.flows import ensemble_error
from gbi.infer.uncertainty import EVIDENCE_THRESHOLD

__all__ = ["BinnedConfig", "fit_binned"]


@dataclasses.dataclass(frozen=True)
class BinnedConfig:
    """Cut and binning of the cross-check (``efficiency`` of the generated background kept)."""

    efficiency: float = 0.02
    bins: int = 4
    n_folds: int = 5
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)


def _hist(mjj: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> hist.Hist:
    h = hist.Hist(
        hist.axis.Variable(edges, name="mjj", label="mjj [GeV]"), storage=hist.storage.Weight()
    )
    h.fill(mjj=mjj, weight=weight)
    return h


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
) -> dict[str, Any]:
    """Cut on the CATHODE score and fit ``mu`` with pyhf; returns a result dict.

    ``member_weights`` ``(K, n_generated)``: ``p_k / p_mix`` of each flow of the background
    ensemble at the generated events (:meth:`gbi.flows.FlowModel.member_weights`); the
    background templates they give (mean +- standard deviation per bin) enter as a
    ``histosys``, the generator uncertainty of the background shape and normalisation.
    The 68% interval is ``mu_hat +- HESSE error``, with the lower edge at 0 when the pyhf
    significance is below ``zero_below`` (:mod:`gbi.infer.uncertainty`).
    """
    from gbi.workspace import Channel, HistoSys, Sample, build_workspace
    from gbi.workspace.fit import fit_workspace

    config = config or BinnedConfig()

    def matrix(t: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.stack([np.asarray(t[f], dtype=np.float64) for f in features], 1)

    n_sr, n_gen = len(data_sr["mjj"]), len(generated["mjj"])
    clf = dataclasses.replace(config.classifier, seed=config.classifier.seed + seed)
    run = train_method("cathode", matrix(data_sr), matrix(generated), clf, n_folds=config.n_folds)
    if not run.usable:
        raise GbiInputError(
            f"binned: the data-vs-generated classifier was not trained: {run.message}"
        )
    assert run.data_scores is not None
    assert run.background_scores is not None
    cut = float(thresholds(run.background_scores, [config.efficiency])[0])
    signal_scores = run.predict(matrix(signal))
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
    if not pass_sig.any():
        raise GbiInputError(
            f"binned: none of the {len(signal_scores)} simulated signal events passes the score "
            f"cut (background efficiency {config.efficiency}): the cut has no sensitivity to "
            "this signal, so there is no finite upper limit; pick another --binned-mass"
        )
    if (background.values() <= 0).any():
        raise GbiInputError(
            f"binned: a mjj bin has no generated background after the cut ({background.values()}); "
            "use fewer --binned-bins or a looser --binned-efficiency"
        )
    histosys = []
    if member_weights is not None and len(member_weights) > 1:
        scale = n_sr / n_gen
        members = np.stack(
            [
                _hist(generated["mjj"][pass_gen], scale * w[pass_gen], edges).values()
                for w in member_weights
            ]
        )
        spread = ensemble_error(members)  # bootstrap members: error of the mixture template
        nominal = background.values()
        up, down = background.copy(), background.copy()
        up.view().value = nominal + spread
        down.view().value = np.maximum(nominal - spread, 1e-3 * nominal)
        histosys.append(HistoSys("generator_ensemble", up, down))
    ws = build_workspace(
        [
            Channel(
                "signal_region",
                [
                    Sample("signal", sig_hist, signal=True, staterror=False),
                    Sample("background", background, kind="data-driven", histosys=histosys),
                ],
                data=observed,
            )
        ],
        poi_bounds=(0.0, max(1.0, 20.0 * (pass_data.sum() + 10) / n_sr / max(eff_sig, 1e-3))),
    )
    result = fit_workspace(ws)
    mu_lo = result["mu_hat"] - result["mu_err"]
    if not result["q0_significance"] >= zero_below:
        mu_lo = min(mu_lo, 0.0)
    return {
        "mu_hat": result["mu_hat"],
        "mu_err": result["mu_err"],
        "mu_lo": mu_lo,
        "mu_hi": result["mu_hat"] + result["mu_err"],
        "mu_lo_stat": result["mu_hat"] - result["mu_err"],
        "mu_hi_stat": result["mu_hat"] + result["mu_err"],
        "mu_upper_limit_95": result["cls_upper_limit_obs"],
        "mu_upper_limit_95_exp": result["cls_upper_limit_exp"],
        "q0": result["q0"],
        "generator_histosys": [h.name for h in histosys],
        "significance": result["q0_significance"],
        "cut": {
            "background_efficiency": config.efficiency,
            "threshold": cut,
            "signal_efficiency": eff_sig,
            "observed": int(pass_data.sum()),
            "expected_background": float(background.values().sum()),
            "expected_background_err": float(np.sqrt(background.variances().sum())),
        },
        "classifier": run.to_dict(),
        "workspace": ws,
    }
