"""Pseudo-experiments (toys) from a pyhf model: coverage of the fitted POI interval.

Toys sample the main measurements (Poisson) *and* the auxiliary measurements
(Gaussian/Poisson constraints) from the model at the true parameters, so the nuisance
parameters fluctuate as in repeated experiments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.workspace.inference import mle_fit, pyhf_backend

__all__ = ["coverage", "sample_toys"]


def sample_toys(model: Any, mu_true: float, ntoys: int, seed: int = 0) -> np.ndarray:
    """``(ntoys, n_main + n_aux)`` datasets drawn from ``model`` at POI ``mu_true``.

    Nuisance parameters are at their nominal (suggested initial) values.

    >>> import pyhf
    >>> model = pyhf.simplemodels.uncorrelated_background([5.0], [50.0], [5.0])
    >>> sample_toys(model, 1.0, 3).shape
    (3, 2)
    """
    import pyhf

    if ntoys < 1:
        raise GbiInputError(f"ntoys={ntoys}: expected at least 1 toy")
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu_true
    state = np.random.get_state()  # noqa: NPY002 (pyhf's numpy backend uses the global state)
    try:
        np.random.seed(seed)  # noqa: NPY002
        with pyhf_backend("numpy", "minuit"):
            pdf = model.make_pdf(pyhf.tensorlib.astensor(pars))
            return np.asarray(pdf.sample((ntoys,)), dtype=float)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def coverage(model: Any, mu_true: float = 1.0, ntoys: int = 200, seed: int = 0) -> dict[str, Any]:
    """Fraction of toys whose HESSE interval ``mu_hat +- mu_err`` contains ``mu_true``.

    Returns ``fraction``, its binomial standard error ``fraction_err``, ``ntoys`` (the
    number of converged fits), ``failed`` and the arrays ``mu_hat`` and ``mu_err``.
    For an unbiased Gaussian estimator the expected fraction is 0.6827.
    """
    toys = sample_toys(model, mu_true, ntoys, seed)
    mu_hat, mu_err, failed = [], [], 0
    poi = model.config.poi_index
    with pyhf_backend("numpy", "minuit"):
        for data in toys:
            try:
                result = mle_fit(data, model)
            except Exception:  # a non-converged toy is counted, not fatal
                failed += 1
                continue
            mu_hat.append(result["values"][poi])
            mu_err.append(result["errors"][poi])
    hat, err = np.asarray(mu_hat), np.asarray(mu_err)
    covered = np.abs(hat - mu_true) <= err
    n = int(covered.size)
    fraction = float(covered.mean()) if n else math.nan
    return {
        "fraction": fraction,
        "fraction_err": math.sqrt(fraction * (1 - fraction) / n) if n else math.nan,
        "ntoys": n,
        "failed": failed,
        "mu_hat": hat,
        "mu_err": err,
    }
