"""Two classifier families behind one small interface.

``fit(x, y, sample_weight, x_val, y_val, w_val)`` then ``score(x) -> P(y = 1 | x)``:

- ``"hgb"``: :class:`sklearn.ensemble.HistGradientBoostingClassifier` (fast on CPU, robust to
  noisy extra features), early stopping on the given validation set;
- ``"mlp"``: a PyTorch multilayer perceptron (GPU when present), inputs standardised, Adam,
  early stopping on the validation loss with best-epoch restore. Written here rather than
  taken from scikit-learn's ``MLPClassifier`` because that one has no sample weights, no GPU
  and no external validation set.

Both weight the classes to equal total weight ("balanced"), so a 1:4 data:generated mix
trains like 1:1; scores are then probabilities for balanced classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Protocol

import numpy as np

from gbi.errors import GbiInputError

__all__ = ["CLASSIFIER_KINDS", "BinaryClassifier", "ClassifierConfig", "make_classifier"]

CLASSIFIER_KINDS: tuple[str, ...] = ("hgb", "mlp")


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters; ``kind`` selects the family. Defaults are tuned for ~5 features."""

    kind: Literal["hgb", "mlp"] = "hgb"
    seed: int = 0
    # gradient boosting
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    # MLP
    hidden: tuple[int, ...] = (64, 64, 64)
    epochs: int = 100
    batch_size: int = 512
    lr: float = 1e-3
    patience: int = 8
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.kind not in CLASSIFIER_KINDS:
            raise GbiInputError(
                f"classifier kind: expected one of {CLASSIFIER_KINDS}, found {self.kind!r}"
            )


class BinaryClassifier(Protocol):
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        w_val: np.ndarray,
    ) -> BinaryClassifier: ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


def balanced_weights(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rescale ``weights`` so that both classes have the same total weight (mean 1).

    >>> balanced_weights(np.array([1, 0, 0, 0]), np.ones(4)).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    """
    out = np.asarray(weights, dtype=np.float64).copy()
    total = out.sum()
    for label in (0, 1):
        mask = y == label
        class_sum = out[mask].sum()
        if class_sum <= 0:
            raise GbiInputError(f"class {label} has no events (or zero total weight) to train on")
        out[mask] *= 0.5 * total / class_sum
    return out


class GradientBoosting:
    """HistGradientBoosting with early stopping on an external validation set."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.model: Any = None

    def fit(self, x, y, sample_weight, x_val, y_val, w_val):
        from sklearn.ensemble import HistGradientBoostingClassifier

        # sklearn's early stopping takes an internal split; use a fixed validation set
        # instead, by fitting with warm_start and checking the validation loss ourselves.
        cfg = self.config
        model = HistGradientBoostingClassifier(
            max_iter=cfg.max_iter,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.max_leaf_nodes,
            early_stopping=False,
            random_state=cfg.seed,
        )
        w_train = balanced_weights(y, sample_weight)
        w_valid = balanced_weights(y_val, w_val)
        with _threads_for(len(x)):
            model.fit(x, y, sample_weight=w_train)
            staged = model.staged_predict_proba(x_val)
            losses = [_log_loss(y_val, p[:, 1], w_valid) for p in staged]
            best = int(np.argmin(losses)) + 1
            if best < cfg.max_iter:
                model.set_params(max_iter=best)
                model.fit(x, y, sample_weight=w_train)
        self.model, self.best_iteration, self.val_loss = model, best, float(losses[best - 1])
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        with _threads_for(len(x)):
            return self.model.predict_proba(np.asarray(x, dtype=np.float64))[:, 1]


def _threads_for(n_events: int) -> Any:
    """One OpenMP thread for small samples: scikit-learn's HGB threads spin-wait, and on a
    busy 2-core machine a 1,600-event fit ran 15x slower with 2 threads than with 1."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1 if n_events < 20_000 else None, user_api="openmp")


def _log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w))


def make_classifier(config: ClassifierConfig) -> BinaryClassifier:
    """Return an untrained classifier of ``config.kind``."""
    if config.kind == "hgb":
        return GradientBoosting(config)
    from gbi.classifiers.mlp import MLPClassifier

    return MLPClassifier(config)
