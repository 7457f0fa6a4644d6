"""Generated-versus-real plots: a returned figure, no pyplot state, no backend choice."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from gbi.metrics.plots import feature_figure, plot_features


def test_feature_figure_is_returned_with_density_and_ratio_panels() -> None:
    import matplotlib.pyplot as plt

    backend, before = matplotlib.get_backend(), plt.get_fignums()
    rng = np.random.default_rng(1)
    fig = feature_figure(rng.normal(size=2000), rng.normal(size=2000), "mj1", bins=12, unit="GeV")
    assert isinstance(fig, Figure)
    top, bottom = fig.axes
    assert top.get_ylabel() == "density [1/GeV]"
    assert bottom.get_xlabel() == "mj1 [GeV]"
    ratio = bottom.lines[0].get_ydata()
    assert len(ratio) == 12
    assert abs(np.nanmean(ratio) - 1.0) < 0.2  # same distribution: ratio about 1
    assert plt.get_fignums() == before
    assert matplotlib.get_backend() == backend


def test_plot_features_writes_one_png_per_column(tmp_path) -> None:
    rng = np.random.default_rng(2)
    real = {"a": rng.normal(size=300), "b": rng.exponential(size=300)}
    gen = {"a": rng.normal(size=300), "b": rng.exponential(size=300)}
    paths = plot_features(real, gen, ["a", "b"], tmp_path, units={"a": "GeV"}, bins=8)
    assert [p.name for p in paths] == ["a.png", "b.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
