"""Closure tests of the fidelity metrics on toys with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.metrics import amplification_factor, c2st, feature_divergences


def test_c2st_is_half_for_one_distribution_and_above_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    same = c2st(rng.normal(size=(6000, 3)), rng.normal(size=(6000, 3)), n_folds=4, seed=1)
    assert abs(same.auc - 0.5) < 4 * same.auc_err + 0.01
    assert 0 < same.auc_err < 0.02
    assert len(same.fold_aucs) == 4
    assert same.weights.shape == (6000,)
    assert np.median(same.weights) == pytest.approx(1.0, abs=0.15)

    shifted = rng.normal(size=(6000, 3))
    shifted[:, 0] += 0.5
    moved = c2st(rng.normal(size=(6000, 3)), shifted, n_folds=4, seed=1)
    assert moved.auc > 0.55
    assert moved.auc > same.auc + 5 * moved.auc_err
    summary = moved.to_dict()
    assert {"c2st_auc", "c2st_auc_err", "classifier_weights"} <= set(summary)


def test_c2st_never_scores_training_events() -> None:
    """Memorisable data: a classifier scored on its own training set would give AUC ~ 1."""
    rng = np.random.default_rng(3)
    real = rng.normal(size=(3000, 2))
    generated = rng.normal(size=(3000, 2))
    from sklearn.ensemble import RandomForestClassifier

    result = c2st(
        real,
        generated,
        n_folds=3,
        classifier=RandomForestClassifier(n_estimators=30, random_state=0),
    )
    assert result.auc < 0.56


def test_c2st_bad_input() -> None:
    with pytest.raises(GbiInputError, match="same number of features"):
        c2st(np.zeros((20, 2)), np.zeros((20, 3)))
    with pytest.raises(GbiInputError, match="expected >= 10 events per sample, found 4"):
        c2st(np.zeros((4, 1)), np.zeros((4, 1)))


def test_divergences_small_for_same_large_for_shifted() -> None:
    rng = np.random.default_rng(0)
    real = {"x": rng.normal(size=20000)}
    same = feature_divergences(real, {"x": rng.normal(size=20000)})["x"]
    shifted = feature_divergences(real, {"x": rng.normal(0.2, 1.0, size=20000)})["x"]
    assert same["kl"] < 0.005
    assert same["chi2_pvalue"] > 1e-3
    assert shifted["kl"] > 5 * same["kl"]
    assert shifted["hellinger"] > same["hellinger"]
    assert shifted["chi2_ndf"] > 5
    assert shifted["wasserstein"] == pytest.approx(0.2, abs=0.03)
    assert shifted["wasserstein_over_std"] == pytest.approx(0.2, abs=0.03)


def test_amplification_factor_closure_on_a_resampling_generator() -> None:
    """A generator that resamples its n training events is worth about n events: A ~ 1."""
    rng = np.random.default_rng(4)
    factors = []
    for _ in range(4):
        train = rng.exponential(size=1000)
        generated = rng.choice(train, size=400_000)
        result = amplification_factor(
            generated, rng.exponential(size=400_000), n_train=1000, bins=20
        )
        assert not result.lower_limit
        factors.append(result.factor)
    assert np.mean(factors) == pytest.approx(1.0, abs=0.3)


def test_amplification_factor_of_a_smoothed_generator_and_a_perfect_one() -> None:
    rng = np.random.default_rng(5)
    train = rng.normal(size=1000)
    # a Gaussian fit of the training data knows the shape: it is worth more than its events
    fit = rng.normal(train.mean(), train.std(), size=400_000)
    smooth = amplification_factor(fit, rng.normal(size=400_000), n_train=1000)
    assert smooth.factor > 2
    perfect = amplification_factor(rng.normal(size=100_000), rng.normal(size=100_000), n_train=1000)
    assert perfect.lower_limit
    assert perfect.factor > 10
    with pytest.raises(GbiInputError, match="n_train >= 1"):
        amplification_factor(np.zeros(10), np.zeros(10), n_train=0)
