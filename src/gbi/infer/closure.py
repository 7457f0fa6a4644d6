"""Sideband closure of an anomaly-score cut: the background model checked next to the SR.

A cut on a data-vs-generated classifier keeps the events that the data have more of than
the generated background, so any mismodelling of the generator becomes an excess after the
cut. Applying the same cut to the data of sideband windows next to the signal region, and
to events generated at their mjj, measures that excess where a resonance is small
(:func:`sideband_closure`); :func:`control_channel` turns the windows into a pyhf channel
that fits it (used by :mod:`gbi.infer.binned`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hist
import numpy as np

from gbi.errors import GbiInputError

__all__ = ["control_channel", "sideband_closure", "window_hist"]


def sideband_closure(pass_data: np.ndarray, pass_generated: np.ndarray) -> dict[str, float]:
    """Closure factor of the background model after a cut, from events outside the SR.

    ``pass_data``, ``pass_generated``: booleans (events passing the cut) of sideband data
    and of events generated at their mjj. Returns ``k = eff_data / eff_generated`` and its
    relative statistical error ``sqrt(1/n_data_pass + 1/n_generated_pass)`` (Poisson counts).

    >>> import numpy as np
    >>> out = sideband_closure(np.arange(1000) < 110, np.arange(4000) < 400)
    >>> round(out["k"], 3), round(out["k_rel_err"], 3)
    (1.1, 0.108)
    """
    n_d, n_g = int(np.sum(pass_data)), int(np.sum(pass_generated))
    usable = len(pass_data) > 0 and n_g > 0
    return {
        "k": float(n_d / len(pass_data) * len(pass_generated) / n_g) if usable else 1.0,
        "k_rel_err": float(np.sqrt(1.0 / max(n_d, 1) + 1.0 / n_g)) if usable else 0.0,
        "data_pass": n_d,
        "generated_pass": n_g,
        "data": len(pass_data),
        "generated": len(pass_generated),
    }


def window_hist(mjj: np.ndarray, weight: float, sr_low: float) -> hist.Hist:
    """Two bins: the sideband window below the SR and the one above it."""
    h = hist.Hist(
        hist.axis.Regular(2, 0, 2, name="window", label="sideband window (0: below SR, 1: above)"),
        storage=hist.storage.Weight(),
    )
    h.fill(window=(np.asarray(mjj) >= sr_low) + 0.5, weight=np.full(len(mjj), weight))
    return h


def control_channel(
    pass_data: np.ndarray,
    pass_gen: np.ndarray,
    side_data: Mapping[str, np.ndarray],
    side_gen: Mapping[str, np.ndarray],
    signal_side: tuple[np.ndarray, float] | None,
    sr_low: float,
) -> Any:
    """The sideband windows after the cut: data, generated background x ``sideband_k``
    (weight ``n_data / n_generated``), and the simulated signal that leaks there
    (``signal_side``: mjj of the passing events and their weight, as in the SR template)."""
    from gbi.workspace import Channel, Sample

    n_d, n_g = len(pass_data), max(len(pass_gen), 1)
    background = window_hist(side_gen["mjj"][pass_gen], n_d / n_g, sr_low)
    if (background.values() <= 0).any():
        raise GbiInputError(
            "binned: a sideband window has no generated background after the cut "
            f"({background.values()}); use a wider --binned-sideband-width or a looser "
            "--binned-efficiency, or --binned-sideband-closure off"
        )
    samples = [Sample("background", background, kind="data-driven", normfactors=["sideband_k"])]
    if signal_side is not None and len(signal_side[0]):
        samples.insert(
            0,
            Sample(
                "signal",
                window_hist(signal_side[0], signal_side[1], sr_low),
                signal=True,
                staterror=False,
            ),
        )
    return Channel(
        "sideband_windows", samples, data=window_hist(side_data["mjj"][pass_data], 1.0, sr_low)
    )
