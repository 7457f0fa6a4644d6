"""gbi's iterative executor: each file's TTree is read once, files are closed, results unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import uproot

import gbi.executors
from gbi.execution import run_processor
from gbi.fileset import normalize_fileset
from gbi.processors import DijetFeatureProcessor, assemble_columns
from gbi.processors.dijet import OPTIONAL_BRANCHES, REQUIRED_BRANCHES
from gbi.sample import default_fileset


def _run(chunksize, executor="iterative"):
    return run_processor(
        normalize_fileset(default_fileset()),
        DijetFeatureProcessor(),
        required_branches=REQUIRED_BRANCHES,
        preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
        executor=executor,
        chunksize=chunksize,
        progress=False,
    )


@pytest.fixture
def tree_reads(monkeypatch):
    """Every TTree object that uproot hands out; a new object is a new deserialisation."""
    trees = []
    original = uproot.reading.ReadOnlyKey.get

    def spy(self):
        out = original(self)
        if isinstance(out, uproot.behaviors.TTree.TTree):
            trees.append(out)
        return out

    monkeypatch.setattr(uproot.reading.ReadOnlyKey, "get", spy)
    return trees


def _same_output(a, b):
    for dataset in ("qcd", "wprime"):
        assert a[dataset]["cutflow"] == b[dataset]["cutflow"]
        for name, histogram in a[dataset]["hists"].items():
            np.testing.assert_allclose(
                histogram.values(flow=True), b[dataset]["hists"][name].values(flow=True)
            )
            np.testing.assert_allclose(
                histogram.variances(flow=True), b[dataset]["hists"][name].variances(flow=True)
            )
        columns_a = assemble_columns(a[dataset]["chunks"])
        columns_b = assemble_columns(b[dataset]["chunks"])
        for name, values in columns_a.items():
            np.testing.assert_array_equal(values, columns_b[name])


def test_split_files_read_each_tree_once(tree_reads):
    """Files split into many chunks: one TTree read for the check and one for all chunks."""
    whole = _run(chunksize=100_000)
    assert whole.chunks == 2
    del tree_reads[:]
    split = _run(chunksize=1_500)  # 20k + 4k events: 13 + 3 chunks
    assert split.chunks == 16
    assert len({id(tree) for tree in tree_reads}) == 2 * 2  # 2 files x (check + processing)
    _same_output(whole.output, split.output)


def test_split_files_agree_with_the_futures_executor():
    """The futures executor opens files per chunk as coffea does: the same output."""
    _same_output(_run(chunksize=1_500).output, _run(chunksize=1_500, executor="futures").output)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_held_files_are_closed_after_the_run():
    _run(chunksize=1_500)  # imports and first-use caches
    before = len(os.listdir("/proc/self/fd"))
    _run(chunksize=1_500)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_file_that_cannot_be_held_is_read_by_coffea(monkeypatch, tree_reads):
    """If the holder cannot open a file, coffea's work function opens it per chunk."""
    expected = _run(chunksize=1_500)

    class Unopenable:
        @staticmethod
        def open(*args, **kwargs):
            raise OSError("simulated: cannot open")

    monkeypatch.setattr(gbi.executors, "uproot", Unopenable)  # only the holder's uproot
    del tree_reads[:]
    fallback = _run(chunksize=1_500)
    assert fallback.chunks == 16
    assert len({id(tree) for tree in tree_reads}) == 2 + 16  # checks, then one per chunk
    _same_output(expected.output, fallback.output)


def test_files_checked_by_a_process_pool_as_one_by_one(testdata_dir, tmp_path):
    """inspect_files through a process pool's map: the same problems and file facts."""
    import concurrent.futures
    import multiprocessing

    from gbi.fileset import inspect_files

    fileset = normalize_fileset(default_fileset())
    fileset["other"] = {
        "files": {
            str(tmp_path / "missing.root"): "Events",
            str(testdata_dir / "uproot-HZZ.root"): "events",
        },
        "metadata": {},
    }
    serial = inspect_files(fileset, REQUIRED_BRANCHES)
    spawn = multiprocessing.get_context("spawn")  # no fork of this multi-threaded process
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        parallel = inspect_files(fileset, REQUIRED_BRANCHES, map_function=pool.map)
    assert [(b.dataset, b.path, b.reason) for b in parallel[0]] == [
        (b.dataset, b.path, b.reason) for b in serial[0]
    ]
    assert len(serial[0]) == 2
    assert parallel[1] == serial[1]
    assert len(serial[1]) == 2
