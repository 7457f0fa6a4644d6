"""Conditional normalizing flows (zuko) that learn, generate and quantify their own fidelity.

One API for both uses of a learned generator: amplification of limited Monte Carlo and the
sideband background model of resonant anomaly detection (``p(x | mjj)``).

- :mod:`gbi.flows.preprocessing`: exactly invertible per-column transforms with hard edges
- :mod:`gbi.flows.models`: zuko MAF / NSF factory (:class:`FlowConfig`)
- :mod:`gbi.flows.training`: Adam, validation split, early stopping, checkpoints, resume
- :mod:`gbi.flows.ensemble`: :class:`FlowModel` (K members): density, sampling, save/load
- :mod:`gbi.flows.fitting`: :func:`train_model` (preprocessing, K seeded members, bootstrap)
- :mod:`gbi.flows.context`: mjj KDE / fit for CATHODE-style conditional sampling
- :mod:`gbi.flows.sampling`: bounded-memory sampling to Parquet, dask sampling into hist
- :mod:`gbi.flows.histograms`: amplified histograms with generator uncertainties
- :mod:`gbi.flows.windows`: :class:`Window` row selections (``low <= column < high``)
- :mod:`gbi.flows.amplify`: the file-to-file steps of ``gbi amplify``
  (:func:`amplify_train`, :func:`sample_to_file`, :func:`evaluate_model`)

A coffea processor loads a model once per worker process with
:func:`gbi.flows.sampling.cached_model` (or :func:`load_model`) and calls
``model.log_prob(columns)`` (float64 ``(n,)``, per GeV of the features) or
``model.sample(n, context=..., seed=...)`` (``{column: float64 (n,)}``) per chunk; give each
chunk its own seed (:func:`gbi.flows.sampling.task_seeds`).

Command line: ``gbi amplify train|sample|evaluate`` (:mod:`gbi.cli.amplify`).
"""

from __future__ import annotations

import os

from gbi.flows.amplify import SampleResult, amplify_train, evaluate_model, sample_to_file
from gbi.flows.context import MjjFit, MjjKDE
from gbi.flows.ensemble import FlowModel, ensemble_error, member_weights_from_log_probs
from gbi.flows.fitting import train_model
from gbi.flows.models import FlowConfig
from gbi.flows.preprocessing import Preprocessor
from gbi.flows.training import TrainConfig
from gbi.flows.windows import Window

__all__ = [
    "FlowConfig",
    "FlowModel",
    "MjjFit",
    "MjjKDE",
    "Preprocessor",
    "SampleResult",
    "TrainConfig",
    "Window",
    "amplify_train",
    "ensemble_error",
    "evaluate_model",
    "load_model",
    "member_weights_from_log_probs",
    "sample_to_file",
    "train_model",
]


def load_model(directory: str | os.PathLike[str], device: str = "auto") -> FlowModel:
    """Load a trained model directory (see :meth:`FlowModel.load`)."""
    return FlowModel.load(directory, device=device)
