"""The background core: region split, sampling size, method registry, stage timing."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gbi.background import (
    METHOD_BUILDERS,
    MethodInputs,
    Stages,
    TrainingSet,
    n_generated,
    run_method,
    split_regions,
)
from gbi.classifiers import ClassifierConfig
from gbi.regions import Regions


def _table(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "a": rng.normal(shift, 1.0, n),
        "b": rng.normal(size=n),
        "mjj": rng.uniform(3300.0, 3700.0, n),
    }


def test_split_counts_and_messages() -> None:
    mjj = np.array([900.0, 3000.0, 3299.9, 3300.0, 3699.9, 3700.0, 9000.0, 10000.0])
    split = split_regions({"mjj": mjj}, Regions())
    assert split.sr.tolist() == [False, False, False, True, True, False, False, False]
    assert (split.n_sr, split.n_sb) == (2, 4)
    assert split.signal_region({"mjj": mjj})["mjj"].tolist() == [3300.0, 3699.9]
    assert split.signal_region_too_small(2) is None
    assert "holds 2 data events" in split.signal_region_too_small(3)
    assert "(3300.0, 3700.0) GeV" in split.signal_region_too_small(3)
    assert split.sidebands_too_small(4) is None
    assert "expected at least 5" in split.sidebands_too_small(5)
    assert split.too_few(2, 4) is None
    assert split.too_few(3, 4) == (
        "the signal region holds 2 and the sidebands 4 data events: too few "
        "(expected at least 3 and 4)"
    )


def test_split_follows_the_regions() -> None:
    mjj = np.array([2900.0, 3100.0, 3500.0])
    split = split_regions({"mjj": mjj}, Regions(sr_low=3000.0, sr_high=3200.0))
    assert split.sr.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("n_sr", "oversampling", "expected"), [(0, 4.0, 1), (10, 4.0, 40), (3, 0.5, 2)]
)
def test_generated_count(n_sr: int, oversampling: float, expected: int) -> None:
    assert n_generated(n_sr, oversampling) == expected


def test_stages_accumulate_and_record_on_error() -> None:
    stages = Stages()
    with stages("a"):
        time.sleep(0.01)
    with pytest.raises(RuntimeError), stages("b"):
        raise RuntimeError("boom")
    with stages("a"):
        pass
    seconds = stages.to_dict()
    assert list(seconds) == ["a", "b"]
    assert seconds["a"] >= 0.01
    assert seconds["b"] >= 0.0


def test_registry_builds_the_classes_of_each_method() -> None:
    assert list(METHOD_BUILDERS) == ["cathode", "latent", "idealized", "supervised"]
    data, gen, ref, sig = _table(100, 0), _table(400, 1), _table(200, 2), _table(50, 3, 2.0)
    inputs = MethodInputs(data, ("a", "b"), 0, generated=gen, reference_sr=ref, signal=sig)
    cathode = METHOD_BUILDERS["cathode"](inputs)
    assert isinstance(cathode, TrainingSet)
    assert cathode.x_data.shape == (100, 2)
    assert cathode.x_background.shape == (400, 2)
    assert cathode.norm == pytest.approx(0.25)
    idealized = METHOD_BUILDERS["idealized"](inputs)
    assert isinstance(idealized, TrainingSet)
    assert idealized.norm == pytest.approx(0.5)
    supervised = METHOD_BUILDERS["supervised"](inputs)
    assert isinstance(supervised, TrainingSet)
    assert supervised.x_data.shape == (50, 2)
    # latent needs the generator itself, not only its sample
    inputs.no_model_reason = "the sidebands hold 3 data events"
    assert (
        METHOD_BUILDERS["latent"](inputs) == "no background model: the sidebands hold 3 data events"
    )


def test_run_method_skips_with_the_reason_and_trains_otherwise() -> None:
    inputs = MethodInputs(_table(300, 0, 1.5), ("a", "b"), 0, reference_sr=_table(600, 1))
    clf = ClassifierConfig(max_iter=20)
    skipped = run_method("cathode", inputs, clf, n_folds=2)
    assert skipped.status == "skipped"
    assert skipped.message.startswith("no background model")
    run = run_method("idealized", inputs, clf, n_folds=2)
    assert run.status == "ok"
    assert run.n_train == (300, 600)
    assert run.data_scores is not None
    assert run.data_scores.mean() > run.background_scores.mean()


def test_read_features_drops_bad_rows_from_every_column(tmp_path) -> None:
    from gbi.background import read_features
    from gbi.tables import write_table

    table = {
        "mjj": np.array([3400.0, 3500.0, np.inf, 3600.0]),
        "a": np.array([1.0, np.nan, 3.0, 4.0]),
        "label": np.array([0, 1, 1, 0]),
        "unused": np.array([np.nan, 0.0, 0.0, 0.0]),  # not a needed column: kept as is
    }
    write_table(table, tmp_path / "plain.parquet")
    got = read_features([tmp_path], "data", columns=["a", "mjj"], drop_invalid=True)
    assert got is not None
    assert got.files == [tmp_path / "plain.parquet"]
    assert (got.n_read, got.dropped_invalid) == (4, 2)
    assert got.table["a"].tolist() == [1.0, 4.0]
    assert got.table["label"].tolist() == [0, 0]
    assert read_features(None, "data") is None
