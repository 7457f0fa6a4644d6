"""Resonant anomaly detection on dijet features (``gbi detect``).

From the features of ``gbi process``: train a conditional flow ``p(x | mjj)`` in the
sidebands, sample it in the signal region, train a k-fold classifier data-vs-generated
(CATHODE) or in the flow's latent space (LaCATHODE), and score every event; the idealized
(data vs true background) and fully supervised detectors are the references.

The sideband flow, SR sampling, the method registry, the cuts and the stage timing are the
shared core in :mod:`gbi.background` (also used by :mod:`gbi.infer` and the search).

- :mod:`gbi.detect.config`     :class:`DetectConfig`, the methods and cut efficiencies
- :mod:`gbi.detect.inputs`     sample validation and the train/test splits
- :mod:`gbi.detect.selection`  mjj histograms after the cuts, chi2
- :mod:`gbi.detect.scoring`    score columns, spectra and SR figures per cut, evaluation
- :mod:`gbi.detect.metrics`    ROC, SIC, max SIC, summaries over runs
- :mod:`gbi.detect.result`     :class:`DetectResult`, :class:`DetectSummary` (typed result)
- :mod:`gbi.detect.pipeline`   :func:`run_detection`
- :mod:`gbi.detect.outputs`    files, saved classifiers, SIC plot
"""

from __future__ import annotations

from gbi.background import MethodRun, SidebandBackground, train_method
from gbi.detect.config import DEFAULT_CUTS, DEFAULT_FEATURES, METHODS, DetectConfig
from gbi.detect.inputs import DetectInputs, prepare_inputs
from gbi.detect.metrics import evaluate, max_sic, roc_sic, summarize
from gbi.detect.outputs import SavedClassifier, load_classifier, plot_sic, write_outputs
from gbi.detect.pipeline import run_detection
from gbi.detect.result import DetectCounts, DetectMethodSummary, DetectResult, DetectSummary

__all__ = [
    "DEFAULT_CUTS",
    "DEFAULT_FEATURES",
    "METHODS",
    "DetectConfig",
    "DetectCounts",
    "DetectInputs",
    "DetectMethodSummary",
    "DetectResult",
    "DetectSummary",
    "MethodRun",
    "SavedClassifier",
    "SidebandBackground",
    "evaluate",
    "load_classifier",
    "max_sic",
    "plot_sic",
    "prepare_inputs",
    "roc_sic",
    "run_detection",
    "summarize",
    "train_method",
    "write_outputs",
]
