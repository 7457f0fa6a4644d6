"""Context values for conditional sampling: arrays, columns, or a density of mjj.

CATHODE-style sampling of the background model in the signal region needs mjj values
distributed like the signal-region data: :class:`MjjKDE` is a Gaussian kernel density
estimate (:class:`scipy.stats.gaussian_kde`) of the observed mjj, truncated to a window by
rejection; :class:`MjjFit` is a smooth parametric alternative (an exponential fitted to the
window by maximum likelihood with :class:`scipy.stats.truncexpon`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> kde = MjjKDE(rng.uniform(3300, 3700, size=500), low=3300, high=3700)
>>> m = kde.sample(1000, rng)
>>> m.shape, bool(m.min() >= 3300 and m.max() <= 3700)
((1000, 1), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import optimize, stats

from gbi.errors import GbiInputError

__all__ = [
    "ContextSampler",
    "ContextSource",
    "MjjFit",
    "MjjKDE",
    "context_for_sampling",
    "draw_context",
    "resample_context",
]


@runtime_checkable
class ContextSampler(Protocol):
    """Anything with ``sample(size, rng) -> array (size, c)`` of context values."""

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray: ...


#: What conditional sampling accepts as context.
ContextSource = None | np.ndarray | Mapping[str, Any] | ContextSampler


def _check_window(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if low is not None:
        v = v[v >= low]
    if high is not None:
        v = v[v <= high]
    if len(v) < 2:
        raise GbiInputError(
            f"context density: expected >= 2 finite values in the window [{low}, {high}], "
            f"found {len(v)}; widen the window or provide more events"
        )
    return v


class MjjKDE:
    """Truncated Gaussian KDE of one context variable (mjj in GeV).

    Parameters
    ----------
    values
        Observed values, shape ``(n,)``.
    low, high
        Window; values outside it are ignored and samples are kept inside it.
    bw_method
        Bandwidth rule of :class:`scipy.stats.gaussian_kde`.
    """

    def __init__(
        self,
        values: np.ndarray,
        low: float | None = None,
        high: float | None = None,
        bw_method: str | float | None = None,
    ) -> None:
        self.low, self.high = low, high
        self.kde = stats.gaussian_kde(_check_window(values, low, high), bw_method=bw_method)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` values inside the window, shape ``(size, 1)``."""
        out = np.empty(0)
        while len(out) < size:
            draw = self.kde.resample(max(2 * (size - len(out)), 16), seed=rng)[0]
            if self.low is not None:
                draw = draw[draw >= self.low]
            if self.high is not None:
                draw = draw[draw <= self.high]
            out = np.concatenate([out, draw])
        return out[:size, None]


class MjjFit:
    """Exponential falling spectrum fitted in ``[low, high]`` (truncated exponential MLE)."""

    def __init__(self, values: np.ndarray, low: float, high: float) -> None:
        v = _check_window(values, low, high)
        self.low, self.high = float(low), float(high)
        # scipy's truncexpon(b, loc, scale) lives on [loc, loc + b*scale]: fix loc at the
        # window start and b = width/scale, and maximise the likelihood in log(scale).
        width = self.high - self.low

        def nll(log_scale: float) -> float:
            s = float(np.exp(log_scale))
            return -float(stats.truncexpon.logpdf(v, width / s, loc=self.low, scale=s).sum())

        res = optimize.minimize_scalar(
            nll, bounds=(np.log(width / 1000), np.log(width * 1000)), method="bounded"
        )
        self.scale = float(np.exp(res.x))
        self.dist = stats.truncexpon(width / self.scale, loc=self.low, scale=self.scale)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` values inside the window, shape ``(size, 1)``."""
        return self.dist.rvs(size=size, random_state=rng)[:, None]


def draw_context(
    source: ContextSource, columns: Sequence[str], start: int, size: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Context rows ``start:start+size`` as float64 ``(size, len(columns))`` (``None`` if none)."""
    if source is None:
        if columns:
            raise GbiInputError(
                f"context: the model is conditional on {list(columns)}, found no context; "
                "pass --context-from FILE or a context sampler"
            )
        return None
    if not columns:
        raise GbiInputError("context: the model is unconditional, found context values; drop them")
    if isinstance(source, ContextSampler):
        c = np.asarray(source.sample(size, rng), dtype=np.float64)
    else:
        if isinstance(source, Mapping):
            missing = [name for name in columns if name not in source]
            if missing:
                raise GbiInputError(
                    f"context: expected column(s) {missing}, found only {sorted(source)}; "
                    "provide the context columns the model was trained with"
                )
            full = np.stack([np.asarray(source[name], dtype=np.float64) for name in columns], 1)
        else:
            full = np.asarray(source, dtype=np.float64)
            full = full[:, None] if full.ndim == 1 else full
        if len(full) < start + size:
            raise GbiInputError(
                f"context: expected at least {start + size} context rows, found {len(full)}; "
                "sample fewer events or provide more context values (or a KDE)"
            )
        c = full[start : start + size]
    c = c[:, None] if c.ndim == 1 else c
    if c.shape != (size, len(columns)):
        raise GbiInputError(
            f"context: expected shape ({size}, {len(columns)}) for {list(columns)}, found {c.shape}"
        )
    if not np.isfinite(c).all():
        raise GbiInputError(
            f"context: expected finite values, found {int((~np.isfinite(c)).sum())} NaN/inf; "
            "clean the context input"
        )
    return c


def context_for_sampling(
    columns: Sequence[str],
    table: Mapping[str, Any] | None,
    *,
    kde_window: tuple[float, float] | None = None,
    source: str = "context file",
) -> np.ndarray | MjjKDE | None:
    """What a model conditional on ``columns`` samples with: ``None`` for an unconditional
    model, the rows of ``table``'s context columns (float64 ``(n, c)``, NaN/inf rows
    dropped, reused in order), or with ``kde_window = (low, high)`` (GeV) an :class:`MjjKDE`
    of its one context column in that window.

    >>> m = np.linspace(3000.0, 4000.0, 50)
    >>> context_for_sampling(["mjj"], {"mjj": m}).shape
    (50, 1)
    >>> type(context_for_sampling(["mjj"], {"mjj": m}, kde_window=(3300.0, 3700.0))).__name__
    'MjjKDE'
    """
    from gbi.tables import select_columns

    if not columns:
        if table is not None:
            raise GbiInputError(
                f"{source}: the model is unconditional, found context values; drop --context-from"
            )
        return None
    if table is None:
        raise GbiInputError(
            f"context: the model is conditional on {list(columns)}, found no context file; "
            "pass --context-from FILE (with --context-kde LOW HIGH for a KDE)"
        )
    values, _ = select_columns(table, columns, source=source, role="context", drop_invalid=True)
    if kde_window is None:
        return values
    if values.shape[1] != 1:
        raise GbiInputError(
            f"--context-kde: expected a model with one context column, found {list(columns)}; "
            "sample from the context rows instead (drop --context-kde)"
        )
    low, high = kde_window
    return MjjKDE(values[:, 0], low=low, high=high)


def resample_context(values: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``values`` (``(m, c)``) when ``n <= m`` (the first ``n`` rows are used), else ``n``
    rows drawn from them with replacement (seeded), so a generated sample can be larger
    than the real one it is compared with.

    >>> resample_context(np.arange(3.0)[:, None], 5, seed=1).shape
    (5, 1)
    """
    values = np.asarray(values, dtype=np.float64)
    if n <= len(values):
        return values
    return values[np.random.default_rng(seed).integers(len(values), size=n)]
