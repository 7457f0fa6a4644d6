"""The pyhf bridge: weighted histograms in, HistFactory workspaces and fits out.

- :mod:`gbi.workspace.histograms` histogram references (``FILE.pkl:KEY[region=SR]``) and templates
- :mod:`gbi.workspace.checks`     input checks that catch what pyhf fails on opaquely
- :mod:`gbi.workspace.builder`    templates -> pyhf workspace spec
- :mod:`gbi.workspace.config`     the YAML/JSON workspace config (schema workspace-config-1.0)
- :mod:`gbi.workspace.fit`        MLE fit, discovery significance, CLs limits (schema fit-result-1.0)
- :mod:`gbi.workspace.plots`      pull and limit plots
"""

from __future__ import annotations

from gbi.workspace.builder import Channel, HistoSys, Sample, build_spec, build_workspace
from gbi.workspace.histograms import Template, load_hist, template_from_hist

__all__ = [
    "Channel",
    "HistoSys",
    "Sample",
    "Template",
    "build_spec",
    "build_workspace",
    "load_hist",
    "template_from_hist",
]
