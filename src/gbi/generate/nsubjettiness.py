"""Vectorized N-subjettiness (beta = 1, normalised measure, exclusive-kT axes).

For a jet with constituents i (transverse momentum ``pT_i``, GeV) and N axes k::

    tau_N = sum_i pT_i * min_k dR(i, k) / (R0 * sum_i pT_i)

with ``dR`` the distance in (rapidity, azimuth) and ``R0 = 1.0`` (the jet radius). The axes
are the N exclusive subjets of the jet's constituents reclustered with the kT algorithm
(E-scheme, R = 1000, i.e. FastJet's ``max_allowable_R``): FastJet contrib's ``KT_Axes``
with the ``NormalizedMeasure(beta=1, R0=1)``. A jet with at most N constituents has every
constituent on an axis, so its tau_N is 0 (e.g. tau1 = 0 for a one-constituent jet).

All jets of a batch are handled at once: the reclustering uses FastJet's multi-event
awkward interface with one "event" per jet, the distances are numpy over all constituents.
"""

from __future__ import annotations

import warnings
from typing import Any

import awkward as ak
import numpy as np

__all__ = ["exclusive_kt_axes", "nsubjettiness", "rapidity_phi_pt", "tau_from_axes"]

#: FastJet's ``JetDefinition::max_allowable_R``, used for the exclusive-kT axes.
KT_AXES_R = 1000.0
#: Rapidity given to massless particles along the beam (FastJet's ``MaxRap``).
_MAX_RAP = 1e5


def rapidity_phi_pt(px: Any, py: Any, pz: Any, e: Any) -> tuple[np.ndarray, ...]:
    """Rapidity, azimuth (rad, in (-pi, pi]) and pT (GeV) of flat four-momentum arrays.

    >>> y, phi, pt = rapidity_phi_pt([3.0], [4.0], [0.0], [5.0])
    >>> float(y[0]), round(float(phi[0]), 4), float(pt[0])
    (0.0, 0.9273, 5.0)
    """
    px, py, pz, e = (np.asarray(v, dtype=np.float64) for v in (px, py, pz, e))
    pt = np.hypot(px, py)
    phi = np.arctan2(py, px)
    num = e + np.abs(pz)
    den = np.maximum(e - np.abs(pz), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(den > 0, 0.5 * np.log(num / den), _MAX_RAP)
    y = np.copysign(np.minimum(y, _MAX_RAP), pz)
    return y, phi, pt


def _flat(array: ak.Array) -> tuple[np.ndarray, ...]:
    flat = ak.flatten(array, axis=1)
    return tuple(ak.to_numpy(flat[name]).astype(np.float64) for name in ("px", "py", "pz", "E"))


def tau_from_axes(constituents: ak.Array, axes: ak.Array, R0: float = 1.0) -> np.ndarray:
    """tau_N of each jet for the given axes (beta = 1, normalised by ``R0 * sum pT``).

    ``constituents`` and ``axes`` are ``jets * var * {px, py, pz, E}`` awkward arrays (GeV)
    with the same number of jets; the number of axes per jet may vary (N = that number).
    Returns a float64 array of shape ``(n_jets,)``; a jet with no pT gets 0.

    Two constituents of pT 100 and 50 GeV at rapidity 0 and 0.5, one axis at rapidity 0:

    >>> import awkward as ak, numpy as np
    >>> def p(pt, y):
    ...     return {"px": pt, "py": 0.0, "pz": pt * np.sinh(y), "E": pt * np.cosh(y)}
    >>> cons = ak.Array([[p(100.0, 0.0), p(50.0, 0.5)]])
    >>> tau_from_axes(cons, ak.Array([[p(1.0, 0.0)]])).round(6).tolist()  # 50 * 0.5 / 150
    [0.166667]
    >>> tau_from_axes(cons, cons).tolist()  # every constituent on an axis
    [0.0]
    """
    if len(constituents) == 0:
        return np.zeros(0, dtype=np.float64)
    n_cons = ak.to_numpy(ak.num(constituents, axis=1))
    n_axes = ak.to_numpy(ak.num(axes, axis=1))
    n_jets = len(n_cons)
    if len(n_axes) != n_jets:
        raise ValueError(f"constituents have {n_jets} jets but axes have {len(n_axes)}")
    cy, cphi, cpt = rapidity_phi_pt(*_flat(constituents))
    ay_flat, aphi_flat, _ = rapidity_phi_pt(*_flat(axes))
    # axes as a padded (n_jets, max_axes) table, NaN where a jet has fewer axes
    width = max(int(n_axes.max(initial=0)), 1)
    slot = np.arange(len(ay_flat)) - np.repeat(np.cumsum(n_axes) - n_axes, n_axes)
    rows = np.repeat(np.arange(n_jets), n_axes)
    ay = np.full((n_jets, width), np.nan)
    aphi = np.full((n_jets, width), np.nan)
    ay[rows, slot] = ay_flat
    aphi[rows, slot] = aphi_flat
    jet_of_cons = np.repeat(np.arange(n_jets), n_cons)
    dy = cy[:, None] - ay[jet_of_cons]
    dphi = np.abs(cphi[:, None] - aphi[jet_of_cons])
    dphi = np.where(dphi > np.pi, 2 * np.pi - dphi, dphi)
    dr = np.sqrt(dy * dy + dphi * dphi)
    dr = np.where(np.isnan(dr), np.inf, dr)
    min_dr = dr.min(axis=1) if dr.size else np.zeros(len(cy))
    min_dr = np.where(np.isfinite(min_dr), min_dr, 0.0)
    numerator = np.bincount(jet_of_cons, weights=cpt * min_dr, minlength=n_jets)
    denominator = R0 * np.bincount(jet_of_cons, weights=cpt, minlength=n_jets)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, 0.0)


def exclusive_kt_axes(constituents: ak.Array, n: int) -> ak.Array:
    """The ``min(n, n_constituents)`` exclusive kT subjets of each jet (``jets * var * 4-vector``).

    ``constituents`` is a ``jets * var * {px, py, pz, E}`` array (GeV). Needs ``fastjet``.
    """
    import fastjet

    particles = ak.zip(
        {name: ak.values_astype(constituents[name], np.float64) for name in ("px", "py", "pz", "E")}
    )
    jetdef = fastjet.JetDefinition(fastjet.kt_algorithm, KT_AXES_R)
    with warnings.catch_warnings():
        # fastjet warns for every exclusive call, even for kt; kt is exactly the valid case
        warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)
        sequence = fastjet.ClusterSequence(particles, jetdef)
        return sequence.exclusive_jets_up_to(n)


def nsubjettiness(constituents: ak.Array, n_max: int = 3, R0: float = 1.0) -> np.ndarray:
    """tau_1 ... tau_{n_max} of each jet, shape ``(n_jets, n_max)``, float64.

    ``constituents`` is a ``jets * var * {px, py, pz, E}`` awkward array (GeV). Axes are
    exclusive kT subjets (see the module docstring); needs ``fastjet``.
    """
    n_jets = len(constituents)
    out = np.zeros((n_jets, n_max), dtype=np.float64)
    if n_jets == 0:
        return out
    for n in range(1, n_max + 1):
        out[:, n - 1] = tau_from_axes(constituents, exclusive_kt_axes(constituents, n), R0=R0)
    return out
