"""The amplification study (gbi.workspace.amplification) on toys and on a tiny flow.

Toy: background ``exp(-x / 0.5)`` and a Gaussian signal at ``x = 0.6`` on ``[0, 1)``; the
"truth" is the exact expectation (no MC noise), so a *perfect* generator (templates drawn
from the true distribution) may only differ from it by its own sampling noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.workspace.amplification import (
    UnitTemplate,
    ensemble_histosys,
    limit_difference,
    quantile_edges,
    study_point,
    unit_template,
)

EDGES = np.linspace(0.0, 1.0, 6)
SCALE = 0.5


def exact(cdf, edges: np.ndarray, label: str) -> UnitTemplate:
    """The infinite-statistics unit template of a distribution with ``cdf``."""
    values = np.diff(cdf(edges))
    return UnitTemplate(values, np.zeros_like(values), edges, 10**12, label)


def background_cdf(x):
    return 1.0 - np.exp(-np.asarray(x) / SCALE)


def signal_cdf(x):
    from scipy.stats import norm

    return norm.cdf(np.asarray(x), 0.6, 0.08)


@pytest.fixture(scope="module")
def toy():
    truth = exact(background_cdf, EDGES, "truth")
    signal = exact(signal_cdf, EDGES, "signal")
    return truth, signal


def perfect_generator(n_gen: int, seed: int = 1, n_equivalent: float | None = None):
    rng = np.random.default_rng(seed)
    return unit_template(
        rng.exponential(SCALE, n_gen), EDGES, n_gen, n_equivalent=n_equivalent, label="perfect"
    )


def test_unit_template_scaling():
    u = unit_template(np.array([0.1, 0.3, 0.9, 2.0]), EDGES, 8)
    assert u.values.sum() == pytest.approx(3 / 8)
    t = u.template(800.0)
    assert t.total == pytest.approx(300.0)
    assert t.variances.sum() == pytest.approx(3 * 100.0**2)  # 3 events of weight 100
    with pytest.raises(GbiInputError, match="n_events"):
        unit_template(np.zeros(5), EDGES, 4)


def test_truth_template_recovers_mu_exactly(toy):
    truth, signal = toy
    point = study_point(truth, signal, truth, background_yield=1e5, sys=0.1)
    assert point["mu_hat"] == pytest.approx(1.0, abs=1e-3)
    assert point["signal_yield"] == pytest.approx(5e3)
    assert point["mu_err_down"] < point["mu_err_up"] < 1.0


def test_perfect_generator_unbiased_and_limit_converges(toy):
    """Acceptance on a perfect generator: |mu_hat - 1| < 0.3 sigma at every luminosity, and
    the limit difference to the truth template shrinks as more events are generated."""
    truth, signal = toy
    generated = perfect_generator(2_000_000)
    for lumi in (1e4, 1e5, 1e6):
        point = study_point(truth, signal, generated, background_yield=lumi, sys=0.1)
        assert abs(point["pull"]) < 0.3, point
    lumi = 1e5
    reference = study_point(truth, signal, truth, background_yield=lumi, sys=0.05)
    deltas = [
        abs(
            limit_difference(
                study_point(truth, signal, perfect_generator(n), background_yield=lumi, sys=0.05),
                reference,
            )
        )
        for n in (1_000, 30_000, 1_000_000)
    ]
    assert deltas[0] > deltas[1] > deltas[2], deltas
    assert deltas[2] < 0.1 * deltas[0], deltas


def test_generator_floor_stops_the_convergence(toy):
    """With a floor (a generator worth 5k events) more generated events stop helping."""
    truth, signal = toy
    reference = study_point(truth, signal, truth, background_yield=1e5, sys=0.05)
    delta = [
        limit_difference(
            study_point(
                truth,
                signal,
                perfect_generator(n, n_equivalent=5_000),
                background_yield=1e5,
                sys=0.05,
            ),
            reference,
        )
        for n in (100_000, 1_000_000)
    ]
    assert delta[1] > 0.5 * delta[0] > 0, delta


def test_biased_generator_fails_the_pull_criterion(toy):
    """The criterion can fail: a generator 5% too soft in the signal bins is caught."""
    truth, signal = toy
    generated = perfect_generator(2_000_000)
    biased = UnitTemplate(
        generated.values * np.array([1.0, 1.0, 1.05, 1.05, 1.0]),
        generated.variances,
        generated.edges,
        generated.n_events,
        "biased",
    )
    point = study_point(truth, signal, biased, background_yield=1e6, sys=0.02)
    assert abs(point["pull"]) > 0.3, point


def test_ensemble_histosys_enters_the_fit(toy):
    truth, signal = toy
    members = [perfect_generator(200_000, seed=s) for s in (3, 4, 5)]
    pooled, histosys = ensemble_histosys(members)
    assert pooled.n_events == 600_000
    with_sys = study_point(truth, signal, pooled, background_yield=1e5, sys=0.05, histosys=histosys)
    without = study_point(truth, signal, pooled, background_yield=1e5, sys=0.05)
    assert with_sys["ul_exp"] >= without["ul_exp"] - 1e-6


def test_quantile_edges_and_errors(toy):
    truth, signal = toy
    edges = quantile_edges(np.random.default_rng(0).normal(size=1000), [0, 0.5, 0.9, 1])
    assert len(edges) == 4
    other = unit_template(np.array([0.5]), [0.0, 0.5, 1.0], 1)
    with pytest.raises(GbiInputError, match="binning"):
        study_point(truth, signal, other, background_yield=1e4)
    with pytest.raises(GbiInputError, match="sys_mode"):
        study_point(truth, signal, truth, background_yield=1e4, sys_mode="shape")


def test_tiny_flow_study_point():
    """End to end on toy data: a small 1D spline flow (~5 s) as the generator, one scan point."""
    from gbi.flows import FlowConfig, TrainConfig, train_model
    from gbi.metrics import amplification_factor

    rng = np.random.default_rng(7)
    train = {"x": rng.exponential(SCALE, 2000)}
    model = train_model(
        train,
        FlowConfig(flow="nsf", features=("x",), transforms=1, hidden_features=(8,)),
        TrainConfig(epochs=20, batch_size=64, learning_rate=1e-2, device="cpu"),
        progress=False,
    )
    n_gen = 50_000
    sample = model.sample(n_gen, seed=3)["x"]
    reference = rng.exponential(SCALE, 50_000)
    inside = reference < 1.0
    amp = amplification_factor(sample[sample < 1.0], reference[inside], 2000, edges=EDGES)
    generated = unit_template(sample, EDGES, n_gen, n_equivalent=amp.n_equivalent, label="flow")
    truth = unit_template(reference, EDGES, len(reference), label="truth")
    signal = unit_template(rng.normal(0.6, 0.08, 20_000), EDGES, 20_000, label="signal")
    point = study_point(truth, signal, generated, background_yield=1e4, sys=0.1, kind="amplified")
    assert np.isfinite([point["mu_hat"], point["mu_err"], point["ul_obs"]]).all()
    # the flow's template uncertainty includes the floor: larger than its sampling noise
    assert generated.variances.sum() > (generated.values / n_gen).sum()
