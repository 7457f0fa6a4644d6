"""Toy dijet samples where the truth is known, and tiny pipeline settings (test helpers)."""

from __future__ import annotations

import numpy as np

from gbi.classifiers import ClassifierConfig
from gbi.detect import DetectConfig
from gbi.flows import FlowConfig, TrainConfig

FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")


def toy_background(n: int, seed: int) -> dict[str, np.ndarray]:
    """Falling mjj (GeV) with mj1 mildly correlated to mjj; tau21 broad."""
    rng = np.random.default_rng(seed)
    mjj = 2600.0 + rng.exponential(600.0, n)
    return {
        "mjj": mjj,
        "mj1": np.abs(rng.normal(100 + 0.03 * (mjj - 3000), 40)),
        "delta_mj": np.abs(rng.normal(150, 80, n)),
        "tau21_j1": rng.beta(5, 3, n),
        "tau21_j2": rng.beta(5, 3, n),
        "label": np.zeros(n, np.int64),
    }


def toy_signal(n: int, seed: int) -> dict[str, np.ndarray]:
    """A narrow resonance at 3500 GeV with two-prong (low tau21) jets of fixed masses."""
    rng = np.random.default_rng(seed)
    return {
        "mjj": rng.normal(3500.0, 80.0, n),
        "mj1": rng.normal(100.0, 10.0, n),
        "delta_mj": rng.normal(400.0, 20.0, n),
        "tau21_j1": rng.beta(2, 6, n),
        "tau21_j2": rng.beta(2, 6, n),
        "label": np.ones(n, np.int64),
    }


def concat(*tables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def tiny_config(methods: tuple[str, ...], **kw: object) -> DetectConfig:
    """Small flow (2 epochs) and 40-iteration HGB with 3 folds: seconds on 2 cores."""
    return DetectConfig(
        methods=methods,
        classifier=ClassifierConfig(max_iter=40),
        n_folds=3,
        flow=FlowConfig(
            flow="maf", features=FEATURES, context=("mjj",), transforms=2, hidden_features=(32,)
        ),
        flow_train=TrainConfig(epochs=3, batch_size=256, learning_rate=3e-3),
        **kw,  # type: ignore[arg-type]
    )
