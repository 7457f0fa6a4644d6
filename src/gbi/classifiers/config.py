"""Classifier settings, the fit/score interface and class balancing: the pieces both model
families (:mod:`gbi.classifiers.models` and :mod:`gbi.classifiers.mlp`) use, in a module
that imports neither of them (no import cycle).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol

import numpy as np

from gbi.errors import GbiInputError

__all__ = [
    "CLASSIFIER_KINDS",
    "BinaryClassifier",
    "ClassifierConfig",
    "balanced_weights",
]

CLASSIFIER_KINDS: tuple[str, ...] = ("hgb", "xgb", "mlp")


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters; ``kind`` selects the family. Defaults are tuned for ~5 features."""

    kind: Literal["hgb", "xgb", "mlp"] = "hgb"
    seed: int = 0
    # gradient boosting (hgb and xgb)
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    #: iterations without a lower validation loss before gradient boosting (hgb, xgb) stops
    hgb_patience: int = 5
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
