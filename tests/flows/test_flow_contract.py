"""Contract of every flow kind, preprocessing inversion/edges, reproducibility and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gbi.errors import GbiInputError
from gbi.flows import FlowConfig, FlowModel, MjjKDE, Preprocessor, TrainConfig, train_model
from gbi.flows import training as training_module
from gbi.flows.preprocessing import KINDS

FEATURES = ("mj1", "delta_mj", "tau21_j1")
TINY = {"transforms": 2, "hidden_features": (16, 16), "bins": 4}
FAST = TrainConfig(epochs=2, batch_size=128, patience=5)


def toy_table(n: int = 1500, seed: int = 0) -> dict[str, np.ndarray]:
    """LHCO-like toy: masses > 0 (GeV), tau21 in [0, 1], mjj correlated with mj1."""
    rng = np.random.default_rng(seed)
    mjj = 2500.0 + rng.exponential(600.0, n)
    mj1 = rng.gamma(3.0, 40.0, n) + 0.02 * (mjj - 2500.0)
    return {
        "mjj": mjj,
        "mj1": mj1,
        "delta_mj": rng.exponential(100.0, n),
        "tau21_j1": rng.beta(5.0, 3.0, n),
        "weight": np.ones(n),
    }


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny flows run fastest on one thread, and far faster on a shared, loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("context", [(), ("mjj",)], ids=["unconditional", "conditional"])
@pytest.mark.parametrize("flow", ["maf", "nsf", "maf-coupling", "nsf-coupling"])
def test_flow_contract(flow: str, context: tuple[str, ...], device: str, tmp_path) -> None:
    table = toy_table()
    kind, _, coupling = flow.partition("-")
    passes = 2 if coupling else None
    config = FlowConfig(flow=kind, features=FEATURES, context=context, passes=passes, **TINY)
    train = TrainConfig(epochs=2, batch_size=128, device=device)
    model = train_model(table, config, train, out_dir=tmp_path / "m", progress=False)
    assert model.members[0].device.type == device

    lp = model.log_prob(table)
    assert lp.shape == (1500,)
    assert lp.dtype == np.float64
    assert np.isfinite(lp).all()

    ctx = None if not context else MjjKDE(table["mjj"], low=3000.0, high=3500.0)
    sample = model.sample(321, context=ctx, seed=3, batch_size=100)
    assert sorted(sample) == sorted(FEATURES + context)
    assert all(v.shape == (321,) and v.dtype == np.float64 for v in sample.values())
    if context:
        assert sample["mjj"].min() >= 3000.0
        assert sample["mjj"].max() <= 3500.0

    # the same model loads on the CPU (and on the GPU when there is one): identical densities
    for load_device in DEVICES:
        loaded = FlowModel.load(tmp_path / "m", device=load_device)
        assert loaded.members[0].device.type == load_device
        np.testing.assert_allclose(
            loaded.log_prob(table), lp, rtol=0, atol=1e-4 if load_device != device else 0
        )
        if load_device == device:
            assert np.array_equal(loaded.log_prob(table), lp)
            again = loaded.sample(321, context=ctx, seed=3, batch_size=100)
            assert all(np.array_equal(again[k], sample[k]) for k in sample)


@pytest.mark.parametrize("flow", ["maf", "nsf"])
@pytest.mark.parametrize("passes", [None, 2, 3])
def test_passes_set_the_network_passes_of_sampling(flow: str, passes: int | None) -> None:
    """``passes=None``: one network pass per feature (autoregressive); 2: a coupling flow.
    Sampling inverts the transforms: counted by the calls of the MADE networks'
    first layers."""
    from gbi.flows.models import build_flow

    features = ("a", "b", "c", "d", "e")
    config = FlowConfig(flow=flow, features=features, passes=passes, **TINY)
    flow_module = build_flow(config)
    calls = []
    for module in flow_module.modules():
        if type(module).__name__ == "MaskedMLP":
            # the first layer: gbi's inverse runs the layers one by one (last one partly)
            module[0].register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        x = flow_module().sample((64,))
    assert len(calls) == TINY["transforms"] * (len(features) if passes is None else passes)
    # the inverse is exact: sampling then evaluating gives back the base draw's density
    assert torch.isfinite(flow_module().log_prob(x)).all()


def test_models_written_before_passes_existed_load_autoregressive() -> None:
    """An old model.json has no ``passes``: it must rebuild the autoregressive flow it was,
    whatever the default of new configurations."""
    state = FlowConfig(flow="nsf", features=FEATURES, **TINY).to_dict()
    del state["passes"]
    old = FlowConfig.from_dict(state)
    assert old.passes is None
    assert FlowConfig.from_dict({**state, "passes": 2}).passes == 2
    new = FlowConfig(features=FEATURES)
    assert FlowConfig.from_dict(new.to_dict()) == new
    # "auto": 3-pass splines, autoregressive affine flows (resolved, so saved explicitly)
    assert new.passes == FlowConfig(flow="nsf", features=FEATURES, passes=3).passes == 3
    assert FlowConfig(flow="maf", features=FEATURES).passes is None
    assert new.to_dict()["passes"] == 3


def test_log_prob_is_a_density_in_physical_units() -> None:
    """1D standard-normal toy: the flow's density integrates to ~1 over the physical axis."""
    rng = np.random.default_rng(0)
    table = {"x": 100.0 + 10.0 * rng.normal(size=2000)}
    config = FlowConfig(
        flow="maf", features=("x",), transforms=1, hidden_features=(8,), preprocessing="logit"
    )
    model = train_model(table, config, TrainConfig(epochs=3, batch_size=256), progress=False)
    grid = np.linspace(40.0, 160.0, 2001)
    density = np.exp(model.log_prob({"x": grid}))
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_preprocessing_inverts_exactly_and_respects_edges(kind: str) -> None:
    table = toy_table(3000)
    x = np.stack([table[c] for c in FEATURES], 1)
    bounds = {"tau21_j1": (0.0, 1.0)}
    pre = Preprocessor(FEATURES, kinds=kind, bounds=bounds).fit(x)
    np.testing.assert_allclose(pre.inverse(pre.transform(x)), x, rtol=1e-9, atol=1e-9)
    restored = Preprocessor.from_dict(pre.to_dict())
    assert np.array_equal(restored.transform(x), pre.transform(x))
    # any flow output, however extreme, maps inside the physical range
    z = np.random.default_rng(1).normal(scale=20.0, size=(5000, len(FEATURES)))
    back = pre.inverse(z)
    assert np.isfinite(back).all()
    assert (back[:, 0] >= 0).all()
    assert (back[:, 1] >= 0).all()
    assert ((back[:, 2] >= 0) & (back[:, 2] <= 1)).all()


def test_sampled_features_do_not_leak_outside_hard_edges() -> None:
    rng = np.random.default_rng(2)
    # piles up at both edges of [0, 1] and at 0 GeV: the hardest case for a flow
    table = {"tau": rng.beta(0.7, 0.7, 3000), "m": rng.exponential(5.0, 3000)}
    config = FlowConfig(
        flow="nsf", features=("tau", "m"), bounds=(("tau", 0.0, 1.0), ("m", 0.0, None)), **TINY
    )
    model = train_model(table, config, FAST, progress=False)
    sample = model.sample(20000, seed=0)
    assert sample["tau"].min() >= 0.0
    assert sample["tau"].max() <= 1.0
    assert sample["m"].min() >= 0.0


def _weights(model: FlowModel) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.members[0].flow.parameters()]


def test_training_is_reproducible_with_a_seed() -> None:
    table = toy_table(800)
    config = FlowConfig(flow="maf", features=FEATURES, **TINY)
    a = _weights(train_model(table, config, FAST, progress=False))
    b = _weights(train_model(table, config, FAST, progress=False))
    c = _weights(
        train_model(table, config, TrainConfig(epochs=2, batch_size=128, seed=1), progress=False)
    )
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_resume_from_checkpoint_gives_the_uninterrupted_result(tmp_path, monkeypatch) -> None:
    table = toy_table(800)
    config = FlowConfig(flow="nsf", features=FEATURES, **TINY)
    train = TrainConfig(epochs=4, batch_size=128, patience=10)
    full = train_model(table, config, train, out_dir=tmp_path / "full", progress=False)

    real_save = training_module.save_state
    calls = {"n": 0}

    def interrupt_after_two_epochs(*args, **kwargs):
        real_save(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(training_module, "save_state", interrupt_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        train_model(table, config, train, out_dir=tmp_path / "cut", progress=False)
    monkeypatch.setattr(training_module, "save_state", real_save)
    assert not (tmp_path / "cut" / "model.json").exists()
    resumed = train_model(
        table, config, train, out_dir=tmp_path / "cut", resume=True, progress=False
    )
    assert resumed.metadata["members"][0]["history"] == full.metadata["members"][0]["history"]
    assert all(torch.equal(x, y) for x, y in zip(_weights(full), _weights(resumed), strict=True))

    # a checkpoint of another configuration is refused, with advice
    other = TrainConfig(epochs=4, batch_size=64, patience=10)
    with pytest.raises(GbiInputError, match=r"checkpoint .* --resume"):
        train_model(table, config, other, out_dir=tmp_path / "cut", resume=True, progress=False)


def test_early_stopping_keeps_the_best_epoch() -> None:
    table = toy_table(600)
    config = FlowConfig(flow="maf", features=FEATURES, **TINY)
    model = train_model(
        table,
        config,
        TrainConfig(epochs=30, batch_size=64, patience=2, learning_rate=3e-2),
        progress=False,
    )
    info = model.metadata["members"][0]
    assert info["best_val_loss"] == min(info["history"]["val_loss"])
    assert info["history"]["val_loss"][info["best_epoch"]] == info["best_val_loss"]
    if info["stopped_early"]:
        assert info["epochs_run"] == info["best_epoch"] + 3


def test_ensemble_members_differ_and_mixture_density() -> None:
    table = toy_table(800)
    config = FlowConfig(flow="maf", features=FEATURES, **TINY)
    model = train_model(table, config, FAST, ensemble=3, progress=False)
    assert len(model) == 3
    assert [m["seed"] for m in model.metadata["members"]] == [0, 1, 2]
    x = np.stack([table[c] for c in FEATURES], 1)
    per = np.stack([m.log_prob(x) for m in model.members])
    assert not np.allclose(per[0], per[1])
    mixture = np.log(np.exp(per).mean(axis=0))
    np.testing.assert_allclose(model.log_prob(table), mixture, rtol=1e-10)
    parts = model.sample_members(100, seed=0)
    assert len(parts) == 3
    assert not np.array_equal(parts[0]["mj1"], parts[1]["mj1"])


def test_bootstrap_members_see_resampled_training_sets() -> None:
    table = toy_table(800)
    config = FlowConfig(flow="maf", features=FEATURES, **TINY)
    plain = train_model(table, config, FAST, ensemble=2, progress=False)
    boot = train_model(table, config, FAST, ensemble=2, bootstrap=True, progress=False)
    assert boot.metadata["training"]["bootstrap"] is True
    assert boot.metadata["members"][0]["n_train"] == plain.metadata["members"][0]["n_train"]
    assert not all(torch.equal(x, y) for x, y in zip(_weights(plain), _weights(boot), strict=True))
