"""Statistical inference on a pyhf model: MLE fit and discovery significance.

All functions take a ``pyhf.pdf.Model`` and its data (main + auxiliary, as
``workspace.data(model)`` returns) and use the asymptotic formulae of
arXiv:1007.1727 through pyhf; CLs limits are in :mod:`gbi.workspace.cls`. Run them inside :func:`pyhf_backend` to choose the tensor
backend (``numpy`` or ``jax``) and the optimizer (``minuit`` or ``scipy``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from gbi.errors import GbiError, GbiInputError, MissingExtraError

__all__ = ["discovery", "fit_with_fallback", "mle_fit", "pyhf_backend"]

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


def fit_with_fallback(
    data: Any,
    model: Any,
    init: Any,
    bounds: Any,
    fixed: Any,
    poi_value: float | None = None,
) -> tuple[np.ndarray, float]:
    """(parameters, twice_nll) of a free fit, or of a fit with the POI fixed at ``poi_value``,
    with the current optimizer; redone with scipy (SLSQP) from the same start when it fails.

    MINUIT can stop above its EDM goal at an extreme POI value (e.g. the upper bound, where
    a free background normalisation runs to its limit) or when very large yields constrain
    many per-bin parameters tightly; SLSQP usually converges there. Raises
    :class:`GbiError` naming the fit when both fail.
    """
    import pyhf

    def run() -> tuple[Any, Any]:
        if poi_value is None:
            return pyhf.infer.mle.fit(data, model, init, bounds, fixed, return_fitted_val=True)
        return pyhf.infer.mle.fixed_poi_fit(
            poi_value, data, model, init, bounds, fixed, return_fitted_val=True
        )

    try:
        pars, twice_nll = run()
    except pyhf.exceptions.FailedMinimization as first:
        try:
            with pyhf_backend(pyhf.tensorlib.name, "scipy"):
                pars, twice_nll = run()
        except pyhf.exceptions.FailedMinimization as second:
            where = (
                "the free fit"
                if poi_value is None
                else f"the fit with the POI fixed at {poi_value:g}"
            )
            raise GbiError(
                f"{where} did not converge with minuit ({first}) nor scipy ({second}); "
                "check the POI bounds and the templates (gbi fit --json shows the pulls)"
            ) from second
    return np.asarray(pars, dtype=float), float(twice_nll)


def mle_fit(data: Any, model: Any, minos: bool = False) -> dict[str, Any]:
    """Unconditional maximum-likelihood fit with minuit (HESSE uncertainties).

    Returns ``values`` and ``errors`` (shape ``(npars,)``, model parameter order),
    ``twice_nll`` and the ``correlation`` matrix; with ``minos=True`` also ``minos_poi``,
    the MINOS ``(lower, upper)`` 68% errors of the POI (profile likelihood, asymmetric).
    """
    import pyhf

    def run(init: Any = None) -> tuple[Any, Any, Any]:
        with pyhf_backend(pyhf.tensorlib.name, "minuit"):
            return pyhf.infer.mle.fit(
                data,
                model,
                init_pars=init,
                return_uncertainties=True,
                return_fitted_val=True,
                return_result_obj=True,
            )

    try:
        pars, twice_nll, result = run()
    except pyhf.exceptions.FailedMinimization as first:
        # MIGRAD can stop above its EDM goal when a nuisance parameter sits near its bound
        # (e.g. a histosys at -5 sigma with a large template): SLSQP from the default start,
        # then MIGRAD again from SLSQP's minimum, for the HESSE errors.
        try:
            with pyhf_backend(pyhf.tensorlib.name, "scipy"):
                start = pyhf.infer.mle.fit(data, model)
            pars, twice_nll, result = run(np.asarray(start, dtype=float).tolist())
        except pyhf.exceptions.FailedMinimization as second:
            raise GbiError(
                f"the maximum-likelihood fit did not converge with minuit ({first}) nor with "
                f"minuit started from scipy's minimum ({second}); check the workspace with "
                "'pyhf inspect', the POI bounds and the templates"
            ) from second
    pars = np.asarray(pars, dtype=float)
    values, errors = pars[:, 0], pars[:, 1]
    if not np.isfinite(values).all() or not bool(result.success):
        raise GbiError(
            f"the maximum-likelihood fit did not converge ({result.message}); check the "
            "workspace with 'pyhf inspect', and that every bin has a positive expected yield"
        )
    out = {
        "values": values,
        "errors": errors,
        "twice_nll": float(twice_nll),
        "correlation": np.asarray(result.corr, dtype=float),
    }
    if minos:
        # pyhf's minuit objective is -2 log L with errordef 1, so MINOS gives 68% errors.
        name = model.config.par_names[model.config.poi_index]
        minuit = result.minuit
        minuit.minos(name)
        err = minuit.merrors[name]
        if not (err.lower_valid and err.upper_valid):
            raise GbiError(
                f"MINOS did not find both 68% crossings of {name!r} (lower valid: "
                f"{err.lower_valid}, upper valid: {err.upper_valid}); the likelihood may hit "
                "a parameter bound: widen the POI bounds or use the HESSE error"
            )
        out["minos_poi"] = (float(err.lower), float(err.upper))
    return out


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
