"""Event generation with the LHCO R&D recipe: Pythia 8 + FastJet -> NanoAOD-style ROOT.

Needs the optional extra ``gbi[generate]`` (``pythia8mc``, ``fastjet``); importing this
package does not, only running the generation does.

Modules, one job each:

- :mod:`gbi.generate.pythia_config`  Pythia settings per process (``qcd``, ``wprime``)
- :mod:`gbi.generate.clustering`     visible final state, anti-kT R=1.0 jets, selection
- :mod:`gbi.generate.nsubjettiness`  tau_N from fastjet's njettiness (beta=1, --nsub-axes)
- :mod:`gbi.generate.events`         one Pythia batch -> selected jets with tau_N
- :mod:`gbi.generate.writer`         the ``Events`` tree, written atomically with uproot
- :mod:`gbi.generate.runner`         files, resume, progress bar, process pool
"""

from __future__ import annotations

from gbi.generate.pythia_config import DEFAULT_MASSES, PROCESSES, ProcessConfig
from gbi.generate.runner import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVENTS_PER_FILE,
    GenerateResult,
    generate,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EVENTS_PER_FILE",
    "DEFAULT_MASSES",
    "PROCESSES",
    "GenerateResult",
    "ProcessConfig",
    "generate",
]
