"""Classifier reweighting (DCTR): weights that morph a generated sample into a reference one.

A classifier trained with balanced classes to separate reference (label 1) from generated
(label 0) events estimates ``f(x) = p_ref(x) / (p_ref(x) + p_gen(x))``, so
``w(x) = f / (1 - f) = p_ref(x) / p_gen(x)``: weighting generated events by ``w`` reproduces
the reference distribution. Weights of the generated training events come from out-of-fold
scores; large weights are clipped at ``clip`` and the clipped fraction is reported.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gbi.classifiers.kfold import KFoldEnsemble, KFoldResult
from gbi.classifiers.models import ClassifierConfig

__all__ = ["ReweightResult", "classifier_weights", "scores_to_weights"]


def scores_to_weights(scores: np.ndarray, clip: float = 20.0) -> tuple[np.ndarray, float]:
    """``w = f / (1 - f)`` clipped to ``[0, clip]``; returns weights and the clipped fraction.

    >>> w, frac = scores_to_weights(np.array([0.5, 0.75, 0.999]), clip=10.0)
    >>> w.tolist(), round(frac, 3)
    ([1.0, 3.0, 10.0], 0.333)
    """
    f = np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1 - 1e-12)
    raw = f / (1.0 - f)
    clipped = raw > clip
    return np.minimum(raw, clip), float(clipped.mean()) if len(raw) else 0.0


@dataclasses.dataclass
class ReweightResult:
    """Weights for the generated events (out-of-fold), the ensemble, and diagnostics."""

    weights: np.ndarray  # shape (n_generated,), mean ~ 1 when normalised
    fraction_clipped: float
    clip: float
    classifier: KFoldResult
    ensemble: KFoldEnsemble
    norm: float = 1.0  # factor applied to the raw weights to make their mean 1

    def weights_for(self, generated: np.ndarray) -> np.ndarray:
        """Weights for new generated events (not used in training), normalised like ``weights``."""
        w, _ = scores_to_weights(self.ensemble.predict(generated), self.clip)
        return w * self.norm

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction_clipped": self.fraction_clipped,
            "clip": self.clip,
            "weight_mean": float(self.weights.mean()),
            "weight_std": float(self.weights.std()),
            "classifier": self.classifier.to_dict(),
        }


def classifier_weights(
    generated: np.ndarray,
    reference: np.ndarray,
    config: ClassifierConfig | None = None,
    n_folds: int = 5,
    clip: float = 20.0,
    normalize: bool = True,
) -> ReweightResult:
    """Train reference-vs-generated and return weights for the generated events.

    ``generated`` and ``reference`` have shape ``(n, d)``. With ``normalize`` the weights are
    scaled to mean 1 so that the weighted generated sample keeps its yield.
    """
    generated = np.asarray(generated, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    x = np.concatenate([generated, reference])
    y = np.concatenate([np.zeros(len(generated)), np.ones(len(reference))])
    ensemble = KFoldEnsemble(config or ClassifierConfig(), n_folds=n_folds)
    result = ensemble.fit(x, y)
    weights, fraction = scores_to_weights(result.oof_scores[: len(generated)], clip)
    norm = 1.0 / weights.mean() if normalize and weights.mean() > 0 else 1.0
    return ReweightResult(weights * norm, fraction, clip, result, ensemble, norm)
