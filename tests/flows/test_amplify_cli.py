"""``gbi amplify train|sample|evaluate`` end to end on a small toy feature file."""

from __future__ import annotations

import json
import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from gbi.cli import main
from gbi.tables import write_table

FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def toy(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mjj = 2500.0 + rng.exponential(700.0, n)
    return {
        "mjj": mjj,
        "mj1": rng.gamma(3.0, 40.0, n) + 0.02 * (mjj - 2500.0),
        "delta_mj": rng.exponential(100.0, n),
        "tau21_j1": rng.beta(5.0, 3.0, n) * 1.2,
        "tau21_j2": rng.beta(4.0, 4.0, n),
        "weight": np.ones(n),
        "event": np.arange(n, dtype=np.uint64),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("features")
    write_table(toy(1200, 0), d / "train.parquet")
    write_table(toy(1200, 1), d / "reference.parquet")
    bad = toy(300, 2)
    bad["mj1"][[5, 9, 13]] = np.nan
    write_table(bad, d / "bad.parquet")
    return d


TRAIN = [
    "--epochs",
    "2",
    "--batch-size",
    "128",
    "--transforms",
    "1",
    "--hidden",
    "16",
    "--no-progress",
]


def test_unconditional_train_sample_evaluate(files, tmp_path) -> None:
    model = tmp_path / "model"
    assert (
        main(
            [
                "amplify",
                "train",
                str(files / "train.parquet"),
                "--out",
                str(model),
                "--flow",
                "maf",
                *TRAIN,
            ]
        )
        == 0
    )
    assert (model / "model.json").is_file()
    assert (model / "member_000.pt").is_file()

    out = tmp_path / "gen.parquet"
    assert (
        main(
            [
                "amplify",
                "sample",
                str(model),
                "--events",
                "2500",
                "--out",
                str(out),
                "--batch-size",
                "1000",
            ]
        )
        == 0
    )
    table = pq.read_table(out)
    assert table.num_rows == 2500
    assert set(FEATURES) | {"weight"} == set(table.column_names)
    assert all(str(table.schema.field(c).type) == "double" for c in table.column_names)

    report = tmp_path / "eval.json"
    plots = tmp_path / "plots"
    args = ["amplify", "evaluate", str(model), "--reference", str(files / "reference.parquet")]
    assert main([*args, "--json", str(report), "--plots", str(plots)]) == 0
    doc = json.loads(report.read_text())
    for key in (
        "c2st_auc",
        "c2st_auc_err",
        "amplification_factor",
        "divergences",
        "classifier_weights",
    ):
        assert key in doc
    assert 0.0 <= doc["c2st_auc"] <= 1.0
    assert set(doc["divergences"]) == set(FEATURES)
    assert {"kl", "hellinger", "chi2_ndf", "wasserstein"} <= set(doc["divergences"]["mj1"])
    assert doc["n_train"] == 1200
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{c}.png" for c in FEATURES)


def test_conditional_sideband_model_sampled_with_a_kde(files, tmp_path) -> None:
    model = tmp_path / "cond"
    args = [
        "amplify",
        "train",
        str(files / "train.parquet"),
        "--out",
        str(model),
        "--context",
        "mjj",
    ]
    assert main([*args, "--exclude", "mjj", "3000", "3400", "--ensemble", "2", *TRAIN]) == 0
    doc = json.loads((model / "model.json").read_text())
    assert doc["config"]["context"] == ["mjj"]
    assert doc["config"]["features"] == list(FEATURES[1:])
    assert len(doc["members"]) == 2

    out = tmp_path / "sr.parquet"
    ref = str(files / "reference.parquet")
    sample = [
        "amplify",
        "sample",
        str(model),
        "--events",
        "500",
        "--out",
        str(out),
        "--context-from",
        ref,
    ]
    assert main([*sample, "--context-kde", "3000", "3400"]) == 0
    mjj = pq.read_table(out).column("mjj").to_numpy()
    assert mjj.min() >= 3000
    assert mjj.max() <= 3400

    report = tmp_path / "sr.json"
    evaluate = ["amplify", "evaluate", str(model), "--reference", ref, "--json", str(report)]
    assert main([*evaluate, "--select", "mjj", "3000", "3400"]) == 0
    assert "c2st_auc" in json.loads(report.read_text())


def test_cli_bad_input_exit_code_and_message(files, tmp_path, capsys) -> None:
    model = tmp_path / "m"
    assert main(["amplify", "train", str(files / "bad.parquet"), "--out", str(model), *TRAIN]) == 2
    err = capsys.readouterr().err
    assert "found 3 of 300 rows with NaN or inf" in err
    assert "--drop-invalid" in err
    assert (
        main(
            [
                "amplify",
                "train",
                str(files / "bad.parquet"),
                "--out",
                str(model),
                "--drop-invalid",
                *TRAIN,
            ]
        )
        == 0
    )
    assert json.loads((model / "model.json").read_text())["training"]["dropped_invalid"] == 3

    assert (
        main(
            [
                "amplify",
                "train",
                str(files / "train.parquet"),
                "--out",
                str(model),
                "--context",
                "mqq",
                *TRAIN,
            ]
        )
        == 2
    )
    assert "expected context column(s) ['mqq']" in capsys.readouterr().err
    assert (
        main(["amplify", "train", str(tmp_path / "missing.parquet"), "--out", str(model), *TRAIN])
        == 2
    )
    assert "expected an existing Parquet file" in capsys.readouterr().err
    assert (
        main(
            [
                "amplify",
                "sample",
                str(tmp_path / "nomodel"),
                "--events",
                "5",
                "--out",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    assert "expected model.json" in capsys.readouterr().err


def test_cli_defaults_are_the_library_defaults() -> None:
    from gbi.cli import amplify
    from gbi.flows import FlowConfig, TrainConfig

    train, flow = TrainConfig(), FlowConfig(features=("x",))
    for key, value in vars(amplify._TRAIN_DEFAULTS).items():
        assert getattr(train, key) == value, key
    for key, value in vars(amplify._FLOW_DEFAULTS).items():  # passes "auto" resolves
        assert FlowConfig(features=("x",), **{key: value}) == flow, key


def test_ctrl_c_during_training_prints_the_exact_resume_command(
    files, tmp_path, capsys, monkeypatch, caplog
) -> None:
    """Ctrl-C after the first epoch keeps the checkpoint; the printed command resumes it."""
    import shlex

    import gbi.flows.training as training

    real_save = training.save_state
    calls = []

    def save_then_interrupt(state, path):
        real_save(state, path)
        calls.append(path)
        raise KeyboardInterrupt

    model = tmp_path / "model dir"  # a space: the command must be shell-quoted
    args = ["amplify", "train", str(files / "train.parquet"), "--out", str(model)]
    options = [*TRAIN, "--epochs", "3", "--exclude", "mjj", "3000", "3400", "--context", "mjj"]
    monkeypatch.setattr(training, "save_state", save_then_interrupt)
    assert main([*args, *options]) == 130
    err = capsys.readouterr().err
    assert "no partial output" not in err
    assert "can be resumed" in err
    assert len(calls) == 1
    assert calls[0].is_file()
    assert not (model / "model.json").exists()
    command = shlex.split(err.strip().splitlines()[-1])
    assert command[:3] == ["gbi", "amplify", "train"]
    assert command[-1] == "--resume"
    for option in ("--epochs", "3", "--exclude", "mjj", "3000", "3400", "--context", str(model)):
        assert option in command

    monkeypatch.setattr(training, "save_state", real_save)
    with caplog.at_level(logging.INFO, logger="gbi.flows.training"):
        assert main(command[1:]) == 0
    assert "resumed from" in caplog.text
    assert "at epoch 1" in caplog.text
    doc = json.loads((model / "model.json").read_text())
    assert doc["members"][0]["epochs_run"] == 3
    assert doc["config"]["context"] == ["mjj"]


def test_bad_window_and_threads_are_clear_errors(files, tmp_path, capsys) -> None:
    args = ["amplify", "train", str(files / "train.parquet"), "--out", str(tmp_path / "m")]
    assert main([*args, "--exclude", "mjj", "low", "3400", *TRAIN]) == 2
    assert "--exclude: expected numbers for LOW and HIGH, found 'low' '3400'" in (
        capsys.readouterr().err
    )
    assert main([*args, "--select", "mjj", "3400", "3000", *TRAIN]) == 2
    assert "expected finite LOW < HIGH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--threads", "0"])
    assert "expected a positive integer, found 0" in capsys.readouterr().err


@pytest.mark.parametrize("passes", ["none", "2", "3", "auto"])
def test_passes_option_survives_the_resume_command(passes: str, capsys) -> None:
    """``--passes none`` (autoregressive) or N: the printed resume command parses back to
    the same architecture, whichever value is the default."""
    import argparse
    import shlex

    from gbi.cli import amplify

    parser = argparse.ArgumentParser()
    amplify._add_train(parser.add_subparsers())
    train_parser = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    actions = [a for a in train_parser._actions if a.dest != "help"]
    args = train_parser.parse_args(["f.parquet", "--out", "m", "--passes", passes])
    expected = {"none": None, "auto": "auto"}
    assert args.passes == (expected[passes] if passes in expected else int(passes))
    command = shlex.split(amplify.resume_command(args, actions))
    again = train_parser.parse_args(command[3:])
    assert again.passes == args.passes
    with pytest.raises(SystemExit):
        train_parser.parse_args(["f.parquet", "--out", "m", "--passes", "0"])
    assert "expected a positive integer, 'none' or 'auto', found '0'" in capsys.readouterr().err
