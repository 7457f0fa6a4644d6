"""Write the templates of a workspace to a ROOT file for ROOT/HistFactory users.

Layout (one TH1D each, sum of weights squared = variance)::

    <channel>/<sample>                 nominal
    <channel>/<sample>_<syst>_up       histosys up template
    <channel>/<sample>_<syst>_down     histosys down template
    <channel>/data                     observed (or Asimov) data
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gbi.io import write_root_histograms
from gbi.workspace.builder import Channel
from gbi.workspace.histograms import Template

__all__ = ["template_to_hist", "workspace_histograms", "write_workspace_root"]


def template_to_hist(template: Template, name: str = "x") -> Any:
    """A 1D ``hist.Hist`` with Weight storage (variance = contents if unknown).

    >>> t = Template(np.array([1.0, 2.0]), np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    >>> template_to_hist(t).variances().tolist()
    [1.0, 3.0]
    """
    import hist

    histogram = hist.Hist(
        hist.axis.Variable(template.edges, name=name), storage=hist.storage.Weight()
    )
    view = histogram.view()
    view.value = template.values
    view.variance = template.values if template.variances is None else template.variances
    return histogram


def workspace_histograms(channels: Sequence[Channel], spec: dict[str, Any]) -> dict[str, Any]:
    """``{"<channel>/<name>": hist.Hist}`` for all templates; data taken from ``spec``."""
    out: dict[str, Any] = {}
    observed = {o["name"]: o["data"] for o in spec["observations"]}
    for channel in channels:
        edges = channel.samples[0].nominal.edges
        for sample in channel.samples:
            out[f"{channel.name}/{sample.name}"] = template_to_hist(sample.nominal)
            for hs in sample.histosys:
                out[f"{channel.name}/{sample.name}_{hs.name}_up"] = template_to_hist(hs.up)
                out[f"{channel.name}/{sample.name}_{hs.name}_down"] = template_to_hist(hs.down)
        data = np.asarray(observed[channel.name], dtype=float)
        out[f"{channel.name}/data"] = template_to_hist(Template(data, data, edges))
    return out


def write_workspace_root(
    channels: Sequence[Channel], spec: dict[str, Any], target: str | os.PathLike[str]
) -> Path:
    """Write :func:`workspace_histograms` to ``target`` atomically."""
    return write_root_histograms(workspace_histograms(channels, spec), target)
