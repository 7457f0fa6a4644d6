"""Fidelity metrics of generated samples: divergences, classifier test, amplification.

- :mod:`gbi.metrics.divergences`: per-feature KL, Hellinger, chi2, Wasserstein
- :mod:`gbi.metrics.c2st`: classifier two-sample test (AUC with error, classifier weights)
- :mod:`gbi.metrics.amplification`: amplification factor (arXiv:2008.06545)
- :mod:`gbi.metrics.ensembles`: ensemble spread (:func:`ensemble_error`), member weights
- :mod:`gbi.metrics.plots`: generated-vs-real plots with ratio panels
"""

from __future__ import annotations

from gbi.metrics.amplification import AmplificationResult, amplification_factor
from gbi.metrics.c2st import C2STResult, c2st
from gbi.metrics.divergences import feature_divergences
from gbi.metrics.ensembles import ensemble_error, member_weights_from_log_probs

__all__ = [
    "AmplificationResult",
    "C2STResult",
    "amplification_factor",
    "c2st",
    "ensemble_error",
    "feature_divergences",
    "member_weights_from_log_probs",
]
