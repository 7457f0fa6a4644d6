"""Classifier two-sample test (C2ST) of generated versus real events.

A gradient-boosted tree classifier (:class:`sklearn.ensemble.HistGradientBoostingClassifier`)
is trained to separate real from generated events with stratified k-fold cross-validation:
every event is scored by a classifier that never saw it. The test statistic is the ROC AUC
on the held-out folds (0.5 = indistinguishable), quoted as the mean of the fold AUCs with
the standard error of that mean. The classifier output ``f`` on held-out generated events
gives the weights ``w = f / (1 - f)`` that would morph generated into real events; their
spread around 1 is a per-event fidelity measure.

The real sample given here must be independent of the flow's training data.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> same = c2st(rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)), n_folds=3, seed=0)
>>> abs(same.auc - 0.5) < 0.03
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gbi.errors import GbiInputError

__all__ = ["C2STResult", "c2st", "weight_summary"]


@dataclasses.dataclass
class C2STResult:
    """AUC (mean over folds) with its standard error, fold AUCs and held-out weights."""

    auc: float
    auc_err: float
    fold_aucs: list[float]
    n_real: int
    n_generated: int
    weights: np.ndarray  # w = f/(1-f) on held-out generated events, shape (n_generated,)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (weights summarised, not listed)."""
        return {
            "c2st_auc": self.auc,
            "c2st_auc_err": self.auc_err,
            "c2st_fold_aucs": self.fold_aucs,
            "c2st_n_real": self.n_real,
            "c2st_n_generated": self.n_generated,
            "classifier_weights": weight_summary(self.weights),
        }


def weight_summary(weights: np.ndarray) -> dict[str, Any]:
    """Mean, std, quantiles and tail fractions of classifier weights (ideal: all 1)."""
    w = np.asarray(weights, dtype=np.float64)
    q = np.quantile(w, [0.01, 0.16, 0.5, 0.84, 0.99])
    edges = np.linspace(0.0, 3.0, 31)
    counts, _ = np.histogram(np.clip(w, 0.0, 3.0 - 1e-9), edges)
    return {
        "mean": float(w.mean()),
        "std": float(w.std()),
        "quantiles": dict(zip(["q01", "q16", "q50", "q84", "q99"], map(float, q), strict=True)),
        "fraction_below_0.5": float(np.mean(w < 0.5)),
        "fraction_above_2": float(np.mean(w > 2.0)),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def c2st(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    n_folds: int = 5,
    seed: int = 0,
    max_iter: int = 200,
    classifier: Any = None,
    n_threads: int | None = 1,
) -> C2STResult:
    """Classifier two-sample test on ``real`` and ``generated`` arrays of shape ``(n, d)``.

    The larger sample is subsampled to the size of the smaller (balanced classes).
    ``classifier`` may be any scikit-learn classifier with ``predict_proba``. ``n_threads``
    caps the OpenMP/BLAS threads of the fits (``None``: no cap); one thread is the default
    because oversubscribed OpenMP on a shared machine is many times slower than one thread.
    """
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    real = np.asarray(real, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    if real.ndim == 1:
        real, generated = real[:, None], generated[:, None]
    if real.shape[1] != generated.shape[1]:
        raise GbiInputError(
            f"c2st: expected real and generated with the same number of features, found "
            f"{real.shape[1]} and {generated.shape[1]}"
        )
    rng = np.random.default_rng(seed)
    n = min(len(real), len(generated))
    if n < 2 * n_folds:
        raise GbiInputError(f"c2st: expected >= {2 * n_folds} events per sample, found {n}")
    real = real[rng.permutation(len(real))[:n]]
    generated = generated[rng.permutation(len(generated))[:n]]
    x = np.concatenate([real, generated])
    y = np.concatenate([np.ones(n), np.zeros(n)])
    base = (
        classifier
        if classifier is not None
        else HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)
    )
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    aucs, f_gen = [], np.empty(n)
    for train_idx, test_idx in folds.split(x, y):
        with threadpool_limits(limits=n_threads):
            model = clone(base).fit(x[train_idx], y[train_idx])
            f = model.predict_proba(x[test_idx])[:, 1]
        aucs.append(float(roc_auc_score(y[test_idx], f)))
        gen = test_idx[y[test_idx] == 0]
        f_gen[gen - n] = f[y[test_idx] == 0]
    f_gen = np.clip(f_gen, 1e-6, 1 - 1e-6)
    return C2STResult(
        auc=float(np.mean(aucs)),
        auc_err=float(np.std(aucs, ddof=1) / np.sqrt(len(aucs))),
        fold_aucs=aucs,
        n_real=n,
        n_generated=n,
        weights=f_gen / (1.0 - f_gen),
    )
