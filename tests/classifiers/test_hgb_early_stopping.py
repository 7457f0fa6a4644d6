"""Gradient boosting stops early with scikit-learn's own ``X_val``/``y_val`` (one fit).

The reference is the procedure gbi used before: fit to ``max_iter``, find the iteration with
the lowest weighted validation loss from ``staged_predict_proba``, fit again to that
iteration. scikit-learn stops ``hgb_patience`` iterations after its best one and keeps them,
so the two models differ slightly; the test bounds the difference at the default settings:
the held-out loss within 1% and the held-out AUC within 0.003 of the reference (measured on
this toy: +0.3% and -0.0006, with 32 boosting iterations in one fit instead of 300 + 27).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from gbi.classifiers import ClassifierConfig
from gbi.classifiers.config import balanced_weights
from gbi.classifiers.models import make_classifier


def _toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    x = rng.normal(size=(n, 4))
    x[y == 1, :2] += 0.6
    x[y == 1, 2] *= 1.5
    return x, y


def _loss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w))


def _old_two_fits(cfg: ClassifierConfig, x, y, xv, yv) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(
        max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate,
        max_leaf_nodes=cfg.max_leaf_nodes,
        early_stopping=False,
        random_state=cfg.seed,
    )
    w, wv = balanced_weights(y, np.ones(len(y))), balanced_weights(yv, np.ones(len(yv)))
    model.fit(x, y, sample_weight=w)
    losses = [_loss(yv, p[:, 1], wv) for p in model.staged_predict_proba(xv)]
    best = int(np.argmin(losses)) + 1
    model.set_params(max_iter=best)
    return model.fit(x, y, sample_weight=w)


def test_one_fit_matches_the_old_two_fit_early_stopping():
    cfg = ClassifierConfig(kind="hgb", seed=3)
    x, y = _toy(6000, 1)
    xv, yv = _toy(3000, 2)
    xt, yt = _toy(20000, 3)
    new = make_classifier(cfg).fit(x, y, np.ones(len(y)), xv, yv, np.ones(len(yv)))
    old = _old_two_fits(cfg, x, y, xv, yv)
    assert new.best_iteration < cfg.max_iter  # it did stop early
    wt = balanced_weights(yt, np.ones(len(yt)))
    p_new, p_old = new.score(xt), old.predict_proba(xt)[:, 1]
    assert abs(_loss(yt, p_new, wt) / _loss(yt, p_old, wt) - 1) < 0.01
    assert abs(roc_auc_score(yt, p_new) - roc_auc_score(yt, p_old)) < 0.003
    # the reported validation loss is the kept model's weighted loss on the validation set
    wv = balanced_weights(yv, np.ones(len(yv)))
    assert abs(new.val_loss - _loss(yv, new.score(xv), wv)) < 1e-6


def test_validation_weights_steer_the_stopping():
    cfg = ClassifierConfig(kind="hgb", seed=0, max_iter=200)
    x, y = _toy(4000, 5)
    xv, yv = _toy(2000, 6)
    a = make_classifier(cfg).fit(x, y, np.ones(len(y)), xv, yv, np.ones(len(yv)))
    w = np.where(np.abs(xv[:, 3]) > 1.5, 50.0, 1.0)  # weight events where there is no signal
    b = make_classifier(cfg).fit(x, y, np.ones(len(y)), xv, yv, w)
    assert a.val_loss != b.val_loss
