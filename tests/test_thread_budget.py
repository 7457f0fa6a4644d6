"""Each stage keeps to its thread budget: futures workers, dask workers, scripts."""

from __future__ import annotations

import os

import pytest
import torch
from coffea import processor

from gbi.execution import run_processor
from gbi.executors import worker_share
from gbi.fileset import normalize_fileset
from gbi.processors.dijet import REQUIRED_BRANCHES
from gbi.sample import default_fileset
from gbi.threads import environment, limit_process_threads, worker_environment


class ThreadReport(processor.ProcessorABC):
    """Reports the thread limits its worker process runs under (one entry per chunk)."""

    def process(self, events):
        import sklearn.ensemble  # noqa: F401  (loads libgomp, as the classifier stages do)
        import torch
        from threadpoolctl import threadpool_info

        return {
            "torch": [torch.get_num_threads()],
            "pools": [max(p["num_threads"] for p in threadpool_info())],
            "wait_policy": [os.environ.get("OMP_WAIT_POLICY")],
            "pid": [os.getpid()],
        }

    def postprocess(self, accumulator):
        return accumulator


def test_futures_workers_keep_to_their_share():
    """Two futures workers: each process sees its share of the cores for torch and every
    OpenMP/BLAS pool, and a passive OpenMP wait policy."""
    result = run_processor(
        normalize_fileset(default_fileset()),
        ThreadReport(),
        required_branches=REQUIRED_BRANCHES,
        executor="futures",
        workers=2,
        chunksize=5_000,
        progress=False,
    )
    out = result.output
    share = worker_share(2)
    assert os.getpid() not in out["pid"]  # really ran in worker processes
    assert max(out["torch"]) <= share
    assert max(out["pools"]) <= share
    assert set(out["wait_policy"]) <= {"PASSIVE", os.environ.get("OMP_WAIT_POLICY")}


def test_environment_is_restored():
    before = os.environ.get("OMP_NUM_THREADS")
    with environment(worker_environment(1)):
        assert os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ.get("OMP_NUM_THREADS") == before


def test_limit_process_threads_caps_torch_and_pools():
    from threadpoolctl import threadpool_info, threadpool_limits

    previous = torch.get_num_threads()
    try:
        with threadpool_limits(limits=None):  # restores the pools afterwards
            assert limit_process_threads(1) == 1
            assert torch.get_num_threads() == 1
            assert max(p["num_threads"] for p in threadpool_info()) == 1
    finally:
        torch.set_num_threads(previous)


def test_worker_environment_rejects_a_bad_count():
    from gbi.errors import GbiInputError

    with pytest.raises(GbiInputError, match="threads"):
        worker_environment(0)
