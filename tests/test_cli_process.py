"""``gbi process`` end to end: outputs, their schema, and consistency between the formats."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import awkward as ak
import jsonschema
import numpy as np
import pytest
import uproot

from gbi.cli import COMMAND_MODULES, main
from gbi.schema import load_schema


@pytest.fixture(scope="module")
def process_output(lhco_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("process")
    fileset = out / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "qcd": {"files": {str(lhco_dir / "qcd_a_000.root"): "Events"}},
                "wprime": {"files": [str(lhco_dir / "wprime_3500_500_100_000.root")]},
            }
        )
    )
    code = main(
        ["process", str(fileset), "--out", str(out / "o"), "--chunksize", "20000", "--no-progress"]
    )
    assert code == 0
    return out / "o"


def test_summary_follows_schema(process_output):
    summary = json.loads((process_output / "summary.json").read_text())
    jsonschema.validate(summary, load_schema("process-summary", "1.0"))
    assert summary["events_read"] == 100_000
    assert summary["datasets"]["qcd"]["events_read"] == 50_000
    assert summary["events_passing"] == 100_000
    assert summary["events_per_second"] > 0
    assert summary["skipped_files"] == []


def test_parquet_histograms_and_root_agree(process_output):
    columns = ak.from_parquet(process_output / "features" / "qcd.parquet")
    assert {"mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2", "weight", "region", "event"} <= set(
        columns.fields
    )
    with (process_output / "histograms.pkl").open("rb") as stream:
        hists = pickle.load(stream)
    mjj_hist = hists["qcd"]["mjj"]
    sr = np.asarray(columns.region) == 1
    refill = mjj_hist[{"region": "SR"}].copy().reset()
    refill.fill(np.asarray(columns.mjj)[sr], weight=np.asarray(columns.weight)[sr])
    np.testing.assert_array_equal(refill.values(), mjj_hist[{"region": "SR"}].values())
    with uproot.open(process_output / "histograms.root") as root_file:
        th1 = root_file["qcd/mjj_SR"]
        np.testing.assert_allclose(th1.values(), mjj_hist[{"region": "SR"}].values())
        np.testing.assert_allclose(th1.variances(), mjj_hist[{"region": "SR"}].variances())
        assert root_file["wprime/tau21_j1"].values().sum() > 0


def test_plot_command_writes_pngs(process_output, tmp_path):
    assert main(["plot", str(process_output), "--out", str(tmp_path)]) == 0
    png = tmp_path / "mjj.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "gbi", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("demo", "process", "plot"):
        assert name in result.stdout
    assert set(COMMAND_MODULES) >= {"demo", "process", "plot"}


def test_spilled_columns_equal_in_memory_columns(lhco_dir, tmp_path):
    """``gbi process`` spills the columns per chunk and merges them; the Parquet file holds
    exactly what the in-memory accumulation gives, and no parts folder is left behind."""
    from gbi.execution import run_processor
    from gbi.feature_job import process_fileset
    from gbi.fileset import normalize_fileset
    from gbi.processors import DijetFeatureProcessor, assemble_columns

    fileset = normalize_fileset({"qcd": [str(lhco_dir / "qcd_a_000.root")]})
    process_fileset(fileset, tmp_path / "o", chunksize=7_000, progress=False)
    spilled = ak.from_parquet(tmp_path / "o" / "features" / "qcd.parquet")
    in_memory = run_processor(fileset, DijetFeatureProcessor(), chunksize=7_000, progress=False)
    columns = assemble_columns(in_memory.output["qcd"]["chunks"])
    assert sorted(spilled.fields) == sorted(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(np.asarray(spilled[name]), values)
    assert [p.name for p in (tmp_path / "o").iterdir() if p.name.startswith(".")] == [
        ".gbi-output.json"
    ]  # the manifest; no .column-parts-* folder


def test_failed_run_leaves_no_parts_or_output_folder(lhco_dir, tmp_path):
    from gbi.errors import GbiInputError
    from gbi.feature_job import process_fileset
    from gbi.fileset import normalize_fileset
    from gbi.regions import Regions

    fileset = normalize_fileset({"qcd": [str(lhco_dir / "qcd_a_000.root")]})
    regions = Regions(sr_low=20_000.0, sr_high=21_000.0, range_high=30_000.0)
    with pytest.raises(GbiInputError, match="outside the mjj range"):
        process_fileset(fileset, tmp_path / "o", regions=regions, progress=False)
    assert not (tmp_path / "o").exists()


def test_failed_parquet_write_stops_the_job_after_the_other_writes(monkeypatch, tmp_path):
    """The datasets' Parquet files are written on threads: one failing write is raised
    after the others have finished; what was written is complete (atomic writes), nothing
    is half-written, and no summary.json marks the run as done."""
    import gbi.feature_job
    from gbi.errors import GbiError
    from gbi.fileset import normalize_fileset
    from gbi.sample import default_fileset

    merge = gbi.feature_job.merge_column_parts

    def failing_merge(parts, target, *, dataset=""):
        if dataset == "qcd":
            raise GbiError("simulated failure while writing qcd")
        return merge(parts, target, dataset=dataset)

    monkeypatch.setattr(gbi.feature_job, "merge_column_parts", failing_merge)
    with pytest.raises(GbiError, match="simulated failure while writing qcd"):
        gbi.feature_job.process_fileset(
            normalize_fileset(default_fileset()), tmp_path / "o", progress=False
        )
    left = sorted(str(p.relative_to(tmp_path / "o")) for p in (tmp_path / "o").rglob("*"))
    assert left == [
        ".gbi-output.json",
        "features",
        "features/wprime.parquet",
        "histograms.json",
        "histograms.pkl",
        "histograms.root",
        "regions.json",
    ]
    assert len(ak.from_parquet(tmp_path / "o" / "features" / "wprime.parquet")) > 0
    manifest = json.loads((tmp_path / "o" / ".gbi-output.json").read_text())
    assert manifest["complete"] is False  # the partial outputs are gbi's: --overwrite may go
    assert "histograms.pkl" in manifest["files"]


@pytest.mark.parametrize(
    "executor", ["futures", pytest.param("dask", marks=pytest.mark.slow)]
)  # dask: slow step (a local cluster start)
def test_run_prints_no_expected_warnings_or_info_lines(tmp_path, executor):
    """coffea's 'Missing cross-reference index' warnings (from the worker processes) and
    distributed's INFO lines are expected chatter: a normal run shows neither."""
    from gbi.sample import default_fileset

    files = [next(iter(spec["files"])) for spec in default_fileset().values()]
    options = ["--executor", executor, "--workers", "2", "--no-progress"]
    result = subprocess.run(
        [sys.executable, "-m", "gbi", "process", *files, "--out", str(tmp_path / "o"), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Missing cross-reference" not in result.stderr
    assert "INFO" not in result.stderr
    assert result.stderr.strip() == "", result.stderr
