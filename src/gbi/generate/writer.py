"""NanoAOD-style ROOT output of generated events (the layout of the shared LHCO-like files).

Tree ``Events`` with, per event: ``run`` (uint32, the generator seed), ``luminosityBlock``
(uint32, file index + 1), ``event`` (uint64), ``genWeight`` (float32, 1.0), ``nFatJet``
(int32), ``FatJet_pt``, ``FatJet_eta``, ``FatJet_phi``, ``FatJet_mass`` (GeV, jagged
float32), ``FatJet_tau1``, ``FatJet_tau2``, ``FatJet_tau3`` (jagged float32) and ``label``
(int8: 0 QCD, 1 signal). Next to the tree, the string ``nsub_axes`` names the N-subjettiness
axes (``gbi generate --nsub-axes``); a file without it was written with exclusive-kT axes.
"""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np

from gbi.errors import GbiInputError
from gbi.io import atomic_path

__all__ = ["FATJET_FIELDS", "TREE_NAME", "event_columns", "existing_file", "write_events"]

TREE_NAME = "Events"
_AXES_KEY = "nsub_axes"  #: the string that names a file's N-subjettiness axes
#: ``FatJet_*`` branches, in file order.
FATJET_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass", "tau1", "tau2", "tau3")
#: ``event`` numbers of file ``index`` start at ``index * _EVENT_STRIDE + 1``.
_EVENT_STRIDE = 1_000_000


def event_columns(jets: ak.Array, seed: int, index: int, label: int) -> dict[str, object]:
    """The branches of one file, ready for :func:`write_events`.

    ``jets`` is ``events * var * {pt, eta, phi, mass, tau1, tau2, tau3}``.

    >>> jets = ak.Array([[{f: 1.0 for f in FATJET_FIELDS}]] * 2)
    >>> cols = event_columns(jets, seed=7, index=1, label=0)
    >>> cols["event"].tolist(), cols["luminosityBlock"].tolist(), cols["run"].dtype.name
    ([1000001, 1000002], [2, 2], 'uint32')
    """
    n = len(jets)
    stride = max(_EVENT_STRIDE, n)
    fatjet = ak.zip(
        {f: ak.values_astype(jets[f], np.float32) for f in FATJET_FIELDS}, depth_limit=2
    )
    return {
        "run": np.full(n, seed, dtype=np.uint32),
        "luminosityBlock": np.full(n, index + 1, dtype=np.uint32),
        "event": np.arange(1, n + 1, dtype=np.uint64) + np.uint64(index * stride),
        "genWeight": np.ones(n, dtype=np.float32),
        "FatJet": fatjet,
        "label": np.full(n, label, dtype=np.int8),
    }


def write_events(
    columns: dict[str, object], target: str | os.PathLike[str], nsub_axes: str
) -> Path:
    """Write ``columns`` (from :func:`event_columns`) as tree ``Events``, atomically.

    The jagged ``FatJet`` record becomes ``nFatJet`` (int32) and ``FatJet_<field>``;
    ``nsub_axes`` (the ``--nsub-axes`` of the taus) is stored as the string ``nsub_axes``.
    """
    import uproot

    with atomic_path(target) as tmp, uproot.recreate(tmp) as root_file:
        # mktree (a TTree): plain assignment would write an RNTuple with uproot >= 5.7
        root_file.mktree(TREE_NAME, columns)
        root_file[_AXES_KEY] = nsub_axes
    return Path(target)


def existing_file(path: str | os.PathLike[str]) -> tuple[int, str] | None:
    """(events, ``--nsub-axes``) of an existing output file, ``None`` if there is no file.

    Raises :class:`~gbi.errors.GbiInputError` if the file exists but is not a readable
    ``Events`` tree.
    """
    import uproot

    path = Path(path)
    if not path.exists():
        return None
    try:
        with uproot.open(path) as root_file:
            entries = int(root_file[TREE_NAME].num_entries)
            # files of gbi before --nsub-axes have no key and exclusive-kT axes
            axes = str(root_file[_AXES_KEY]) if _AXES_KEY in root_file else "kt"
    except Exception as err:
        raise GbiInputError(
            f"existing output file {str(path)!r} is not a readable ROOT file with an "
            f"{TREE_NAME!r} tree ({err}); remove it or choose another --out"
        ) from err
    return entries, axes
