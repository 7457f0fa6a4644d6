"""Workspace builder: modifiers, channels, Asimov data and rejected inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyhf
import pytest

from gbi.errors import GbiInputError
from gbi.workspace import Channel, HistoSys, Sample, Template, build_spec, load_hist
from gbi.workspace.config import load_config

EDGES = np.array([0.0, 1.0, 2.0, 3.0])


def tmpl(values, variances=None) -> Template:
    values = np.asarray(values, dtype=float)
    variances = values * 0.1 if variances is None else np.asarray(variances, dtype=float)
    return Template(values, variances, EDGES)


def simple(**sample_kwargs) -> list[Channel]:
    return [
        Channel(
            "SR",
            [
                Sample("sig", tmpl([1, 5, 1]), signal=True),
                Sample("bkg", tmpl([50, 40, 30]), **sample_kwargs),
            ],
            data=tmpl([52, 44, 30]),
        )
    ]


def test_modifiers_and_measurement() -> None:
    up, down = tmpl([55, 42, 31]), tmpl([45, 38, 29])
    spec = build_spec(
        simple(sys=0.2, histosys=[HistoSys("flow_ensemble", up, down)], normfactors=["k_bkg"]),
        lumi_uncertainty=0.02,
    )
    ws = pyhf.Workspace(spec)
    model = ws.model()
    assert model.config.poi_name == "mu"
    assert set(model.config.par_order) == {
        "mu",
        "k_bkg",
        "staterror_SR",
        "norm_bkg",
        "flow_ensemble",
        "lumi",
    }
    bkg = spec["channels"][0]["samples"][1]
    mods = {m["name"]: m for m in bkg["modifiers"]}
    assert mods["norm_bkg"]["data"] == {"lo": 0.8, "hi": 1.2}
    assert mods["flow_ensemble"]["data"]["hi_data"] == [55.0, 42.0, 31.0]
    np.testing.assert_allclose(mods["staterror_SR"]["data"], np.sqrt([5.0, 4.0, 3.0]))
    assert ws.data(model, include_auxdata=False) == [52.0, 44.0, 30.0]
    lumi = spec["measurements"][0]["config"]["parameters"][1]
    assert lumi["sigmas"] == [0.02]


def test_asimov_data_and_kinds() -> None:
    channels = [
        Channel(
            "SR",
            [
                Sample("sig", tmpl([1, 5, 1]), signal=True),
                Sample("dd", tmpl([50, 40, 30]), kind="data-driven"),
            ],
            data=2.0,
        )
    ]
    spec = build_spec(channels, lumi_uncertainty=0.02)
    assert spec["observations"][0]["data"] == [52.0, 50.0, 32.0]
    sample_mods = [[m["type"] for m in s["modifiers"]] for s in spec["channels"][0]["samples"]]
    assert sample_mods == [["normfactor", "staterror", "lumi"], ["staterror"]]


def test_default_poi_upper_bound_grows_for_weak_signal() -> None:
    weak = [
        Channel(
            "SR",
            [Sample("sig", tmpl([0.01, 0.05, 0.01]), signal=True), Sample("b", tmpl([50, 40, 30]))],
        )
    ]
    bounds = build_spec(weak)["measurements"][0]["config"]["parameters"][0]["bounds"]
    assert bounds[0][0] == 0.0
    assert bounds[0][1] >= 1000


def test_mismatched_binning() -> None:
    other = Template(np.ones(4), np.ones(4), np.arange(5.0))
    channels = [Channel("SR", [Sample("sig", tmpl([1, 5, 1]), signal=True), Sample("qcd", other)])]
    with pytest.raises(
        GbiInputError,
        match=r"channel 'SR': sample 'qcd' has 4 bins .* expected the 3 bins of sample 'sig'",
    ):
        build_spec(channels)


def test_empty_histogram() -> None:
    channels = [
        Channel("SR", [Sample("sig", tmpl([0, 0, 0]), signal=True), Sample("qcd", tmpl([5, 5, 5]))])
    ]
    with pytest.raises(
        GbiInputError, match=r"sample 'sig'.*the histogram is empty \(all 3 bins are zero\)"
    ):
        build_spec(channels)


def test_nan_variance_and_negative_yields() -> None:
    with pytest.raises(GbiInputError, match=r"sample 'bkg'.*variances are NaN.*bin 1"):
        build_spec(
            [
                Channel(
                    "SR",
                    [
                        Sample("sig", tmpl([1, 5, 1]), signal=True),
                        Sample("bkg", tmpl([5, 5, 5], [1, np.nan, 1])),
                    ],
                )
            ]
        )
    negative = [
        Channel(
            "SR",
            [
                Sample("sig", tmpl([1, -0.5, 1], [1, 1, 1]), signal=True),
                Sample("bkg", tmpl([5, 5, 5])),
            ],
        )
    ]
    with pytest.raises(GbiInputError, match=r"negative yields in bin 1 .*negative='clip'"):
        build_spec(negative)
    spec = build_spec(negative, negative="clip")
    assert spec["channels"][0]["samples"][0]["data"] == [1.0, 0.0, 1.0]


def test_zero_background_bin_is_caught_before_pyhf() -> None:
    channels = [
        Channel("SR", [Sample("sig", tmpl([1, 5, 1]), signal=True), Sample("bkg", tmpl([5, 0, 5]))])
    ]
    with pytest.raises(
        GbiInputError,
        match=r"channel 'SR': the background-only yield is zero or negative in bin 1.*pyhf#1852",
    ):
        build_spec(channels)


def test_zero_staterror_is_caught() -> None:
    channels = [
        Channel(
            "SR",
            [
                Sample("sig", tmpl([1, 5, 1], [1, 0, 1]), signal=True),
                Sample("bkg", tmpl([5, 5, 5]), staterror=False),
            ],
        )
    ]
    with pytest.raises(
        GbiInputError, match=r"staterror uncertainty .* is zero in bin 1.*cabinetry#340"
    ):
        build_spec(channels)


def test_missing_poi_and_lumi() -> None:
    with pytest.raises(
        GbiInputError, match="no sample is marked as signal, so the POI 'mu' would be missing"
    ):
        build_spec([Channel("SR", [Sample("bkg", tmpl([5, 5, 5]))])])
    with pytest.raises(
        GbiInputError, match="asks for lumi but the measurement has no lumi_uncertainty"
    ):
        build_spec(simple(lumi=True))
    with pytest.raises(GbiInputError, match="staterror is on but the histogram has no variances"):
        build_spec(
            [
                Channel(
                    "SR",
                    [
                        Sample("sig", tmpl([1, 5, 1]), signal=True),
                        Sample("b", Template(np.ones(3), None, EDGES)),
                    ],
                )
            ]
        )


def test_duplicate_names() -> None:
    channel = simple()[0]
    with pytest.raises(GbiInputError, match=r"channel names must be unique, found \['SR'\]"):
        build_spec([channel, channel])


YAML_CONFIG = """
version: "1.0"
measurement: {poi: mu, lumi_uncertainty: 0.017}
defaults: {sys: 0.1}
channels:
  - name: SR
    data: "{pkl}:data/mjj[region=SR]"
    samples:
      - {name: signal, hist: "{pkl}:signal/mjj[region=SR]", signal: true, sys: null, scale: 0.5}
      - name: qcd
        hist: "{pkl}:qcd/mjj[region=SR]"
        kind: amplified
        normfactors: [k_qcd]
        histosys:
          flow_ensemble: {up: "{pkl}:qcd/mjj[region=CR]", down: "{pkl}:qcd/mjj[region=SR]"}
      - {name: ttbar, hist: "{pkl}:ttbar/mjj[region=SR]"}
  - name: CR
    data: {asimov: 0}
    samples:
      - {name: signal, hist: "{pkl}:signal/mjj[region=CR]", signal: true}
      - {name: qcd, hist: "{pkl}:qcd/mjj[region=CR]", normfactors: [k_qcd], kind: amplified}
"""


def test_yaml_config(hists_json: Path) -> None:
    path = hists_json.parent / "ws.yaml"
    path.write_text(YAML_CONFIG.replace("{pkl}", hists_json.name))
    config = load_config(path)
    spec = build_spec(config.channels, **config.build_kwargs)
    model = pyhf.Workspace(spec).model()
    assert {"k_qcd", "flow_ensemble", "norm_qcd", "norm_ttbar", "lumi"} <= set(
        model.config.par_order
    )
    signal = load_hist(f"{hists_json}:signal/mjj[region=SR]")
    np.testing.assert_allclose(spec["channels"][0]["samples"][0]["data"], 0.5 * signal.values)
    sr_samples = {
        s["name"]: [m["type"] for m in s["modifiers"]] for s in spec["channels"][0]["samples"]
    }
    assert sr_samples["signal"] == ["normfactor", "staterror", "lumi"]  # sys: null overrides
    assert "lumi" not in sr_samples["qcd"]  # amplified: no lumi by default
    assert "lumi" in sr_samples["ttbar"]


def test_config_schema_errors(tmp_path: Path) -> None:
    path = tmp_path / "ws.json"
    path.write_text(
        json.dumps(
            {
                "version": "1.0",
                "channels": [{"name": "SR", "samples": [{"name": "s", "hsit": "a.pkl:x"}]}],
            }
        )
    )
    with pytest.raises(
        GbiInputError,
        match=r"does not follow the gbi workspace-config schema 1.0: at channels/0/samples/0",
    ):
        load_config(path)
    path.write_text(json.dumps({"version": "9.9", "channels": []}))
    with pytest.raises(GbiInputError, match=r"unknown workspace-config schema version '9\.9'"):
        load_config(path)


def test_range_on_the_observable_restricts_bins(tmp_path):
    import hist

    from gbi.hists import write_histograms
    from gbi.workspace import load_hist

    h = hist.Hist(
        hist.axis.StrCategory(["SR", "SB"], name="region"),
        hist.axis.Regular(10, 0, 10, name="mjj"),
        storage=hist.storage.Weight(),
    )
    h.fill(region="SR", mjj=[3.5, 4.5, 4.5, 8.5], weight=1.0)
    path = write_histograms({"qcd": {"mjj": h}}, tmp_path / "h.json")
    restricted = load_hist(f"{path}:qcd/mjj[region=SR,mjj=3:5]")
    assert restricted.values.tolist() == [1.0, 2.0]
    assert restricted.edges.tolist() == [3.0, 4.0, 5.0]
