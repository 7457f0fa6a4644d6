"""Every bad input is a GbiInputError naming the file/column/parameter and what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gbi.errors import GbiInputError
from gbi.flows import FlowConfig, FlowModel, TrainConfig, train_model

FEATURES = ("a", "b")
TINY = FlowConfig(
    flow="maf", features=FEATURES, transforms=1, hidden_features=(8,), preprocessing="standard"
)
FAST = TrainConfig(epochs=1, batch_size=64)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def table(n: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=n), "b": rng.normal(size=n), "m": rng.uniform(1, 2, n)}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    train_model(table(), TINY, FAST, out_dir=out, progress=False)
    return out


def test_nan_and_inf_rows_are_rejected_with_a_count() -> None:
    t = table()
    t["a"][[3, 7]] = np.nan
    t["b"][11] = np.inf
    with pytest.raises(
        GbiInputError, match=r"found 3 of 400 rows .*'a': 2, 'b': 1.*--drop-invalid"
    ):
        train_model(t, TINY, FAST, source="feat.parquet", progress=False)


def test_drop_invalid_drops_and_reports() -> None:
    t = table()
    t["a"][[3, 7]] = np.nan
    model = train_model(t, TINY, FAST, drop_invalid=True, progress=False)
    assert model.metadata["training"]["dropped_invalid"] == 2
    assert model.metadata["training"]["n_events"] == 398


def test_fewer_events_than_the_batch_size() -> None:
    with pytest.raises(
        GbiInputError,
        match=r"feat.parquet: batch_size: expected at most the 40 training events.*--batch-size",
    ):
        train_model(
            table(50),
            TINY,
            TrainConfig(epochs=1, batch_size=64),
            source="feat.parquet",
            progress=False,
        )


def test_missing_feature_and_context_columns() -> None:
    with pytest.raises(GbiInputError, match=r"feat.parquet: expected feature column\(s\) \['c'\]"):
        train_model(
            table(),
            FlowConfig(flow="maf", features=("a", "c")),
            FAST,
            source="feat.parquet",
            progress=False,
        )
    conditional = FlowConfig(
        flow="maf", features=FEATURES, context=("mjj",), transforms=1, hidden_features=(8,)
    )
    with pytest.raises(
        GbiInputError, match=r"expected context column\(s\) \['mjj'\], found only \['a', 'b', 'm'\]"
    ):
        train_model(table(), conditional, FAST, source="feat.parquet", progress=False)


def test_conditional_model_needs_context_for_sampling_and_density() -> None:
    conditional = FlowConfig(
        flow="maf", features=FEATURES, context=("m",), transforms=1, hidden_features=(8,)
    )
    model = train_model(table(), conditional, FAST, progress=False)
    with pytest.raises(GbiInputError, match=r"conditional on \['m'\].*--context-from"):
        model.sample(10)
    with pytest.raises(GbiInputError, match="expected at least 10 context rows, found 5"):
        model.sample(10, context=np.ones(5))
    with pytest.raises(GbiInputError, match=r"expected context column\(s\) \['m'\]"):
        model.log_prob({"a": np.zeros(3), "b": np.zeros(3)})


def test_bad_parameters() -> None:
    with pytest.raises(GbiInputError, match="flow kind: expected one of maf, nsf, found 'glow'"):
        FlowConfig(flow="glow", features=FEATURES)
    with pytest.raises(GbiInputError, match="flow passes: expected a positive integer, None"):
        FlowConfig(features=FEATURES, passes=0)
    with pytest.raises(GbiInputError, match="flow passes: expected a positive integer, None"):
        FlowConfig(features=FEATURES, passes="coupling")
    with pytest.raises(GbiInputError, match="val_fraction"):
        TrainConfig(val_fraction=1.5)
    with pytest.raises(GbiInputError, match="preprocessing of column 'a'"):
        train_model(
            table(),
            FlowConfig(flow="maf", features=FEATURES, preprocessing="box-cox"),
            FAST,
            progress=False,
        )
    if not torch.cuda.is_available():
        with pytest.raises(GbiInputError, match="--device cpu or auto"):
            TrainConfig(device="cuda")


def test_values_outside_declared_bounds() -> None:
    config = FlowConfig(flow="maf", features=FEATURES, bounds=(("a", 0.0, 1.0),))
    with pytest.raises(
        GbiInputError, match=r"column 'a': expected values within the physical bounds \[0.0, 1.0\]"
    ):
        train_model(table(), config, FAST, progress=False)


def test_corrupted_weights_file(saved_model, tmp_path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(saved_model, broken)
    (broken / "member_000.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(GbiInputError, match=r"member_000.pt'?: expected SHA-256 .*corrupted"):
        FlowModel.load(broken)
    # without the recorded digest the loader itself reports the unreadable file
    doc = json.loads((broken / "model.json").read_text())
    doc["members"][0].pop("sha256")
    (broken / "model.json").write_text(json.dumps(doc))
    with pytest.raises(GbiInputError, match=r"expected a torch state dict saved by gbi.*re-train"):
        FlowModel.load(broken)


def test_mismatched_checkpoint_and_configuration(saved_model, tmp_path) -> None:
    import shutil

    mismatched = tmp_path / "mismatched"
    shutil.copytree(saved_model, mismatched)
    doc = json.loads((mismatched / "model.json").read_text())
    doc["config"]["hidden_features"] = [16]
    doc["members"][0].pop("sha256")
    (mismatched / "model.json").write_text(json.dumps(doc))
    with pytest.raises(GbiInputError, match=r"mismatched state dict .*shape mismatch"):
        FlowModel.load(mismatched)


def test_missing_or_foreign_model_directory(tmp_path) -> None:
    with pytest.raises(GbiInputError, match=r"expected model.json.*gbi amplify train"):
        FlowModel.load(tmp_path / "nowhere")
    (tmp_path / "model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(
        GbiInputError, match=r"expected format 'gbi.flows/1', found 'something-else'"
    ):
        FlowModel.load(tmp_path)


def test_weights_only_loading_refuses_pickled_objects(saved_model, tmp_path) -> None:
    import shutil

    evil = tmp_path / "evil"
    shutil.copytree(saved_model, evil)
    torch.save({"payload": object.__new__(_Evil)}, evil / "member_000.pt")
    doc = json.loads((evil / "model.json").read_text())
    doc["members"][0].pop("sha256")
    (evil / "model.json").write_text(json.dumps(doc))
    with pytest.raises(GbiInputError, match="expected a torch state dict saved by gbi"):
        FlowModel.load(evil)


class _Evil:
    pass
