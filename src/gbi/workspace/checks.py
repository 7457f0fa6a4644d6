"""Input checks run before anything reaches pyhf.

pyhf fails opaquely on some inputs: a bin whose total expected yield is zero gives NaN
likelihoods and "Inequality constraints incompatible" (pyhf#1852), and a ``staterror``
whose combined yield or uncertainty is zero in some bins of a channel but not others
leaves a partially fixed parameter that cabinetry cannot handle (cabinetry#340,
pyhf#1944). These checks catch such inputs first and say which channel, sample and bin
is at fault and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gbi.errors import GbiInputError
from gbi.workspace.histograms import Template

__all__ = ["check_binning", "check_positive_bins", "check_staterror", "check_template"]


def _bins(mask: np.ndarray) -> str:
    index = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in index[:10])
    return f"bin{'s' if index.size > 1 else ''} {shown}{' ...' if index.size > 10 else ''}"


def check_template(
    template: Template, what: str, *, negative: str = "error", allow_empty: bool = False
) -> Template:
    """Reject NaN/inf contents, NaN or negative variances, empty and negative templates.

    ``what`` names the template in messages (e.g. ``"channel 'SR', sample 'qcd'"``).
    ``negative="clip"`` sets negative bins to zero instead of raising.

    >>> t = Template(np.array([1.0, np.nan]), None, np.array([0.0, 1.0, 2.0]))
    >>> check_template(t, "sample 'qcd'")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: sample 'qcd' (<array>): contents are NaN or infinite in bin 1; expected finite event counts: fix the input histogram
    """
    where = f"{what} ({template.source})"
    values, variances = template.values, template.variances
    bad = ~np.isfinite(values)
    if bad.any():
        raise GbiInputError(
            f"{where}: contents are NaN or infinite in {_bins(bad)}; expected finite event "
            "counts: fix the input histogram"
        )
    if variances is not None:
        bad = ~np.isfinite(variances) | (variances < 0)
        if bad.any():
            raise GbiInputError(
                f"{where}: variances are NaN, infinite or negative in {_bins(bad)}; expected "
                "finite non-negative sums of squared weights: fix the histogram or switch "
                "staterror off for this sample"
            )
    negative_bins = values < 0
    if negative_bins.any():
        if negative != "clip":
            raise GbiInputError(
                f"{where}: negative yields in {_bins(negative_bins)} (e.g. {values[negative_bins][0]:.4g}); "
                "expected yields >= 0: merge bins, fix the weights, or use negative='clip' "
                "(config: negative: clip) to set them to zero"
            )
        values = np.where(negative_bins, 0.0, values)
        template = Template(values, variances, template.edges, template.source)
    if not allow_empty and not (values > 0).any():
        raise GbiInputError(
            f"{where}: the histogram is empty (all {values.size} bins are zero); expected "
            "some events: check the selection (wrong region or dataset?) or drop the sample"
        )
    return template


def check_binning(templates: Sequence[tuple[str, Template]], channel: str) -> None:
    """All templates of a channel must share the same bin edges.

    >>> a = Template(np.ones(2), None, np.array([0.0, 1.0, 2.0]))
    >>> b = Template(np.ones(3), None, np.array([0.0, 1.0, 2.0, 3.0]))
    >>> check_binning([("sample 'signal'", a), ("sample 'qcd'", b)], "SR")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: channel 'SR': sample 'qcd' has 3 bins with edges [0, 1, ..., 3], expected the 2 bins of sample 'signal' with edges [0, 1, ..., 2]: rebin the histograms to common edges
    """
    ref_name, ref = templates[0]
    for name, template in templates[1:]:
        same = template.edges.shape == ref.edges.shape and np.allclose(
            template.edges, ref.edges, rtol=1e-9, atol=0.0
        )
        if not same:
            raise GbiInputError(
                f"channel {channel!r}: {name} has {template.nbins} bins with edges "
                f"{_edges(template.edges)}, expected the {ref.nbins} bins of {ref_name} with "
                f"edges {_edges(ref.edges)}: rebin the histograms to common edges"
            )


def _edges(edges: np.ndarray) -> str:
    return f"[{edges[0]:g}, {edges[1]:g}, ..., {edges[-1]:g}]"


def check_positive_bins(total: np.ndarray, channel: str, what: str) -> None:
    """Every bin of ``total`` (an expected yield, events) must be > 0.

    >>> check_positive_bins(np.array([3.0, 0.0]), "SR", "the background-only yield")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: channel 'SR': the background-only yield is zero or negative in bin 1; the Poisson likelihood is undefined there (pyhf#1852 gives NaN fits): merge the bin with a neighbour, narrow the histogram range, or add a background that covers it
    """
    bad = ~(total > 0)
    if bad.any():
        raise GbiInputError(
            f"channel {channel!r}: {what} is zero or negative in {_bins(bad)}; the Poisson "
            "likelihood is undefined there (pyhf#1852 gives NaN fits): merge the bin with a "
            "neighbour, narrow the histogram range, or add a background that covers it"
        )


def check_staterror(nominal: np.ndarray, variance: np.ndarray, channel: str) -> None:
    """Combined staterror yield and uncertainty must be > 0 in every bin of a channel.

    ``nominal`` and ``variance`` are summed over the samples that have staterror.

    >>> check_staterror(np.array([2.0, 1.0]), np.array([1.0, 0.0]), "SR")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: channel 'SR': the staterror uncertainty (summed over samples with staterror) is zero in bin 1; pyhf then fixes that gamma and cabinetry fails (cabinetry#340, pyhf#1944): give the samples Weight storage (variances), merge bins, or set staterror off for the samples of this channel
    """
    bad = ~(nominal > 0) | ~(variance > 0)
    if bad.any():
        raise GbiInputError(
            f"channel {channel!r}: the staterror uncertainty (summed over samples with "
            f"staterror) is zero in {_bins(bad)}; pyhf then fixes that "
            "gamma and cabinetry fails (cabinetry#340, pyhf#1944): give the samples Weight "
            "storage (variances), merge bins, or set staterror off for the samples of this "
            "channel"
        )
