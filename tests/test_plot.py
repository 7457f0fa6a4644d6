"""``gbi plot`` edge cases (issue 17 item 5): no events, no SR events, unexpected content."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import hist
import numpy as np
import pytest

from gbi.cli import main
from gbi.features import FEATURE_COLUMNS
from gbi.hists import write_histograms
from gbi.processors.dijet import default_axes
from gbi.regions import REGION_NAMES, Regions


def process_hists(mjj: np.ndarray, region: np.ndarray) -> dict[str, dict[str, hist.Hist]]:
    """``{qcd: {feature: Hist(region, feature)}}`` as ``gbi process`` fills them."""
    out: dict[str, hist.Hist] = {}
    for name, axis in default_axes(Regions()).items():
        region_axis = hist.axis.StrCategory(list(REGION_NAMES), name="region")
        h = hist.Hist(region_axis, axis, storage=hist.storage.Weight())
        values = mjj if name == "mjj" else np.full(len(mjj), 0.5)
        h.fill(region=region, **{name: values}, weight=np.ones(len(mjj)))
        out[name] = h
    return {"qcd": out}


def test_zero_events_is_a_clear_error_without_pngs(tmp_path: Path, capsys) -> None:
    write_histograms(process_hists(np.empty(0), np.empty(0, str)), tmp_path / "histograms.json")
    assert main(["plot", str(tmp_path)]) == 2  # warnings are errors here: none is raised
    err = capsys.readouterr().err
    assert "nothing to plot: the histograms hold no events" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "plots").exists()


def test_no_signal_region_events_skips_those_plots(tmp_path: Path, caplog) -> None:
    hists = process_hists(np.array([2000.0, 5000.0]), np.array(["SBL", "SBH"]))
    write_histograms(hists, tmp_path / "histograms.json")
    with caplog.at_level(logging.WARNING, logger="gbi.cli.plot"):
        assert main(["plot", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["mjj.png"]
    assert "no mj1 plot: no dataset has events in the signal region" in caplog.text


def test_every_feature_is_plotted(tmp_path: Path, capsys) -> None:
    hists = process_hists(np.array([3500.0, 3400.0, 2000.0]), np.array(["SR", "SR", "SBL"]))
    write_histograms(hists, tmp_path / "histograms.json")
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "p")]) == 0
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == sorted(["mjj.png", *(f"{f}_SR.png" for f in FEATURE_COLUMNS[1:])])
    assert len(capsys.readouterr().out.splitlines()) == len(FEATURE_COLUMNS)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("histograms.json", b'{"qcd/mjj": [1, 2]}', "is not a valid UHI histogram"),
        ("histograms.json", b"{}", None),  # no datasets: nothing to plot
        ("histograms.pkl", pickle.dumps([1, 2]), "found a list"),
        ("histograms.pkl", pickle.dumps({"qcd": {"mjj": 1}}), r"qcd/mjj is missing or not such"),
        ("histograms.pkl", b"\x80\x05garbage", "expected a pickle, could not load it"),
    ],
)
def test_unexpected_content_is_one_line(tmp_path: Path, capsys, name, content, message) -> None:
    (tmp_path / name).write_bytes(content)
    assert main(["plot", str(tmp_path), "--allow-pickle"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert str(tmp_path) in err
    assert (message or "nothing to plot") in err, err


def test_missing_folder_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["plot", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "histograms.json does not exist: expected the output folder of 'gbi process'" in err


def test_plot_feature_refuses_an_empty_plot(tmp_path: Path) -> None:
    from gbi.errors import GbiInputError
    from gbi.plotting import plot_feature

    hists = process_hists(np.empty(0), np.empty(0, str))
    with pytest.raises(GbiInputError, match=r"nothing to plot for 'mj1' in SR"):
        plot_feature(hists, "mj1", tmp_path / "mj1.png", region="SR")
    assert not (tmp_path / "mj1.png").exists()
