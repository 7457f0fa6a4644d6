"""FlowDensityProcessor: the saved flow evaluated per chunk equals a direct evaluation."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from gbi.execution import run_processor
from gbi.feature_job import process_fileset
from gbi.flows import FlowConfig, TrainConfig, train_model
from gbi.processors import assemble_columns
from gbi.processors.dijet import REQUIRED_BRANCHES
from gbi.processors.flow_density import FlowDensityProcessor
from gbi.sample import default_fileset
from gbi.tables import read_table


@pytest.fixture(scope="module")
def sample_features(tmp_path_factory):
    out = tmp_path_factory.mktemp("process")
    process_fileset(default_fileset(), out, chunksize=7_000, progress=False)
    return read_table(out / "features" / "qcd.parquet")


@pytest.fixture(scope="module")
def model_dir(sample_features, tmp_path_factory):
    directory = tmp_path_factory.mktemp("flow")
    config = FlowConfig(
        flow="maf",
        features=("mj1", "delta_mj", "tau21_j1", "tau21_j2"),
        context=("mjj",),
        transforms=1,
        hidden_features=(16,),
    )
    train_model(
        sample_features,
        config,
        TrainConfig(epochs=1, batch_size=512),
        out_dir=directory,
        progress=False,
    )
    return directory


@pytest.mark.parametrize(
    "executor",
    # the futures run starts worker processes that import torch (about 15 s): slow step
    ["iterative", pytest.param("futures", marks=pytest.mark.slow)],
)
def test_flow_processor_matches_direct_evaluation(model_dir, sample_features, executor):
    result = run_processor(
        {k: v for k, v in default_fileset().items() if k == "qcd"},
        FlowDensityProcessor(model_dir),
        required_branches=REQUIRED_BRANCHES,
        executor=executor,
        workers=2,
        chunksize=7_000,
        progress=False,
    )
    output = result.output["qcd"]
    columns = assemble_columns(output["chunks"])
    assert output["cutflow"]["two_fatjets"] == len(sample_features["mjj"])
    np.testing.assert_array_equal(columns["event"], sample_features["event"])

    from gbi.flows import load_model

    direct = load_model(str(model_dir), device="cpu").log_prob(sample_features)
    np.testing.assert_allclose(columns["flow_log_prob"], direct, rtol=1e-5, atol=1e-5)
    histogram = output["hists"]["flow_log_prob"]
    in_range = (direct >= -40) & (direct < 10) & (sample_features["region"] >= 0)
    assert histogram.sum().value == pytest.approx(float(in_range.sum()))
    assert ak.all(np.isfinite(columns["flow_log_prob"]))
