"""Fixtures of the processor tests: the shipped sample's features, a tiny flow and a tiny
saved classifier (module-independent, built once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gbi.background import train_method
from gbi.classifiers import ClassifierConfig
from gbi.detect.outputs import SavedClassifier
from gbi.feature_job import process_fileset
from gbi.flows import FlowConfig, TrainConfig, train_model
from gbi.regions import Regions
from gbi.sample import default_fileset
from gbi.tables import DEFAULT_FEATURES, read_table, to_matrix


@pytest.fixture(scope="session")
def features(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("process")
    process_fileset(default_fileset(), out, chunksize=7_000, progress=False)
    return read_table(out / "features" / "qcd.parquet")


@pytest.fixture(scope="session")
def flow_dir(features: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("flow")
    config = FlowConfig(
        flow="maf", features=DEFAULT_FEATURES, context=("mjj",), transforms=1, hidden_features=(8,)
    )
    train_model(
        features, config, TrainConfig(epochs=1, batch_size=1024), out_dir=directory, progress=False
    )
    return directory


@pytest.fixture(scope="session")
def classifier_dir(
    features: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A small k-fold HGB (SR vs sidebands of the QCD sample), saved as ``gbi detect`` does."""
    regions = Regions()
    x = to_matrix(features, DEFAULT_FEATURES)
    sr = regions.in_signal_region(features["mjj"])
    run = train_method(
        "cathode",
        x[sr],
        x[~sr][: 4 * int(sr.sum())],
        ClassifierConfig(max_iter=5),
        n_folds=2,
        min_events=10,
    )
    assert run.ensemble is not None
    assert run.background_scores is not None
    cut = float(np.quantile(run.background_scores, 0.9))
    saved = SavedClassifier("cathode", DEFAULT_FEATURES, run.ensemble, {"10%": cut})
    return saved.save(tmp_path_factory.mktemp("classifier") / "classifier_cathode")
