"""The detection pipeline: sideband flow -> SR background sample -> classifiers -> scores,
cuts, mjj histograms, background estimates and (with truth) the evaluation.

:func:`run_detection` works on in-memory tables (``column -> array``, GeV) and returns a
:class:`~gbi.detect.result.DetectResult`; :func:`gbi.detect.outputs.write_outputs` writes it.
Stage wall times (seconds) are in ``summary.stages``. The steps shared with the inference
(SR/sideband split, generator, SR sample, method registry, cuts, stage timing) are in
:mod:`gbi.background`.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gbi.background import (
    MethodInputs,
    MethodRun,
    SidebandBackground,
    Stages,
    run_method,
    skipped,
)
from gbi.classifiers import ClassifierConfig
from gbi.detect.config import DetectConfig
from gbi.detect.inputs import DetectInputs, prepare_inputs
from gbi.detect.result import DetectCounts, DetectMethodSummary, DetectResult, DetectSummary
from gbi.detect.scoring import evaluate_runs, score_and_fill
from gbi.tables import Table, subset

__all__ = ["DetectResult", "run_detection"]

log = logging.getLogger(__name__)

_ = ClassifierConfig  # re-exported for the doctest namespace

#: The methods that need the sideband generator.
FLOW_METHODS = frozenset({"cathode", "latent"})


def _train_background(
    inputs: DetectInputs,
    config: DetectConfig,
    messages: list[str],
    runs: dict[str, MethodRun],
    stages: Stages,
    flow_dir: str | Path | None,
) -> SidebandBackground | None:
    """Train the sideband generator, or mark the flow methods skipped with the reason."""
    needs_flow = FLOW_METHODS & set(config.methods)
    too_few = inputs.split.sidebands_too_small(config.min_sideband_events)
    if too_few is not None:
        messages.append(too_few)
        for name in sorted(needs_flow):
            runs[name] = skipped(name, too_few)
        return None
    if inputs.n_sr < max(config.min_sr_events, 2):
        for name in sorted(needs_flow):
            runs[name] = skipped(name, messages[-1])
        return None
    with stages("flow_training"):
        return SidebandBackground.train(
            inputs.data, inputs.split, config.generator_config, out_dir=flow_dir
        )


def _method_inputs(
    inputs: DetectInputs,
    config: DetectConfig,
    background: SidebandBackground | None,
    generated: Table | None,
    messages: list[str],
) -> MethodInputs:
    ref_sr = None
    if inputs.reference_train is not None:
        ref = inputs.reference_train
        ref_sr = subset(ref, config.regions.in_signal_region(ref["mjj"]))
    return MethodInputs(
        inputs.split.signal_region(inputs.data),
        config.features,
        config.seed,
        generated=generated,
        background=background,
        reference_sr=ref_sr,
        signal=inputs.signal_train,
        no_model_reason=" ".join(messages[-1:]),
    )


def _summary(
    inputs: DetectInputs,
    config: DetectConfig,
    runs: dict[str, MethodRun],
    generated: Table | None,
    messages: list[str],
    method_summaries: dict[str, dict[str, Any]],
    evaluation: dict[str, dict[str, Any]],
) -> DetectSummary:
    methods = {}
    for name, run in runs.items():
        scored = method_summaries.get(name)
        methods[name] = DetectMethodSummary.from_run(
            run,
            cuts=None if scored is None else scored["cuts"],
            expected_source=None if scored is None else scored["expected_source"],
            evaluation=evaluation.get(name),
        )
    test = inputs.test
    counts = DetectCounts(
        data=len(inputs.data["mjj"]),
        signal_region=inputs.n_sr,
        sidebands=inputs.n_sb,
        generated_sr=0 if generated is None else len(generated["mjj"]),
        test_signal=int((test["label"] == 1).sum()) if test is not None else 0,
        test_background=int((test["label"] == 0).sum()) if test is not None else 0,
    )
    return DetectSummary(
        config=config.to_dict(),
        counts=counts,
        methods=methods,
        messages=messages + [r.message for r in runs.values() if r.status != "ok"],
    )


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
    stages = Stages()
    with stages("inputs"):
        inputs = prepare_inputs(
            data,
            regions=config.regions,
            features=config.features,
            reference=reference,
            signal=signal,
            test=test,
            truth_label=truth_label,
            seed=config.seed,
        )
    messages = list(inputs.messages)
    too_few_sr = inputs.split.signal_region_too_small(config.min_sr_events)
    if too_few_sr is not None:
        messages.append(too_few_sr)
    runs: dict[str, MethodRun] = {}
    generated: Table | None = None
    needs_flow = FLOW_METHODS & set(config.methods)
    if needs_flow and background is None:
        background = _train_background(inputs, config, messages, runs, stages, flow_dir)
    if needs_flow and background is not None and too_few_sr is None:
        with stages("flow_sampling"):
            generated = background.generate(inputs.n_sr, config.oversampling, config.seed)
    method_inputs = _method_inputs(inputs, config, background, generated, messages)
    clf = dataclasses.replace(config.classifier, seed=config.classifier.seed + config.seed)
    for name in config.methods:
        if name not in runs:
            with stages(f"classifier_{name}"):
                runs[name] = run_method(
                    name,
                    method_inputs,
                    clf,
                    n_folds=config.n_folds,
                    min_events=config.min_sr_events,
                )
    with stages("scoring_and_histograms"):
        scores, hists, method_summaries = score_and_fill(
            inputs, runs, background, config, generated
        )
    with stages("evaluation"):
        evaluation = evaluate_runs(inputs, runs, scores, truth_label)
    summary = _summary(inputs, config, runs, generated, messages, method_summaries, evaluation)
    summary.stages = stages.to_dict()
    return DetectResult(summary, scores, hists, runs, background, config)
