"""Statistical inference on a pyhf model: MLE fit, discovery significance, CLs limits.

All functions take a ``pyhf.pdf.Model`` and its data (main + auxiliary, as
``workspace.data(model)`` returns) and use the asymptotic formulae of
arXiv:1007.1727 through pyhf. Run them inside :func:`pyhf_backend` to choose the tensor
backend (``numpy`` or ``jax``) and the optimizer (``minuit`` or ``scipy``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gbi.errors import GbiError, GbiInputError, MissingExtraError

__all__ = ["cls_at", "cls_limits", "cls_scan", "discovery", "mle_fit", "pyhf_backend"]

BACKENDS = ("numpy", "jax")
OPTIMIZERS = ("minuit", "scipy")


@contextlib.contextmanager
def pyhf_backend(backend: str = "numpy", optimizer: str = "minuit") -> Iterator[None]:
    """Set pyhf's tensor backend and optimizer for the block, restoring the old ones.

    >>> import pyhf
    >>> with pyhf_backend("numpy", "minuit"):
    ...     type(pyhf.optimizer).__name__
    'minuit_optimizer'
    """
    import pyhf

    if backend not in BACKENDS:
        raise GbiInputError(f"backend {backend!r}: expected one of {list(BACKENDS)}")
    if optimizer not in OPTIMIZERS:
        raise GbiInputError(f"optimizer {optimizer!r}: expected one of {list(OPTIMIZERS)}")
    if backend == "jax":
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
        except ImportError as err:
            raise MissingExtraError(
                "the jax backend needs the Python packages 'jax' and 'jaxlib', which are not "
                "installed; install them with: pip install jax jaxlib (or use backend numpy)"
            ) from err
    previous = pyhf.get_backend()
    pyhf.set_backend(backend, optimizer)
    try:
        yield
    finally:
        pyhf.set_backend(*previous)


def _poi_bounds(model: Any) -> tuple[float, float]:
    low, high = model.config.suggested_bounds()[model.config.poi_index]
    return float(low), float(high)


def mle_fit(data: Any, model: Any) -> dict[str, Any]:
    """Unconditional maximum-likelihood fit with minuit (HESSE uncertainties).

    Returns ``values`` and ``errors`` (shape ``(npars,)``, model parameter order),
    ``twice_nll`` and the ``correlation`` matrix.
    """
    import pyhf

    with pyhf_backend(pyhf.tensorlib.name, "minuit"):
        pars, twice_nll, result = pyhf.infer.mle.fit(
            data,
            model,
            return_uncertainties=True,
            return_fitted_val=True,
            return_result_obj=True,
        )
    pars = np.asarray(pars, dtype=float)
    values, errors = pars[:, 0], pars[:, 1]
    if not np.isfinite(values).all() or not bool(result.success):
        raise GbiError(
            f"the maximum-likelihood fit did not converge ({result.message}); check the "
            "workspace with 'pyhf inspect', and that every bin has a positive expected yield"
        )
    return {
        "values": values,
        "errors": errors,
        "twice_nll": float(twice_nll),
        "correlation": np.asarray(result.corr, dtype=float),
    }


def discovery(data: Any, model: Any) -> dict[str, float]:
    """Discovery test of mu = 0: ``q0``, observed/expected significance Z and ``p0``.

    The expected significance uses the Asimov dataset with mu = 1 (nuisance parameters
    profiled on the data), as pyhf's ``hypotest(0, ..., test_stat="q0")`` does.
    """
    import pyhf
    from scipy.stats import norm

    init = model.config.suggested_init()
    bounds = model.config.suggested_bounds()
    fixed = model.config.suggested_fixed()
    q0 = float(pyhf.infer.test_statistics.q0(0.0, data, model, init, bounds, fixed))
    asimov = pyhf.infer.calculators.generate_asimov_data(1.0, data, model, init, bounds, fixed)
    q0_exp = float(pyhf.infer.test_statistics.q0(0.0, asimov, model, init, bounds, fixed))
    z_obs, z_exp = math.sqrt(max(q0, 0.0)), math.sqrt(max(q0_exp, 0.0))
    return {
        "q0": q0,
        "q0_significance": z_obs,
        "q0_significance_exp": z_exp,
        "p0": float(norm.sf(z_obs)),
        "p0_exp": float(norm.sf(z_exp)),
    }


def cls_at(mu: float, data: Any, model: Any, test_stat: str = "qtilde") -> dict[str, Any]:
    """CLs at one POI value: ``obs`` and ``exp`` (5 values, -2..+2 sigma), as ``pyhf cls``."""
    import pyhf

    obs, exp = pyhf.infer.hypotest(mu, data, model, test_stat=test_stat, return_expected_set=True)
    return {"mu": float(mu), "obs": float(obs), "exp": [float(v) for v in exp]}


def cls_limits(
    data: Any, model: Any, level: float = 0.05, test_stat: str = "qtilde", rtol: float = 1e-5
) -> dict[str, Any]:
    """Observed and expected (-2..+2 sigma) CLs upper limits on the POI at ``level``.

    Root finding (TOMS 748) between the POI bounds; the limit's relative precision is
    ``rtol``. Raises :class:`GbiError` when a limit lies above the POI upper bound.
    """
    import pyhf

    low, high = _poi_bounds(model)
    at_high = cls_at(high, data, model, test_stat)
    worst = max([at_high["obs"], *at_high["exp"]])
    if not worst < level:
        raise GbiError(
            f"the CLs limit lies above the POI upper bound {high:g} (CLs there is {worst:.3g} "
            f">= {level}); widen the POI bounds (config measurement.poi_bounds or "
            "'gbi workspace --poi-bounds')"
        )
    obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(
        data, model, low, high, level=level, rtol=rtol, test_stat=test_stat
    )
    exp_values = [float(v) for v in exp]
    return {"obs": float(obs), "exp": exp_values[2], "exp_band": exp_values}


def cls_scan(
    data: Any, model: Any, mus: Sequence[float], test_stat: str = "qtilde"
) -> dict[str, Any]:
    """CLs on a grid of POI values (for the Brazil plot): ``mu``, ``obs``, ``exp`` (n, 5)."""
    points = [cls_at(mu, data, model, test_stat) for mu in mus]
    return {
        "mu": [p["mu"] for p in points],
        "obs": [p["obs"] for p in points],
        "exp": [p["exp"] for p in points],
    }
