"""Fixtures for the workspace tests: small synthetic histograms as ``gbi process`` writes them."""

from __future__ import annotations

import pickle
from pathlib import Path

import hist
import numpy as np
import pytest

from gbi.hists import write_histograms

EDGES = np.linspace(2000.0, 5000.0, 11)  # GeV, 10 bins


def make_hist(values: np.ndarray, variances: np.ndarray, cr_scale: float = 3.0) -> hist.Hist:
    """mjj histogram with a region axis (SR, CR); CR = cr_scale x SR."""
    h = (
        hist.Hist.new.StrCat(["SR", "CR"], name="region")
        .Variable(EDGES, name="mjj", label="m_jj [GeV]")
        .Weight()
    )
    view = h.view()
    view.value[0], view.variance[0] = values, variances
    view.value[1], view.variance[1] = values * cr_scale, variances * cr_scale**2
    return h


def shapes() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    centers = 0.5 * (EDGES[1:] + EDGES[:-1])
    qcd = 2000.0 * np.exp(-(centers - 2000.0) / 800.0)
    ttbar = 150.0 * np.exp(-(centers - 2000.0) / 1500.0)
    signal = 60.0 * np.exp(-0.5 * ((centers - 3500.0) / 250.0) ** 2)
    return {
        "qcd": (qcd, qcd * 0.2),  # weighted MC: variance = 0.2 x value
        "ttbar": (ttbar, ttbar * 0.1),
        "signal": (signal, signal * 0.05),
    }


def _content() -> dict[str, dict[str, hist.Hist]]:
    """``{dataset: {"mjj": Hist}}`` with signal, qcd, ttbar and Poisson data."""
    rng = np.random.default_rng(7)
    content = {name: {"mjj": make_hist(v, var)} for name, (v, var) in shapes().items()}
    expected = sum(v for v, _ in shapes().values())
    observed = rng.poisson(expected).astype(float)
    content["data"] = {"mjj": make_hist(observed, observed, cr_scale=1.0)}
    cr = rng.poisson(expected * 3.0).astype(float)
    content["data"]["mjj"].view().value[1] = cr
    content["data"]["mjj"].view().variance[1] = cr
    return content


@pytest.fixture
def hists_json(tmp_path: Path) -> Path:
    """:func:`_content` as UHI JSON, as ``gbi process`` writes ``histograms.json``."""
    return write_histograms(_content(), tmp_path / "histograms.json")


@pytest.fixture
def hists_pkl(tmp_path: Path) -> Path:
    """:func:`_content` pickled (read only with ``allow_pickle``)."""
    path = tmp_path / "histograms.pkl"
    path.write_bytes(pickle.dumps(_content()))
    return path
