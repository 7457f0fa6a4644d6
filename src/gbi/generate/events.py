"""One batch of Pythia events -> the selected jets with N-subjettiness, vectorized."""

from __future__ import annotations

import awkward as ak
import numpy as np

from gbi.generate.clustering import LEADING_PT_MIN, cluster_fatjets, visible_final_state
from gbi.generate.nsubjettiness import DEFAULT_NSUB_AXES, nsubjettiness

__all__ = ["select_batch"]


def select_batch(
    batch: ak.Array, leading_pt_min: float = LEADING_PT_MIN, nsub_axes: str = DEFAULT_NSUB_AXES
) -> ak.Array:
    """Jets of the events of ``batch`` that pass the trigger (leading jet pT > 1200 GeV).

    ``batch`` is the awkward array of ``pythia8mc.Pythia.nextBatch``. Returns
    ``kept_events * var * {pt, eta, phi, mass, tau1, tau2, tau3}`` (GeV; at most four jets,
    pT-ordered); ``nsub_axes`` names the N-subjettiness axes
    (:data:`gbi.generate.nsubjettiness.NSUB_AXES`). Needs ``fastjet``.
    """
    jets = cluster_fatjets(visible_final_state(batch))
    keep = ak.fill_none(ak.firsts(jets["pt"]), 0.0) > leading_pt_min
    jets = jets[keep]
    counts = ak.to_numpy(ak.num(jets, axis=1))
    taus = nsubjettiness(ak.flatten(jets["constituents"], axis=1), n_max=3, R0=1.0, axes=nsub_axes)
    fields = {f: jets[f] for f in ("pt", "eta", "phi", "mass")}
    for n in range(3):
        fields[f"tau{n + 1}"] = ak.unflatten(np.ascontiguousarray(taus[:, n]), counts)
    return ak.zip(fields, depth_limit=2)
