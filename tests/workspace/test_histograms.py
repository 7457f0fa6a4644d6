"""Histogram references: parsing, UHI JSON/ROOT (and opt-in pickle) loading, axis selection."""

from __future__ import annotations

from pathlib import Path

import hist
import numpy as np
import pytest

from gbi.errors import GbiInputError
from gbi.hists import write_histograms
from gbi.io import write_root_histograms
from gbi.workspace.histograms import load_hist, parse_ref, template_from_hist


def test_parse_ref_with_selection() -> None:
    path, key, selection = parse_ref("a/b.json:qcd/mjj[region=SR,score=0.5:]")
    assert (path, key, selection) == (
        Path("a/b.json"),
        "qcd/mjj",
        {"region": "SR", "score": "0.5:"},
    )
    assert parse_ref("a/b.pkl:qcd/mjj")[0] == Path("a/b.pkl")


@pytest.mark.parametrize("ref", ["nofile", "x.txt:key", "x.json:", "x.pkl:", "x.json:k[region]"])
def test_parse_ref_rejects(ref: str) -> None:
    with pytest.raises(GbiInputError, match="histogram reference"):
        parse_ref(ref)


def test_load_json_region(hists_json: Path) -> None:
    sr = load_hist(f"{hists_json}:qcd/mjj[region=SR]")
    cr = load_hist(f"{hists_json}:qcd/mjj[region=CR]")
    assert sr.nbins == 10
    np.testing.assert_allclose(cr.values, 3 * sr.values)
    np.testing.assert_allclose(cr.variances, 9 * sr.variances)


def test_load_json_errors(hists_json: Path) -> None:
    with pytest.raises(GbiInputError, match=r"no histogram 'wjets/mjj'; it holds \['data/mjj'"):
        load_hist(f"{hists_json}:wjets/mjj[region=SR]")
    with pytest.raises(GbiInputError, match=r"axis 'region' has no 'VR'"):
        load_hist(f"{hists_json}:qcd/mjj[region=VR]")
    with pytest.raises(GbiInputError, match=r"expected a 1D histogram, found 2 axes"):
        load_hist(f"{hists_json}:qcd/mjj")
    with pytest.raises(GbiInputError, match="does not exist"):
        load_hist("missing.json:qcd/mjj")


def test_pickle_reference_needs_the_opt_in(hists_pkl: Path, hists_json: Path) -> None:
    with pytest.raises(GbiInputError, match=r"refusing to load a pickle: a pickle can run") as err:
        load_hist(f"{hists_pkl}:qcd/mjj[region=SR]")
    assert f"{hists_pkl.with_suffix('.json')}:qcd/mjj" in str(err.value)  # what to use instead
    assert "--allow-pickle" in str(err.value)
    assert "allow_pickle=True" in str(err.value)
    from_pickle = load_hist(f"{hists_pkl}:qcd/mjj[region=SR]", allow_pickle=True)
    from_json = load_hist(f"{hists_json}:qcd/mjj[region=SR]")
    np.testing.assert_array_equal(from_pickle.values, from_json.values)
    with pytest.raises(GbiInputError, match=r"no key 'wjets' at the top level.*\['data', 'qcd'"):
        load_hist(f"{hists_pkl}:wjets/mjj[region=SR]", allow_pickle=True)


def test_continuous_axis_range_is_summed(tmp_path: Path) -> None:
    h = hist.Hist.new.Reg(4, 0, 1, name="score").Reg(2, 0, 2, name="mjj").Weight()
    h.fill(score=[0.1, 0.6, 0.9, 0.9], mjj=[0.5, 0.5, 1.5, 0.5])
    write_histograms({"sig": h}, tmp_path / "s.json")
    assert load_hist("s.json:sig[score=0.5:]", base_dir=tmp_path).values.tolist() == [2.0, 1.0]
    assert load_hist("s.json:sig[score=:0.5]", base_dir=tmp_path).values.tolist() == [1.0, 0.0]
    with pytest.raises(GbiInputError, match="takes a range LO:HI"):
        load_hist("s.json:sig[score=0.5]", base_dir=tmp_path)


def test_load_root_th1(tmp_path: Path) -> None:
    h = hist.Hist.new.Reg(3, 0, 3, name="x").Weight()
    h.fill(x=[0.5, 1.5, 1.5], weight=[2.0, 1.0, 1.0])
    write_root_histograms({"SR/qcd": h}, tmp_path / "h.root")
    template = load_hist(f"{tmp_path}/h.root:SR/qcd")
    assert template.values.tolist() == [2.0, 2.0, 0.0]
    assert template.variances.tolist() == [4.0, 2.0, 0.0]
    with pytest.raises(GbiInputError, match="no object 'SR/ttbar'"):
        load_hist(f"{tmp_path}/h.root:SR/ttbar")


def test_template_from_non_hist() -> None:
    with pytest.raises(GbiInputError, match=r"expected a 1D hist\.Hist, found list"):
        template_from_hist([1, 2], "sample 'x'")
