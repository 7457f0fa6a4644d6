"""Each kind of bad input gives one clear error naming the file/branch/field; nothing half-written."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from gbi.cli import main
from gbi.errors import GbiError, GbiInputError
from gbi.io import atomic_path


def _run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture
def qcd_file(lhco_dir, tmp_path):
    target = tmp_path / "qcd.root"
    shutil.copy(lhco_dir / "qcd_a_000.root", target)
    return target


def test_missing_file(capsys, tmp_path):
    code, err = _run_cli(
        capsys, "process", str(tmp_path / "nope.root"), "--out", str(tmp_path / "o")
    )
    assert code == 2
    assert "nope.root" in err
    assert "does not exist" in err
    assert "fileset" not in err  # the files were given on the command line
    assert "--skip-bad-files" not in err  # one file: nothing else to process
    assert not (tmp_path / "o").exists()


def test_empty_file(capsys, tmp_path):
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    code, err = _run_cli(capsys, "process", str(empty), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "empty.root (dataset 'empty'): is an empty file (0 bytes)" in err
    assert "Chunk" not in err


def test_skip_hint_once_and_only_without_the_flag(capsys, qcd_file, tmp_path):
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(qcd_file.read_bytes()[:100_000])
    files = [str(qcd_file), str(truncated)]
    code, err = _run_cli(capsys, "process", *files, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "truncated.root" in err
    assert err.count("--skip-bad-files") == 1, err
    out = tmp_path / "skipped"
    argv = ["process", *files, "--out", str(out), "--skip-bad-files", "--no-progress"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "--skip-bad-files" not in captured.out + captured.err
    summary = json.loads((out / "summary.json").read_text())
    [skipped] = summary["skipped_files"]
    assert "is truncated" in skipped["reason"]
    assert "--skip-bad-files" not in skipped["reason"]


def test_truncated_file(capsys, qcd_file, tmp_path):
    data = qcd_file.read_bytes()
    qcd_file.write_bytes(data[: len(data) // 2])
    code, err = _run_cli(capsys, "process", str(qcd_file), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "qcd.root" in err
    assert "truncated" in err


def test_corrupt_baskets_are_reported_with_file_and_entries(capsys, qcd_file, tmp_path):
    data = bytearray(qcd_file.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 20_000] = os.urandom(20_000)
    qcd_file.write_bytes(bytes(data))
    code, err = _run_cli(
        capsys, "process", str(qcd_file), "--out", str(tmp_path / "o"), "--no-progress"
    )
    assert code == 2
    assert "qcd.root (dataset 'qcd', entries 0-50000) could not be processed" in err
    assert not (tmp_path / "o").exists()


def test_tree_without_fatjet_branches(capsys, testdata_dir, tmp_path):
    hzz = testdata_dir / "uproot-HZZ.root"
    code, err = _run_cli(capsys, "process", str(hzz), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "uproot-HZZ.root" in err
    assert "has no tree 'Events' (found: events)" in err
    assert "--treename events" in err  # the option that gbi process has
    code, err = _run_cli(
        capsys, "process", str(hzz), "--out", str(tmp_path / "o"), "--treename", "events"
    )
    assert code == 2
    assert "tree 'events' lacks the branches" in err  # the tree was found
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps({"hzz": {"files": {str(hzz): "events"}}}))
    code, err = _run_cli(capsys, "process", str(fileset), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "lacks the branches" in err
    assert "FatJet_pt" in err


def test_fileset_typo(capsys, tmp_path, qcd_file):
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps({"qcd": {"filse": [str(qcd_file)]}}))
    code, err = _run_cli(capsys, "process", str(fileset), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "fileset.json: dataset 'qcd' has unknown field 'filse'" in err
    assert "did you mean 'files'?" in err
    fileset.write_text('{"qcd": {"files": [}')
    code, err = _run_cli(capsys, "process", str(fileset), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "is not valid JSON (line 1" in err


def test_signal_region_outside_the_data(capsys, qcd_file, tmp_path):
    code, err = _run_cli(
        capsys,
        "process",
        str(qcd_file),
        "--out",
        str(tmp_path / "o"),
        "--sr",
        "9000",
        "9500",
        "--no-progress",
    )
    assert code == 2
    assert "signal region [9000.0, 9500.0) GeV lies outside the mjj range of the data in qcd" in err
    assert not (tmp_path / "o").exists()
    code, err = _run_cli(
        capsys, "process", str(qcd_file), "--out", str(tmp_path / "o"), "--sr", "500", "900"
    )
    assert code == 2
    assert "must lie strictly inside range" in err


@pytest.mark.parametrize(
    "executor", ["iterative", "futures", pytest.param("dask", marks=pytest.mark.slow)]
)  # dask: slow step (a local cluster start)
def test_skip_bad_files_reports_them_and_processes_the_rest(
    executor, qcd_file, testdata_dir, tmp_path
):
    """With ``dask`` the files are checked on the cluster's workers: the same report."""
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(qcd_file.read_bytes()[:100_000])
    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "qcd": {"files": [str(qcd_file), str(truncated), str(tmp_path / "missing.root")]},
                "hzz": {"files": [str(testdata_dir / "uproot-HZZ.root")]},
            }
        )
    )
    out = tmp_path / "o"
    assert (
        main(
            [
                "process",
                str(fileset),
                "--out",
                str(out),
                "--skip-bad-files",
                "--no-progress",
                "--executor",
                executor,
                "--workers",
                "2",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    skipped = {os.path.basename(s["file"]): s["reason"] for s in summary["skipped_files"]}
    assert set(skipped) == {"truncated.root", "missing.root", "uproot-HZZ.root"}
    assert "does not exist" in skipped["missing.root"]
    assert "has no tree 'Events'" in skipped["uproot-HZZ.root"]
    assert summary["events_read"] == 50_000
    assert list(summary["datasets"]) == ["qcd"]
    assert summary["datasets"]["qcd"]["files"] == 1  # the two bad ones were not processed
    assert summary["workers"] == (1 if executor == "iterative" else 2)  # what ran the chunks
    assert "bytes_read" not in summary  # coffea's figure was not the bytes read
    assert not any("--skip-bad-files" in reason for reason in skipped.values())


def test_bad_parameters(capsys, qcd_file, tmp_path):
    code, err = _run_cli(
        capsys, "process", str(qcd_file), "--out", str(tmp_path / "o"), "--chunksize", "0"
    )
    assert code == 2
    assert "chunksize: expected a positive number of events, found 0" in err
    code, err = _run_cli(capsys, "process", "notes.txt", "--out", str(tmp_path / "o"))
    assert code == 2
    assert "expected one fileset .json or ROOT files ending in .root, found 'notes.txt'" in err


def test_atomic_path_leaves_old_file_and_no_temp_on_interrupt(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")

    def write_then_interrupt() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_then_interrupt()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_error_hierarchy():
    assert issubclass(GbiInputError, GbiError)
    assert issubclass(GbiInputError, ValueError)
