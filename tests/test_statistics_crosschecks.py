"""The statistics gbi keeps, checked against the library that defines each one.

- :func:`gbi.workspace.inference.discovery` against ``pyhf.infer.hypotest(0, test_stat="q0")``;
- the observed (and expected) CLs limit of :func:`gbi.workspace.cls.cls_limits` against
  pyhf's ``upper_limit`` (TOMS 748 on ``hypotest``) on data that are not Asimov;
- :func:`gbi.workspace.amplification.profile_error` against MINOS (iminuit);
- the quantile preprocessing Jacobian against a numerical derivative of the transform.
"""

from __future__ import annotations

import numpy as np
import pyhf
import pytest

from gbi.flows.preprocessing import Preprocessor
from gbi.workspace.amplification import profile_error
from gbi.workspace.cls import cls_limits
from gbi.workspace.inference import discovery, mle_fit, pyhf_backend

SIGNAL = [12.0, 25.0, 9.0]
BACKGROUND = [50.0, 60.0, 40.0]
BKG_UNCERTAINTY = [5.0, 6.0, 4.0]


def workspace(observed: list[float]) -> pyhf.Workspace:
    """Three bins, signal ``mu`` + background with an uncorrelated shape uncertainty."""
    spec = pyhf.simplemodels.uncorrelated_background(SIGNAL, BACKGROUND, BKG_UNCERTAINTY).spec
    return pyhf.Workspace(
        {
            **spec,
            "observations": [{"name": "singlechannel", "data": observed}],
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
            "version": "1.0.0",
        }
    )


@pytest.mark.parametrize("observed", [[70.0, 95.0, 45.0], [48.0, 63.0, 38.0]])
def test_discovery_matches_pyhf_hypotest_q0(observed: list[float]) -> None:
    """Observed and expected p0 agree with pyhf to 1e-4 relative (both asymptotic)."""
    ws = workspace(observed)
    model = ws.model()
    data = ws.data(model)
    with pyhf_backend("numpy", "scipy"):
        ours = discovery(data, model)
        p0, p0_exp = pyhf.infer.hypotest(0.0, data, model, test_stat="q0", return_expected=True)
    assert ours["p0"] == pytest.approx(float(p0), rel=1e-4, abs=1e-9)
    assert ours["p0_exp"] == pytest.approx(float(p0_exp), rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("observed", [[70.0, 95.0, 45.0], [44.0, 55.0, 37.0]])
def test_observed_cls_limit_matches_pyhf_upper_limit(observed: list[float]) -> None:
    """An excess and a deficit: observed and expected limits within 5e-4 relative of pyhf's
    TOMS 748 ``upper_limit`` (gbi solves to 1e-4; pyhf to its own default tolerance)."""
    ws = workspace(observed)
    model = ws.model()
    data = ws.data(model)
    with pyhf_backend("numpy", "scipy"):
        ours = cls_limits(data, model, level=0.05)
        obs, exp = pyhf.infer.intervals.upper_limits.upper_limit(
            data, model, scan=None, level=0.05, rtol=1e-6
        )
    assert ours["obs"] == pytest.approx(float(obs), rel=5e-4)
    np.testing.assert_allclose(ours["exp_band"], [float(e) for e in exp], rtol=5e-4)


def test_profile_error_matches_minos() -> None:
    """The two-sided profile-likelihood error equals MINOS's to 2% (the parabola-based
    step is exact for a parabola; the likelihood here is mildly asymmetric)."""
    ws = workspace([70.0, 95.0, 45.0])
    model = ws.model()
    data = ws.data(model)
    poi = model.config.poi_index
    with pyhf_backend("numpy", "minuit"):
        fit = mle_fit(data, model, minos=True)
    mu_hat, hesse = float(fit["values"][poi]), float(fit["errors"][poi])
    up, down = profile_error(ws, mu_hat, hesse)
    minos_lo, minos_hi = fit["minos_poi"]
    assert up == pytest.approx(minos_hi, rel=0.02)
    assert down == pytest.approx(-minos_lo, rel=0.02)
    # the check can fail: the interval is asymmetric enough to tell the two sides apart
    assert abs(minos_hi + minos_lo) > 0.01 * minos_hi


def test_quantile_jacobian_matches_the_numerical_derivative() -> None:
    """``log |dz/dx|`` of the quantile transform equals the central finite difference of
    :meth:`Preprocessor.transform` to 1e-4 (away from the quantile knots, where the
    piecewise-linear CDF has kinks)."""
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.gamma(2.0, 50.0, 5000), rng.normal(0.5, 0.1, 5000)])
    pre = Preprocessor(["a", "b"], kinds="quantile", bounds={"a": (0.0, None)}).fit(x)
    probe = np.column_stack([np.linspace(20.0, 250.0, 41), np.linspace(0.35, 0.65, 41)])
    h = np.array([1e-4, 1e-6])
    numeric = np.zeros(len(probe))
    for j in range(2):
        step = np.zeros(2)
        step[j] = h[j]
        dz = (pre.transform(probe + step)[:, j] - pre.transform(probe - step)[:, j]) / (2 * h[j])
        numeric += np.log(np.abs(dz))
    analytic = pre.log_abs_det(probe)
    # finite differences that straddle a knot are off: compare where both one-sided
    # differences agree (smooth neighbourhood), which is most of the probe points
    smooth = np.ones(len(probe), bool)
    for j in range(2):
        step = np.zeros(2)
        step[j] = h[j]
        right = (pre.transform(probe + step)[:, j] - pre.transform(probe)[:, j]) / h[j]
        left = (pre.transform(probe)[:, j] - pre.transform(probe - step)[:, j]) / h[j]
        smooth &= np.isclose(right, left, rtol=1e-3)
    assert smooth.sum() >= 30
    np.testing.assert_allclose(analytic[smooth], numeric[smooth], rtol=1e-4, atol=1e-4)
