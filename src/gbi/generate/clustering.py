"""Large-radius jets of a batch of Pythia events, all events at once.

Steps (the LHCO R&D recipe): keep the visible final-state particles (no neutrinos), cluster
them with anti-kT R = 1.0 (FastJet multi-event awkward interface), keep jets with
pT > 200 GeV and |eta| < 2.5, order them by pT and keep at most four per event. An event
passes the trigger when its leading kept jet has pT > 1200 GeV.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "INVISIBLE_IDS",
    "JET_ETA_MAX",
    "JET_PT_MIN",
    "JET_R",
    "LEADING_PT_MIN",
    "MAX_JETS",
    "cluster_fatjets",
    "jet_kinematics",
    "visible_final_state",
]

JET_R = 1.0  #: anti-kT radius
JET_PT_MIN = 200.0  #: GeV, jet pT threshold
JET_ETA_MAX = 2.5  #: |eta| acceptance of jets
LEADING_PT_MIN = 1200.0  #: GeV, leading-jet pT threshold (the LHCO trigger)
MAX_JETS = 4  #: jets kept per event

#: PDG ids (absolute values) of invisible final-state particles: neutrinos, and the
#: lightest neutralino and gravitino should a BSM process make them.
INVISIBLE_IDS: tuple[int, ...] = (12, 14, 16, 1000022, 1000039)


def visible_final_state(batch: ak.Array) -> ak.Array:
    """``events * var * {px, py, pz, E}`` (GeV, float64) of the visible final-state particles.

    ``batch`` is the awkward array of ``pythia8mc.Pythia.nextBatch``: a ``prt`` field with
    ``id``, ``status`` (final state: > 0) and four-momentum ``p`` (``px, py, pz, e``).

    >>> import awkward as ak
    >>> p = {"px": 1.0, "py": 0.0, "pz": 0.0, "e": 1.0}
    >>> batch = ak.Array([{"prt": [{"id": 211, "status": 1, "p": p},
    ...                            {"id": 12, "status": 1, "p": p},
    ...                            {"id": 21, "status": -23, "p": p}]}])
    >>> ak.num(visible_final_state(batch)).tolist()
    [1]
    """
    prt = batch["prt"]
    abs_id = np.abs(prt["id"])
    visible = prt["status"] > 0
    for pdg_id in INVISIBLE_IDS:
        visible = visible & (abs_id != pdg_id)
    p = prt["p"][visible]
    return ak.zip(
        {
            "px": ak.values_astype(p["px"], np.float64),
            "py": ak.values_astype(p["py"], np.float64),
            "pz": ak.values_astype(p["pz"], np.float64),
            "E": ak.values_astype(p["e"], np.float64),
        }
    )


def jet_kinematics(px: Any, py: Any, pz: Any, e: Any) -> dict[str, Any]:
    """pT (GeV), pseudorapidity, azimuth (rad, (-pi, pi]) and mass (GeV) of four-vectors.

    Works on numpy or (jagged) awkward arrays; a spacelike rounding error gives mass 0.

    >>> k = jet_kinematics(np.array([3.0]), np.array([4.0]), np.array([0.0]), np.array([13.0]))
    >>> float(k["pt"][0]), float(k["eta"][0]), float(k["mass"][0])
    (5.0, 0.0, 12.0)
    """
    pt = np.hypot(px, py)
    return {
        "pt": pt,
        "eta": np.arcsinh(pz / pt),
        "phi": np.arctan2(py, px),
        "mass": np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0)),
    }


def cluster_fatjets(
    particles: ak.Array,
    R: float = JET_R,
    pt_min: float = JET_PT_MIN,
    eta_max: float = JET_ETA_MAX,
    max_jets: int = MAX_JETS,
) -> ak.Array:
    """Anti-kT jets of every event, selected, pT-ordered, at most ``max_jets`` per event.

    ``particles`` is ``events * var * {px, py, pz, E}`` (GeV). Returns ``events * var *
    {pt, eta, phi, mass, constituents}`` where ``constituents`` is ``var * {px, py, pz, E}``;
    the jet four-momentum is the E-scheme sum of its constituents. Needs ``fastjet``.
    """
    import fastjet

    n_events = len(particles)
    if n_events == 0 or ak.sum(ak.num(particles)) == 0:
        empty = ak.Array([[]] * n_events)
        return ak.zip(
            {k: empty for k in ("pt", "eta", "phi", "mass")} | {"constituents": empty},
            depth_limit=2,
        )
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, R)
    sequence = fastjet.ClusterSequence(particles, jetdef)
    constituents = sequence.constituents(pt_min)  # events * jets * particles
    constituents = ak.zip(
        {name: constituents[name] for name in ("px", "py", "pz", "E")}, depth_limit=None
    )
    sums = {name: ak.sum(constituents[name], axis=-1) for name in ("px", "py", "pz", "E")}
    kin = jet_kinematics(sums["px"], sums["py"], sums["pz"], sums["E"])
    jets = ak.zip({**kin, "constituents": constituents}, depth_limit=2)
    jets = jets[(jets["pt"] > pt_min) & (np.abs(jets["eta"]) < eta_max)]
    order = ak.argsort(jets["pt"], axis=1, ascending=False, stable=True)
    return jets[order][:, :max_jets]
