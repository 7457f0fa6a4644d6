"""The shared background-model core of detect, infer and the search.

One signal region at a time (the search calls it once per mjj window):

- :mod:`gbi.background.features`  reading feature inputs (files, ``gbi process`` folders)
- :mod:`gbi.background.split`     SR / sideband masks and counts, "too few events" checks
- :mod:`gbi.background.generator` the sideband flow (:class:`SidebandBackground`, one
  :class:`GeneratorConfig`), SR sampling, the latent map
- :mod:`gbi.background.methods`   k-fold training of one classification (:class:`MethodRun`)
- :mod:`gbi.background.registry`  the methods ``cathode``, ``latent``, ``idealized``,
  ``supervised``: each builds its two training classes
- :mod:`gbi.background.cuts`      score cuts at fixed background efficiency, SR estimates
- :mod:`gbi.background.stages`    wall time per stage (:class:`Stages`)

Per signal region (a search window is one :class:`~gbi.regions.Regions`)::

    split = split_regions(data, regions)                  # masks, counts, checks
    reason = split.sidebands_too_small(500) or split.signal_region_too_small(100)
    background = SidebandBackground.train(data, split, GeneratorConfig(flow, train))
    generated = background.generate(split.n_sr, oversampling=4.0, seed=seed)
    run = run_method("cathode", MethodInputs(split.signal_region(data), features, seed,
                                             generated=generated), classifier)
    cuts = thresholds(run.background_scores, [0.1, 0.01])

Masses in GeV, times in seconds, scores dimensionless.
"""

from __future__ import annotations

from gbi.background.cuts import add_generator_errors, background_estimates, cut_label, thresholds
from gbi.background.features import FeatureInput, feature_files, read_features
from gbi.background.generator import (
    SR_SAMPLE_SEED,
    GeneratorConfig,
    SidebandBackground,
    n_generated,
)
from gbi.background.methods import MethodRun, skipped, train_method
from gbi.background.registry import METHOD_BUILDERS, MethodInputs, TrainingSet, run_method
from gbi.background.split import RegionSplit, split_regions
from gbi.background.stages import Stages

__all__ = [
    "METHOD_BUILDERS",
    "SR_SAMPLE_SEED",
    "FeatureInput",
    "GeneratorConfig",
    "MethodInputs",
    "MethodRun",
    "RegionSplit",
    "SidebandBackground",
    "Stages",
    "TrainingSet",
    "add_generator_errors",
    "background_estimates",
    "cut_label",
    "feature_files",
    "n_generated",
    "read_features",
    "run_method",
    "skipped",
    "split_regions",
    "thresholds",
    "train_method",
]
