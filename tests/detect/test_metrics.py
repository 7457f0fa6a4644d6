"""ROC/SIC metrics: honest max SIC, rejection, summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gbi.detect.metrics import evaluate, max_sic, roc_sic, summarize


def test_perfect_separation_sic_limited_by_min_background() -> None:
    labels = np.repeat([0, 1], [1000, 100])
    scores = labels + np.linspace(0.0, 0.9, len(labels))  # separated, no ties
    perf = evaluate(labels, scores, min_background=20)
    # perfect classifier: the best reliable point keeps all signal at FPR >= 20/1000
    assert perf["max_sic_reliable"]
    assert perf["max_sic"] == pytest.approx(1.0 / math.sqrt(20 / 1000))
    assert perf["auc"] == 1.0


def test_random_scores_give_sic_about_one() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], [20000, 2000])
    perf = evaluate(labels, rng.uniform(size=len(labels)))
    assert 0.45 < perf["auc"] < 0.55
    assert perf["max_sic"] < 2.0


def test_too_few_background_events_is_marked_unreliable() -> None:
    labels = np.repeat([0, 1], [10, 100])
    roc = roc_sic(labels, np.arange(110.0))
    best = max_sic(roc, min_fpr=1e-4, min_background=20)
    assert not best["reliable"]
    assert math.isnan(best["max_sic"])


def test_empty_class_is_a_message() -> None:
    perf = evaluate(np.zeros(5), np.arange(5.0))
    assert "no ROC" in perf["message"]


def test_summarize_band() -> None:
    s = summarize([1.0, 2.0, float("nan"), 3.0])
    assert s["n"] == 3
    assert s["median"] == 2.0
    assert s["q16"] < 2.0 < s["q84"]
    assert math.isnan(summarize([])["median"])
