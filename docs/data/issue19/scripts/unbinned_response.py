"""How the unbinned R-ANODE fit responds to the signal, from the stored scan rows (issue 19, stop 43).

Usage: python unbinned_response.py [--data DIR] [--extra FILE.json ...]

Reads the unbinned rows (method ``unbinned`` with EM steps) of the stored scans in ``DIR``
(default: this script's ``..``) and prints, per setting (signal, signal-region size,
injected events), the median ``mu_hat / mu_true`` of the ``w`` scan alone (the first entry of
``em_w_ensemble_steps``) and after the EM steps (``mu_hat``), then the paired response:
draws fitted with 600 and with 1000 injected W'(3500, 500, 100) events on the same
background (same seed) give ``d mu_hat / d mu_true`` (ratio of the summed differences, its
error from 4000 bootstrap resamples of the pairs) and the offset ``c`` of the line
``mu_hat = b mu_true + c`` through the two means, in SR events, for the scan, the final
fit and the ensemble's ``w`` after each of the first five EM steps (stop 44: every step adds
to the offset, none to the slope). ``--extra`` adds scan files
(e.g. new runs at another N) as settings of their own and, for seeds that also have N = 600
and 1000 rows, compares each with the line's prediction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SETTINGS = {
    "W'(3500; 500, 100), N = 1000": [
        "unbinned_cross_fit_n1000_seeds259-268.json",
        "unbinned_cross_fit_n1000_seeds269-278.json",
        "unbinned_defaults_n1000_seeds279-290.json",
        "stop38_unbinned_defaults_n1000_seeds291-296.json",
    ],
    "W'(3500; 500, 100), N = 600": [
        "unbinned_cross_fit_n600_seeds259-278.json",
        "unbinned_cross_fit_n600_seeds279-286.json",
        "unbinned_cross_fit_n600_seeds287-290.json",
    ],
    "W'(4000; 450, 150), --sr 3800 4200": ["wp4000_450_150_moved_grid_seeds2-9.json"],
    "W'(3300; 150, 300), --sr 3100 3500": [
        "stop39_wp3300_150_300_n1000_seeds0-3.json",
        "stop39_wp3300_150_300_n1000_seeds4-7.json",
    ],
    "W'(3700; 250, 450), --sr 3500 3900": [
        "offgrid_defaults_wp3700_250_450_seeds0-1.json",
        "offgrid_moved_unbinned_wp3700_250_450_seeds2-3.json",
    ],
    "W'(3700; 350, 150), --sr 3500 3900": [
        "offgrid_defaults_wp3700_350_150_seeds0-1.json",
        "offgrid_moved_unbinned_wp3700_350_150_seeds2-3.json",
    ],
    "W'(3800; 730, 380), --sr 3600 4000": [
        "stop41_wp3800_730_380_n1000_seeds0-1.json",
        "stop41_wp3800_730_380_n1000_edge_support_seed1.json",
    ],
    "W'(3500; 750, 400)": [
        "stop40_wp3500_750_400_n1000_extended_seeds0-3.json",
        "stop41_wp3500_750_400_n1000_edge_support_seed2.json",
    ],
    "W'(3500; 800, 250)": [
        "stop40_wp3500_800_250_n1000_extended_seeds0-3.json",
        "stop40_wp3500_800_250_n1000_grid_only_seeds0-1.json",
    ],
    "W'(3000; 550, 250), --sr 2800 3200": ["wp3000_550_250_moved_grid_seeds0-1.json"],
}


def unbinned_rows(path: Path) -> list[dict]:
    """The unbinned rows with a signal and EM steps of one stored scan."""
    return [
        r
        for r in json.loads(path.read_text())["results"]
        if r["method"] == "unbinned" and r["n_signal"] > 0 and r.get("em_w_ensemble_steps")
    ]


def summary(name: str, rows: list[dict]) -> None:
    truth = np.array([r["mu_true"] for r in rows])
    scan = np.array([r["em_w_ensemble_steps"][0] for r in rows]) / truth
    em = np.array([r["mu_hat"] for r in rows]) / truth
    sr = np.median([r["n_signal"] / r["mu_true"] for r in rows])
    print(
        f"{name:40s} runs {len(rows):2d}  SR events {sr:6.0f}  mu_true {np.median(truth):.4f}  "
        f"scan {np.median(scan):.2f}  EM {np.median(em):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--extra", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    rows = {
        name: [r for f in files for r in unbinned_rows(args.data / f)]
        for name, files in SETTINGS.items()
    }
    print("median mu_hat / mu_true of the w scan alone and after the EM steps (the default)")
    for name, rr in rows.items():
        summary(name, rr)
    extra = {p.name: unbinned_rows(p) for p in args.extra}
    for name, rr in extra.items():
        summary(name, rr)

    n1000 = {r["seed"]: r for r in rows["W'(3500; 500, 100), N = 1000"]}
    n600 = {r["seed"]: r for r in rows["W'(3500; 500, 100), N = 600"]}
    seeds = sorted(set(n1000) & set(n600))
    print(
        f"\npaired response, {len(seeds)} draws fitted with N = 600 and 1000 (seeds {seeds[0]}-{seeds[-1]})"
    )
    dt = np.array([n1000[s]["mu_true"] - n600[s]["mu_true"] for s in seeds])
    rng = np.random.default_rng(0)
    lines = {}

    def after(k: int):  # the ensemble's w after k EM steps (its last where it stopped earlier)
        return lambda r: r["em_w_ensemble_steps"][min(k, len(r["em_w_ensemble_steps"]) - 1)]

    for label, value in (
        ("scan", lambda r: r["em_w_ensemble_steps"][0]),
        ("EM", lambda r: r["mu_hat"]),
        *((f"step {k}", after(k)) for k in range(1, 6)),
    ):
        dh = np.array([value(n1000[s]) - value(n600[s]) for s in seeds])
        b = dh.sum() / dt.sum()
        boot = [
            dh[i].sum() / dt[i].sum() for i in rng.integers(len(seeds), size=(4000, len(seeds)))
        ]
        t1000 = np.mean([n1000[s]["mu_true"] for s in seeds])
        c = np.mean([value(n1000[s]) for s in seeds]) - b * t1000
        sr = np.mean([n1000[s]["n_signal"] / n1000[s]["mu_true"] for s in seeds])
        lines[label] = (b, c)
        med = [np.median([value(d[s]) / d[s]["mu_true"] for s in seeds]) for d in (n600, n1000)]
        print(
            f"  {label:6s}: d mu_hat / d mu_true = {b:.3f} +- {np.std(boot):.3f}; offset c = {c:.5f} "
            f"({c * sr:.0f} of {sr:.0f} SR events); median mu_hat / mu_true {med[0]:.2f} (N = "
            f"600), {med[1]:.2f} (1000); predicted at N = 2000: {b + c / (2 * t1000):.2f}"
        )
    for name, rr in extra.items():
        for r in rr:
            if r["seed"] in n1000 and r["n_signal"] not in (600, 1000):
                pred = {k: (b * r["mu_true"] + c) / r["mu_true"] for k, (b, c) in lines.items()}
                print(
                    f"  {name} seed {r['seed']} N = {r['n_signal']}: scan "
                    f"{r['em_w_ensemble_steps'][0] / r['mu_true']:.2f} (line {pred['scan']:.2f}), "
                    f"EM {r['mu_hat'] / r['mu_true']:.2f} (line {pred['EM']:.2f})"
                )


if __name__ == "__main__":
    main()
