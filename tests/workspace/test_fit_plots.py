"""Fit-result plots return matplotlib figures and never touch pyplot's state or backend."""

from __future__ import annotations

import matplotlib
import pytest
from matplotlib.figure import Figure

from gbi.workspace.plots import limit_figure, plot_limit, plot_pulls, pulls_figure


@pytest.fixture(scope="module")
def result():
    import pyhf

    from gbi.workspace.fit import fit_workspace

    spec = pyhf.simplemodels.uncorrelated_background([5.0, 3.0], [50.0, 40.0], [5.0, 4.0]).spec
    workspace = pyhf.Workspace(
        {
            **spec,
            "observations": [{"name": "singlechannel", "data": [58.0, 41.0]}],
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
            "version": "1.0.0",
        }
    )
    return fit_workspace(workspace, scan_points=5)


def test_figures_are_returned_and_not_registered_with_pyplot(result) -> None:
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    pulled = {
        **result,
        "parameters": [
            {"name": "a", "pull": 0.5, "pull_err": 1.0},
            {"name": "b", "pull": -1.2, "pull_err": 0.8},
            {"name": "c", "pull": 0.1, "pull_err": 0.9},
            {"name": "mu", "value": 1.0},
        ],
    }
    pulls = pulls_figure(pulled, max_pars=2)
    limit = limit_figure(result)
    assert isinstance(pulls, Figure)
    assert isinstance(limit, Figure)
    # the max_pars=2 largest |pull|, largest on top
    assert [t.get_text() for t in pulls.axes[0].get_yticklabels()] == ["a", "b"]
    assert limit.axes[0].get_ylabel() == r"$\mathrm{CL}_{s}$"
    assert plt.get_fignums() == before
    assert matplotlib.get_backend() == backend


def test_limit_figure_draws_the_scan_values(result) -> None:
    """pyhf's Brazil band shows exactly the scan of the result: observed, expected, bands."""
    import numpy as np

    scan = result["cls_scan"]
    mu, obs, exp = (np.asarray(scan[k]) for k in ("mu", "obs", "exp"))
    ax = limit_figure(result).axes[0]
    observed, *expected, alpha = ax.lines
    np.testing.assert_array_equal(observed.get_xdata(), mu)
    np.testing.assert_array_equal(observed.get_ydata(), obs)
    for k, line in enumerate(expected):
        np.testing.assert_array_equal(line.get_ydata(), exp[:, k])
    assert expected[2].get_linestyle() == "--"  # the median
    np.testing.assert_array_equal(alpha.get_ydata(), [result.get("cls_level", 0.05)] * len(mu))
    two_sigma, one_sigma = ax.collections[-2:]  # drawn in this order
    for band, (low, high) in ((one_sigma, (1, 3)), (two_sigma, (0, 4))):
        y = band.get_paths()[0].vertices[:, 1]
        for column in (low, high):
            assert all(np.isclose(y, v).any() for v in exp[:, column])
    assert ax.get_xlabel() == result["poi"]
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == r"$\alpha=0.05$"


def test_plot_functions_write_the_files(result, tmp_path) -> None:
    for path in (plot_pulls(result, tmp_path / "p.png"), plot_limit(result, tmp_path / "l.pdf")):
        assert path.is_file()
        assert path.stat().st_size > 1000
    assert (tmp_path / "l.pdf").read_bytes().startswith(b"%PDF")


def test_a_global_style_does_not_break_the_layout(result) -> None:
    """mplhep's CMS style (set globally by other gbi plots) has fonts too large for these
    figure sizes: tight_layout warned (an error here); the figures use the default style."""
    import matplotlib.pyplot as plt
    import mplhep

    pulled = {**result, "parameters": [{"name": "a", "pull": 0.5, "pull_err": 1.0}]}
    with plt.style.context(mplhep.style.CMS):
        pulls = pulls_figure(pulled)
        limit_figure(result)
        assert plt.rcParams["font.size"] != matplotlib.rcParamsDefault["font.size"]
    label = pulls.axes[0].yaxis.get_ticklabels()[0]
    assert label.get_fontsize() == matplotlib.rcParamsDefault["font.size"]  # "medium" ticks
