"""The detection pipeline: sideband flow -> SR background sample -> classifiers -> scores,
cuts, mjj histograms, background estimates and (with truth) the evaluation.

:func:`run_detection` works on in-memory tables (``column -> array``, GeV) and returns a
:class:`DetectResult`; :func:`gbi.detect.outputs.write_outputs` writes it. Stage wall times
(seconds) are in ``summary["stages"]``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> def toy(n):
...     t = {f: rng.normal(size=n) for f in ("mj1", "delta_mj", "tau21_j1", "tau21_j2")}
...     return {**t, "mjj": rng.uniform(2800, 4200, n)}
>>> cfg = DetectConfig(methods=("idealized",), classifier=ClassifierConfig(max_iter=10), n_folds=2)
>>> res = run_detection(toy(3000), config=cfg, reference=toy(3000))
>>> res.runs["idealized"].status, "score_idealized" in res.scores
('not_learned', True)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hist
import numpy as np

from gbi.classifiers import ClassifierConfig
from gbi.detect.background import SidebandBackground
from gbi.detect.config import DetectConfig
from gbi.detect.inputs import DetectInputs, Table, prepare_inputs, subset
from gbi.detect.methods import MethodRun, skipped, train_method
from gbi.detect.metrics import evaluate
from gbi.detect.selection import (
    add_generator_errors,
    background_estimates,
    chi2_compare,
    cut_label,
    mjj_edges,
    mjj_histogram,
    thresholds,
)

__all__ = ["DetectResult", "run_detection"]

log = logging.getLogger(__name__)

_ = ClassifierConfig  # re-exported for the doctest namespace


@dataclasses.dataclass
class DetectResult:
    """Everything a run produced (see :func:`gbi.detect.outputs.write_outputs`)."""

    summary: dict[str, Any]
    scores: Table  # data columns + score_<method>, shape (n_data,) each
    hists: dict[str, hist.Hist]  # "<method>/observed", "<method>/expected"
    runs: dict[str, MethodRun]
    background: SidebandBackground | None
    config: DetectConfig


@contextmanager
def _stage(stages: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


def _matrix(table: Mapping[str, np.ndarray], features: tuple[str, ...]) -> np.ndarray:
    return np.stack([np.asarray(table[f], dtype=np.float64) for f in features], axis=1)


def run_detection(
    data: Mapping[str, Any],
    *,
    config: DetectConfig | None = None,
    reference: Mapping[str, Any] | None = None,
    signal: Mapping[str, Any] | None = None,
    test: Mapping[str, Any] | None = None,
    truth_label: str | None = None,
    flow_dir: str | Path | None = None,
    background: SidebandBackground | None = None,
) -> DetectResult:
    """Run every method of ``config`` on ``data`` (features + mjj, GeV).

    ``reference``: independent background (idealized detector, test background);
    ``signal``: signal events not in the data (supervised detector, test signal);
    ``background``: a pre-trained sideband model to reuse instead of training one.
    """
    config = config or DetectConfig()
    stages: dict[str, float] = {}
    seed = config.seed
    feats = config.features
    with _stage(stages, "inputs"):
        inputs = prepare_inputs(
            data,
            regions=config.regions,
            features=feats,
            reference=reference,
            signal=signal,
            test=test,
            truth_label=truth_label,
            seed=seed,
        )
    messages = list(inputs.messages)
    data_sr = subset(inputs.data, inputs.sr)
    n_sr = inputs.n_sr
    if n_sr < config.min_sr_events:
        messages.append(
            f"the signal region {config.regions.signal_region} GeV holds {n_sr} data events: "
            f"too few to train a classifier (expected at least {config.min_sr_events}); "
            "all anomaly scores are NaN"
        )
    runs: dict[str, MethodRun] = {}
    generated: Table | None = None
    needs_flow = {"cathode", "latent"} & set(config.methods)
    if needs_flow and background is None:
        if inputs.n_sb < config.min_sideband_events:
            msg = (
                f"the sidebands hold {inputs.n_sb} data events: too few to train the background "
                f"flow (expected at least {config.min_sideband_events}); check --sr and the mjj "
                "range of the data"
            )
            messages.append(msg)
            for name in sorted(needs_flow):
                runs[name] = skipped(name, msg)
        elif n_sr < max(config.min_sr_events, 2):
            for name in sorted(needs_flow):
                runs[name] = skipped(name, messages[-1])
        else:
            with _stage(stages, "flow_training"):
                background = SidebandBackground.train(
                    subset(inputs.data, inputs.sb),
                    config.flow_config,
                    config.flow_train,
                    sr_mjj=data_sr["mjj"],
                    window=config.regions.signal_region,
                    ensemble=config.flow_ensemble,
                    bootstrap=config.flow_ensemble > 1,
                    out_dir=flow_dir,
                )
    if needs_flow and background is not None and n_sr >= config.min_sr_events:
        with _stage(stages, "flow_sampling"):
            n_gen = max(1, round(config.oversampling * n_sr))
            generated = background.sample_sr(n_gen, seed=seed + 101)

    x_sr = _matrix(data_sr, feats)
    kw = {"n_folds": config.n_folds, "min_events": config.min_sr_events}
    clf = dataclasses.replace(config.classifier, seed=config.classifier.seed + seed)

    def features_of(table: Mapping[str, np.ndarray]) -> np.ndarray:
        return _matrix(table, feats)

    ref_sr = None
    if inputs.reference_train is not None:
        ref_sr = subset(
            inputs.reference_train, config.regions.in_signal_region(inputs.reference_train["mjj"])
        )
    for name in config.methods:
        if name in runs:
            continue
        with _stage(stages, f"classifier_{name}"):
            if name == "cathode" and generated is not None:
                runs[name] = train_method(
                    name,
                    x_sr,
                    features_of(generated),
                    clf,
                    norm=n_sr / len(generated["mjj"]),
                    inputs=features_of,
                    **kw,
                )
            elif name == "latent" and generated is not None and background is not None:
                z_bkg = np.random.default_rng(seed + 202).standard_normal(
                    (len(generated["mjj"]), len(feats))
                )
                runs[name] = train_method(
                    name,
                    background.latent(data_sr),
                    z_bkg,
                    clf,
                    norm=n_sr / len(z_bkg),
                    inputs=background.latent,
                    **kw,
                )
            elif name in ("cathode", "latent"):
                runs[name] = skipped(name, "no background model: " + " ".join(messages[-1:]))
            elif name == "idealized":
                if ref_sr is None:
                    runs[name] = skipped(
                        name, "needs an independent background sample (--reference-background)"
                    )
                else:
                    runs[name] = train_method(
                        name,
                        x_sr,
                        features_of(ref_sr),
                        clf,
                        norm=n_sr / max(len(ref_sr["mjj"]), 1),
                        inputs=features_of,
                        **kw,
                    )
            elif name == "supervised":
                if ref_sr is None or inputs.signal_train is None:
                    runs[name] = skipped(
                        name,
                        "needs a signal sample (--signal) and a background sample (--reference-background)",
                    )
                else:
                    runs[name] = train_method(
                        name,
                        features_of(inputs.signal_train),
                        features_of(ref_sr),
                        clf,
                        norm=n_sr / max(len(ref_sr["mjj"]), 1),
                        inputs=features_of,
                        **kw,
                    )
    with _stage(stages, "scoring_and_histograms"):
        scores, hists, method_summaries = _score_and_fill(
            inputs, runs, background, config, generated
        )
    with _stage(stages, "evaluation"):
        evaluation = _evaluate(inputs, runs, scores, truth_label)
    for name, run in runs.items():
        method_summaries[name] = {**run.to_dict(), **method_summaries.get(name, {})}
        if name in evaluation:
            method_summaries[name]["evaluation"] = evaluation[name]
    summary: dict[str, Any] = {
        "version": "1.0",
        "config": config.to_dict(),
        "counts": {
            "data": len(inputs.data["mjj"]),
            "signal_region": n_sr,
            "sidebands": inputs.n_sb,
            "generated_sr": 0 if generated is None else len(generated["mjj"]),
            "test_signal": int((inputs.test["label"] == 1).sum()) if inputs.test is not None else 0,
            "test_background": int((inputs.test["label"] == 0).sum())
            if inputs.test is not None
            else 0,
        },
        "methods": method_summaries,
        "messages": messages + [r.message for r in runs.values() if r.status != "ok"],
        "stages": stages,
    }
    return DetectResult(summary, scores, hists, runs, background, config)


def _score_and_fill(
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
    seed = config.seed
    data = inputs.data
    scores: Table = {k: v for k, v in data.items()}
    scores["region"] = config.regions.assign(data["mjj"])
    in_range = inputs.sr | inputs.sb
    edges = mjj_edges(config.regions, data["mjj"][in_range])
    hists: dict[str, hist.Hist] = {}
    summaries: dict[str, dict[str, Any]] = {}
    labels = [cut_label(c) for c in config.cuts]
    expected_source = None
    ref = inputs.reference_test
    gen_at: Table | None = None
    if ref is not None:
        expected_source = "reference background (half B, never trained on)"
        ref_in = config.regions.in_signal_region(ref["mjj"]) | config.regions.in_sidebands(
            ref["mjj"]
        )
        ref = subset(ref, ref_in)
        ref_weight = in_range.sum() / max(len(ref["mjj"]), 1)
    elif background is not None and in_range.any():
        expected_source = "sideband flow sampled at the data mjj values"
        gen_at = background.sample_at(data["mjj"][in_range], seed=seed + 303)
    for name, run in runs.items():
        column = np.full(len(data["mjj"]), np.nan)
        if not run.usable:
            scores[f"score_{name}"] = column
            continue
        assert run.inputs is not None
        assert run.background_scores is not None
        if name == "supervised":
            column[:] = run.score_single(run.inputs(data), seed + 1)
        else:
            rest = ~inputs.sr
            if rest.any():
                column[rest] = run.score_single(run.inputs(subset(data, rest)), seed + 1)
            column[inputs.sr] = run.data_scores
        scores[f"score_{name}"] = column
        cuts = thresholds(run.background_scores, config.cuts)
        passing = {"all": in_range} | {
            lab: in_range & (column > t) for lab, t in zip(labels, cuts, strict=True)
        }
        observed = mjj_histogram(data["mjj"], passing, edges=edges)
        hists[f"{name}/observed"] = observed
        info: dict[str, Any] = {"cuts": [], "expected_source": expected_source}
        estimates = background_estimates(run.background_scores, cuts, run.norm, inputs.n_sr)
        if (
            name == "cathode"
            and generated is not None
            and background is not None
            and len(background.model) > 1
        ):
            add_generator_errors(
                estimates,
                run.background_scores,
                background.model.member_weights(generated),
                run.norm,
            )
        expected = None

        if ref is not None:
            expected = _expected_hist(run, ref, labels, cuts, edges, seed, ref_weight)
            constraints = 1
        elif gen_at is not None:
            expected = _expected_hist(run, gen_at, labels, cuts, edges, seed)
            constraints = 0
        if expected is not None:
            hists[f"{name}/expected"] = expected
        sr_bins = (edges[:-1] >= config.regions.sr_low) & (edges[1:] <= config.regions.sr_high)
        for lab, eff, est in zip(labels, config.cuts, estimates, strict=True):
            n_obs = int((inputs.sr & (column > est["threshold"])).sum())
            denom = np.sqrt(est["estimate"] + est["estimate_err"] ** 2)
            entry: dict[str, Any] = {
                "label": lab,
                "background_efficiency": eff,
                **est,
                "observed_sr": n_obs,
                "excess_significance": float((n_obs - est["estimate"]) / denom)
                if denom > 0
                else None,
            }
            if expected is not None:
                o, e = observed[lab, :], expected[lab, :]
                entry["mjj_chi2"] = chi2_compare(o.values(), e.values(), e.variances(), constraints)
                entry["mjj_chi2_sr"] = chi2_compare(
                    o.values()[sr_bins], e.values()[sr_bins], e.variances()[sr_bins]
                )
            info["cuts"].append(entry)
        summaries[name] = info
    return scores, hists, summaries


def _evaluate(
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


def _expected_hist(
    run: Any,
    sample: dict[str, np.ndarray],
    labels: list[str],
    cuts: Any,
    edges: np.ndarray,
    seed: int,
    weight: Any = 1.0,
) -> hist.Hist:
    """mjj of ``sample`` for every cut, each event scored by one fold model."""
    scores = run.score_single(run.inputs(sample), seed + 2)
    passing = {"all": np.ones(len(scores), bool)} | {
        label: scores > threshold for label, threshold in zip(labels, cuts, strict=True)
    }
    return mjj_histogram(sample["mjj"], passing, edges=edges, weight=weight)
