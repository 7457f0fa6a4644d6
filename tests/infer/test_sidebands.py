"""The signal expected in the sidebands (:mod:`gbi.infer.sidebands`): closure on a resonance
that is not where the grid was made."""

from __future__ import annotations

import numpy as np
import pytest

from gbi.infer.sidebands import (
    background_weights,
    leak_resonance_mass,
    scaled_signal_mjj,
)

SR = (3500.0, 3900.0)


def _resonance(m_w: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """A resonance's mjj (GeV): a core of 5% relative width and a low tail (final-state
    radiation), both proportional to the mass."""
    core = rng.normal(m_w, 0.05 * m_w, n)
    tail = m_w * (1.0 - rng.exponential(0.08, n))
    return np.where(rng.random(n) < 0.8, core, tail)


@pytest.mark.parametrize("m_true", [3600.0, 3700.0, 3800.0])
def test_the_leak_closes_for_a_resonance_off_the_grid_mass(m_true: float) -> None:
    """A grid made at 3500 GeV, a signal at ``m_true`` in the SR 3500-3900 GeV, 1000 of its
    events in the SR: the expected signal in the sidebands from the grid's shape scaled to
    the SR's centre (3700 GeV) closes on the true leak within 25% for a resonance there, and
    is closer to it than the grid's shape as made for one 100 GeV to either side (2.7% of
    the mass: the assumption's error), while the shape as made puts it 40% or more too high
    at 3700 GeV and above (the issue-19 off-grid runs: 485-590 expected where about 320
    were).
    """
    rng = np.random.default_rng(int(m_true))
    grid = _resonance(3500.0, 20000, rng)  # the grid's simulated signal, all its events
    truth = _resonance(m_true, 200000, rng)
    in_sr = (truth >= SR[0]) & (truth < SR[1])
    n_signal_sr = 1000.0
    true_leak = n_signal_sr * float((~in_sr).sum()) / float(in_sr.sum())
    # Sideband data: a falling background and the leaked signal, 400 GeV on each side.
    n_bkg = 40000
    bkg = np.r_[rng.uniform(3100, SR[0], n_bkg), rng.uniform(SR[1], 4300, n_bkg // 2)]
    leak = rng.choice(truth[~in_sr & (truth > 3100) & (truth < 4300)], int(true_leak))
    sideband = np.r_[bkg, leak]
    ratio = np.ones(len(sideband))  # the features do not tell: mjj alone sets P_sig

    m_res, source = leak_resonance_mass(None, SR)
    assert (m_res, source) == (3700.0, "signal-region centre")
    mjj, n_sr = scaled_signal_mjj(grid, 3500.0, m_res, SR)
    scaled = float((1 - background_weights(sideband, ratio, mjj, n_sr, n_signal_sr, SR)).sum())
    as_made_sr = int(((grid >= SR[0]) & (grid < SR[1])).sum())
    as_made = float(
        (1 - background_weights(sideband, ratio, grid, as_made_sr, n_signal_sr, SR)).sum()
    )
    window = (leak > 3100) & (leak < 4300)  # what the sidebands here can hold
    true_here = float(window.sum())
    assert abs(scaled - true_here) < abs(as_made - true_here), (scaled, as_made, true_here)
    if m_true == 3700.0:
        assert abs(scaled / true_here - 1.0) < 0.25, (scaled, as_made, true_here)
    if m_true >= 3700.0:
        assert as_made / true_here > 1.4, (scaled, as_made, true_here)
    print(f"m = {m_true:g} GeV: true {true_here:.0f}, scaled {scaled:.0f}, as made {as_made:.0f}")


def test_the_scale_is_checked() -> None:
    with pytest.raises(ValueError, match="expected W' masses > 0 GeV"):
        scaled_signal_mjj(np.ones(3), 0.0, 3500.0, SR)
    assert leak_resonance_mass(3600.0, SR) == (3600.0, "fitted mW")
