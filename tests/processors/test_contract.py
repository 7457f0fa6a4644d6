"""One contract for every gbi coffea processor, driven the same way (as zuko drives every flow).

Each processor runs through plain ``coffea.processor.Runner`` on the shipped sample and
must:

- return one entry per dataset with a cutflow whose ``events`` is the number of entries read;
- give the same result whatever the chunking (its accumulators merge exactly);
- pickle small (workers receive it; saved models are loaded per worker, never shipped);
- keep its output types when merged (``postprocess`` returns the accumulator).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import hist
import numpy as np
import pytest
import uproot
from coffea import processor

from gbi.execution import QuietNanoAODSchema
from gbi.processors import (
    AnomalyScoreProcessor,
    DijetFeatureProcessor,
    FlowDensityProcessor,
    assemble_columns,
)
from gbi.sample import default_fileset

MAKERS: dict[str, Callable[[pytest.FixtureRequest], processor.ProcessorABC]] = {
    "dijet": lambda request: DijetFeatureProcessor(),
    "flow_density": lambda request: FlowDensityProcessor(request.getfixturevalue("flow_dir")),
    "anomaly": lambda request: AnomalyScoreProcessor(
        {"cathode": request.getfixturevalue("classifier_dir")}
    ),
}


def run(proc: processor.ProcessorABC, chunksize: int) -> dict[str, Any]:
    runner = processor.Runner(
        executor=processor.IterativeExecutor(), schema=QuietNanoAODSchema, chunksize=chunksize
    )
    return runner(default_fileset(), proc)


def comparable(value: Any) -> Any:
    """Histograms as (values, variances); feature chunks as one table; the per-chunk mjj
    ranges as one range; the rest as it is."""
    if isinstance(value, hist.Hist):
        return (value.values(flow=True), value.variances(flow=True))
    if isinstance(value, dict):
        if "chunks" in value:
            value = {**value, "chunks": assemble_columns(value["chunks"])}
        if "mjj_range" in value:  # per chunk: compare the range of the whole dataset
            ranges = list(value["mjj_range"].values())
            value = {**value, "mjj_range": (min(r[0] for r in ranges), max(r[1] for r in ranges))}
        return {k: comparable(v) for k, v in value.items() if k != "column_parts"}
    return value


def assert_same(a: Any, b: Any, where: str = "output") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict), where
        assert sorted(a) == sorted(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            assert_same(x, y, where)
    elif isinstance(a, np.ndarray):
        # 1e-6: the flows run in float32, whose matrix products round differently with the
        # batch size (seen: 1e-7 relative); sums of weights and counts agree exactly
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, err_msg=where)
    else:
        assert a == b, where


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_processor_contract(name: str, request: pytest.FixtureRequest) -> None:
    proc = MAKERS[name](request)
    assert isinstance(proc, processor.ProcessorABC)
    # workers receive the processor: it must pickle, small (models are loaded per worker)
    assert len(pickle.dumps(proc)) < 100_000

    whole = run(proc, chunksize=100_000)
    split = run(proc, chunksize=3_000)  # several chunks per file, merged by coffea
    fileset = default_fileset()
    assert sorted(whole) == sorted(fileset)
    for dataset, spec in fileset.items():
        (path, tree), *_ = spec["files"].items()
        with uproot.open(path) as f:
            entries = f[tree].num_entries
        assert whole[dataset]["cutflow"]["events"] == entries
        assert 0 < whole[dataset]["cutflow"]["two_fatjets"] <= entries
    assert_same(comparable(whole), comparable(split))
