"""Classifier layer: k-fold ensembles (PyTorch MLP or scikit-learn gradient boosting) and
classifier-based reweighting.

- :mod:`gbi.classifiers.models`      the two model families behind one ``fit``/``score`` interface
- :mod:`gbi.classifiers.kfold`       k-fold ensembles: every training event is scored by a
  model that did not see it
- :mod:`gbi.classifiers.reweighting` DCTR-style weights ``w = f / (1 - f)``
"""

from __future__ import annotations

from gbi.classifiers.kfold import KFoldEnsemble, KFoldResult
from gbi.classifiers.models import CLASSIFIER_KINDS, ClassifierConfig, make_classifier
from gbi.classifiers.reweighting import ReweightResult, classifier_weights

__all__ = [
    "CLASSIFIER_KINDS",
    "ClassifierConfig",
    "KFoldEnsemble",
    "KFoldResult",
    "ReweightResult",
    "classifier_weights",
    "make_classifier",
]
