"""Uncertainty from the spread of an ensemble (numpy only, no torch).

Used by the flow ensembles (:mod:`gbi.flows`), the background estimates of the cuts
(:mod:`gbi.background.cuts`), the inference methods and the pyhf amplification study; it
lives here so that none of them imports torch for a standard deviation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gbi.errors import GbiInputError

__all__ = ["ensemble_error"]


def ensemble_error(values: Any, kind: str = "bootstrap") -> Any:
    """Uncertainty from the spread of ``values`` over ensemble members (axis 0, ``K`` rows).

    ``values`` are in the unit of the quantity (events, GeV, a fraction ...); the error has
    the same unit. ``s`` is the standard deviation over members (0 for one member; exactly
    0 for identical ones). ``kind``:

    - ``"bootstrap"``: ``s sqrt(1 + 1/K)``, the error of a quantity computed with the
      mixture of ``K`` bootstrap fits (each replica scatters around the full-sample fit as
      much as that fit scatters around the truth; the mixture keeps that error plus ``1/K``
      of the replica noise);
    - ``"mean"``: ``s / sqrt(K)``, members differing only by their training seed, averaged;
    - ``"member"``: ``s``, the spread of one member.

    >>> ensemble_error([1.0, 2.0, 3.0]), round(ensemble_error([1.0, 2.0, 3.0], "mean"), 4)
    (1.1547005383792515, 0.5774)
    """
    v = np.asarray(values, dtype=np.float64)
    k = len(v)
    if k < 2:
        return np.zeros(v.shape[1:]) if v.ndim > 1 else 0.0
    spread = np.std(v - v[0], axis=0, ddof=1)  # relative to member 0: identical -> exactly 0
    scale = {"bootstrap": np.sqrt(1.0 + 1.0 / k), "mean": 1.0 / np.sqrt(k), "member": 1.0}
    if kind not in scale:
        raise GbiInputError(f"kind: expected one of {sorted(scale)}, found {kind!r}")
    out = spread * scale[kind]
    return float(out) if np.ndim(out) == 0 else out
