"""``gbi detect`` and ``gbi infer`` read their inputs the same way (issue 17, items 2, 3, 5):

- a ``gbi process`` folder gives exactly the datasets its ``summary.json`` lists (a stale
  ``features/old.parquet`` beside them is never read), and the run names what it read;
- NaN/inf rows stop both commands with the same message, and ``--drop-invalid`` drops and
  counts them in both;
- every option of ``--help`` has help text and shows its default.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from gbi.background import read_features
from gbi.cli import main
from gbi.errors import GbiInputError
from gbi.feature_job import process_fileset
from gbi.sample import default_fileset
from gbi.tables import read_table, write_table

DETECT_FAST = ["--methods", "cathode", "--flow-epochs", "1", "--max-iter", "5", "--folds", "2"]
INFER_FAST = ["--method", "unbinned", "--flow-epochs", "1", "--flow-ensemble", "1"]
# These tests read inputs; the quick Gaussian-mixture signal model keeps them at a second
# (the default R-ANODE flow takes about 30 s on the shipped sample).
INFER_FAST += ["--unbinned-toys", "1", "--unbinned-model", "gmm"]


@pytest.fixture(scope="module")
def stale_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A process folder of the shipped sample, rerun with only qcd: summary.json lists qcd,
    features/wprime.parquet of the first run is left beside it (renamed old.parquet)."""
    out = tmp_path_factory.mktemp("proc")
    process_fileset(default_fileset(), out, chunksize=10_000, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    del summary["datasets"]["wprime"]
    (out / "summary.json").write_text(json.dumps(summary))
    shutil.move(out / "features" / "wprime.parquet", out / "features" / "old.parquet")
    return out


@pytest.fixture(scope="module")
def with_nan(stale_folder: Path) -> Path:
    table = read_table(stale_folder / "features" / "qcd.parquet")
    table["mj1"] = table["mj1"].copy()
    table["mj1"][:3] = np.nan
    table["tau21_j1"] = table["tau21_j1"].copy()
    table["tau21_j1"][5] = np.inf
    return write_table(table, stale_folder.parent / "with_nan.parquet")


def test_reader_takes_the_datasets_of_summary_json(stale_folder: Path) -> None:
    got = read_features([stale_folder], "data")
    assert got is not None
    assert got.files == [stale_folder / "features" / "qcd.parquet"]
    n_qcd = len(read_table(stale_folder / "features" / "qcd.parquet")["mjj"])
    assert got.n_read == n_qcd
    assert (got.table["label"] == 0).all()  # no stale W' events


def test_reader_refuses_a_features_folder_without_summary(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    write_table({"mjj": np.ones(3)}, tmp_path / "features" / "a.parquet")
    with pytest.raises(GbiInputError, match=r"no summary\.json"):
        read_features([tmp_path], "data")


def test_detect_reads_only_the_listed_datasets(stale_folder: Path, tmp_path: Path) -> None:
    rc = main(["detect", str(stale_folder), "--out", str(tmp_path), *DETECT_FAST])
    assert rc == 0
    doc = json.loads((tmp_path / "result.json").read_text())
    n_qcd = len(read_table(stale_folder / "features" / "qcd.parquet")["mjj"])
    assert doc["counts"]["data"] == n_qcd
    assert doc["inputs"]["read"]["data"]["files"] == [str(stale_folder / "features/qcd.parquet")]


def test_infer_reads_only_the_listed_datasets(stale_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "infer.json"
    assert main(["infer", str(stale_folder), "--json", str(out), *INFER_FAST]) == 0
    doc = json.loads(out.read_text())
    n_qcd = len(read_table(stale_folder / "features" / "qcd.parquet")["mjj"])
    assert doc["counts"]["data"] == n_qcd


@pytest.mark.parametrize("command", ["detect", "infer"])
def test_bad_rows_same_message_and_drop_invalid(
    command: str,
    with_nan: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "out"
    args = (
        ["detect", str(with_nan), "--out", str(out), *DETECT_FAST]
        if command == "detect"
        else ["infer", str(with_nan), "--json", str(out / "result.json"), *INFER_FAST]
    )
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "found 4 of" in err
    assert "rows with NaN or inf (per column: {'mj1': 3, 'tau21_j1': 1})" in err
    assert "pass --drop-invalid to drop them" in err
    with caplog.at_level(logging.WARNING):
        assert main([*args, "--drop-invalid"]) == 0
    assert "dropped 4 events with NaN/inf values from data" in caplog.text
    doc = json.loads((out / "result.json").read_text())
    n_rows = len(read_table(with_nan)["mjj"])
    assert doc["counts"]["data"] == n_rows - 4
    if command == "detect":
        assert doc["inputs"]["read"]["data"]["dropped_invalid"] == 4


def _subparser(command: str) -> argparse.ArgumentParser:
    from gbi.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize("command", ["detect", "infer"])
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = _subparser(command)
    text = parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.option_strings or action.dest}: no help text"
        if action.default not in (None, False) and action.option_strings:
            default = action.default
            if isinstance(default, list):
                default = " ".join(map(str, default))
            shown = f"(default: {default})" in " ".join(text.split())
            assert shown, f"{action.option_strings[0]}: default {action.default!r} not shown"


@pytest.mark.parametrize("command", ["detect", "infer"])
def test_threads_option_is_the_runs_budget(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``--threads N`` caps torch (and OpenMP/BLAS) for the whole run; a bad value stops
    before anything is written."""
    import torch

    import gbi.detect.files
    import gbi.infer.files

    seen: list[int] = []

    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise GbiInputError("stop here")

    module, name = (
        (gbi.detect.files, "detect_files")
        if command == "detect"
        else (gbi.infer.files, "infer_files")
    )
    monkeypatch.setattr(module, name, record)
    out = (
        ["--out", str(tmp_path / "out")]
        if command == "detect"
        else ["--json", str(tmp_path / "r.json")]
    )
    assert main([command, str(tmp_path), *out, "--threads", "1"]) == 2
    assert seen == [1]
    assert main([command, str(tmp_path), *out, "--threads", "0"]) == 2
    assert "threads: expected a positive integer, found 0" in capsys.readouterr().err
    assert seen == [1]  # never started
