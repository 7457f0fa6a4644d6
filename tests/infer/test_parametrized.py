"""The parametrised classifier finds the mass and fraction of a signal between grid points."""

from __future__ import annotations

import numpy as np

from gbi.infer.parametrized import ParametrizedConfig, ParametrizedModel, fit_parametrized
from gbi.infer.signal_grid import SignalGrid


def _signal(rng: np.random.Generator, mx: float, my: float, n: int) -> dict[str, np.ndarray]:
    return {"mj1": rng.normal(my, 30, n), "delta_mj": rng.normal(mx - my, 60, n)}


def _background(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"mj1": rng.exponential(120, n), "delta_mj": rng.exponential(200, n)}


def test_off_grid_mass_and_fraction_are_recovered() -> None:
    rng = np.random.default_rng(3)
    grid = SignalGrid(
        {
            (mx, my): _signal(rng, mx, my, 800)
            for mx in (200.0, 300.0, 400.0, 600.0, 700.0)
            for my in (100.0, 200.0)
            if my <= mx
        },
        m_w=3500,
    )
    config = ParametrizedConfig(features=("mj1", "delta_mj"), epochs=25, mass_step=25, seed=1)
    model = ParametrizedModel.train(grid, _background(rng, 30000), config)
    n, mu_true = 8000, 0.03
    n_sig = rng.binomial(n, mu_true)
    data = {
        k: np.concatenate([_background(rng, n - n_sig)[k], _signal(rng, 500.0, 150.0, n_sig)[k]])
        for k in ("mj1", "delta_mj")
    }
    fit, masses, _ = fit_parametrized(model, data, normalise_with=_background(rng, 30000))
    assert masses["mX_lo"] - 25 <= 500 <= masses["mX_hi"] + 25, (
        masses
    )  # (500, 150) is not a grid point
    assert masses["mY_lo"] - 25 <= 150 <= masses["mY_hi"] + 25, masses
    assert abs(fit.mu_hat - n_sig / n) < 0.3 * n_sig / n, (fit.mu_hat, n_sig / n)
    assert fit.significance > 5
