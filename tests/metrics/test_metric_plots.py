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


def test_feature_figure_plots_the_input_densities_and_their_ratio() -> None:
    """mplhep draws exactly the normalised histograms, their ratio and its uncertainties."""
    rng = np.random.default_rng(3)
    real, generated = rng.normal(size=2000), rng.normal(0.1, 1.0, size=3000)
    fig = feature_figure(real, generated, "x", bins=6)
    top, bottom = fig.axes
    edges = np.linspace(*np.quantile(real, [0.001, 0.999]), 7)
    n_r, n_g = np.histogram(real, edges)[0], np.histogram(generated, edges)[0]
    width = edges[1] - edges[0]
    d_r, d_g = n_r / (2000 * width), n_g / (3000 * width)
    steps = dict(zip(("generated", "real"), [p.get_data() for p in top.patches], strict=True))
    assert top.get_legend_handles_labels()[1] == ["generated", "real"]
    np.testing.assert_allclose(steps["generated"].values, d_g, rtol=1e-12)
    np.testing.assert_allclose(steps["real"].values, d_r, rtol=1e-12)
    np.testing.assert_allclose(steps["real"].edges, edges, rtol=1e-12)
    # ratio panel: generated/real with generated's error bars, real's error as a band
    errorbars = bottom.containers[0]
    np.testing.assert_allclose(errorbars.lines[0].get_ydata(), d_g / d_r, rtol=1e-12)
    half = [0.5 * np.ptp(seg[:, 1]) for seg in errorbars.lines[2][0].get_segments()]
    np.testing.assert_allclose(half, np.sqrt(n_g) / (3000 * width) / d_r, rtol=1e-12)
    band = [bar.get_height() for bar in bottom.containers[1]]
    np.testing.assert_allclose(band, 2 * np.sqrt(n_r) / (2000 * width) / d_r, rtol=1e-12)
    assert bottom.get_ylim() == (0.5, 1.5)
    assert top.get_yscale() == "log"
    np.testing.assert_allclose(bottom.get_xlim(), edges[[0, -1]])
    np.testing.assert_allclose(top.get_xlim(), edges[[0, -1]])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()  # the ratio panel keeps its x tick labels, the top has none
    assert any(t.get_text() for t in bottom.get_xticklabels())
    assert not any(t.get_text() for t in top.get_xticklabels())
