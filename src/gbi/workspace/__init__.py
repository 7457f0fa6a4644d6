"""The pyhf bridge: weighted histograms in, HistFactory workspaces and fits out.

- :mod:`gbi.workspace.histograms` histogram references (``FILE.pkl:KEY[region=SR]``) and templates
- :mod:`gbi.workspace.checks`     input checks that catch what pyhf fails on opaquely
- :mod:`gbi.workspace.builder`    templates -> pyhf workspace spec (validated by pyhf's schema)
- :mod:`gbi.workspace.config`     the YAML/JSON workspace config (schema workspace-config-1.0)
- :mod:`gbi.workspace.export`     the templates as a ROOT file of TH1Ds
- :mod:`gbi.workspace.inference`  backend/optimizer choice, MLE fit, discovery significance
- :mod:`gbi.workspace.cls`        asymptotic CLs and upper limits
- :mod:`gbi.workspace.fit`        everything above as one result (schema fit-result-1.0)
- :mod:`gbi.workspace.counting`   cut-and-count fit with a sideband control channel (search, infer)
- :mod:`gbi.workspace.toys`       pseudo-experiments and coverage
- :mod:`gbi.workspace.plots`      pull and limit plots

An *amplified* background (a generator-based estimate) enters as a
``Sample(kind="amplified")`` whose histogram variance becomes its staterror, with the
spread of a flow ensemble as an optional ``HistoSys(up, down)``.
"""

from __future__ import annotations

from gbi.workspace.builder import Channel, HistoSys, Sample, build_spec, build_workspace
from gbi.workspace.fit import fit_workspace, load_workspace
from gbi.workspace.histograms import Template, load_hist, template_from_hist

__all__ = [
    "Channel",
    "HistoSys",
    "Sample",
    "Template",
    "build_spec",
    "build_workspace",
    "fit_workspace",
    "load_hist",
    "load_workspace",
    "template_from_hist",
]
