"""Build a pyhf HistFactory workspace from binned templates.

Each :class:`Channel` (a signal region, a control region, one region of a score cut) holds
:class:`Sample` s that share one binning, plus observed data or an Asimov dataset. Modifiers:

- the POI ``mu``: a ``normfactor`` on every sample with ``signal=True``;
- ``staterror``: the per-bin finite-statistics uncertainty sqrt(variance) of MC or of the
  generator (for an *amplified* background, the variance of the amplified histogram);
- ``normsys``: flat relative systematics, ``sys=0.1`` gives ``norm_<sample>`` with
  lo/hi factors 0.9/1.1, the same parameter in every channel (correlated);
- ``histosys``: shape systematics from up/down templates, e.g. a flow-ensemble spread;
- ``lumi``: on samples with ``lumi=True`` (default for ``kind="mc"``) when the
  measurement has a ``lumi_uncertainty``;
- extra free ``normfactors`` (e.g. a background normalisation fitted in a control region).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.workspace.checks import (
    check_binning,
    check_positive_bins,
    check_staterror,
    check_template,
)
from gbi.workspace.histograms import Template, template_from_hist

__all__ = ["Channel", "HistoSys", "Sample", "build_spec", "build_workspace"]

KINDS = ("mc", "amplified", "data-driven")


@dataclass
class HistoSys:
    """A shape systematic: ``up`` and ``down`` templates (``hist.Hist`` or Template)."""

    name: str
    up: Any
    down: Any

    def __post_init__(self) -> None:
        self.up = template_from_hist(self.up, f"histosys {self.name!r} up")
        self.down = template_from_hist(self.down, f"histosys {self.name!r} down")


@dataclass
class Sample:
    """One process in one channel; ``nominal`` is a 1D ``hist.Hist`` (Weight) or Template.

    ``sys`` is a flat relative normalisation uncertainty (0.1 = 10%); ``normsys`` maps
    further names to ``(lo, hi)`` factors; ``lumi=None`` means "yes for kind 'mc'".
    """

    name: str
    nominal: Any
    signal: bool = False
    kind: str = "mc"
    staterror: bool = True
    lumi: bool | None = None
    sys: float | None = None
    normsys: dict[str, tuple[float, float]] = field(default_factory=dict)
    histosys: list[HistoSys] = field(default_factory=list)
    normfactors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nominal = template_from_hist(self.nominal, f"sample {self.name!r}")
        if self.kind not in KINDS:
            raise GbiInputError(
                f"sample {self.name!r}: kind {self.kind!r} is not one of {list(KINDS)}"
            )
        if self.sys is not None and not 0 < self.sys < 1:
            raise GbiInputError(
                f"sample {self.name!r}: sys={self.sys} must be a relative uncertainty in "
                "(0, 1), e.g. 0.1 for 10%"
            )


@dataclass
class Channel:
    """A region: samples sharing one binning and ``data``.

    ``data`` is a ``hist.Hist``/Template of observed counts, or a number ``m`` for an
    Asimov dataset (sum of samples with the signal scaled by ``m``); ``None`` = Asimov 0.
    """

    name: str
    samples: list[Sample]
    data: Any = None


def build_spec(
    channels: Sequence[Channel],
    *,
    poi: str = "mu",
    measurement: str = "meas",
    lumi_uncertainty: float | None = None,
    poi_bounds: tuple[float, float] | None = None,
    negative: str = "error",
) -> dict[str, Any]:
    """Return a validated pyhf workspace specification (a JSON-ready dict).

    ``lumi_uncertainty`` is relative (0.017 = 1.7%); ``poi_bounds`` defaults to
    ``(0, U)`` with ``U >= 10`` large enough for the expected limit.

    >>> import hist
    >>> s = hist.Hist.new.Reg(2, 0, 2, name="x").Weight()
    >>> b = hist.Hist.new.Reg(2, 0, 2, name="x").Weight()
    >>> _ = s.fill(x=[0.5] * 5, weight=1.0); _ = b.fill(x=[0.5] * 50 + [1.5] * 60)
    >>> spec = build_spec([Channel("SR", [Sample("sig", s, signal=True), Sample("bkg", b, sys=0.1)])])
    >>> [m["type"] for m in spec["channels"][0]["samples"][1]["modifiers"]]
    ['staterror', 'normsys']
    >>> spec["observations"][0]["data"]
    [50.0, 60.0]
    """
    if not channels:
        raise GbiInputError("no channels given: expected at least one region with samples")
    _unique([c.name for c in channels], "channel", "the workspace")
    if not any(s.signal for c in channels for s in c.samples):
        raise GbiInputError(
            f"no sample is marked as signal, so the POI {poi!r} would be missing from the "
            "model: mark the signal sample (signal=True / --signal / 'signal: true')"
        )
    spec_channels, observations, sums = [], [], {"s2b": 0.0}
    uses_lumi = False
    for channel in channels:
        built, observed, lumi_here = _build_channel(channel, poi, negative, lumi_uncertainty, sums)
        spec_channels.append(built)
        observations.append({"name": channel.name, "data": observed})
        uses_lumi = uses_lumi or lumi_here
    parameters: list[dict[str, Any]] = [
        {"name": poi, "bounds": [list(poi_bounds or _default_poi_bounds(sums["s2b"]))]}
    ]
    if uses_lumi:
        sigma = float(lumi_uncertainty)  # type: ignore[arg-type]
        low = max(0.0, 1.0 - 5 * sigma)
        parameters.append(
            {
                "name": "lumi",
                "auxdata": [1.0],
                "sigmas": [sigma],
                "bounds": [[low, 1.0 + 5 * sigma]],
                "inits": [1.0],
            }
        )
    spec = {
        "version": "1.0.0",
        "channels": spec_channels,
        "observations": observations,
        "measurements": [{"name": measurement, "config": {"poi": poi, "parameters": parameters}}],
    }
    build_workspace_from_spec(spec, "the built workspace")
    return spec


def build_workspace(channels: Sequence[Channel], **kwargs: Any) -> Any:
    """Like :func:`build_spec` but return a ``pyhf.Workspace``."""
    return build_workspace_from_spec(build_spec(channels, **kwargs), "the built workspace")


def build_workspace_from_spec(spec: dict[str, Any], source: str) -> Any:
    """Validate ``spec`` with pyhf's schema and return a ``pyhf.Workspace``."""
    import pyhf

    try:
        return pyhf.Workspace(spec)
    except pyhf.exceptions.InvalidSpecification as err:
        raise GbiInputError(
            f"{source} does not follow the pyhf workspace schema: {err}; "
            "check it with 'pyhf inspect' or rebuild it with 'gbi workspace'"
        ) from err


def _unique(names: list[str], what: str, where: str) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GbiInputError(f"{where}: {what} names must be unique, found {duplicates} twice")


def _build_channel(
    channel: Channel, poi: str, negative: str, lumi_unc: float | None, sums: dict[str, float]
) -> tuple[dict[str, Any], list[float], bool]:
    name = channel.name
    if not channel.samples:
        raise GbiInputError(f"channel {name!r} has no samples: add a signal and a background")
    _unique([s.name for s in channel.samples], "sample", f"channel {name!r}")
    labelled: list[tuple[str, Template]] = []
    for sample in channel.samples:
        what = f"channel {name!r}, sample {sample.name!r}"
        sample.nominal = check_template(sample.nominal, what, negative=negative)
        labelled.append((f"sample {sample.name!r}", sample.nominal))
        for hs in sample.histosys:
            for side in ("up", "down"):
                tmpl = check_template(
                    getattr(hs, side), f"{what}, histosys {hs.name!r} {side}",
                    negative=negative, allow_empty=True,
                )  # fmt: skip
                setattr(hs, side, tmpl)
                labelled.append((f"sample {sample.name!r} histosys {hs.name!r} {side}", tmpl))
    data_tmpl = None
    if isinstance(channel.data, (int, float)) or channel.data is None:
        asimov_mu = float(channel.data or 0.0)
    else:
        data_tmpl = check_template(
            template_from_hist(channel.data, f"channel {name!r} data"),
            f"channel {name!r}, data", allow_empty=True,
        )  # fmt: skip
        labelled.append(("data", data_tmpl))
    check_binning(labelled, name)

    signal = sum(s.nominal.values for s in channel.samples if s.signal)
    background = sum(s.nominal.values for s in channel.samples if not s.signal)
    if not isinstance(background, np.ndarray):
        raise GbiInputError(f"channel {name!r} has only signal samples: add a background")
    check_positive_bins(background, name, "the background-only yield")
    sums["s2b"] += float(np.sum(np.asarray(signal) ** 2 / background))
    stat = [s for s in channel.samples if s.staterror]
    for sample in stat:
        if sample.nominal.variances is None:
            raise GbiInputError(
                f"channel {name!r}, sample {sample.name!r} ({sample.nominal.source}): staterror "
                "is on but the histogram has no variances; fill it with Weight storage or set "
                "staterror off for this sample"
            )
    if stat:
        check_staterror(
            sum(s.nominal.values for s in stat), sum(s.nominal.variances for s in stat), name
        )
    uses_lumi = False
    samples = []
    for sample in channel.samples:
        modifiers = _modifiers(sample, name, poi, lumi_unc)
        uses_lumi = uses_lumi or any(m["type"] == "lumi" for m in modifiers)
        samples.append(
            {"name": sample.name, "data": sample.nominal.values.tolist(), "modifiers": modifiers}
        )
    if data_tmpl is not None:
        observed = data_tmpl.values.tolist()
    else:
        observed = (background + asimov_mu * np.asarray(signal)).tolist()
    return {"name": name, "samples": samples}, observed, uses_lumi


def _modifiers(
    sample: Sample, channel: str, poi: str, lumi_unc: float | None
) -> list[dict[str, Any]]:
    mods: list[dict[str, Any]] = []
    if sample.signal:
        mods.append({"name": poi, "type": "normfactor", "data": None})
    for factor in sample.normfactors:
        mods.append({"name": factor, "type": "normfactor", "data": None})
    if sample.staterror:
        uncertainty = np.sqrt(sample.nominal.variances).tolist()
        mods.append({"name": f"staterror_{channel}", "type": "staterror", "data": uncertainty})
    normsys = dict(sample.normsys)
    if sample.sys is not None:
        normsys[f"norm_{sample.name}"] = (1.0 - sample.sys, 1.0 + sample.sys)
    for sys_name, (lo, hi) in normsys.items():
        if not (lo > 0 and hi > 0):
            raise GbiInputError(
                f"channel {channel!r}, sample {sample.name!r}: normsys {sys_name!r} needs "
                f"positive lo/hi factors, found ({lo}, {hi})"
            )
        mods.append({"name": sys_name, "type": "normsys", "data": {"lo": lo, "hi": hi}})
    for hs in sample.histosys:
        mods.append(
            {
                "name": hs.name,
                "type": "histosys",
                "data": {"lo_data": hs.down.values.tolist(), "hi_data": hs.up.values.tolist()},
            }
        )
    lumi = (
        sample.lumi if sample.lumi is not None else (sample.kind == "mc" and lumi_unc is not None)
    )
    if lumi:
        if lumi_unc is None or not lumi_unc > 0:
            raise GbiInputError(
                f"channel {channel!r}, sample {sample.name!r} asks for lumi but the measurement "
                "has no lumi_uncertainty; give one (e.g. 0.017 for 1.7%) or set lumi off"
            )
        mods.append({"name": "lumi", "type": "lumi", "data": None})
    return mods


def _default_poi_bounds(s2b: float) -> tuple[float, float]:
    """(0, U): U = 10 or ten times a rough expected limit 2/sqrt(sum s^2/b), rounded up."""
    rough = 2.0 / math.sqrt(s2b) if s2b > 0 else 10.0
    upper = max(10.0, 10.0 * rough)
    magnitude = 10.0 ** math.floor(math.log10(upper))
    return 0.0, float(math.ceil(upper / magnitude) * magnitude)
