"""Detector performance on a labelled test set: ROC, SIC, max SIC, background rejection.

``SIC = TPR / sqrt(FPR)`` is the factor by which a cut improves the significance
``S / sqrt(B)``. At low FPR only a handful of background events pass and the SIC is pure
fluctuation, so a working point counts only when ``FPR >= min_fpr`` *and* at least
``min_background`` background test events pass; :func:`max_sic` reports whether any point
qualified (``reliable``).

>>> rng = np.random.default_rng(0)
>>> labels = np.repeat([0, 1], [20000, 2000])
>>> scores = np.concatenate([rng.normal(0, 1, 20000), rng.normal(2, 1, 2000)])
>>> perf = evaluate(labels, scores)
>>> round(perf["auc"], 2), 3.5 < perf["max_sic"] < 5.5, perf["max_sic_reliable"]
(0.92, True, True)
>>> summarize([1.0, 2.0, 3.0, 4.0, 5.0])["median"]
3.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["evaluate", "max_sic", "roc_sic", "summarize"]


def roc_sic(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """ROC with scikit-learn's ``roc_curve``: ``fpr``, ``tpr``, ``thresholds``, ``sic``,
    and ``n_background_pass`` (background test events above each threshold)."""
    from sklearn.metrics import roc_curve

    labels = np.asarray(labels).astype(np.int64)
    # keep every threshold: on a flat stretch of the ROC the best admissible point (first one
    # with enough background) can be an "intermediate" point that drop_intermediate removes
    fpr, tpr, thresholds = roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = np.where(fpr > 0, tpr / np.sqrt(fpr), np.nan)
    n_bkg = int((labels == 0).sum())
    return {
        "fpr": fpr,
        "tpr": tpr,
        "thresholds": thresholds,
        "sic": sic,
        "n_background_pass": fpr * n_bkg,
    }


def max_sic(
    roc: dict[str, np.ndarray], min_fpr: float = 1e-4, min_background: float = 20.0
) -> dict[str, Any]:
    """Largest SIC over working points with ``FPR >= min_fpr`` and enough background."""
    ok = (roc["fpr"] >= min_fpr) & (roc["n_background_pass"] >= min_background)
    ok &= np.isfinite(roc["sic"])
    if not ok.any():
        return {"max_sic": math.nan, "tpr": math.nan, "fpr": math.nan, "reliable": False}
    index = np.flatnonzero(ok)[np.argmax(roc["sic"][ok])]
    return {
        "max_sic": float(roc["sic"][index]),
        "tpr": float(roc["tpr"][index]),
        "fpr": float(roc["fpr"][index]),
        "reliable": True,
    }


def _rejection_at(roc: dict[str, np.ndarray], tpr: float) -> float:
    index = np.searchsorted(roc["tpr"], tpr, side="left")
    if index >= len(roc["tpr"]):
        return math.nan
    fpr = roc["fpr"][index]
    return float(1.0 / fpr) if fpr > 0 else math.inf


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    min_fpr: float = 1e-4,
    min_background: float = 20.0,
    curve_points: int = 200,
) -> dict[str, Any]:
    """AUC, max SIC (with its TPR/FPR), rejection ``1/FPR`` at TPR 0.2 and 0.5, and a
    down-sampled SIC-vs-TPR curve (only reliable points) for plots."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).astype(np.int64)
    n_sig, n_bkg = int((labels == 1).sum()), int((labels == 0).sum())
    if n_sig == 0 or n_bkg == 0:
        return {
            "auc": math.nan,
            "max_sic": math.nan,
            "max_sic_reliable": False,
            "message": f"test set has {n_sig} signal and {n_bkg} background events: no ROC",
            "n_signal": n_sig,
            "n_background": n_bkg,
        }
    roc = roc_sic(labels, scores)
    best = max_sic(roc, min_fpr, min_background)
    ok = (roc["n_background_pass"] >= min_background) & (roc["fpr"] >= min_fpr)
    idx = np.flatnonzero(ok)
    if len(idx) > curve_points:
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, curve_points).astype(int))]
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "max_sic": best["max_sic"],
        "max_sic_tpr": best["tpr"],
        "max_sic_fpr": best["fpr"],
        "max_sic_reliable": best["reliable"],
        "rejection_at_tpr_0.2": _rejection_at(roc, 0.2),
        "rejection_at_tpr_0.5": _rejection_at(roc, 0.5),
        "n_signal": n_sig,
        "n_background": n_bkg,
        "min_fpr": min_fpr,
        "min_background": min_background,
        "curve": {
            "tpr": roc["tpr"][idx].tolist(),
            "fpr": roc["fpr"][idx].tolist(),
            "sic": roc["sic"][idx].tolist(),
        },
    }


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median and 68% band (16th, 84th percentiles) over independent runs; NaNs ignored."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return {"median": math.nan, "q16": math.nan, "q84": math.nan, "n": 0}
    q16, med, q84 = np.percentile(v, [16, 50, 84])
    return {"median": float(med), "q16": float(q16), "q84": float(q84), "n": len(v)}
