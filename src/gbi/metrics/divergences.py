"""Per-feature 1D divergences between a real and a generated sample.

Histogram-based measures use one shared binning (quantiles of the real sample, so every bin
is populated); the Wasserstein-1 distance is unbinned (:func:`scipy.stats.wasserstein_distance`,
in the feature's units, and divided by the real sample's standard deviation).

=============== ==========================================================================
measure         definition on normalised bin contents ``p`` (real) and ``q`` (generated)
=============== ==========================================================================
``kl``          ``KL(p || q) = sum p log(p / q)`` (nats; :func:`scipy.stats.entropy`; empty
                generated bins get a floor of 0.5 events so the value stays finite)
``hellinger``   ``sqrt(1 - sum sqrt(p q))``, in [0, 1]
``chi2_ndf``    two-sample chi2 of the counts per degree of freedom, sparse bins merged
                (:func:`gbi.metrics.chi2.chi2_compare`, the statistic of ``gbi detect``)
``wasserstein`` ``W1`` of the unbinned samples
=============== ==========================================================================

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> d = feature_divergences({"x": rng.normal(size=20000)}, {"x": rng.normal(size=20000)})
>>> d["x"]["chi2_ndf"] < 2, d["x"]["hellinger"] < 0.05
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from gbi.errors import GbiInputError
from gbi.metrics.chi2 import chi2_compare

__all__ = ["bin_counts", "feature_divergences", "histogram_divergences", "shared_edges"]


def shared_edges(reference: np.ndarray, bins: int = 40) -> np.ndarray:
    """Bin edges at the quantiles of ``reference`` (shape ``(n,)``), open-ended outer bins.

    >>> shared_edges(np.arange(10.0), bins=2).tolist()
    [-inf, 4.5, inf]
    """
    reference = np.asarray(reference, dtype=np.float64)
    inner = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate([[-np.inf], inner, [np.inf]])


def bin_counts(
    values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of weights and of squared weights per bin (``np.histogram``: bins ``[e_i, e_{i+1})``,
    infinite outer edges make open outer bins); NaN or infinite values are an error.

    >>> bin_counts(np.array([-5.0, 0.0, 3.0]), np.array([-np.inf, 0.0, np.inf]))[0].tolist()
    [1.0, 2.0]
    """
    values = np.asarray(values, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise GbiInputError(f"binning: expected finite values, found {bad} NaN or infinite")
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.histogram(values, edges, weights=w)[0], np.histogram(values, edges, weights=w * w)[0]


def histogram_divergences(
    real: np.ndarray,
    generated: np.ndarray,
    edges: np.ndarray,
    real_weights: np.ndarray | None = None,
    generated_weights: np.ndarray | None = None,
) -> dict[str, float]:
    """KL, Hellinger and chi2/ndf between two samples (shape ``(n,)``) on ``edges``.

    The chi2 is :func:`gbi.metrics.chi2.chi2_compare` of the real counts against the
    generated ones scaled to the real total (one constraint: the normalisation).
    """
    n_r, v_r = bin_counts(real, edges, real_weights)
    n_g, v_g = bin_counts(generated, edges, generated_weights)
    if n_r.sum() <= 0 or n_g.sum() <= 0:
        raise GbiInputError("divergences: expected non-empty real and generated samples")
    p = n_r / n_r.sum()
    floor = 0.5 * (n_g.sum() / max(len(generated), 1))
    q = np.maximum(n_g, floor) / np.maximum(n_g, floor).sum()
    hellinger = float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(p * (n_g / n_g.sum()))))))
    scale = n_r.sum() / n_g.sum()
    chi2 = chi2_compare(n_r, scale * n_g, scale**2 * v_g, n_constraints=1, observed_var=v_r)
    return {
        "kl": float(stats.entropy(p, q)),
        "hellinger": hellinger,
        "chi2": chi2["chi2"],
        "ndf": chi2["ndf"],
        "chi2_ndf": chi2["chi2_ndf"],
        "chi2_pvalue": chi2["p_value"],
    }


def feature_divergences(
    real: Mapping[str, Any],
    generated: Mapping[str, Any],
    columns: Sequence[str] | None = None,
    bins: int = 40,
    real_weights: np.ndarray | None = None,
    generated_weights: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Divergences of every column: ``{column: {kl, hellinger, chi2, ndf, chi2_ndf, ...,
    wasserstein, wasserstein_over_std}}``; binning from quantiles of ``real``."""
    columns = list(columns) if columns is not None else [c for c in real if c in generated]
    missing = [c for c in columns if c not in real or c not in generated]
    if missing:
        raise GbiInputError(
            f"divergences: expected columns {missing} in both samples, found them missing"
        )
    out: dict[str, dict[str, float]] = {}
    for column in columns:
        r = np.asarray(real[column], dtype=np.float64)
        g = np.asarray(generated[column], dtype=np.float64)
        edges = shared_edges(r, bins)
        result = histogram_divergences(r, g, edges, real_weights, generated_weights)
        w1 = float(stats.wasserstein_distance(r, g, real_weights, generated_weights))
        result["wasserstein"] = w1
        result["wasserstein_over_std"] = w1 / (float(np.std(r)) or 1.0)
        out[column] = result
    return out
