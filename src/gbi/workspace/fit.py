"""Fit a pyhf workspace and report the result as a ``fit-result-1.0`` document.

:func:`fit_workspace` runs the maximum-likelihood fit of the POI (with HESSE
uncertainty and pulls of the constrained nuisance parameters), the discovery test
(q0) and the observed/expected CLs upper limits with their +-1/2 sigma bands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.schema import validate
from gbi.workspace.builder import build_workspace_from_spec
from gbi.workspace.cls import AsymptoticCLs, cls_limits, cls_scan
from gbi.workspace.inference import discovery, mle_fit, pyhf_backend

__all__ = ["check_model", "fit_workspace", "load_workspace", "model_and_data"]


def load_workspace(path: str | Path) -> Any:
    """Read a workspace JSON file and validate it with pyhf's schema."""
    path = Path(path)
    if not path.is_file():
        raise GbiInputError(f"workspace file {str(path)!r} does not exist")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise GbiInputError(f"workspace file {path}: not valid JSON ({err})") from err
    if not isinstance(spec, dict):
        raise GbiInputError(
            f"workspace file {path}: expected a JSON object, found {type(spec).__name__}"
        )
    return build_workspace_from_spec(spec, f"workspace file {path}")


def model_and_data(workspace: Any, measurement: str | None = None) -> tuple[Any, Any]:
    """Build the model of ``measurement`` (default: the first) and its data; run checks."""
    import pyhf

    names = [m["name"] for m in workspace.get("measurements", [])]
    if measurement is not None and measurement not in names:
        raise GbiInputError(f"measurement {measurement!r} not in the workspace; it has {names}")
    try:
        model = workspace.model(measurement_name=measurement)
    except (pyhf.exceptions.InvalidModel, pyhf.exceptions.InvalidMeasurement) as err:
        raise GbiInputError(
            f"the workspace does not define a usable model: {err}; the measurement's POI must "
            "be a normfactor on a sample (rebuild with 'gbi workspace' and mark the signal)"
        ) from err
    if model.config.poi_index is None:
        raise GbiInputError(
            "the workspace measurement has no POI (config.poi is empty); set it to the "
            "signal normfactor, e.g. 'mu'"
        )
    data = workspace.data(model)
    check_model(model)
    return model, np.asarray(data, dtype=float)


def check_model(model: Any) -> None:
    """Reject zero expected yields (pyhf#1852) and partially fixed parameters (pyhf#1944)."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = 0.0
    expected = np.asarray(model.expected_actualdata(pars), dtype=float)
    for channel in model.config.channels:
        part = expected[model.config.channel_slices[channel]]
        bad = np.flatnonzero(~(part > 0))
        if bad.size:
            raise GbiInputError(
                f"channel {channel!r}: the background-only expected yield is zero or negative "
                f"in bins {bad.tolist()[:10]}; pyhf fits give NaN there (pyhf#1852): merge or "
                "drop those bins"
            )
    for name in model.config.par_order:
        fixed = model.config.param_set(name).suggested_fixed
        if isinstance(fixed, list) and any(fixed) and not all(fixed):
            raise GbiInputError(
                f"parameter {name!r} is fixed in bins {[i for i, f in enumerate(fixed) if f]} "
                "only (zero yield or zero uncertainty there); cabinetry cannot handle this "
                "(cabinetry#340, pyhf#1944): merge those bins or give them an uncertainty"
            )


def fit_workspace(
    workspace: Any,
    *,
    measurement: str | None = None,
    backend: str = "numpy",
    optimizer: str = "minuit",
    level: float = 0.05,
    test_stat: str = "qtilde",
    scan_points: int = 0,
    minos: bool = False,
    source: str | None = None,
) -> dict[str, Any]:
    """Fit ``workspace`` (a ``pyhf.Workspace``) and return a ``fit-result-1.0`` dict.

    The MLE fit always uses minuit (for HESSE errors); the discovery test and the CLs
    limits use ``optimizer``. ``scan_points > 0`` adds a CLs scan for the Brazil plot;
    ``minos=True`` adds the asymmetric MINOS interval ``mu_minos = [lo, hi]`` of the POI.

    >>> import pyhf
    >>> spec = pyhf.simplemodels.uncorrelated_background([5.0], [50.0], [5.0]).spec
    >>> ws = pyhf.Workspace({**spec, "observations": [{"name": "singlechannel", "data": [55.0]}],
    ...     "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})
    >>> result = fit_workspace(ws)
    >>> round(result["mu_hat"], 3), round(result["cls_upper_limit_exp"], 2)
    (1.0, 3.6)
    >>> [round(x, 2) for x in fit_workspace(ws, minos=True)["mu_minos"]]  # lower: the POI bound
    [0.0, 2.83]
    """
    import pyhf

    import gbi

    with pyhf_backend(backend, optimizer):
        model, data = model_and_data(workspace, measurement)
        fits = _run_fits(data, model, level, test_stat, scan_points, minos)
    mle, disc, limits, scan = fits["mle"], fits["discovery"], fits["limits"], fits["scan"]
    poi = model.config.poi_index
    result: dict[str, Any] = {
        "version": "1.0",
        "workspace": source,
        "measurement": measurement or workspace.get_measurement()["name"],
        "poi": model.config.poi_name,
        "software": {"gbi": gbi.__version__, "pyhf": pyhf.__version__},
        "backend": backend,
        "optimizer": optimizer,
        "test_stat": test_stat,
        "calctype": "asymptotics",
        "cls_level": level,
        "mu_hat": float(mle["values"][poi]),
        "mu_err": float(mle["errors"][poi]),
        "twice_nll": mle["twice_nll"],
        **disc,
        "cls_upper_limit_obs": limits["obs"],
        "cls_upper_limit_exp": limits["exp"],
        "cls_upper_limit_exp_band": limits["exp_band"],
        "cls_at_mu1": fits["at_one"],
        "parameters": _parameters(model, mle),
        "correlation": mle["correlation"].tolist(),
        "timing_s": fits["timing"],
    }
    if scan is not None:
        result["cls_scan"] = scan
    if "minos_poi" in mle:
        lower, upper = mle["minos_poi"]
        result["mu_minos"] = [result["mu_hat"] + lower, result["mu_hat"] + upper]
    validate(result, "fit-result", "the fit result")
    return result


def _run_fits(
    data: Any, model: Any, level: float, test_stat: str, scan_points: int, minos: bool
) -> dict[str, Any]:
    """MLE fit, discovery test, CLs limits (and scan) in the active pyhf backend; the stage
    wall times in seconds under ``timing``."""
    timing: dict[str, float] = {}
    start = time.perf_counter()
    mle = mle_fit(data, model, minos=minos)
    timing["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    disc = discovery(data, model)
    timing["discovery"] = time.perf_counter() - start
    start = time.perf_counter()
    evaluator = AsymptoticCLs(data, model, test_stat)
    limits = cls_limits(data, model, level=level, evaluator=evaluator)
    timing["limits"] = time.perf_counter() - start
    obs_one, exp_one = evaluator(1.0)
    scan = None
    if scan_points > 0:
        top = 1.2 * max(limits["obs"], limits["exp_band"][4])
        grid = np.linspace(0.0, top, scan_points + 1)[1:].tolist()
        scan = cls_scan(data, model, grid, evaluator=evaluator)
    return {
        "mle": mle,
        "discovery": disc,
        "limits": limits,
        "at_one": {"mu": 1.0, "obs": obs_one, "exp": exp_one},
        "scan": scan,
        "timing": timing,
    }


def _parameters(model: Any, mle: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per parameter component with value, error and (if constrained) pull."""
    labels = model.config.par_names
    values, errors = mle["values"], mle["errors"]
    entries: list[dict[str, Any]] = []
    for name in model.config.par_order:
        par_set = model.config.param_set(name)
        index = range(model.config.par_slice(name).start, model.config.par_slice(name).stop)
        pdf_type = getattr(par_set, "pdf_type", None)
        sigmas = getattr(par_set, "sigmas", None) if pdf_type == "normal" else None
        fixed = par_set.suggested_fixed
        for k, i in enumerate(index):
            entry: dict[str, Any] = {
                "name": labels[i],
                "value": float(values[i]),
                "error": float(errors[i]),
                "fixed": bool(fixed[k] if isinstance(fixed, list) else fixed),
                "constraint": pdf_type,
            }
            if sigmas is not None and not entry["fixed"]:
                center, sigma = float(par_set.auxdata[k]), float(sigmas[k])
                entry["pull"] = (entry["value"] - center) / sigma
                entry["pull_err"] = entry["error"] / sigma
            entries.append(entry)
    return entries
