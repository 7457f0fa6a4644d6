"""The four detectors as one k-fold classification: a ``data`` class (label 1) against a
``background`` class (label 0), with per-method input maps.

Each :class:`MethodRun` keeps the fitted :class:`~gbi.classifiers.KFoldEnsemble`, the
out-of-fold scores of both training classes and the normalisation that turns a count of
background-class events into expected SR background events. Events outside training are
scored in two ways:

- :meth:`MethodRun.predict`: mean of the fold models (the test-set evaluation);
- :meth:`MethodRun.score_single`: each event by one randomly assigned fold model, which is
  distributed exactly like the out-of-fold scores of the training events, so that one score
  threshold means the same efficiency in the SR (out-of-fold) and in the sidebands.

>>> rng = np.random.default_rng(0)
>>> x1, x0 = rng.normal(1, 1, (400, 2)), rng.normal(0, 1, (800, 2))
>>> run = train_method("toy", x1, x0, ClassifierConfig(max_iter=20), n_folds=3, norm=0.5)
>>> run.status, run.data_scores.shape, run.background_scores.shape
('ok', (400,), (800,))
>>> run.score_single(x0[:5], seed=0).shape
(5,)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np

from gbi.classifiers import ClassifierConfig, KFoldEnsemble, KFoldResult
from gbi.errors import GbiInputError

__all__ = ["MethodRun", "skipped", "train_method"]

log = logging.getLogger(__name__)

#: Maps a table ``{column: (n,)}`` to classifier inputs ``(n, d)``.
InputMap = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclasses.dataclass
class MethodRun:
    """Outcome of one detector; ``status`` is ``ok``, ``not_learned`` or ``skipped``."""

    name: str
    status: str
    message: str
    ensemble: KFoldEnsemble | None = None
    result: KFoldResult | None = None
    data_scores: np.ndarray | None = None  # (n_data_class,), out-of-fold
    background_scores: np.ndarray | None = None  # (n_background_class,), out-of-fold
    norm: float = 1.0  # expected SR background events per background-class event
    inputs: InputMap | None = None
    seconds: float = 0.0
    n_train: tuple[int, int] = (0, 0)  # (data class, background class)

    @property
    def usable(self) -> bool:
        return self.ensemble is not None and bool(self.ensemble.models)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fold-mean score of events not used in training, shape ``(n,)``."""
        assert self.ensemble is not None
        return self.ensemble.predict(x)

    def score_single(self, x: np.ndarray, seed: int) -> np.ndarray:
        """Score each event with one random fold model (distributed like out-of-fold)."""
        assert self.ensemble is not None
        models = self.ensemble.models
        which = np.random.default_rng(seed).integers(len(models), size=len(x))
        out = np.empty(len(x))
        for k, model in enumerate(models):
            mask = which == k
            if mask.any():
                out[mask] = model.score(np.asarray(x[mask], dtype=np.float64))
        return out

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "status": self.status,
            "message": self.message,
            "train_seconds": self.seconds,
            "n_train_data_class": self.n_train[0],
            "n_train_background_class": self.n_train[1],
            "norm": self.norm,
        }
        if self.result is not None:
            out["classifier"] = self.result.to_dict()
        return out


def skipped(name: str, message: str) -> MethodRun:
    """A method that could not run, with the reason."""
    log.warning("%s: skipped: %s", name, message)
    return MethodRun(name, "skipped", message)


def train_method(
    name: str,
    x_data: np.ndarray,
    x_background: np.ndarray,
    config: ClassifierConfig,
    *,
    n_folds: int = 5,
    norm: float = 1.0,
    inputs: InputMap | None = None,
    min_events: int = 100,
) -> MethodRun:
    """k-fold train ``x_data`` (label 1, shape ``(n1, d)``) vs ``x_background`` (label 0).

    Too few events in a class give a ``skipped`` run; a classifier whose held-out AUC is
    compatible with 0.5 gives ``not_learned`` (scores kept, but they carry no information).
    """
    n1, n0 = len(x_data), len(x_background)
    for label, count in (("data", n1), ("background", n0)):
        if count < max(min_events, 2 * n_folds):
            return skipped(
                name,
                f"the {label} class has {count} events in the signal region: too few to "
                f"train a {n_folds}-fold classifier (expected at least {max(min_events, 2 * n_folds)})",
            )
    x = np.concatenate([x_data, x_background]).astype(np.float64)
    y = np.concatenate([np.ones(n1), np.zeros(n0)])
    start = time.perf_counter()
    ensemble = KFoldEnsemble(config, n_folds=n_folds)
    try:
        result = ensemble.fit(x, y)
    except GbiInputError as err:
        return skipped(name, str(err))
    seconds = time.perf_counter() - start
    status = "ok" if result.learned else "not_learned"
    message = f"{name}: {result.message}"
    log.info("%s (%.1f s, %d vs %d events)", message, seconds, n1, n0)
    return MethodRun(
        name,
        status,
        message,
        ensemble,
        result,
        result.oof_scores[:n1],
        result.oof_scores[n1:],
        norm,
        inputs,
        seconds,
        (n1, n0),
    )
