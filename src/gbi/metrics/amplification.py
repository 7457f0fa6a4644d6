"""Amplification factor of a generator (Butter et al., "GANplification", arXiv:2008.06545).

How many real events is a generated sample worth for a binned quantity? Bin the quantity
in ``B`` quantile bins of a large independent reference sample (true bin probabilities
``p_j``). A sample of ``n`` real events estimates ``p_j`` with mean squared error
``MSE_real(n) = mean_j p_j (1 - p_j) / n``. The generator's bin probabilities ``q_j`` are
biased by what it failed to learn: ``MSE_gen = mean_j (q_j - p_j)^2``, measured with the
generated sample (``N_gen`` events) against the reference (``N_ref``) after subtracting the
expected statistical noise of both,

    ``MSE_gen = mean_j [(q̂_j - p̂_j)^2 - q̂_j (1 - q̂_j) / N_gen - p̂_j (1 - p̂_j) / N_ref]``.

The generated sample is worth ``n_equiv = mean_j p_j (1 - p_j) / MSE_gen`` real events, and
the amplification factor is ``n_equiv / n_train``. When ``MSE_gen`` is not significantly
above zero (the reference cannot resolve the generator's bias) the result is a lower limit
computed from ``max(MSE_gen, 0) + 2 sigma``.

Closure: a "generator" that resamples its ``n_train`` training events is worth about
``n_train`` events (factor ~ 1).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> train = rng.normal(size=2000)
>>> resampled = rng.choice(train, size=1_000_000)
>>> r = amplification_factor(resampled, rng.normal(size=1_000_000), n_train=2000, bins=20)
>>> 0.6 < r.factor < 1.6, r.lower_limit
(True, False)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.metrics.divergences import bin_counts, shared_edges

__all__ = ["AmplificationResult", "amplification_factor", "bin_fractions"]


@dataclasses.dataclass
class AmplificationResult:
    """Amplification estimate; ``lower_limit`` marks a 2-sigma lower limit."""

    factor: float
    n_equivalent: float
    n_train: int
    mse_generator: float
    mse_generator_err: float
    bins: int
    lower_limit: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def bin_fractions(
    values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Normalised bin contents of ``values`` (shape ``(n,)``) on ``edges`` (outer bins open)."""
    counts = bin_counts(values, edges, weights)[0]
    return counts / counts.sum()


def amplification_factor(
    generated: np.ndarray,
    reference: np.ndarray,
    n_train: int,
    bins: int = 20,
    edges: np.ndarray | None = None,
) -> AmplificationResult:
    """Amplification factor of ``generated`` (shape ``(N_gen,)``) for one binned quantity.

    Parameters
    ----------
    generated
        Values of the quantity in the generated sample (unweighted).
    reference
        The same quantity in a large real sample independent of the training data.
    n_train
        Number of real events the generator was trained on.
    bins, edges
        Number of quantile bins of ``reference``, or explicit edges.
    """
    generated = np.asarray(generated, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    if n_train < 1 or len(generated) < 2 or len(reference) < 2:
        raise GbiInputError(
            f"amplification factor: expected n_train >= 1 and >= 2 generated and reference "
            f"events, found n_train={n_train}, {len(generated)} and {len(reference)}"
        )
    edges = shared_edges(reference, bins) if edges is None else np.asarray(edges)
    p = bin_fractions(reference, edges)
    q = bin_fractions(generated, edges)
    noise = q * (1 - q) / len(generated) + p * (1 - p) / len(reference)
    diff2 = (q - p) ** 2
    mse = float(np.mean(diff2 - noise))
    # variance of (mu + e)^2 with e ~ N(0, noise): 4 mu^2 noise + 2 noise^2
    mu2 = np.maximum(diff2 - noise, 0.0)
    mse_err = float(np.sqrt(np.sum(4 * mu2 * noise + 2 * noise**2)) / len(p))
    per_event = float(np.mean(p * (1 - p)))
    lower_limit = mse <= 2 * mse_err
    # upper bound on the bias: a downward fluctuation of the estimate must not raise the limit
    bound = max(mse, 0.0) + 2 * mse_err if lower_limit else mse
    n_equiv = per_event / bound if bound > 0 else float("inf")
    return AmplificationResult(
        factor=n_equiv / n_train,
        n_equivalent=n_equiv,
        n_train=int(n_train),
        mse_generator=mse,
        mse_generator_err=mse_err,
        bins=len(p),
        lower_limit=bool(lower_limit),
    )
