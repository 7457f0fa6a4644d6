"""LHCO dijet features from the two leading large-radius jets.

The feature set of the LHC Olympics 2020 R&D benchmark, as used by CATHODE and GBI:

========== ================================================================ =====
column     meaning                                                          unit
========== ================================================================ =====
mjj        invariant mass of the two leading (highest-pT) jets              GeV
mj1        mass of the lighter of the two leading jets                       GeV
delta_mj   mass of the heavier minus mass of the lighter jet (>= 0)          GeV
tau21_j1   N-subjettiness ratio tau2/tau1 of the lighter jet                 --
tau21_j2   N-subjettiness ratio tau2/tau1 of the heavier jet                 --
========== ================================================================ =====

Conventions:

- "leading" means highest pT; the jets are sorted here, the input order is not trusted.
- When both leading jets have the same mass, the leading jet counts as the lighter one.
- ``tau21 = tau2 / tau1`` for ``tau1 > 0``. A jet with ``tau1 == 0`` (all its energy along
  one axis, e.g. a single constituent) has no two-prong substructure: ``tau2`` is then 0 too
  and tau21 is defined as **0**, so the ratio is always finite and >= 0. Negative ``tau1``
  (corrupt input) also gives 0. With exclusive-kT axes (not minimised ones) tau2 can exceed
  tau1: on the LHCO-style QCD sample about 7% of leading jets have tau21 > 1 (max ~1.6), so
  tau21 has a hard edge at 0 only.
- Events with fewer than two jets get no features; callers count them in a cutflow.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "FEATURE_COLUMNS",
    "FEATURE_UNITS",
    "JET_FIELDS",
    "dijet_features",
    "dijet_mass",
    "event_columns",
    "jagged_columns",
    "leading_pair_indices",
    "tau_ratio",
]

#: Feature columns, in the canonical order used by every later stage (flows, classifiers).
FEATURE_COLUMNS: tuple[str, ...] = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")

#: Units of :data:`FEATURE_COLUMNS` ("" = dimensionless).
FEATURE_UNITS: dict[str, str] = {
    "mjj": "GeV",
    "mj1": "GeV",
    "delta_mj": "GeV",
    "tau21_j1": "",
    "tau21_j2": "",
}

#: Per-jet fields the features need (NanoAOD ``FatJet_<field>`` branches).
JET_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass", "tau1", "tau2")


def tau_ratio(tau2: np.ndarray, tau1: np.ndarray) -> np.ndarray:
    """Return ``tau2 / tau1``, defined as 0 where ``tau1 <= 0``.

    >>> tau_ratio(np.array([0.5, 0.0, 0.3]), np.array([1.0, 0.0, -1.0]))
    array([0.5, 0. , 0. ])
    """
    tau1 = np.asarray(tau1, dtype=np.float64)
    tau2 = np.asarray(tau2, dtype=np.float64)
    positive = tau1 > 0
    return np.divide(tau2, tau1, out=np.zeros_like(tau2), where=positive)


def jagged_columns(jets: Any, fields: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Event offsets and flat numpy arrays of some per-jet ``fields`` of ``jets``.

    ``jets`` has shape ``(events, var * jet)``; returns ``offsets`` (int64, shape
    ``(events + 1,)``; jets of event ``i`` are ``offsets[i]:offsets[i + 1]`` of each flat
    array) and ``{field: array}`` in the stored dtype (no copy when the layout allows it).

    The usual layout (NanoEvents collections, ``ak.zip`` of jagged fields) is read straight
    from its buffers after one ``ak.materialize`` of the selected fields: going through the
    high-level ``ak.num`` / ``ak.flatten`` / ``ak.to_numpy`` per field cost twice as much
    (4.2 ms against 2.0 ms for the six jet fields of a preloaded 50k-event NanoEvents
    chunk, timed alone); any other layout takes that generic path.

    >>> offsets, flat = jagged_columns(ak.Array([[{"pt": 3.0}, {"pt": 1.0}], []]), ("pt",))
    >>> offsets.tolist(), flat["pt"].tolist()
    ([0, 2, 2], [3.0, 1.0])
    """
    layout = ak.to_layout(ak.materialize(jets[list(fields)]))
    if (
        isinstance(layout, ak.contents.ListOffsetArray)
        and isinstance(layout.content, ak.contents.RecordArray)
        and all(isinstance(layout.content.content(f), ak.contents.NumpyArray) for f in fields)
    ):
        offsets = np.asarray(layout.offsets.data, dtype=np.int64)
        first, last = int(offsets[0]), int(offsets[-1])
        flat = {f: np.asarray(layout.content.content(f).data)[first:last] for f in fields}
        return offsets - first, flat
    counts = np.asarray(ak.to_numpy(ak.num(jets[fields[0]], axis=1)), dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = {f: np.asarray(ak.to_numpy(ak.flatten(jets[f], axis=1))) for f in fields}
    return offsets, flat


def event_columns(events: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-event columns ``names`` of ``events`` as numpy arrays of shape ``(events,)``.

    Fields that ``events`` lacks are left out (check with ``in``). Like
    :func:`jagged_columns`, one ``ak.materialize`` of all of them, then the buffers.

    >>> event_columns(ak.Array([{"run": 1, "w": 0.5}, {"run": 1, "w": 2.0}]), ("w", "label"))
    {'w': array([0.5, 2. ])}
    """
    present = [name for name in names if name in events.fields]
    if not present:
        return {}
    layout = ak.to_layout(ak.materialize(events[present]))
    out: dict[str, np.ndarray] = {}
    for name in present:
        content = layout.content(name) if isinstance(layout, ak.contents.RecordArray) else None
        if isinstance(content, ak.contents.NumpyArray):
            out[name] = np.asarray(content.data)
        else:
            out[name] = np.asarray(ak.to_numpy(events[name]))
    return out


def leading_pair_indices(pt_flat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the highest- and second-highest-pT jet of each event with >= 2 jets.

    ``offsets`` as returned by :func:`jagged_columns`. Written with numpy instead of
    ``ak.argsort`` + jagged indexing, which cost 3x the I/O time here: jets are almost
    always stored pT-ordered (NanoAOD), which is checked in one vectorised pass; only if
    some event is not ordered is a stable lexsort by (event, -pT) done.

    >>> leading_pair_indices(np.array([5.0, 9.0, 1.0, 3.0, 2.0]), np.array([0, 3, 3, 5]))
    (array([1, 3]), array([0, 4]))
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    starts, counts = offsets[:-1], np.diff(offsets)
    first = starts[counts >= 2]
    # pT increasing from jet i-1 to jet i is disorder unless jet i starts a new event
    increases = pt_flat[1:] > pt_flat[:-1]
    increases[starts[(starts > 0) & (starts < len(pt_flat))] - 1] = False
    if not increases.any():
        return first, first + 1
    event_of_jet = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((-pt_flat, event_of_jet))  # grouped by event, descending pT inside
    return order[first], order[first + 1]


def dijet_mass(
    jet1: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    jet2: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Invariant mass (GeV) of jet pairs; each jet is ``(pt [GeV], eta, phi, mass [GeV])``
    of arrays of shape ``(n,)``.

    ``m^2 = m1^2 + m2^2 + 2 (E1 E2 - pT1 pT2 (cos(phi1 - phi2) + sinh(eta1) sinh(eta2)))``
    with ``E = sqrt(m^2 + (pT cosh eta)^2)``. Written with numpy rather than ``vector``
    (which gives the same numbers, ``tests/test_features.py``): ``vector``'s numpy backend
    built record arrays and converted coordinates back and forth, 8 ms per 50k events, as
    long as reading the six jet branches; this form needs one cosine per pair and no
    reductions, 3.5 ms (``ci/bench_process.py`` measures the whole processor).

    >>> jet1 = (np.array([1000.0]), np.array([0.0]), np.array([0.0]), np.array([300.0]))
    >>> jet2 = (np.array([1000.0]), np.array([0.0]), np.array([np.pi]), np.array([100.0]))
    >>> round(float(dijet_mass(jet1, jet2)[0]), 1)
    2049.0
    """
    pt1, eta1, phi1, m1 = (np.asarray(a, dtype=np.float64) for a in jet1)
    pt2, eta2, phi2, m2 = (np.asarray(a, dtype=np.float64) for a in jet2)
    # In-place arithmetic on four work arrays: each fresh 50k-element temporary costs a page
    # fault per 4 kB on first touch, which was a third of this function's time.
    pz1 = np.sinh(eta1)
    pz1 *= pt1
    pz2 = np.sinh(eta2)
    pz2 *= pt2
    e1, e2 = _energy(pt1, pz1, m1), _energy(pt2, pz2, m2)
    dot = np.subtract(phi1, phi2)
    np.cos(dot, out=dot)
    dot *= pt1
    dot *= pt2
    pz1 *= pz2
    dot += pz1
    e1 *= e2
    e1 -= dot  # E1 E2 - p1.p2
    e1 *= 2.0
    np.multiply(m1, m1, out=e2)
    e1 += e2
    np.multiply(m2, m2, out=e2)
    e1 += e2
    np.maximum(e1, 0.0, out=e1)
    return np.sqrt(e1, out=e1)


def _energy(pt: np.ndarray, pz: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """``sqrt(pt^2 + pz^2 + m^2)`` with one new array."""
    energy = np.multiply(pt, pt)
    energy += pz * pz
    energy += mass * mass
    return np.sqrt(energy, out=energy)


def dijet_features(jets: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Compute the LHCO features from jagged jets.

    Parameters
    ----------
    jets
        Awkward array of shape ``(events, var * jet)`` with fields ``pt`` (GeV), ``eta``,
        ``phi``, ``mass`` (GeV), ``tau1``, ``tau2`` (e.g. ``events.FatJet`` from
        ``coffea.nanoevents.NanoAODSchema``).

    Returns
    -------
    has_two_jets, features
        ``has_two_jets`` is a boolean mask of shape ``(events,)``; ``features`` maps each name
        of :data:`FEATURE_COLUMNS` to a float64 array of shape ``(has_two_jets.sum(),)``,
        masses in GeV.

    Examples
    --------
    Two back-to-back 1 TeV massless... almost: jets of mass 100 and 300 GeV at eta = 0.

    >>> jets = ak.Array([[
    ...     {"pt": 1000.0, "eta": 0.0, "phi": 0.0, "mass": 300.0, "tau1": 0.4, "tau2": 0.2},
    ...     {"pt": 1000.0, "eta": 0.0, "phi": np.pi, "mass": 100.0, "tau1": 0.0, "tau2": 0.0},
    ... ], []])
    >>> mask, f = dijet_features(jets)
    >>> mask.tolist()
    [True, False]
    >>> [round(float(f[k][0]), 3) for k in ("mj1", "delta_mj", "tau21_j1", "tau21_j2")]
    [100.0, 200.0, 0.0, 0.5]
    >>> round(float(f["mjj"][0]), 1)  # E1 + E2 = sqrt(1000^2+300^2) + sqrt(1000^2+100^2)
    2049.0
    """
    # Fields are read with [] and never as attributes: with coffea's/vector's Lorentz-vector
    # behaviours, ``jets.tau2`` is the *squared proper time* (= mass^2), not the N-subjettiness.
    offsets, flat = jagged_columns(jets, JET_FIELDS)
    has_two_jets = np.diff(offsets) >= 2
    lead, sublead = leading_pair_indices(flat["pt"], offsets)
    # Order each pair as (lighter, heavier) once, on the indices, so that every feature is
    # a plain gather: equal masses keep the leading jet as the lighter one.
    lead_is_lighter = flat["mass"][lead] <= flat["mass"][sublead]
    n_pairs = len(lead)
    pairs = np.empty(2 * n_pairs, dtype=np.int64)
    np.copyto(pairs[:n_pairs], np.where(lead_is_lighter, lead, sublead))
    np.copyto(pairs[n_pairs:], np.where(lead_is_lighter, sublead, lead))

    def light_heavy(field: str) -> tuple[np.ndarray, np.ndarray]:
        # one gather of both jets in the stored precision, widened once
        values = flat[field][pairs].astype(np.float64)
        return values[:n_pairs], values[n_pairs:]

    pt, eta, phi, mass = (light_heavy(f) for f in ("pt", "eta", "phi", "mass"))
    tau1, tau2 = light_heavy("tau1"), light_heavy("tau2")
    features = {
        "mjj": dijet_mass((pt[0], eta[0], phi[0], mass[0]), (pt[1], eta[1], phi[1], mass[1])),
        "mj1": mass[0],
        "delta_mj": mass[1] - mass[0],
        "tau21_j1": tau_ratio(tau2[0], tau1[0]),
        "tau21_j2": tau_ratio(tau2[1], tau1[1]),
    }
    return has_two_jets, features
