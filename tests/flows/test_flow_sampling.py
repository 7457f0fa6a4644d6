"""Batched, streamed and distributed sampling; amplified histograms; context densities."""

from __future__ import annotations

import hist
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from gbi.errors import GbiInputError
from gbi.flows import FlowConfig, MjjFit, MjjKDE, TrainConfig, train_model
from gbi.flows.histograms import amplified_histogram
from gbi.flows.sampling import fill_histogram, sample_histogram, task_seeds, write_samples


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 1000
    m = rng.uniform(2000.0, 5000.0, n)
    table = {"m": m, "x": 0.01 * m + rng.normal(size=n), "y": rng.exponential(size=n)}
    out = tmp_path_factory.mktemp("cond")
    config = FlowConfig(
        flow="maf", features=("x", "y"), context=("m",), transforms=1, hidden_features=(8,)
    )
    train_model(
        table,
        config,
        TrainConfig(epochs=2, batch_size=128),
        ensemble=2,
        out_dir=out,
        progress=False,
    )
    return out


def test_batched_sampling_matches_shapes_and_seed(model_dir) -> None:
    from gbi.flows import load_model

    model = load_model(model_dir, device="cpu")
    kde = MjjKDE(np.random.default_rng(1).uniform(3300, 3700, 400), low=3300, high=3700)
    batches = list(model.iter_batches(2500, context=kde, seed=5, batch_size=1000))
    assert [len(b["x"]) for b in batches] == [1000, 1000, 500]
    full = model.sample(2500, context=kde, seed=5, batch_size=1000)
    assert np.array_equal(np.concatenate([b["x"] for b in batches]), full["x"])
    assert not np.array_equal(
        model.sample(2500, context=kde, seed=6, batch_size=1000)["x"], full["x"]
    )
    assert ((full["m"] >= 3300) & (full["m"] <= 3700)).all()


def test_write_samples_streams_to_parquet(model_dir, tmp_path) -> None:
    from gbi.flows import load_model

    model = load_model(model_dir, device="cpu")
    context = np.full(1234, 3500.0)
    path = write_samples(model, 1234, tmp_path / "s.parquet", context=context, batch_size=500)
    table = pq.read_table(path)
    assert table.num_rows == 1234
    assert table.column_names == ["x", "y", "m", "weight"]
    assert np.all(table.column("m").to_numpy() == 3500.0)


def test_distributed_sampling_returns_only_the_summed_histogram(model_dir) -> None:
    kde = MjjKDE(np.random.default_rng(1).uniform(3300, 3700, 400), low=3300, high=3700)
    template = hist.Hist(hist.axis.Regular(20, 20, 50, name="x"), storage=hist.storage.Weight())
    h = sample_histogram(
        model_dir, template, 3000, context=kde, seed=2, n_tasks=3, scheduler="threads"
    )
    assert isinstance(h, hist.Hist)
    assert h.sum(flow=True).value == pytest.approx(3000)
    again = sample_histogram(
        model_dir, template, 3000, context=kde, seed=2, n_tasks=3, scheduler="synchronous"
    )
    assert np.array_equal(h.values(flow=True), again.values(flow=True))
    assert len(set(task_seeds(2, 3))) == 3
    with pytest.raises(GbiInputError, match="context sampler"):
        sample_histogram(model_dir, template, 10, context=np.ones(10), scheduler="synchronous")
    from gbi.flows import load_model

    model = load_model(model_dir)
    bad_axis = hist.Hist(hist.axis.Regular(2, 0, 1, name="z"))
    with pytest.raises(
        GbiInputError, match=r"histogram axes: expected names among .* found \['z'\]"
    ):
        fill_histogram(model, bad_axis, 5, context=kde)


def test_amplified_histogram_variance_does_not_shrink_with_generated_events(model_dir) -> None:
    from gbi.flows import load_model

    model = load_model(model_dir, device="cpu")
    kde = MjjKDE(np.random.default_rng(1).uniform(3300, 3700, 400), low=3300, high=3700)
    template = hist.Hist(hist.axis.Regular(6, 25, 45, name="x"))
    kwargs = {"context": kde, "method": "amplification", "amplification": 2.0, "n_train": 1000}
    small = amplified_histogram(model, template, 500.0, 2000, **kwargs)
    large = amplified_histogram(model, template, 500.0, 20000, **kwargs)
    assert small.sum(flow=True).value == pytest.approx(500.0)
    # variance set by N_eff = A * n_train = 2000 events, whatever the generated statistics
    assert large.sum(flow=True).variance == pytest.approx(500.0**2 / 2000, rel=1e-6)
    assert small.sum(flow=True).variance == pytest.approx(large.sum(flow=True).variance, rel=1e-6)
    ens = amplified_histogram(model, template, 500.0, 5000, context=kde, method="ensemble")
    assert (ens.variances(flow=True) >= 0).all()
    with pytest.raises(GbiInputError, match="amplification factor and n_train"):
        amplified_histogram(model, template, 1.0, 10, context=kde, method="both")


def test_mjj_fit_and_kde_stay_in_the_window() -> None:
    rng = np.random.default_rng(0)
    mjj = 3300 + rng.exponential(300.0, 5000)
    fit = MjjFit(mjj, 3300, 3700)
    draws = fit.sample(4000, rng)[:, 0]
    assert ((draws >= 3300) & (draws <= 3700)).all()
    inside = mjj[mjj < 3700]
    assert np.mean(draws) == pytest.approx(np.mean(inside), abs=10)
    with pytest.raises(GbiInputError, match="expected >= 2 finite values in the window"):
        MjjKDE(mjj, low=9000, high=9100)


def test_member_sample_is_the_seeded_flow_draw_inverted(model_dir) -> None:
    """The sampling loop adds nothing to the flow's own draw: same seed, same numbers."""
    from gbi.flows import load_model
    from gbi.flows.generator import seeded_torch

    member = load_model(model_dir, device="cpu").members[0]
    context = np.random.default_rng(2).uniform(2000.0, 5000.0, (3000, 1))
    got = member.sample(3000, context, seed=11, batch_size=1000)
    c = torch.as_tensor(member.context_pre.transform(context), dtype=torch.float32)
    with torch.no_grad(), seeded_torch(11, member.device):
        z = torch.cat([member.flow(c[s : s + 1000]).sample() for s in range(0, 3000, 1000)])
    expected = member.feature_pre.inverse(z.double().numpy())
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)


def test_sample_command_defaults_to_the_available_cores() -> None:
    from gbi.cli import build_parser
    from gbi.threads import resolve_threads

    parser = build_parser(["amplify"])
    sample = parser.parse_args(["amplify", "sample", "m", "--events", "1", "--out", "o"])
    train = parser.parse_args(["amplify", "train", "f.parquet", "--out", "m"])
    assert sample.threads is None
    assert resolve_threads(sample.threads) >= 1
    assert train.threads == 1


def test_loading_a_model_leaves_the_torch_rng_alone(model_dir) -> None:
    # a dask worker's first task loads the model while another thread samples with its own
    # seed: building the flows must not draw from (or reset) the process-wide torch RNG
    from gbi.flows import load_model

    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    load_model(model_dir, device="cpu")
    assert torch.equal(torch.rand(4), expected)
