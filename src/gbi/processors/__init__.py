"""coffea processors of gbi.

They live inside the installed package (not only in the top-level ``processors/`` folder)
so that process-pool and dask workers can import them by name.
"""

from __future__ import annotations

from gbi.processors.anomaly import AnomalyScoreProcessor, score_histogram
from gbi.processors.dijet import DijetFeatureProcessor, assemble_columns, default_axes
from gbi.processors.flow_density import FlowDensityProcessor

__all__ = [
    "AnomalyScoreProcessor",
    "DijetFeatureProcessor",
    "FlowDensityProcessor",
    "assemble_columns",
    "default_axes",
    "score_histogram",
]
