"""Toy dijet data for the search tests: a falling mjj spectrum, two Gaussian features whose
mean drifts slowly with mjj, and an optional localised bump (truth known)."""

from __future__ import annotations

import numpy as np

FEATURES = ("f1", "f2")

#: The bump's mass (GeV) in the shared toy: the centre of the window 3000-3400.
MASS = 3200.0


def toy_data(
    n_background: int = 20_000,
    n_signal: int = 0,
    mass: float = 3200.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Background mjj = 1500 + Exp(600 GeV) cut at 6000 GeV; features N(mjj/2000, 1) and
    N(0, 1). Signal: mjj ~ N(mass, 4% mass), features N(3, 0.3) and N(-2, 0.3); ``label``
    1 for signal, 0 for background."""
    rng = np.random.default_rng(seed)
    mjj = 1500.0 + rng.exponential(600.0, size=3 * n_background)
    mjj = mjj[mjj < 6000.0][:n_background]
    f1 = rng.normal(mjj / 2000.0, 1.0)
    f2 = rng.normal(0.0, 1.0, size=len(mjj))
    s_mjj = rng.normal(mass, 0.04 * mass, size=n_signal)
    s1 = rng.normal(3.0, 0.3, size=n_signal)
    s2 = rng.normal(-2.0, 0.3, size=n_signal)
    label = np.concatenate([np.zeros(len(mjj)), np.ones(n_signal)])
    order = rng.permutation(len(label))
    return {
        "mjj": np.concatenate([mjj, s_mjj])[order],
        "f1": np.concatenate([f1, s1])[order],
        "f2": np.concatenate([f2, s2])[order],
        "label": label[order],
    }
