"""Scores of every data event, the mjj spectra after each cut and the per-cut SR figures.

For each usable method: a ``score_<method>`` column (SR events: out-of-fold scores; others:
one random fold model each, distributed like out-of-fold), the cuts of
:func:`gbi.background.cuts.thresholds`, the observed mjj histogram per cut, an expected one
(a reference background, else the sideband flow sampled at the data mjj), the SR background
estimates and, with truth, the evaluation. mjj in GeV, estimates in events.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import hist
import numpy as np

from gbi.background import (
    MethodRun,
    SidebandBackground,
    add_generator_errors,
    background_estimates,
    cut_label,
    thresholds,
)
from gbi.detect.config import DetectConfig
from gbi.detect.inputs import DetectInputs
from gbi.detect.metrics import evaluate
from gbi.detect.selection import mjj_edges, mjj_histogram
from gbi.metrics.chi2 import chi2_compare
from gbi.tables import Table, subset

__all__ = ["ExpectedSource", "evaluate_runs", "expected_source", "score_and_fill"]

#: Seed offsets: events generated at the data mjj; fold choice of data and expected events.
SAMPLE_AT_SEED, DATA_FOLD_SEED, EXPECTED_FOLD_SEED = 303, 1, 2


@dataclasses.dataclass
class ExpectedSource:
    """Where the expected mjj spectra come from: a sample, its weight per event, and the
    number of constraints its normalisation takes from the data (chi2 ndf)."""

    label: str | None = None
    sample: Table | None = None
    weight: float = 1.0
    constraints: int = 0


def expected_source(
    inputs: DetectInputs, background: SidebandBackground | None, config: DetectConfig
) -> ExpectedSource:
    """The reference background (half B, normalised to the data), else the flow at the
    data mjj values, else none."""
    in_range = inputs.sr | inputs.sb
    ref = inputs.reference_test
    if ref is not None:
        regions = config.regions
        ref = subset(ref, regions.in_signal_region(ref["mjj"]) | regions.in_sidebands(ref["mjj"]))
        weight = in_range.sum() / max(len(ref["mjj"]), 1)
        return ExpectedSource("reference background (half B, never trained on)", ref, weight, 1)
    if background is not None and in_range.any():
        sample = background.sample_at(
            inputs.data["mjj"][in_range], seed=config.seed + SAMPLE_AT_SEED
        )
        return ExpectedSource("sideband flow sampled at the data mjj values", sample)
    return ExpectedSource()


def _score_column(name: str, run: MethodRun, inputs: DetectInputs, seed: int) -> np.ndarray:
    data = inputs.data
    column = np.full(len(data["mjj"]), np.nan)
    if not run.usable:
        return column
    assert run.inputs is not None
    if name == "supervised":
        column[:] = run.score_single(run.inputs(data), seed + DATA_FOLD_SEED)
        return column
    rest = ~inputs.sr
    if rest.any():
        column[rest] = run.score_single(run.inputs(subset(data, rest)), seed + DATA_FOLD_SEED)
    column[inputs.sr] = run.data_scores
    return column


def _passing_hist(
    run: MethodRun,
    sample: Table,
    labels: list[str],
    cuts: np.ndarray,
    edges: np.ndarray,
    seed: int,
    weight: float = 1.0,
) -> hist.Hist:
    """mjj of ``sample`` for every cut, each event scored by one fold model."""
    assert run.inputs is not None
    scores = run.score_single(run.inputs(sample), seed + EXPECTED_FOLD_SEED)
    passing = {"all": np.ones(len(scores), bool)} | {
        label: scores > threshold for label, threshold in zip(labels, cuts, strict=True)
    }
    return mjj_histogram(sample["mjj"], passing, edges=edges, weight=weight)


def _estimates(
    name: str,
    run: MethodRun,
    cuts: np.ndarray,
    inputs: DetectInputs,
    background: SidebandBackground | None,
    generated: Table | None,
) -> list[dict[str, Any]]:
    """SR background estimates per cut; with a flow ensemble, CATHODE's also carry the
    generator spread (:func:`gbi.background.cuts.add_generator_errors`)."""
    assert run.background_scores is not None
    estimates = background_estimates(run.background_scores, cuts, run.norm, inputs.n_sr)
    ensemble = background is not None and len(background.model) > 1
    if name == "cathode" and generated is not None and ensemble:
        assert background is not None
        weights = background.model.member_weights(generated)
        add_generator_errors(estimates, run.background_scores, weights, run.norm)
    return estimates


def _cut_entries(
    column: np.ndarray,
    estimates: list[dict[str, Any]],
    observed: hist.Hist,
    expected: hist.Hist | None,
    source: ExpectedSource,
    inputs: DetectInputs,
    config: DetectConfig,
    edges: np.ndarray,
) -> list[dict[str, Any]]:
    """One summary entry per cut: estimate vs observed SR events and the mjj chi2."""
    regions = config.regions
    sr_bins = (edges[:-1] >= regions.sr_low) & (edges[1:] <= regions.sr_high)
    entries = []
    for eff, est in zip(config.cuts, estimates, strict=True):
        lab = cut_label(eff)
        n_obs = int((inputs.sr & (column > est["threshold"])).sum())
        denom = np.sqrt(est["estimate"] + est["estimate_err"] ** 2)
        entry: dict[str, Any] = {
            "label": lab,
            "background_efficiency": eff,
            **est,
            "observed_sr": n_obs,
            "excess_significance": float((n_obs - est["estimate"]) / denom) if denom > 0 else None,
        }
        if expected is not None:
            o, e = observed[lab, :], expected[lab, :]
            assert isinstance(o, hist.Hist)
            assert isinstance(e, hist.Hist)
            o_val, e_val, e_var = o.values(), e.values(), np.asarray(e.variances())
            entry["mjj_chi2"] = chi2_compare(o_val, e_val, e_var, source.constraints)
            entry["mjj_chi2_sr"] = chi2_compare(o_val[sr_bins], e_val[sr_bins], e_var[sr_bins])
        entries.append(entry)
    return entries


def score_and_fill(
    inputs: DetectInputs,
    runs: dict[str, MethodRun],
    background: SidebandBackground | None,
    config: DetectConfig,
    generated: Table | None = None,
) -> tuple[Table, dict[str, hist.Hist], dict[str, dict[str, Any]]]:
    """Score column per method, observed/expected mjj hists per cut, SR estimates.

    With a bootstrap flow ensemble, the CATHODE SR estimates also carry the generator
    uncertainty: each flow's own estimate reweights the generated events by ``p_k / p_mix``
    (:meth:`gbi.flows.FlowModel.member_weights`), and their spread times
    ``sqrt(1 + 1/K)`` is ``estimate_err_generator``, added in quadrature to ``estimate_err``.
    """
    data = inputs.data
    scores: Table = {k: v for k, v in data.items()}
    scores["region"] = config.regions.assign(data["mjj"])
    in_range = inputs.sr | inputs.sb
    edges = mjj_edges(config.regions, data["mjj"][in_range])
    hists: dict[str, hist.Hist] = {}
    summaries: dict[str, dict[str, Any]] = {}
    labels = [cut_label(c) for c in config.cuts]
    source = expected_source(inputs, background, config)
    for name, run in runs.items():
        column = _score_column(name, run, inputs, config.seed)
        scores[f"score_{name}"] = column
        if not run.usable:
            continue
        assert run.background_scores is not None
        cuts = thresholds(run.background_scores, config.cuts)
        passing = {"all": in_range} | {
            lab: in_range & (column > t) for lab, t in zip(labels, cuts, strict=True)
        }
        observed = mjj_histogram(data["mjj"], passing, edges=edges)
        hists[f"{name}/observed"] = observed
        estimates = _estimates(name, run, cuts, inputs, background, generated)
        expected = None
        if source.sample is not None:
            expected = _passing_hist(
                run, source.sample, labels, cuts, edges, config.seed, source.weight
            )
            hists[f"{name}/expected"] = expected
        summaries[name] = {
            "cuts": _cut_entries(
                column, estimates, observed, expected, source, inputs, config, edges
            ),
            "expected_source": source.label,
        }
    return scores, hists, summaries


def evaluate_runs(
    inputs: DetectInputs, runs: dict[str, MethodRun], scores: Table, truth_label: str | None
) -> dict[str, dict[str, Any]]:
    """Test-set ROC/SIC with fold-mean scores; without a test set, SR out-of-fold scores."""
    out: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        if not run.usable:
            continue
        assert run.inputs is not None
        if inputs.test is not None:
            s = run.predict(run.inputs(inputs.test))
            out[name] = {**evaluate(inputs.test["label"], s), "test_set": "independent"}
        elif truth_label and "label" in inputs.data:
            sr = inputs.sr
            out[name] = {
                **evaluate(inputs.data["label"][sr], scores[f"score_{name}"][sr]),
                "test_set": "signal-region data, out-of-fold scores",
            }
    return out
