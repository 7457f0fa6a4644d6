"""k-fold classifier ensembles: every training event is scored by a model that did not see it.

The events are split into ``n_folds`` stratified folds. For each fold, a model is trained on
the other folds (with a stratified validation split of them for early stopping) and scores
the held-out fold. The out-of-fold scores are the honest per-event output for the training
events themselves (anomaly scores of the data in the signal region, weights of generated
events); new events are scored by the mean of the fold models.

>>> rng = np.random.default_rng(1)
>>> x = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(1, 1, (300, 2))])
>>> y = np.repeat([0, 1], 300)
>>> result = KFoldEnsemble(ClassifierConfig(kind="hgb", max_iter=30), n_folds=3).fit(x, y)
>>> result.learned, 0.7 < result.auc < 0.85
(True, True)
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from gbi.classifiers.config import BinaryClassifier, ClassifierConfig
from gbi.classifiers.models import make_classifier
from gbi.errors import GbiInputError

__all__ = ["KFoldEnsemble", "KFoldResult"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class KFoldResult:
    """Out-of-fold scores of the training events and the held-out AUCs."""

    oof_scores: np.ndarray  # shape (n_events,), P(y=1|x) for balanced classes
    fold_aucs: list[float]
    auc: float
    auc_err: float
    learned: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "auc_err": self.auc_err,
            "fold_aucs": self.fold_aucs,
            "learned": self.learned,
            "message": self.message,
        }


class KFoldEnsemble:
    """``n_folds`` models of one kind trained on complementary folds."""

    def __init__(
        self, config: ClassifierConfig | None = None, n_folds: int = 5, val_fraction: float = 0.2
    ) -> None:
        if n_folds < 2:
            raise GbiInputError(f"n_folds: expected at least 2, found {n_folds}")
        if not 0 < val_fraction < 0.5:
            raise GbiInputError(f"val_fraction: expected in (0, 0.5), found {val_fraction}")
        self.config = config or ClassifierConfig()
        self.n_folds = n_folds
        self.val_fraction = val_fraction
        self.models: list[BinaryClassifier] = []

    def fit(
        self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> KFoldResult:
        """Train on ``x`` (shape ``(n, d)``) with labels ``y`` in {0, 1}; return out-of-fold scores."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, train_test_split

        x, y, w = _validated(x, y, sample_weight, self.n_folds)
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.config.seed)
        scores = np.empty(len(y))
        aucs: list[float] = []
        self.models = []
        for index, (train_idx, test_idx) in enumerate(folds.split(x, y)):
            fit_idx, val_idx = train_test_split(
                train_idx,
                test_size=self.val_fraction,
                stratify=y[train_idx],
                random_state=self.config.seed + index,
            )
            config = dataclasses.replace(self.config, seed=self.config.seed + 1000 * index)
            model = make_classifier(config).fit(
                x[fit_idx], y[fit_idx], w[fit_idx], x[val_idx], y[val_idx], w[val_idx]
            )
            scores[test_idx] = model.score(x[test_idx])
            aucs.append(
                float(roc_auc_score(y[test_idx], scores[test_idx], sample_weight=w[test_idx]))
            )
            self.models.append(model)
        auc = float(np.mean(aucs))
        auc_err = float(np.std(aucs, ddof=1) / np.sqrt(len(aucs)))
        learned = auc - 0.5 > 2.0 * max(auc_err, 1e-3)
        message = (
            f"held-out AUC {auc:.4f} +- {auc_err:.4f}"
            if learned
            else f"the classifier did not learn to separate the two classes (held-out AUC "
            f"{auc:.4f} +- {auc_err:.4f}, compatible with 0.5): its scores carry no information"
        )
        if not learned:
            log.warning(message)
        return KFoldResult(scores, aucs, auc, auc_err, learned, message)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Mean score of the fold models for events not used in training, shape ``(n,)``."""
        if not self.models:
            raise GbiInputError("the ensemble is not trained: call fit() first")
        x = np.asarray(x, dtype=np.float64)
        return np.mean([model.score(x) for model in self.models], axis=0)


def _validated(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None, n_folds: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    y = np.asarray(y).astype(np.int64)
    if len(x) != len(y):
        raise GbiInputError(
            f"expected one label per event, found {len(x)} events and {len(y)} labels"
        )
    if not set(np.unique(y)) <= {0, 1}:
        raise GbiInputError(f"labels: expected 0 and 1, found {sorted(set(np.unique(y)))}")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    bad = ~np.isfinite(x).all(axis=1) | ~np.isfinite(w)
    if bad.any():
        raise GbiInputError(
            f"{int(bad.sum())} of {len(x)} events have NaN/inf features or weights; drop them first"
        )
    for label in (0, 1):
        count = int((y == label).sum())
        if count < 2 * n_folds:
            raise GbiInputError(
                f"class {label} has {count} events: too few to train a {n_folds}-fold classifier "
                f"(expected at least {2 * n_folds}, ideally thousands)"
            )
    return x, y, w
