"""``gbi workspace`` and ``gbi fit`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import uproot

from gbi.cli import main
from gbi.schema import validate


def test_workspace_and_fit_cli(
    hists_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = f"{hists_json}:{{}}/mjj[region=SR]"
    ws = tmp_path / "ws.json"
    argv = [
        "workspace", "--signal", ref.format("signal"), "--background", ref.format("qcd"),
        "--background", f"top={ref.format('ttbar')}", "--data", ref.format("data"),
        "--sys", "0.1", "--lumi", "0.02", "--out", str(ws),
    ]  # fmt: skip
    assert main(argv) == 0
    spec = json.loads(ws.read_text())
    assert [s["name"] for s in spec["channels"][0]["samples"]] == ["signal", "qcd", "top"]
    with uproot.open(ws.with_suffix(".root")) as root_file:
        assert {"SR/signal", "SR/qcd", "SR/top", "SR/data"} <= {
            k.split(";")[0]
            for k in root_file.keys()  # noqa: SIM118
        }
        assert root_file["SR/qcd"].values().sum() == pytest.approx(
            sum(spec["channels"][0]["samples"][1]["data"])
        )
    out, plots = tmp_path / "fit.json", tmp_path / "plots"
    assert (
        main(["fit", str(ws), "--json", str(out), "--plot", str(plots), "--scan-points", "4"]) == 0
    )
    result = json.loads(out.read_text())
    validate(result, "fit-result", str(out))
    assert {
        "mu_hat",
        "mu_err",
        "q0_significance",
        "cls_upper_limit_obs",
        "cls_upper_limit_exp",
    } <= set(result)
    assert (plots / "pulls.png").stat().st_size > 1000
    assert (plots / "cls_limit.png").stat().st_size > 1000
    assert "CLs upper limit" in capsys.readouterr().out


def test_workspace_cli_regions_and_asimov(hists_json: Path, tmp_path: Path) -> None:
    ref = f"{hists_json}:{{}}/mjj[region={{{{region}}}}]"
    ws = tmp_path / "ws.json"
    argv = [
        "workspace", "--signal", ref.format("signal"), "--amplified", ref.format("qcd"),
        "--data", "asimov:1", "--channels", "SR", "CR", "--out", str(ws), "--no-root",
    ]  # fmt: skip
    assert main(argv) == 0
    spec = json.loads(ws.read_text())
    assert [c["name"] for c in spec["channels"]] == ["SR", "CR"]
    assert not ws.with_suffix(".root").exists()


def test_workspace_cli_config(hists_json: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "version": "1.0",
        "channels": [{"name": "SR", "samples": [
            {"name": "s", "hist": f"{hists_json.name}:signal/mjj[region=SR]", "signal": True},
            {"name": "b", "hist": f"{hists_json.name}:qcd/mjj[region=SR]", "sys": 0.05},
        ]}],
    }))  # fmt: skip
    assert main(["workspace", str(config), "--out", str(tmp_path / "ws.json")]) == 0


def test_cli_errors_are_one_line(
    hists_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "workspace", "--signal", f"{hists_json}:signal/mjj[region=SR]",
        "--background", f"{hists_json}:qcd/mjj[region=XX]", "--out", str(tmp_path / "ws.json"),
    ]  # fmt: skip
    assert main(argv) == 2
    assert "gbi workspace: error:" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"channels": []}))
    assert main(["fit", str(bad)]) == 2
    assert "does not follow the pyhf workspace schema" in capsys.readouterr().err
