"""What the issue 19 diagnostic scripts share: their command-line options and the
pseudo-experiment of one seed, drawn exactly as ``examples/gbi_injection_scan.py`` draws it
(``n_background`` of the background events without replacement, the first ``n_signal`` of
a seeded permutation of the signal; rng ``5000 + seed``). Run the scripts from this folder
(``python scripts/NAME.py``) so that this module is found."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from gbi.threads import limit_process_threads


def parser(doc: str, seed: int) -> argparse.ArgumentParser:
    """``--signal``, ``--background``, ``--seed`` (default ``seed``), ``--threads``, ``--examples``."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--signal", nargs="+", required=True)
    p.add_argument("--background", nargs="+", required=True)
    p.add_argument("--seed", type=int, default=seed)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--examples", default=str(Path(__file__).parents[4] / "examples"))
    return p


def pseudo_experiment(
    args: argparse.Namespace,
    columns: tuple[str, ...],
    prefix: str,
    n_signal: int = 1000,
    n_background: int = 200000,
) -> dict[str, np.ndarray]:
    """The thread budget set, then the data of seed ``args.seed``: ``columns`` and ``label``."""
    sys.path.insert(0, args.examples)
    from gbi_injection_scan import background_rows
    from lhco_injection_scan import load_features

    limit_process_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    background = load_features(args.background, work, "background")
    signal = load_features(args.signal, work, "signal")
    rng = np.random.default_rng(5000 + args.seed)
    pick = background_rows(len(background["mjj"]), n_background, rng)
    order = rng.permutation(len(signal["mjj"]))
    data = {c: np.concatenate([background[c][pick], signal[c][order[:n_signal]]]) for c in columns}
    data["label"] = np.r_[np.zeros(len(pick), int), np.ones(n_signal, int)]
    return data
