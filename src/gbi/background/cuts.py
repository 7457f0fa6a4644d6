"""Score cuts at fixed background efficiency and the SR background estimate of each cut.

A cut "keep a fraction ``eps`` of the background" is the ``1 - eps`` quantile of the
out-of-fold scores of the background-class training events (generated events for CATHODE).
The SR background estimate for the cut is ``n_pass * norm`` (generated events passing times
expected SR background events per generated event) with the binomial error of ``n_pass``
and the Poisson error of the normalisation added in quadrature. Scores are dimensionless,
estimates in events.

>>> scores = np.linspace(0, 1, 1001)
>>> thresholds(scores, [0.1]).round(3).tolist()
[0.9]
>>> est = background_estimates(scores, thresholds(scores, [0.1]), norm=0.5, n_norm=500)
>>> est[0]["n_pass"], round(est[0]["estimate"], 1)
(100, 50.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gbi.metrics.ensembles import ensemble_error

__all__ = ["add_generator_errors", "background_estimates", "cut_label", "thresholds"]


def cut_label(efficiency: float) -> str:
    """``0.01 -> "1%"``, ``0.001 -> "0.1%"``.

    >>> cut_label(0.001), cut_label(0.1)
    ('0.1%', '10%')
    """
    return f"{100 * efficiency:g}%"


def thresholds(background_scores: np.ndarray, efficiencies: Sequence[float]) -> np.ndarray:
    """Score thresholds keeping ``efficiencies`` of ``background_scores`` (pass: ``s > t``)."""
    s = np.asarray(background_scores, dtype=np.float64)
    if not len(s):
        return np.full(len(efficiencies), np.nan)
    return np.quantile(s, [1.0 - e for e in efficiencies], method="lower")


def background_estimates(
    background_scores: np.ndarray,
    cuts: np.ndarray,
    norm: float,
    n_norm: float,
) -> list[dict[str, float]]:
    """Per cut: generated events passing ``n_pass``, ``estimate = n_pass * norm`` and its
    uncertainty (binomial of ``n_pass``, relative ``1/sqrt(n_norm)`` of the normalisation)."""
    s = np.asarray(background_scores)
    n = len(s)
    out = []
    for t in cuts:
        n_pass = int((s > t).sum()) if np.isfinite(t) else 0
        eff = n_pass / n if n else 0.0
        var_pass = n * eff * (1 - eff)
        est = n_pass * norm
        rel_norm = 1.0 / math.sqrt(n_norm) if n_norm > 0 else 0.0
        err = math.sqrt((math.sqrt(var_pass) * norm) ** 2 + (est * rel_norm) ** 2)
        out.append(
            {
                "threshold": float(t),
                "n_pass": n_pass,
                "efficiency": eff,
                "estimate": est,
                "estimate_err": err,
            }
        )
    return out


def add_generator_errors(
    estimates: list[dict[str, Any]],
    background_scores: np.ndarray,
    member_weights: np.ndarray,
    norm: float,
) -> None:
    """Add the flow-ensemble spread to :func:`background_estimates` entries, in place.

    ``member_weights`` ``(K, n)``: ``p_k / p_mix`` of each bootstrap flow at the generated
    events that ``background_scores`` belong to. Member ``k`` estimates ``norm * sum(w_k)``
    over passing events; the standard deviation over members times ``sqrt(1 + 1/K)`` (the
    error of the mixture of bootstrap fits) is ``estimate_err_generator``, and
    ``estimate_err`` becomes the quadrature sum.

    >>> est = background_estimates(np.array([0.1, 0.5, 0.9, 0.7]), np.array([0.6]), 1.0, 1e12)
    >>> add_generator_errors(est, np.array([0.1, 0.5, 0.9, 0.7]),
    ...     np.array([[1.0, 1.0, 1.5, 1.5], [1.0, 1.0, 0.5, 0.5]]), 1.0)
    >>> round(est[0]["estimate_err_generator"], 3), est[0]["estimate_members"]
    (1.732, [3.0, 1.0])
    """
    s = np.asarray(background_scores)
    w = np.asarray(member_weights, dtype=np.float64)
    for entry in estimates:
        t = entry["threshold"]
        passing = s > t if np.isfinite(t) else np.zeros(len(s), dtype=bool)
        members = norm * w[:, passing].sum(axis=1)
        spread = ensemble_error(members)
        entry["estimate_members"] = [float(m) for m in members]
        entry["estimate_err_generator"] = spread
        entry["estimate_err"] = math.hypot(entry["estimate_err"], spread)
