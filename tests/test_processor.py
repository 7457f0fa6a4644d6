"""DijetFeatureProcessor on real files: executors agree, real CMS NanoAOD works, cutflow is right."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from gbi.errors import GbiInputError
from gbi.execution import run_processor
from gbi.fileset import normalize_fileset
from gbi.processors import DijetFeatureProcessor, assemble_columns
from gbi.processors.dijet import OPTIONAL_BRANCHES, REQUIRED_BRANCHES


def _run(fileset, executor, **kwargs):
    return run_processor(
        fileset,
        DijetFeatureProcessor(),
        required_branches=REQUIRED_BRANCHES,
        executor=executor,
        progress=False,
        **{"preload_branches": REQUIRED_BRANCHES + OPTIONAL_BRANCHES, **kwargs},
    )


@pytest.fixture(scope="module")
def lhco_fileset(lhco_dir):
    return normalize_fileset(
        {
            "qcd": {"files": [str(lhco_dir / "qcd_a_000.root")]},
            "wprime": {"files": [str(lhco_dir / "wprime_3500_500_100_000.root")]},
        }
    )


@pytest.fixture(scope="module")
def iterative_result(lhco_fileset):
    return _run(lhco_fileset, "iterative", chunksize=15_000)


def _assert_same_output(a, b):
    assert sorted(a) == sorted(b)
    for dataset in a:
        assert a[dataset]["cutflow"] == b[dataset]["cutflow"]
        for name, histogram in a[dataset]["hists"].items():
            other = b[dataset]["hists"][name]
            np.testing.assert_array_equal(histogram.values(flow=True), other.values(flow=True))
            np.testing.assert_array_equal(
                histogram.variances(flow=True), other.variances(flow=True)
            )
        columns_a = assemble_columns(a[dataset]["chunks"])
        columns_b = assemble_columns(b[dataset]["chunks"])
        assert sorted(columns_a) == sorted(columns_b)
        for name in columns_a:
            np.testing.assert_array_equal(columns_a[name], columns_b[name])


def test_iterative_counts_and_columns(iterative_result, lhco_dir):
    output = iterative_result.output
    assert iterative_result.chunks == 6  # coffea balances 50k events into 3 chunks <= 15k
    assert output["qcd"]["cutflow"]["events"] == 50_000
    columns = assemble_columns(output["qcd"]["chunks"])
    # chunk order preserved: event numbers as in the file
    events = uproot.open(lhco_dir / "qcd_a_000.root")["Events"]["event"].array(library="np")
    np.testing.assert_array_equal(columns["event"], events)
    sr_fraction = output["qcd"]["cutflow"]["SR"] / output["qcd"]["cutflow"]["events"]
    assert sr_fraction == pytest.approx(0.147, abs=0.01)  # data README: ~14.7% of QCD in the SR
    wprime_sr = output["wprime"]["cutflow"]["SR"] / output["wprime"]["cutflow"]["events"]
    assert wprime_sr == pytest.approx(0.71, abs=0.02)
    assert set(np.unique(columns["label"])) == {0}
    hist_sr = output["qcd"]["hists"]["mjj"][{"region": "SR"}]
    assert hist_sr.sum(flow=True).value == output["qcd"]["cutflow"]["SR"]


def test_futures_executor_gives_identical_output(lhco_fileset, iterative_result):
    result = _run(lhco_fileset, "futures", workers=2, chunksize=15_000)
    _assert_same_output(iterative_result.output, result.output)


@pytest.mark.slow  # a local dask cluster start
def test_dask_local_cluster_gives_identical_output(lhco_fileset, iterative_result):
    pytest.importorskip("distributed")
    result = _run(lhco_fileset, "dask", workers=2, chunksize=15_000)
    _assert_same_output(iterative_result.output, result.output)


@pytest.mark.slow  # a local dask cluster start
def test_dask_existing_scheduler(lhco_fileset, iterative_result):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # 8787 may be taken
        processes=True,
    ) as cluster:
        result = _run(lhco_fileset, "dask", scheduler=cluster.scheduler_address, chunksize=15_000)
    _assert_same_output(iterative_result.output, result.output)


def test_preloading_and_read_threads_do_not_change_the_output(lhco_fileset, iterative_result):
    """Lazy one-branch-at-a-time reads in one thread give the same bits as the default."""
    result = _run(lhco_fileset, "iterative", chunksize=15_000, read_threads=1, preload_branches=())
    _assert_same_output(iterative_result.output, result.output)
    threaded = _run(lhco_fileset, "iterative", chunksize=15_000, read_threads=3)
    _assert_same_output(iterative_result.output, threaded.output)


def test_read_threads_must_be_positive(lhco_fileset):
    with pytest.raises(GbiInputError, match="read_threads: expected at least 1, found 0"):
        _run(lhco_fileset, "iterative", read_threads=0)


def test_chunk_order_does_not_matter(lhco_fileset, iterative_result):
    reordered = {name: lhco_fileset[name] for name in reversed(list(lhco_fileset))}
    result = _run(reordered, "iterative", chunksize=15_000)
    _assert_same_output(iterative_result.output, result.output)


def test_real_cms_nanoaod_counts_events_with_fewer_than_two_fatjets(testdata_dir, tmp_path):
    path = testdata_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    n_fatjet = uproot.open(path)["Events"]["nFatJet"].array(library="np")
    result = _run(normalize_fileset([str(path)]), "iterative")
    cutflow = result.output["nanoAOD_2015_CMS_Open_Data_ttbar"]["cutflow"]
    assert cutflow["events"] == len(n_fatjet) == 200
    assert cutflow["two_fatjets"] == int((n_fatjet >= 2).sum())
    assert cutflow["events"] - cutflow["two_fatjets"] == int((n_fatjet < 2).sum())


def test_real_cms_nanoaod_with_two_fatjets(testdata_dir, tmp_path):
    """Duplicate the single fat jets of the CMS file so that features exist, and compare."""
    source = testdata_dir / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
    branches = ["run", "luminosityBlock", "event", "genWeight"]
    jet_fields = ["pt", "eta", "phi", "mass", "tau1", "tau2", "tau3"]
    arrays = uproot.open(source)["Events"].arrays([*branches, *(f"FatJet_{f}" for f in jet_fields)])
    jets = ak.zip({f: arrays[f"FatJet_{f}"] for f in jet_fields})
    doubled = ak.concatenate([jets, jets], axis=1)  # every event with >= 1 jet now has >= 2
    target = tmp_path / "doubled.root"
    data = {**{b: arrays[b] for b in branches}, "FatJet": doubled}
    with uproot.recreate(target) as out:
        out.mktree("Events", {name: value.type for name, value in data.items()})
        out["Events"].extend(data)
    result = _run(normalize_fileset([str(target)]), "iterative")
    cutflow = result.output["doubled"]["cutflow"]
    assert cutflow["two_fatjets"] == int(ak.sum(ak.num(jets) >= 1))
    columns = assemble_columns(result.output["doubled"]["chunks"])
    assert np.all(columns["delta_mj"] == 0)  # identical jets
    assert cutflow["sumw_two_fatjets"] == pytest.approx(
        float(np.sum(ak.to_numpy(arrays["genWeight"])[ak.to_numpy(ak.num(jets) >= 1)]))
    )


@pytest.mark.parametrize(
    ("executor", "progress"), [("iterative", False), ("iterative", True), ("futures", False)]
)
def test_progress_false_draws_no_bar(executor, progress, capfd):
    """coffea's iterative and futures executors draw their bars even with ``status=False``;
    gbi's do not. Runs on the shipped default sample (no ``../shared`` needed)."""
    from gbi.sample import default_fileset

    result = run_processor(
        normalize_fileset(default_fileset()),
        DijetFeatureProcessor(),
        required_branches=REQUIRED_BRANCHES,
        preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
        executor=executor,
        workers=2,
        progress=progress,
    )
    assert result.events_read > 0
    captured = capfd.readouterr()
    drawn = "Processing" in captured.out + captured.err
    assert drawn == progress


def _count_arrays() -> int:
    import gc

    # type() rather than isinstance(): isinstance reads ``__class__``, which some objects
    # in the process (torch.distributed's deprecated reduce_op) turn into a warning
    return sum(issubclass(type(o), ak.Array) for o in gc.get_objects())


def test_no_chunk_arrays_outlive_the_run():
    """A chunk's arrays are freed when it is done, not at the next full garbage collection.

    uproot's per-file array cache held the preloaded arrays inside uproot's reference
    cycles, so peak memory grew with the number of files; gbi turns that cache off.
    """
    import gc

    from gbi.sample import default_fileset

    gc.collect()
    gc.disable()
    try:
        before = _count_arrays()
        run_processor(
            normalize_fileset(default_fileset()),
            DijetFeatureProcessor(keep_columns=False),
            required_branches=REQUIRED_BRANCHES,
            preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
            progress=False,
        )
        left = _count_arrays() - before
    finally:
        gc.enable()
    assert left == 0
