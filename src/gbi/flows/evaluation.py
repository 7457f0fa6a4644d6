"""Fidelity report of a trained flow against an independent real sample.

:func:`evaluate_samples` compares a generated sample to a real one: classifier two-sample
test (AUC with error, classifier weights), per-feature divergences and the amplification
factor of every feature (and their minimum, the conservative summary). For conditional
models the context columns are generated from the real ones, so the test is of
``p(features | context)`` and the classifier sees context and features.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> real = {"x": rng.normal(size=3000)}
>>> report = evaluate_samples(real, {"x": rng.normal(size=3000)}, ["x"], n_train=3000, n_folds=3)
>>> sorted(k for k in report if k.startswith("c2st_auc"))
['c2st_auc', 'c2st_auc_err']
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gbi.metrics.amplification import amplification_factor
from gbi.metrics.c2st import c2st
from gbi.metrics.divergences import feature_divergences

__all__ = ["evaluate_samples"]


def evaluate_samples(
    real: Mapping[str, Any],
    generated: Mapping[str, Any],
    features: Sequence[str],
    *,
    context: Sequence[str] = (),
    n_train: int | None = None,
    amplification_reference: Mapping[str, Any] | None = None,
    n_folds: int = 5,
    seed: int = 0,
    bins: int = 40,
    plot_dir: str | os.PathLike[str] | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fidelity metrics of ``generated`` versus ``real`` (``column -> array`` each).

    ``n_train`` (training events of the generator) enables the amplification factors,
    measured against ``amplification_reference`` (default: ``real``; a larger independent
    sample makes the estimate sharper). With ``plot_dir`` one plot per feature is written.
    """
    columns = [*context, *features]
    x_real = np.stack([np.asarray(real[c], dtype=np.float64) for c in columns], 1)
    x_gen = np.stack([np.asarray(generated[c], dtype=np.float64) for c in columns], 1)
    test = c2st(x_real, x_gen, n_folds=n_folds, seed=seed)
    report: dict[str, Any] = {**test.to_dict()}
    report["divergences"] = feature_divergences(real, generated, list(features), bins=bins)
    if n_train:
        ref = amplification_reference if amplification_reference is not None else real
        per_feature = {
            c: amplification_factor(generated[c], ref[c], n_train, bins=min(bins, 20)).to_dict()
            for c in features
        }
        factors = [v["factor"] for v in per_feature.values()]
        worst = min(per_feature, key=lambda c: per_feature[c]["factor"])
        report["amplification_factor"] = float(min(factors))
        report["amplification_factor_lower_limit"] = per_feature[worst]["lower_limit"]
        report["amplification_factor_feature"] = worst
        report["amplification_per_feature"] = per_feature
        report["n_train"] = int(n_train)
        report["n_amplification_reference"] = len(np.asarray(ref[features[0]]))
    else:
        report["amplification_factor"] = math.nan
    report["n_real"] = len(x_real)
    report["n_generated"] = len(x_gen)
    if plot_dir is not None:
        from gbi.metrics.plots import plot_features

        report["plots"] = [
            str(p) for p in plot_features(real, generated, columns, plot_dir, units=units)
        ]
    return report
