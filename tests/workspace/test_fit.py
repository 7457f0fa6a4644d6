"""Fits: closure on Asimov data, agreement with the pyhf CLI and cabinetry, bad workspaces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyhf
import pytest

from gbi.errors import GbiError, GbiInputError
from gbi.io import write_json
from gbi.schema import validate
from gbi.workspace import Channel, Sample, Template, build_spec
from gbi.workspace.fit import fit_workspace, load_workspace

PYHF = [str(Path(sys.executable).parent / "pyhf")]
EDGES = np.arange(6.0)
SIGNAL = np.array([10.0, 30.0, 50.0, 30.0, 10.0])
BACKGROUND = np.array([200.0, 150.0, 120.0, 100.0, 80.0])


def closure_spec(asimov_mu: float = 1.0) -> dict:
    samples = [
        Sample("sig", Template(SIGNAL, SIGNAL * 0.01, EDGES), signal=True),
        Sample("bkg", Template(BACKGROUND, BACKGROUND * 0.05, EDGES), sys=0.1),
    ]
    return build_spec([Channel("SR", samples, data=asimov_mu)])


def pyhf_cli(*args: str) -> dict:
    out = subprocess.run([*PYHF, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def closure(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = write_json(closure_spec(1.0), tmp_path_factory.mktemp("closure") / "ws.json")
    return path, fit_workspace(load_workspace(path), source=str(path))


def test_closure_mu_hat(closure: tuple[Path, dict]) -> None:
    _, result = closure
    assert abs(result["mu_hat"] - 1.0) < 1e-3
    validate(result, "fit-result", "test")
    band = result["cls_upper_limit_exp_band"]
    assert band == sorted(band)
    assert band[2] == result["cls_upper_limit_exp"]


@pytest.mark.slow  # the pyhf CLI in subprocesses (about 6 s)
def test_closure_expected_limit_matches_pyhf_cli(closure: tuple[Path, dict]) -> None:
    """pyhf has no limit command: interpolate its median expected CLs around our limit."""
    path, result = closure
    limit = result["cls_upper_limit_exp"]
    mus = [limit, 1.02 * limit]
    cls = [
        pyhf_cli("cls", str(path), "--test-poi", str(mu), "--optimizer", "minuit")["CLs_exp"][2]
        for mu in mus
    ]
    assert abs(cls[0] - 0.05) < 1e-3
    cli_limit = mus[0] + (0.05 - cls[0]) * (mus[1] - mus[0]) / (cls[1] - cls[0])
    assert abs(cli_limit - limit) / limit < 1e-3
    # and pyhf's own python upper_limit (toms748) agrees as well
    ws = pyhf.Workspace(json.loads(path.read_text()))
    model = ws.model()
    pyhf.set_backend("numpy", "minuit")
    try:
        _, exp = pyhf.infer.intervals.upper_limits.upper_limit(ws.data(model), model, scan=None)
    finally:
        pyhf.set_backend("numpy", "scipy")
    np.testing.assert_allclose(
        result["cls_upper_limit_exp_band"], [float(e) for e in exp], rtol=1e-3
    )


def test_fit_and_cls_match_pyhf_cli(tmp_path: Path) -> None:
    spec = closure_spec()
    spec["observations"][0]["data"] = [215.0, 160.0, 190.0, 118.0, 75.0]
    path = write_json(spec, tmp_path / "ws.json")
    result = fit_workspace(load_workspace(path))
    fitted = pyhf_cli("fit", str(path), "--optimizer", "minuit", "--value")
    assert abs(fitted["mle_parameters"]["mu"][0] - result["mu_hat"]) < 1e-3
    assert abs(fitted["twice_nll"] - result["twice_nll"]) < 1e-4
    for optimizer in ("minuit", "scipy"):
        cls = pyhf_cli("cls", str(path), "--optimizer", optimizer)
        assert abs(cls["CLs_obs"] - result["cls_at_mu1"]["obs"]) < 1e-4
        np.testing.assert_allclose(
            result["cls_at_mu1"]["exp"], cls["CLs_exp"], rtol=1e-3, atol=1e-6
        )
    assert result["q0_significance"] > 3  # an excess in bin 2
    assert result["cls_upper_limit_obs"] > result["cls_upper_limit_exp"]


def test_scipy_optimizer_and_scan(tmp_path: Path) -> None:
    ws = load_workspace(write_json(closure_spec(0.0), tmp_path / "ws.json"))
    minuit = fit_workspace(ws)
    scipy = fit_workspace(ws, optimizer="scipy", scan_points=4)
    assert (
        abs(minuit["cls_upper_limit_exp"] - scipy["cls_upper_limit_exp"])
        < 1e-3 * minuit["cls_upper_limit_exp"]
    )
    assert len(scipy["cls_scan"]["mu"]) == 4
    assert abs(minuit["mu_hat"]) < 1e-2  # at the POI lower bound 0
    assert minuit["q0_significance"] < 1e-2


def test_cabinetry_loads_workspace(closure: tuple[Path, dict]) -> None:
    cabinetry = pytest.importorskip("cabinetry")
    path, result = closure
    ws = cabinetry.workspace.load(path)
    model, data = cabinetry.model_utils.model_and_data(ws)
    fit = cabinetry.fit.fit(model, data)
    mu = fit.bestfit[fit.labels.index("mu")]
    assert abs(mu - result["mu_hat"]) < 1e-3


def test_bad_workspace_files(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_text("{not json")
    with pytest.raises(GbiInputError, match="not valid JSON"):
        load_workspace(path)
    spec = closure_spec()
    spec["channels"][0]["samples"][1]["modifiers"][0]["type"] = "notamodifier"
    write_json(spec, path)
    with pytest.raises(GbiInputError, match=r"ws\.json does not follow the pyhf workspace schema"):
        load_workspace(path)
    with pytest.raises(GbiInputError, match="does not exist"):
        load_workspace(tmp_path / "missing.json")


def test_missing_poi(tmp_path: Path) -> None:
    spec = closure_spec()
    spec["measurements"][0]["config"]["poi"] = "mu_typo"
    ws = load_workspace(write_json(spec, tmp_path / "ws.json"))
    with pytest.raises(GbiInputError, match=r"POI must be a normfactor on a sample"):
        fit_workspace(ws)
    spec["measurements"][0]["config"]["poi"] = ""
    with pytest.raises(GbiInputError, match="no POI"):
        fit_workspace(pyhf.Workspace(spec))


def test_foreign_workspace_with_zero_bins_is_caught() -> None:
    spec = closure_spec()
    spec["channels"][0]["samples"][1]["data"][2] = 0.0
    spec["channels"][0]["samples"][1]["modifiers"][0]["data"][2] = 0.0
    with pytest.raises(
        GbiInputError, match=r"background-only expected yield is zero or negative in bins \[2\]"
    ):
        fit_workspace(pyhf.Workspace(spec))
    spec = closure_spec()
    spec["channels"][0]["samples"][1]["modifiers"][0]["data"][3] = 0.0
    spec["channels"][0]["samples"][0]["modifiers"] = spec["channels"][0]["samples"][0]["modifiers"][
        :1
    ]
    with pytest.raises(
        GbiInputError, match=r"parameter 'staterror_SR' is fixed in bins \[3\] only"
    ):
        fit_workspace(pyhf.Workspace(spec))


def test_minos_interval_is_the_profile_likelihood_crossing() -> None:
    # Few events: the interval is asymmetric, so MINOS and HESSE differ.
    spec = pyhf.simplemodels.uncorrelated_background([6.0], [4.0], [1.0]).spec
    ws = pyhf.Workspace(
        {
            **spec,
            "observations": [{"name": "singlechannel", "data": [7.0]}],
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
            "version": "1.0.0",
        }
    )
    result = fit_workspace(ws, minos=True)
    validate(result, "fit-result", "test")
    lo, hi = result["mu_minos"]
    assert lo < result["mu_hat"] < hi
    assert hi - result["mu_hat"] > result["mu_hat"] - lo  # Poisson: longer upper side
    model, data = ws.model(), ws.data(ws.model())
    pyhf.set_backend("numpy", "scipy")
    _, best = pyhf.infer.mle.fit(data, model, return_fitted_val=True)
    for edge in (lo, hi):
        _, at_edge = pyhf.infer.mle.fixed_poi_fit(edge, data, model, return_fitted_val=True)
        assert abs(float(at_edge - best) - 1.0) < 0.02


def test_limit_falls_back_to_scipy_when_minuit_fails(
    closure: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixed-POI fit that MINUIT does not converge is redone with SLSQP: same limits; when
    both fail, a GbiError names the fit instead of a pyhf traceback."""
    path, reference = closure
    real_fit = pyhf.infer.mle.fixed_poi_fit
    calls = {"minuit": 0, "scipy": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        name = type(pyhf.optimizer).__name__.split("_")[0]
        calls[name] += 1
        if name == "minuit":
            raise pyhf.exceptions.FailedMinimization(_FakeResult())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pyhf.infer.mle, "fixed_poi_fit", flaky)
    result = fit_workspace(load_workspace(path), source=str(path))
    assert calls["minuit"] > 0
    assert calls["scipy"] == calls["minuit"]
    assert result["cls_upper_limit_exp"] == pytest.approx(reference["cls_upper_limit_exp"], 1e-3)

    def broken(*args: object, **kwargs: object) -> object:
        raise pyhf.exceptions.FailedMinimization(_FakeResult())

    monkeypatch.setattr(pyhf.infer.mle, "fixed_poi_fit", broken)
    with pytest.raises(GbiError, match="did not converge with minuit"):
        fit_workspace(load_workspace(path), source=str(path))


def test_mle_fit_restarts_minuit_from_scipys_minimum(
    closure: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first MIGRAD that fails is followed by SLSQP and MIGRAD from its minimum: the same
    mu_hat and HESSE error; when that fails too, a GbiError says which fits failed."""
    path, reference = closure
    real_fit = pyhf.infer.mle.fit
    calls: list[tuple[str, bool]] = []

    def first_minuit_fails(*args: object, **kwargs: object) -> object:
        name = type(pyhf.optimizer).__name__.split("_")[0]
        calls.append((name, kwargs.get("init_pars") is not None))
        if name == "minuit" and kwargs.get("init_pars") is None and kwargs.get("return_result_obj"):
            raise pyhf.exceptions.FailedMinimization(_FakeResult())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pyhf.infer.mle, "fit", first_minuit_fails)
    result = fit_workspace(load_workspace(path), source=str(path))
    assert ("scipy", False) in calls
    assert ("minuit", True) in calls
    assert result["mu_hat"] == pytest.approx(reference["mu_hat"], abs=1e-4)
    assert result["mu_err"] == pytest.approx(reference["mu_err"], rel=1e-3)

    def broken(*args: object, **kwargs: object) -> object:
        if kwargs.get("return_result_obj"):
            raise pyhf.exceptions.FailedMinimization(_FakeResult())
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pyhf.infer.mle, "fit", broken)
    with pytest.raises(GbiError, match="maximum-likelihood fit did not converge"):
        fit_workspace(load_workspace(path), source=str(path))


class _FakeResult:
    message = "stopped above the EDM goal (test)"


def test_limit_above_the_poi_bound_is_a_clear_error() -> None:
    """The upper bracket is searched upwards from 1% of the POI range; a limit beyond the
    bound stops with the bound named, and a wide range gives the same limits as a tight one."""
    from gbi.workspace.cls import cls_limits

    model = pyhf.simplemodels.uncorrelated_background([5.0], [50.0], [5.0])
    data = [55.0, *model.config.auxdata]
    wide = cls_limits(data, model)  # POI bounds (0, 10)
    spec = dict(model.spec)
    narrow_model = pyhf.Model(spec, poi_name="mu")
    narrow_model.config.par_map["mu"]["paramset"].suggested_bounds = [(0.0, 2.0)]
    with pytest.raises(GbiError, match="above the POI upper bound 2"):
        cls_limits(data, narrow_model)
    very_wide = pyhf.Model(spec, poi_name="mu")
    very_wide.config.par_map["mu"]["paramset"].suggested_bounds = [(0.0, 1000.0)]
    far = cls_limits(data, very_wide)
    assert far["obs"] == pytest.approx(wide["obs"], rel=1e-3)
    assert far["exp_band"] == pytest.approx(wide["exp_band"], rel=1e-3)
