"""One contract for every classifier family, failure modes, and a reweighting closure test."""

from __future__ import annotations

import numpy as np
import pytest

from gbi.classifiers import CLASSIFIER_KINDS, ClassifierConfig, KFoldEnsemble, classifier_weights
from gbi.classifiers.serialization import load_ensemble, save_ensemble
from gbi.errors import GbiInputError

FAST = {
    "hgb": ClassifierConfig(kind="hgb", max_iter=60),
    "xgb": ClassifierConfig(kind="xgb", max_iter=60),
    "mlp": ClassifierConfig(kind="mlp", hidden=(32, 32), epochs=15, patience=3, batch_size=256),
}


def _toy(n: int, shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    background = rng.normal(0.0, 1.0, (n, 3))
    signal = rng.normal(shift, 1.0, (n, 3))
    return np.concatenate([background, signal]), np.repeat([0, 1], n)


def _needs(kind: str) -> None:
    if kind == "xgb":
        pytest.importorskip("xgboost", reason="classifier kind xgb needs gbi[xgboost]")


def test_every_kind_is_in_the_contract():
    assert set(FAST) == set(CLASSIFIER_KINDS)


@pytest.mark.parametrize("kind", CLASSIFIER_KINDS)
def test_classifier_contract(kind, tmp_path):
    _needs(kind)
    x, y = _toy(800, shift=0.8)
    ensemble = KFoldEnsemble(FAST[kind], n_folds=3)
    result = ensemble.fit(x, y)
    assert result.oof_scores.shape == (1600,)
    assert np.all((result.oof_scores >= 0) & (result.oof_scores <= 1))
    assert result.learned
    assert result.auc > 0.8  # true AUC of a 0.8 shift in 3D: Phi(0.8*sqrt(3)/sqrt(2)) = 0.86
    new = ensemble.predict(x[:10])
    assert new.shape == (10,)
    again = KFoldEnsemble(FAST[kind], n_folds=3).fit(x, y)
    np.testing.assert_allclose(again.oof_scores, result.oof_scores, rtol=1e-6)  # seeded
    # saved as data and loaded back: the same scores
    loaded, metadata = load_ensemble(save_ensemble(ensemble, tmp_path / "clf", {"m": 1}))
    assert metadata == {"m": 1}
    np.testing.assert_allclose(loaded.predict(x[:50]), ensemble.predict(x[:50]), rtol=1e-6)


@pytest.mark.parametrize("kind", CLASSIFIER_KINDS)
def test_classifier_respects_sample_weights(kind):
    """Background events weighted by exp(-x0) look like a shifted sample: a classifier that
    honours the weights separates them from an unweighted copy (AUC well above 0.5)."""
    _needs(kind)
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1500, 3)), rng.normal(size=(1500, 3))
    x, y = np.concatenate([a, b]), np.repeat([0, 1], 1500)
    w = np.concatenate([np.ones(1500), np.exp(1.0 * b[:, 0])])
    result = KFoldEnsemble(FAST[kind], n_folds=3).fit(x, y, w)
    unweighted = KFoldEnsemble(FAST[kind], n_folds=3).fit(x, y)
    scores = result.oof_scores
    # the weighted fit scores events with large x0 as class 1; the unweighted fit cannot
    assert np.corrcoef(scores[y == 1], b[:, 0])[0, 1] > 0.5
    assert abs(np.corrcoef(unweighted.oof_scores[y == 1], b[:, 0])[0, 1]) < 0.3


@pytest.mark.parametrize("kind", CLASSIFIER_KINDS)
def test_classifier_that_cannot_learn_says_so_and_returns_valid_scores(kind, caplog):
    _needs(kind)
    x, y = _toy(600, shift=0.0, seed=3)
    result = KFoldEnsemble(FAST[kind], n_folds=3).fit(x, y)
    assert np.isfinite(result.oof_scores).all()
    assert abs(result.auc - 0.5) < 0.05
    if not result.learned:
        assert "did not learn" in result.message


def test_bad_inputs_are_clear():
    x, y = _toy(4, shift=1.0)
    with pytest.raises(GbiInputError, match="too few to train a 5-fold classifier"):
        KFoldEnsemble().fit(x, y)
    x, y = _toy(100, shift=1.0)
    x[3, 1] = np.nan
    with pytest.raises(GbiInputError, match="1 of 200 events have NaN/inf"):
        KFoldEnsemble().fit(x, y)
    with pytest.raises(GbiInputError, match="labels: expected 0 and 1"):
        KFoldEnsemble().fit(x[:10], np.arange(10))
    with pytest.raises(GbiInputError, match="classifier kind"):
        ClassifierConfig(kind="svm")


def test_reweighting_closure():
    """Weighted generated events reproduce the reference; unweighted ones do not."""
    rng = np.random.default_rng(5)
    generated = rng.normal(0.0, 1.0, (6000, 2))
    reference = rng.normal([0.4, -0.3], [1.2, 0.9], (6000, 2))
    result = classifier_weights(generated, reference, FAST["hgb"], n_folds=3)
    assert result.weights.mean() == pytest.approx(1.0)
    assert result.fraction_clipped < 0.01

    edges = np.linspace(-3, 3, 13)
    for column in (0, 1):
        ref, _ = np.histogram(reference[:, column], edges)
        raw, _ = np.histogram(generated[:, column], edges)
        weighted, _ = np.histogram(generated[:, column], edges, weights=result.weights)
        sumw2, _ = np.histogram(generated[:, column], edges, weights=result.weights**2)
        ok = ref > 20
        chi2_weighted = np.sum((weighted - ref)[ok] ** 2 / (ref + sumw2)[ok]) / ok.sum()
        chi2_raw = np.sum((raw - ref)[ok] ** 2 / (ref + raw)[ok]) / ok.sum()
        assert chi2_weighted < 3.0, (column, chi2_weighted)
        assert chi2_raw > 5 * chi2_weighted, (column, chi2_raw, chi2_weighted)


def test_xgb_keeps_the_trees_after_the_best_iteration():
    """xgb grows HGB's model: early stopping keeps the ``hgb_patience`` trees after the best
    validation iteration, and scores use all of them (not xgboost's best-iteration default)."""
    _needs("xgb")
    from gbi.classifiers import make_classifier

    x, y = _toy(2000, shift=0.3, seed=1)
    xv, yv = _toy(2000, shift=0.3, seed=2)
    config = ClassifierConfig(kind="xgb", max_iter=300, hgb_patience=5)
    model = make_classifier(config).fit(x, y, np.ones(len(y)), xv, yv, np.ones(len(yv)))
    rounds = model.model.get_booster().num_boosted_rounds()
    assert rounds < config.max_iter  # stopped early: the patience trees follow the best one
    assert model.best_iteration == rounds == model.model.best_iteration + 1 + config.hgb_patience
    all_trees = model.model.predict_proba(x[:200].astype(np.float32), iteration_range=(0, rounds))
    np.testing.assert_array_equal(model.score(x[:200]), all_trees[:, 1])
    best_only = model.model.predict_proba(x[:200].astype(np.float32))[:, 1]
    assert not np.allclose(model.score(x[:200]), best_only)
