"""Coverage of the HESSE interval on mu with toys from a known workspace."""

from __future__ import annotations

import numpy as np
import pyhf
import pytest

from gbi.workspace import Channel, Sample, Template, build_workspace
from gbi.workspace.toys import coverage

EDGES = np.arange(6.0)
SIGNAL = np.array([10.0, 30.0, 50.0, 30.0, 10.0])
BACKGROUND = np.array([200.0, 150.0, 120.0, 100.0, 80.0])
TARGET = 0.6827


def model() -> pyhf.pdf.Model:
    samples = [
        Sample("sig", Template(SIGNAL, SIGNAL * 0.01, EDGES), signal=True),
        Sample("bkg", Template(BACKGROUND, BACKGROUND * 0.05, EDGES), sys=0.1),
    ]
    return build_workspace([Channel("SR", samples, data=1.0)]).model()


def test_coverage_300_toys() -> None:
    """68% +- 5% on 300 toys (binomial error ~2.7%); about 10 s on 2 cores."""
    result = coverage(model(), mu_true=1.0, ntoys=300, seed=2024)
    assert result["failed"] == 0
    assert abs(result["fraction"] - TARGET) < 0.05, result["fraction"]


@pytest.mark.slow
def test_coverage_2000_toys() -> None:
    """The same with 2000 toys: within 3 binomial standard errors (~3.1%)."""
    result = coverage(model(), mu_true=1.0, ntoys=2000, seed=7)
    assert result["failed"] == 0
    assert abs(result["fraction"] - TARGET) < 3 * np.sqrt(TARGET * (1 - TARGET) / 2000)
