"""Signal-free (N = 0) binned runs: false-evidence rate and the SR-vs-window extrapolation.

Usage: python signal_free_binned.py [--shared-fraction F] FILE.json [...]

Per run, the residual ``observed / (k x expected) - 1`` of the SR events passing the cut,
with ``k`` from the sideband windows, against its statistical error (SR data, window ``k``,
generated sample); the scatter beyond that is what ``BinnedConfig.extrapolation_uncertainty``
(4.5% by default since stop 31, 6% before) has to cover. ``--shared-fraction F``: the runs draw their background from
one finite sample (200k of 400k events: F = 0.5), so the scatter between runs lacks a
fraction F of the data's statistical variance (finite-population correction); the expected
scatter is then ``(1 - F) x`` the data's variance (SR and window counts) plus the generated
sample's.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np


def main(files: list[str], shared: float = 0.0) -> None:
    rows = [
        x
        for f in files
        for x in json.loads(Path(f).read_text())["results"]
        if x["method"] == "binned"
    ]
    z = np.array([x["significance"] for x in rows])
    print(f"runs {len(rows)}: Z >= 2 in {int(np.sum(z >= 2))}; Z median {np.median(z):.2f}")
    res, err = [], []
    for x in rows:
        c, s = x["cut"], x["sideband_closure"]
        res.append(c["observed"] / (s["k"] * c["expected_background"]) - 1.0)
        rel_gen = c["expected_background_err"] / c["expected_background"]
        data = 1.0 / c["observed"] + s["k_rel_err"] ** 2
        err.append(math.sqrt((1.0 - shared) * data + rel_gen**2))
    r, e = np.array(res), np.array(err)
    var = float(np.var(r, ddof=1))
    extra = max(var - float(np.mean(e**2)), 0.0)
    # 1-sigma upper bound: the sample variance's standard error is var sqrt(2 / (n - 1))
    upper = max(var * (1 + math.sqrt(2 / (len(r) - 1))) - float(np.mean(e**2)), 0.0)
    print(
        f"residual mean {r.mean():+.3f} +- {r.std(ddof=1) / math.sqrt(len(r)):.3f}, "
        f"std {r.std(ddof=1):.3f}, statistical error (rms) {math.sqrt(np.mean(e**2)):.3f}, "
        f"pull std {np.std(r / e, ddof=1):.2f}; scatter beyond it {math.sqrt(extra):.3f} "
        f"(shared fraction {shared}) "
        f"(1-sigma upper {math.sqrt(upper):.3f})"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--shared-fraction", type=float, default=0.0)
    args = p.parse_args()
    main(args.files, args.shared_fraction)
