"""Unbinned fit of the signal fraction with a learned signal density (R-ANODE style).

In the signal region the data density is modelled as

    p(x, mjj) = (1 - mu) p_bkg(x | mjj) p_bkg(mjj) + mu p_sig(x, mjj)

with ``p_bkg(x | mjj)`` the sideband-trained conditional flow (fixed), ``p_bkg(mjj)`` an
exponential fitted to the sidebands next to the SR and normalised over the SR (fixed), and
``p_sig`` learned from the SR data themselves: a Gaussian mixture in the standardised
(features, mjj) space, fitted by expectation-maximisation with the background component held
fixed. The mixture components have bounded widths (``min_width``..``max_width`` of the data
spread per direction), so the signal model cannot collapse onto single events or swallow the
whole background. EM is written by hand because scikit-learn's ``GaussianMixture`` has no
fixed extra component and no bounds on the covariances.

The profile likelihood in ``mu`` is built from EM solutions at fixed ``mu`` on a grid (plus
the free fit); each solution is one "hypothesis" of :func:`gbi.infer.mixture.profile_mixture`.
The significance is local (no calibration for the freedom of the signal model): a background
flow that mismodels the SR shows up as a spurious signal, so read it with the N = 0 runs of
the injection scan.

>>> rng = np.random.default_rng(3)
>>> n = 6000
>>> x = np.where(rng.random(n) < 0.05, rng.normal(3, 0.3, n), rng.normal(0, 1, n))[:, None]
>>> from scipy import stats
>>> fit = fit_unbinned(x, stats.norm.logpdf(x[:, 0]), UnbinnedConfig(components=1, starts=4))
>>> bool(abs(fit.mu_hat - 0.05) < 3 * fit.mu_err)
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import optimize

from gbi.infer.mixture import MixtureFit, profile_mixture

__all__ = ["MjjSidebandDensity", "UnbinnedConfig", "fit_unbinned", "signal_summary"]


@dataclasses.dataclass(frozen=True)
class UnbinnedConfig:
    """Signal-model settings; widths are in units of the data's standard deviation."""

    components: int = 2
    starts: int = 8
    candidates: int = 256
    iterations: int = 80
    min_width: float = 0.05
    max_width: float = 0.5
    profile_points: int = 15
    seed: int = 0


class MjjSidebandDensity:
    """``p_bkg(mjj)`` in the SR: ``exp(-b mjj)`` fitted to the sidebands within ``margin`` GeV.

    >>> m = np.random.default_rng(0).exponential(700, 200000) + 2500
    >>> d = MjjSidebandDensity(m, (3300, 3700))
    >>> round(1 / d.slope, -1)
    700.0
    """

    def __init__(self, mjj: np.ndarray, window: tuple[float, float], margin: float = 500.0) -> None:
        low, high = window
        mjj = np.asarray(mjj, dtype=np.float64)
        left = (mjj >= low - margin) & (mjj < low)
        right = (mjj > high) & (mjj <= high + margin)
        values = mjj[left | right]
        a, b = low - margin, high + margin

        def integral(lo: float, hi: float, s: float) -> float:
            return (np.exp(-s * (lo - a)) - np.exp(-s * (hi - a))) / s

        def nll(s: float) -> float:
            norm = integral(a, low, s) + integral(high, b, s)
            return float(s * (values - a).sum() + len(values) * np.log(norm))

        self.slope = float(optimize.minimize_scalar(nll, bounds=(1e-6, 5e-2), method="bounded").x)
        self.window = (float(low), float(high))
        self.n_fit = len(values)

    def log_pdf(self, mjj: np.ndarray) -> np.ndarray:
        """Log density (per GeV) normalised over the SR."""
        low, high = self.window
        s = self.slope
        norm = (1.0 - np.exp(-s * (high - low))) / s
        return -s * (np.asarray(mjj, dtype=np.float64) - low) - np.log(norm)


def _gauss_logpdf(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (z - mean).T)
    return (
        -0.5 * (sol**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * z.shape[1] * np.log(2 * np.pi)
    )


@dataclasses.dataclass
class _Signal:
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    covs: np.ndarray  # (k, d, d)

    def component_logpdf(self, z: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                np.log(w) + _gauss_logpdf(z, m, c)
                for w, m, c in zip(self.weights, self.means, self.covs, strict=True)
            ]
        )


def _em(
    z: np.ndarray,
    log_bkg: np.ndarray,
    signal: _Signal,
    mu: float,
    config: UnbinnedConfig,
    free_mu: bool,
) -> tuple[float, float, _Signal]:
    """EM on the signal mixture (and ``mu`` when ``free_mu``); returns log L, mu, signal."""
    ll_old = -np.inf
    ll = -np.inf
    for _ in range(config.iterations):
        comp = signal.component_logpdf(z)  # (k, n)
        log_sig = np.logaddexp.reduce(comp, axis=0)
        a = np.log1p(-mu) + log_bkg
        b = np.log(mu) + log_sig
        total = np.logaddexp(a, b)
        ll = float(total.sum())
        if ll - ll_old < 1e-4 * len(z) ** 0.5:
            break
        ll_old = ll
        resp_sig = np.exp(b - total)
        if free_mu:
            mu = float(np.clip(resp_sig.mean(), 1e-6, 0.5))
        resp = np.exp(comp - log_sig) * resp_sig  # (k, n)
        total_k = resp.sum(1) + 1e-12
        weights = total_k / total_k.sum()
        means = (resp @ z) / total_k[:, None]
        covs = []
        for k in range(len(weights)):
            dz = z - means[k]
            cov = (dz * resp[k][:, None]).T @ dz / total_k[k]
            vals, vecs = np.linalg.eigh(cov)
            vals = np.clip(vals, config.min_width**2, config.max_width**2)
            covs.append(vecs @ np.diag(vals) @ vecs.T)
        signal = _Signal(np.maximum(weights, 1e-6), means, np.array(covs))
    return ll, mu, signal


def fit_unbinned(
    x: np.ndarray, log_bkg: np.ndarray, config: UnbinnedConfig | None = None
) -> MixtureFit:
    """Fit ``mu`` to SR events ``x (n, d)`` (features and mjj) with background log density ``(n,)``.

    Returns a :class:`MixtureFit` whose hypotheses are the EM signal densities found at the
    free fit and at fixed ``mu`` on a grid around it.
    """
    config = config or UnbinnedConfig()
    x = np.asarray(x, dtype=np.float64)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    log_jac = -float(np.log(scale).sum())
    log_bkg = np.asarray(log_bkg, dtype=np.float64) - log_jac  # density in z units
    rng = np.random.default_rng(config.seed)
    d, k_comp = z.shape[1], config.components
    best: tuple[float, float, _Signal] | None = None
    # Starts: screen candidate centres (random events) by the likelihood gain of a small
    # Gaussian there at mu = 1%, then run EM from the best ``starts`` of them.
    candidates = z[rng.choice(len(z), min(len(z), config.candidates), replace=False)]
    width0 = 0.5 * config.max_width
    gains = np.empty(len(candidates))
    for c, centre in enumerate(candidates):
        log_g = -0.5 * (((z - centre) / width0) ** 2).sum(1) - d * np.log(
            width0 * np.sqrt(2 * np.pi)
        )
        gains[c] = np.log1p(0.01 * np.expm1(np.clip(log_g - log_bkg, -700, 50))).sum()
    order = np.argsort(-gains)
    for i in range(min(config.starts, len(candidates))):
        chosen = order[[(i + k * config.starts) % len(order) for k in range(k_comp)]]
        start = _Signal(
            np.full(k_comp, 1.0 / k_comp),
            candidates[chosen],
            np.repeat((np.eye(d) * width0**2)[None], k_comp, 0),
        )
        trial = _em(z, log_bkg, start, 0.01, dataclasses.replace(config, iterations=30), True)
        if best is None or trial[0] > best[0]:
            best = trial
    assert best is not None
    _, mu_hat, signal = _em(z, log_bkg, best[2], best[1], config, True)
    signals = [signal]
    width = max(3.0 * np.sqrt(max(mu_hat, 1e-4) / len(z)), 1e-3)
    for mu in np.linspace(max(mu_hat - 3 * width, 1e-5), mu_hat + 4 * width, config.profile_points):
        signals.append(_em(z, log_bkg, signal, float(mu), config, False)[2])
    log_sig = np.stack([np.logaddexp.reduce(s.component_logpdf(z), axis=0) for s in signals], 1)
    ratios = np.exp(np.clip(log_sig - log_bkg[:, None], -700, 700))
    fit = profile_mixture(ratios)
    fit.per_hypothesis["signal_means"] = np.array([s.means * scale + mean for s in signals])
    return fit


def signal_summary(fit: MixtureFit, columns: tuple[str, ...]) -> dict[str, Any]:
    """Means (physical units) of the best signal components, for the report."""
    means = fit.per_hypothesis["signal_means"][fit.best]
    return {"components": [{c: float(v) for c, v in zip(columns, m, strict=True)} for m in means]}
