"""N-subjettiness of jets with FastJet contrib's Nsubjettiness (through ``fastjet.njettiness``).

For a jet with constituents i (transverse momentum ``pT_i``, GeV) and N axes k::

    tau_N = sum_i pT_i * min_k dR(i, k) / (R0 * sum_i pT_i)

with ``dR`` the distance in (rapidity, azimuth) and ``R0 = 1.0`` (the jet radius). Axes
(:data:`NSUB_AXES`): ``onepass-kt`` (default), exclusive-kT axes moved by one pass of tau_N
minimisation, as CMS NanoAOD's ``FatJet_tau*``; ``kt``, the plain exclusive kT subjets (the
shipped sample and ``../shared/data/lhco_like``; tau2/tau1 > 1 for 7.6% of the two leading
QCD jets); ``wta-kt``, winner-take-all kT axes. All jets of a batch go to FastJet at once,
one "event" per jet (njettiness uses every particle of an event).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from gbi.errors import GbiInputError, require_extra

__all__ = ["DEFAULT_NSUB_AXES", "NSUB_AXES", "check_axes", "nsubjettiness"]

#: ``--nsub-axes`` name -> FastJet contrib's axes definition.
NSUB_AXES = {"onepass-kt": "OnePass_KT_Axes", "kt": "KT_Axes", "wta-kt": "WTA_KT_Axes"}
DEFAULT_NSUB_AXES = "onepass-kt"


def check_axes(axes: str) -> str:
    """FastJet's name of the axes ``axes`` (a key of :data:`NSUB_AXES`).

    fastjet returns zeros for an axes name it does not know, so names are checked here.

    >>> check_axes("kt")
    'KT_Axes'
    """
    if axes not in NSUB_AXES:
        raise GbiInputError(f"--nsub-axes: expected one of {', '.join(NSUB_AXES)}, found {axes!r}")
    return NSUB_AXES[axes]


def nsubjettiness(
    constituents: ak.Array, n_max: int = 3, R0: float = 1.0, axes: str = DEFAULT_NSUB_AXES
) -> np.ndarray:
    """tau_1 ... tau_{n_max} of each jet, shape ``(n_jets, n_max)``, float64.

    ``constituents`` is a ``jets * var * {px, py, pz, E}`` awkward array (GeV); ``axes`` a
    key of :data:`NSUB_AXES`. A jet with at most N constituents has tau_N = 0.
    """
    definition = check_axes(axes)
    n_jets = len(constituents)
    if n_jets == 0:
        return np.zeros((0, n_max), dtype=np.float64)
    require_extra("fastjet", "generate", "N-subjettiness")
    import fastjet

    particles = ak.zip(
        {name: ak.values_astype(constituents[name], np.float64) for name in ("px", "py", "pz", "E")}
    )
    # the jet definition only matters for clustering, which njettiness does not use
    sequence = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.kt_algorithm, 1.0))
    taus = sequence.njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition=definition,
        njets=list(range(1, n_max + 1)),
        beta=1.0,
        R0=R0,
    )
    return np.asarray(ak.to_numpy(taus), dtype=np.float64).reshape(n_jets, n_max)
