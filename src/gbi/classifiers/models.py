"""Two classifier families behind one small interface.

``fit(x, y, sample_weight, x_val, y_val, w_val)`` then ``score(x) -> P(y = 1 | x)``:

- ``"hgb"``: :class:`sklearn.ensemble.HistGradientBoostingClassifier` (fast on CPU, robust to
  noisy extra features), early stopping on the given validation set;
- ``"xgb"``: :class:`xgboost.XGBClassifier` with the ``hist`` tree method, on CUDA when
  torch sees a GPU (``device``), early stopping on the given validation set; saved as
  xgboost's UBJSON model format (no pickle). Needs the ``gbi[xgboost]`` extra;
- ``"mlp"``: a PyTorch multilayer perceptron (GPU when present), inputs standardised, Adam,
  early stopping on the validation loss with best-epoch restore. Written here rather than
  taken from scikit-learn's ``MLPClassifier`` because that one has no sample weights, no GPU
  and no external validation set.

Both weight the classes to equal total weight ("balanced"), so a 1:4 data:generated mix
trains like 1:1; scores are then probabilities for balanced classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gbi.classifiers.config import (
    CLASSIFIER_KINDS,
    BinaryClassifier,
    ClassifierConfig,
    balanced_weights,
)

__all__ = ["CLASSIFIER_KINDS", "BinaryClassifier", "ClassifierConfig", "make_classifier"]


class GradientBoosting:
    """HistGradientBoosting with early stopping on an external validation set."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.model: Any = None

    def fit(self, x, y, sample_weight, x_val, y_val, w_val):
        from sklearn.ensemble import HistGradientBoostingClassifier

        # scikit-learn's own early stopping on the given validation set (X_val, y_val,
        # sample_weight_val): one fit, stopped once the weighted validation loss has not
        # improved for ``hgb_patience`` iterations; the model keeps those last iterations.
        cfg = self.config
        model = HistGradientBoostingClassifier(
            max_iter=cfg.max_iter,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.max_leaf_nodes,
            early_stopping=True,
            scoring="loss",
            n_iter_no_change=cfg.hgb_patience,
            random_state=cfg.seed,
        )
        w_train = balanced_weights(y, sample_weight)
        w_valid = balanced_weights(y_val, w_val)
        with _threads_for(len(x)):
            model.fit(
                x, y, sample_weight=w_train, X_val=x_val, y_val=y_val, sample_weight_val=w_valid
            )
        # validation_score_[i] is minus the validation loss after i iterations (0: none)
        self.model, self.best_iteration = model, int(model.n_iter_)
        self.val_loss = float(-model.validation_score_[-1])
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        with _threads_for(len(x)):
            return self.model.predict_proba(np.asarray(x, dtype=np.float64))[:, 1]


def _threads_for(n_events: int) -> Any:
    """One OpenMP thread for small samples: scikit-learn's HGB threads spin-wait, and on a
    busy 2-core machine a 1,600-event fit ran 15x slower with 2 threads than with 1."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1 if n_events < 20_000 else None, user_api="openmp")


class XGBoost:
    """xgboost's ``hist`` gradient boosting (CPU, or CUDA with ``device``), early stopping on
    an external validation set, grown like :class:`GradientBoosting` (HGB).

    The trees are HGB's: leaf-wise to ``max_leaf_nodes`` leaves with no depth limit, no L2
    penalty and about 20 events per leaf (``min_child_weight`` 5: a hessian ``p (1 - p)`` of
    0.25 per unit weight), and the model keeps every tree it grew, the ``hgb_patience``
    trees after the best iteration included, as HGB does, rather than stopping at the best
    one. In the weak-signal regime of anomaly detection the best iteration is often the first
    few trees, and xgboost's defaults (depth 6, L2 1, one tree up to the best) were measured
    less sensitive: idealized detector on the LHCO-style scan, 16 seeds, max SIC minus HGB's
    on the same data, -0.18 +- 0.12 (N = 1000) and -0.66 +- 0.25 (N = 300); with these
    settings +0.02 +- 0.08 and +0.13 +- 0.19, at a fifth of HGB's training time
    (``examples/lhco_injection_scan.py``; the README's classifier section).
    """

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.model: Any = None

    def fit(self, x, y, sample_weight, x_val, y_val, w_val):
        import torch

        from gbi.device import resolve_device

        xgboost = require_xgboost()
        cfg = self.config
        model = xgboost.XGBClassifier(
            n_estimators=cfg.max_iter,
            learning_rate=cfg.learning_rate,
            max_leaves=cfg.max_leaf_nodes,
            grow_policy="lossguide",
            max_depth=0,  # HGB's trees (class doc)
            reg_lambda=0.0,
            min_child_weight=5.0,
            tree_method="hist",
            device=resolve_device(cfg.device).type,
            early_stopping_rounds=cfg.hgb_patience,
            eval_metric="logloss",
            random_state=cfg.seed,
            n_jobs=torch.get_num_threads(),  # the stage's thread budget (gbi.threads)
        )
        model.fit(
            x,
            y,
            sample_weight=balanced_weights(y, sample_weight),
            eval_set=[(x_val, y_val)],
            sample_weight_eval_set=[balanced_weights(y_val, w_val)],
            verbose=False,
        )
        # every tree grown is kept (class doc): ``best_iteration`` counts them, as HGB's n_iter_
        self.model, self.best_iteration = model, int(model.get_booster().num_boosted_rounds())
        self.val_loss = float(model.best_score)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        # all trees, not xgboost's default of the best iteration's (class doc)
        rounds = int(self.model.get_booster().num_boosted_rounds())
        x = np.asarray(x, dtype=np.float32)
        return self.model.predict_proba(x, iteration_range=(0, rounds))[:, 1]


def require_xgboost() -> Any:
    """The ``xgboost`` module, or an ImportError that names the extra to install."""
    try:
        import xgboost
    except ImportError as err:
        raise ImportError(
            "classifier kind 'xgb' needs xgboost: pip install 'gbi[xgboost]'"
        ) from err
    return xgboost


def make_classifier(config: ClassifierConfig) -> BinaryClassifier:
    """Return an untrained classifier of ``config.kind``."""
    if config.kind == "hgb":
        return GradientBoosting(config)
    if config.kind == "xgb":
        return XGBoost(config)
    from gbi.classifiers.mlp import MLPClassifier

    return MLPClassifier(config)
