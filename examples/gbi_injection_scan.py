#!/usr/bin/env python
"""Generator-based inference injection scan: estimated vs true signal fraction, per method.

For every seed the data background is ``--background`` itself (all events), or with
``--background-events M`` a seed-dependent random subset of M events drawn without
replacement. Events are never duplicated: bootstrap duplicates let a k-fold classifier
recognise events it saw in another fold, which faked signals (Z = 16 with nothing injected
in the ``binned`` method); ``N`` signal events
(a seed-dependent random subset of ``--signal``) are injected for each ``N`` of
``--n-signal``. ``mu_true`` is the true signal fraction of SR events. Seeds are independent
and run in ``--jobs`` processes (default: the cores available), each within its share of
``--threads``; the summary gives each coverage with its binomial error. Each method of
``gbi infer`` fits ``mu`` with its 68% interval, the 95% CL upper limit and a significance;
``binned`` quotes a fraction only for the parametrized fit's signal, and always the
model-independent number of signal events passing its cut (and, with a fraction, the
same number with the fitted signal's leak into the control windows modelled), compared
here with the true number passing (``count_summary``, the second table,
``count_vs_true.png``). ``--sr LOW
HIGH`` moves the signal region (GeV), e.g. to the search window that holds a resonance at
another mass; ``mu_true`` is then the signal fraction of that window.

Usage::

    python examples/gbi_injection_scan.py \\
        --signal ../shared/data/lhco_like/wprime_3500_500_100_000.root \\
        --background ../shared/data/lhco_like/qcd_a_00?.root \\
        --signal-grid GRID_DIR --n-signal 0 600 1000 --seeds 10 \\
        --json gbi_scan.json --out gbi_scan/

Writes ``--json`` (``{"results": [{method, n_signal, seed, mu_true, mu_hat, mu_lo, mu_hi,
significance, ...}], "summary": [...]}``), ``gbi_scan_table.md``, ``mu_vs_true.png``
(estimated vs true mu with the intervals) and ``significance_vs_n.png`` into ``--out``.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning on cores another job needs: set before
# sklearn/torch load libgomp, unless the user chose a policy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import functools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gbi.infer import INFER_METHODS, InferConfig, load_signal_grid, run_inference
from gbi.infer.binned import SIDEBAND_CLOSURE_MODES, BinnedConfig
from gbi.infer.config import SIDEBAND_SIGNAL_MODES, UNBINNED_CALIBRATIONS
from gbi.infer.parametrized import EXTEND_MORPHS, ParametrizedConfig
from gbi.infer.plots import plot_scan
from gbi.infer.signal_flow import SignalFlowConfig
from gbi.infer.signal_grid import ordered_masses
from gbi.infer.unbinned import SIGNAL_MODELS, UnbinnedConfig
from gbi.io import write_json
from gbi.regions import Regions
from gbi.threads import limit_process_threads

log = logging.getLogger("gbi_injection_scan")

sys.path.insert(0, str(Path(__file__).parent))
from lhco_injection_scan import add_parallel_options, load_features, map_seeds  # noqa: E402


def background_rows(n_total: int, n_events: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows of the background for one run: all of them, or ``n_events`` drawn without
    replacement. Never duplicates: a flexible classifier trained on one fold recognises a
    duplicated event in another, which fakes a signal.

    >>> rows = background_rows(10, 4, np.random.default_rng(0))
    >>> len(rows), len(set(rows.tolist()))
    (4, 4)
    >>> background_rows(3, None, np.random.default_rng(0)).tolist()
    [0, 1, 2]
    """
    if n_events is None or n_events >= n_total:
        return np.arange(n_total)
    return np.sort(rng.choice(n_total, size=n_events, replace=False))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--signal", nargs="+", help="signal events to inject")
    p.add_argument("--background", nargs="+", help="data background")
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="no new runs: merge the results of earlier scans (e.g. split with --first-seed)",
    )
    p.add_argument("--signal-grid", nargs="+", help="gbi generate signal grid (dirs or files)")
    p.add_argument("--n-signal", type=int, nargs="+", default=[0, 300, 600, 1000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--background-events",
        type=int,
        default=None,
        help=(
            "background events per run, a seed-dependent subset drawn without replacement from "
            "--background (default: all events in every run; never a bootstrap, whose "
            "duplicates fake signals)"
        ),
    )
    p.add_argument(
        "--first-seed", type=int, default=0, help="first seed (to split a scan over processes)"
    )
    p.add_argument(
        "--model-seed-offset",
        type=int,
        default=0,
        help=(
            "seed of the flows, classifiers and generated samples = the run's seed + this; the "
            "data draw keeps the run's seed, so a seed rerun with another offset separates the "
            "scatter of the training from that of the data (default: 0)"
        ),
    )
    p.add_argument(
        "--flow-ensemble", type=int, default=3, help="bootstrap flows per fit (default: 3)"
    )
    p.add_argument("--methods", nargs="+", choices=INFER_METHODS, default=list(INFER_METHODS))
    p.add_argument(
        "--toys", type=int, default=100, help="parametrized: background-only toys (>= 20)"
    )
    p.add_argument(
        "--unbinned-toys",
        type=int,
        default=InferConfig.unbinned_toys,
        help="background-only toys calibrating the unbinned significance (full fits each)",
    )
    p.add_argument(
        "--unbinned-model",
        choices=SIGNAL_MODELS,
        default=UnbinnedConfig.signal_model,
        help="signal density of the unbinned fit (default: %(default)s)",
    )
    p.add_argument(
        "--reference-per-sr-event",
        type=float,
        default=ParametrizedConfig.reference_per_sr_event,
        help="parametrized: generated reference events normalising the ratios, per SR event "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--extend-grid",
        type=int,
        default=ParametrizedConfig.extend_steps,
        metavar="STEPS",
        help="parametrized: masses up to STEPS grid steps beyond the grid, by morphing "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--extend-morph",
        choices=EXTEND_MORPHS,
        default=ParametrizedConfig.extend_morph,
        help="parametrized: how the points beyond the grid are morphed (gbi infer "
        "--extend-morph; default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-em-steps",
        type=int,
        default=SignalFlowConfig.em_steps,
        help="EM steps after the R-ANODE scan (--unbinned-model flow; default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-calibration",
        choices=UNBINNED_CALIBRATIONS,
        default=InferConfig.unbinned_calibration,
        help="unbinned background-only toys: generated by the flows or held-out sideband "
        "events; auto: held-out with a bootstrap flow ensemble (default: %(default)s)",
    )
    p.add_argument(
        "--parametrized-calibration",
        choices=UNBINNED_CALIBRATIONS,
        default=InferConfig.parametrized_calibration,
        help="parametrized significance: generated toys alone, or with the data's q0 scaled "
        "by the held-out sideband toys; auto: held-out with a bootstrap flow ensemble "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-em-tol",
        type=float,
        default=SignalFlowConfig.em_tol,
        help="stop the EM steps once one raised the fitted w by less than this fraction of "
        "it (--unbinned-em-steps is then the most; 0: off; default: %(default)s)",
    )
    p.add_argument(
        "--share-flow",
        action="store_true",
        help=(
            "train the sideband flows and the parametrised classifier once per seed (on the data "
            "of the first --n-signal) and reuse them for every N"
        ),
    )
    p.add_argument(
        "--true-mass",
        nargs="+",
        type=float,
        metavar="M",
        help=(
            "masses MX MY [MW] of the injected signal (GeV), to report how often the mass "
            "intervals hold them; MX MY in either order: the fit measures the unordered pair as "
            "(heavier, lighter), so '250 450' is compared as mX = 450, mY = 250; MW is checked "
            "when the fit reports mW (a --signal-grid at several W' masses)"
        ),
    )
    p.add_argument(
        "--binned-sideband-closure",
        choices=SIDEBAND_CLOSURE_MODES,
        default="control",
        help="binned: use of the sideband closure factor k (see gbi infer --help)",
    )
    p.add_argument(
        "--binned-extrapolation-uncertainty",
        type=float,
        default=BinnedConfig.extrapolation_uncertainty,
        metavar="REL",
        help="binned: relative normsys carrying the windows' k into the SR (default: %(default)s)",
    )
    p.add_argument(
        "--sideband-signal",
        choices=SIDEBAND_SIGNAL_MODES,
        default=InferConfig.sideband_signal,
        help="'subtract' (default): the fitted signal taken out of the sidebands and the flows "
        "trained again; 'off': the first fit only (see gbi infer --help)",
    )
    p.add_argument(
        "--sideband-passes",
        type=int,
        default=InferConfig.sideband_passes,
        metavar="N",
        help="how many times the subtraction is made (see gbi infer --help)",
    )
    p.add_argument(
        "--parametrized-features",
        nargs="+",
        default=None,
        metavar="NAME",
        help="parametrized: the classifier's features (default: all the generator's)",
    )
    p.add_argument("--json", required=True, help="output JSON")
    p.add_argument("--out", default="gbi_scan", help="folder for the table and plots")
    p.add_argument(
        "--sr",
        nargs=2,
        type=float,
        default=(3300.0, 3700.0),
        metavar=("LOW", "HIGH"),
        help="signal region [LOW, HIGH) in GeV, e.g. the search window holding the resonance",
    )
    add_parallel_options(p)
    args = p.parse_args(argv)
    limit_process_threads(args.threads)  # a script is one whole process: cap it all
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        merged = [
            row for path in args.merge for row in json.loads(Path(path).read_text())["results"]
        ]
        _write(args, merged, out)
        return 0
    if not args.signal or not args.background:
        p.error("--signal and --background are required (unless --merge)")
    work = Path(tempfile.mkdtemp(prefix="gbi_infer_scan_"))
    background = load_features(args.background, work, "background")
    signal = load_features(args.signal, work, "signal")
    regions = Regions(sr_low=args.sr[0], sr_high=args.sr[1])
    # The grid's SR events are those of the --sr window (its other events feed the binned
    # method's sideband windows), as in gbi infer.
    grid = load_signal_grid(args.signal_grid, regions=regions) if args.signal_grid else None
    if max(args.n_signal) > len(signal["mjj"]):
        raise SystemExit(
            f"--n-signal {max(args.n_signal)}: only {len(signal['mjj'])} signal events"
        )
    base = InferConfig(
        methods=tuple(args.methods),
        toys=args.toys,
        flow_ensemble=args.flow_ensemble,
        unbinned_toys=args.unbinned_toys,
        unbinned_calibration=args.unbinned_calibration,
        parametrized_calibration=args.parametrized_calibration,
        regions=regions,
        sideband_signal=args.sideband_signal,
        sideband_passes=args.sideband_passes,
    )
    base = dataclasses.replace(
        base,
        binned=dataclasses.replace(
            base.binned,
            sideband_closure=args.binned_sideband_closure,
            extrapolation_uncertainty=args.binned_extrapolation_uncertainty,
        ),
        unbinned=dataclasses.replace(
            base.unbinned,
            signal_model=args.unbinned_model,
            flow=dataclasses.replace(
                base.unbinned.flow, em_steps=args.unbinned_em_steps, em_tol=args.unbinned_em_tol
            ),
        ),
        parametrized=dataclasses.replace(
            base.parametrized,
            features=tuple(args.parametrized_features or base.parametrized.features),
            reference_per_sr_event=args.reference_per_sr_event,
            extend_steps=args.extend_grid,
            extend_morph=args.extend_morph,
        ),
    )
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    task = functools.partial(
        _run_seed, args=args, background=background, signal=signal, grid=grid, base=base
    )
    rows: list[dict[str, Any]] = []
    for seed_rows in map_seeds(task, seeds, args.jobs, args.threads, args.dask):
        rows += seed_rows
        _write(args, rows, out)
    _write(args, rows, out)
    return 0


def _run_seed(
    seed: int,
    *,
    args: argparse.Namespace,
    background: dict[str, np.ndarray],
    signal: dict[str, np.ndarray],
    grid: Any,
    base: InferConfig,
) -> list[dict[str, Any]]:
    """Every N of one seed (one background draw, one signal order); the rows."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    columns = ("mjj", *base.features)
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(5000 + seed)
    pick = background_rows(len(background["mjj"]), args.background_events, rng)
    n_bkg = len(pick)
    bkg = {c: background[c][pick] for c in columns}
    order = rng.permutation(len(signal["mjj"]))
    shared: dict[str, Any] = {}
    for n in args.n_signal:
        inj = {c: signal[c][order[:n]] for c in columns}
        data = {c: np.concatenate([bkg[c], inj[c]]) for c in columns}
        data["label"] = np.r_[np.zeros(n_bkg, int), np.ones(n, int)]
        config = dataclasses.replace(base, seed=seed + args.model_seed_offset)
        start = time.perf_counter()
        result = run_inference(
            data,
            config=config,
            signal_grid=grid,
            background=shared.get("background"),
            parametrized_model=shared.get("parametrized_model"),
        )
        if args.share_flow and not shared:
            shared = {
                "background": result.background,
                "parametrized_model": result.parametrized_model,
            }
        summary = result.to_dict()
        wall = time.perf_counter() - start
        for method, res in summary["methods"].items():
            row = {
                "method": method,
                "n_signal": n,
                "seed": seed,
                "model_seed": seed + args.model_seed_offset,
                "mu_true": summary.get("mu_true"),
                "status": res["status"],
                "message": res.get("message", ""),
                "training_epochs": res.get("training_epochs"),
                "mu_hat": res.get("mu_hat"),
                "mu_lo": res.get("mu_lo"),
                "mu_hi": res.get("mu_hi"),
                "mu_upper_limit_95": res.get("mu_upper_limit_95"),
                "mu_lo_stat": res.get("mu_lo_stat"),
                "mu_hi_stat": res.get("mu_hi_stat"),
                "mu_sys_generator": res.get("mu_sys_generator"),
                "mu_sys_generator_dof": res.get("mu_sys_generator_dof"),
                "mu_sys_flows": res.get("mu_sys_flows"),
                "mu_sys_classifiers": res.get("mu_sys_classifiers"),
                "mu_sys_normalisation": res.get("mu_sys_normalisation"),
                "mu_hat_flow_members": res.get("mu_hat_flow_members"),
                "mu_hat_classifier_members": res.get("mu_hat_classifier_members"),
                "mu_sys_signal_flow_training": res.get("mu_sys_signal_flow_training"),
                "mu_hat_signal_flow_members": res.get("mu_hat_signal_flow_members"),
                "mu_hat_fold_members": res.get("mu_hat_fold_members"),
                "mu_sys_cross_fit": res.get("mu_sys_cross_fit"),
                "mu_sys_signal_density": res.get("mu_sys_signal_density"),
                "signal_density_error": res.get("signal_density_error"),
                "em_w_steps": (res.get("signal_model") or {}).get("em_w_steps"),
                "em_w_ensemble_steps": (res.get("signal_model") or {}).get("em_w_ensemble_steps"),
                "em_converged": res.get("em_converged"),
                "w_scan_log_likelihood": (res.get("signal_model") or {}).get(
                    "w_scan_log_likelihood"
                ),
                "toy_q0": res.get("toy_q0"),
                "toy_events": res.get("toy_events"),
                "toy_q0_held_out": res.get("toy_q0_held_out"),
                "q0_held_out_scale": res.get("q0_held_out_scale"),
                "events_outside_support": res.get("events_outside_support"),
                "significance": res.get("significance"),
                "significance_local": res.get("significance_local"),
                "masses": res.get("masses"),
                "cut": res.get("cut"),
                **_count_fields(res),
                "sideband_closure": res.get("sideband_closure"),
                "generator_normsys_rel": res.get("generator_normsys_rel"),
                "sideband_signal": res.get("sideband_signal"),
                "wall_s": wall,
                "stages": summary["stages"],
            }
            rows.append(row)
            log.info(
                "seed %d N=%d %s: mu_true %.5f mu_hat %s [%s, %s] Z %s",
                seed,
                n,
                method,
                row["mu_true"] or 0.0,
                row["mu_hat"],
                row["mu_lo"],
                row["mu_hi"],
                row["significance"],
            )
    return rows


def binomial_error(passed: Any) -> float:
    """Binomial standard error of the fraction of ``passed`` (booleans), e.g. a coverage.

    >>> round(binomial_error([True] * 34 + [False] * 16), 3)
    0.066
    """
    k = np.asarray(passed, dtype=bool)
    frac = float(k.mean())
    return float(np.sqrt(frac * (1.0 - frac) / len(k)))


#: Row suffix -> key of a binned count result.
_COUNT_KEYS = {"hat": "mu_hat", "lo": "mu_lo", "hi": "mu_hi", "upper_limit_95": "upper_limit_obs"}

#: The binned counts compared with the true number passing: kind -> row prefix.
_COUNT_KINDS = {"model-independent": "n_pass", "with-signal-leak": "n_pass_leak"}


def _count_fields(res: dict[str, Any]) -> dict[str, Any]:
    """binned: the model-independent number of signal events passing the cut, the true
    number passing (truth labels) and what the fraction (if any) was tied to."""
    count = res.get("n_signal_passing")
    if count is None:
        return {}
    fraction = res.get("signal_fraction")
    leak = None if fraction is None else fraction.get("n_signal_passing")
    return {
        "result_kind": res.get("result_kind"),
        "n_pass_hat": count["mu_hat"],
        "n_pass_lo": count["mu_lo"],
        "n_pass_hi": count["mu_hi"],
        "n_pass_upper_limit_95": count["upper_limit_obs"],
        "n_pass_true": (res.get("truth") or {}).get("signal_passing"),
        # The same count with the fitted signal's leak into the control windows modelled.
        **{
            f"n_pass_leak_{name}": None if leak is None else leak[key]
            for name, key in _COUNT_KEYS.items()
        },
        "signal_fraction_source": None if fraction is None else fraction["source"],
        "signal_fraction_efficiency": None if fraction is None else fraction["efficiency"],
        "signal_fraction_reason": res.get("signal_fraction_reason"),
    }


def summarize_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (method, N) and kind, binned's count of signal events passing the cut against
    the true number of injected signal events passing: medians, their ratio, how often the
    68% interval holds the truth and how often the 95% CL upper limit lies above it. Kinds:
    ``model-independent`` (no signal in the control windows assumed) and
    ``with-signal-leak`` (the fraction's fit in events, the assumed signal's leak into the
    windows modelled; rows with a fraction only).

    >>> rows = [{"method": "binned", "n_signal": 9, "n_pass_hat": 4.0, "n_pass_lo": 2.0,
    ...          "n_pass_hi": 6.0, "n_pass_upper_limit_95": 9.0, "n_pass_true": 5,
    ...          "n_pass_leak_hat": 5.5, "n_pass_leak_lo": 5.2, "n_pass_leak_hi": 7.0,
    ...          "n_pass_leak_upper_limit_95": 8.0}]
    >>> [(c["kind"], c["coverage_68"]) for c in summarize_counts(rows)]
    [('model-independent', 1.0), ('with-signal-leak', 0.0)]
    """
    out = []
    for kind, prefix in _COUNT_KINDS.items():
        with_count = [
            r
            for r in rows
            if r.get(f"{prefix}_hat") is not None and r.get("n_pass_true") is not None
        ]
        for method, n in sorted({(r["method"], r["n_signal"]) for r in with_count}):
            sel = [r for r in with_count if (r["method"], r["n_signal"]) == (method, n)]
            lo, hi, hat = (np.array([r[f"{prefix}_{k}"] for r in sel]) for k in ("lo", "hi", "hat"))
            limit = np.array([r[f"{prefix}_upper_limit_95"] for r in sel])
            true = np.array([r["n_pass_true"] for r in sel], dtype=float)
            covered = (lo <= true) & (true <= hi)
            entry = {
                "method": method,
                "kind": kind,
                "n_signal": n,
                "runs": len(sel),
                "n_pass_true_median": float(np.median(true)),
                "n_pass_hat_median": float(np.median(hat)),
                "coverage_68": float(np.mean(covered)),
                "coverage_68_err": binomial_error(covered),
                "limit_above_truth": float(np.mean(limit >= true)),
            }
            if (true > 0).all():
                entry["median_ratio"] = float(np.median(hat / true))
            out.append(entry)
    return out


def _masses_covered(masses: dict[str, float], truth: tuple[float, ...]) -> bool:
    """Whether the fitted intervals hold ``truth`` ``(mX, mY[, mW])`` (mW only if fitted)."""
    pairs = zip(("mX", "mY", "mW")[: len(truth)], truth, strict=True)
    return all(masses[f"{n}_lo"] <= t <= masses[f"{n}_hi"] for n, t in pairs if n in masses)


def summarize_rows(
    rows: list[dict[str, Any]], true_mass: tuple[float, ...] | None = None
) -> list[dict[str, Any]]:
    """Per (method, N): median mu_hat/mu_true, coverage of the 68% interval, Z quantiles,
    whether a 95% upper limit was reported, and (with ``true_mass``) how often the fitted
    mass intervals hold the true masses. ``true_mass`` is an unordered pair: the jets are
    ordered by mass, so the fit reports ``(heavier, lighter)`` and the truth is compared in
    that order (``(250, 450)`` as ``mX = 450``, ``mY = 250``); a third value, the W' mass,
    is compared when the fit reports ``mW``.
    """
    if true_mass is not None:
        if len(true_mass) not in (2, 3):
            raise SystemExit(f"--true-mass: expected MX MY [MW] (GeV), found {list(true_mass)}")
        true_mass = (*ordered_masses(true_mass[0], true_mass[1]), *true_mass[2:])
    out = []
    for method, n in sorted({(r["method"], r["n_signal"]) for r in rows}):
        sel = [
            r
            for r in rows
            if (r["method"], r["n_signal"]) == (method, n) and r["mu_hat"] is not None
        ]
        if not sel:
            continue
        true = np.array([r["mu_true"] for r in sel])
        hat = np.array([r["mu_hat"] for r in sel])
        covered = np.array([r["mu_lo"] <= r["mu_true"] <= r["mu_hi"] for r in sel])
        stat = [
            r for r in sel if r.get("mu_lo_stat") is not None and r.get("mu_hi_stat") is not None
        ]
        covered_stat = [r["mu_lo_stat"] <= r["mu_true"] <= r["mu_hi_stat"] for r in stat]
        z = np.array([r["significance"] or 0.0 for r in sel])
        entry = {
            "method": method,
            "n_signal": n,
            "runs": len(sel),
            "mu_true_median": float(np.median(true)),
            "mu_hat_median": float(np.median(hat)),
            "coverage_68": float(covered.mean()),
            "coverage_68_err": binomial_error(covered),
            "coverage_68_stat_only": float(np.mean(covered_stat)) if stat else None,
            "significance_median": float(np.median(z)),
            "fraction_significance_below_2": float((z < 2).mean()),
        }
        entry["fraction_with_upper_limit"] = float(
            np.mean([r.get("mu_upper_limit_95") is not None for r in sel])
        )
        if n > 0:
            entry["median_ratio"] = float(np.median(hat / true))
            with_mass = [r for r in sel if r.get("masses")]
            if true_mass is not None and with_mass:
                entry["mass_coverage"] = float(
                    np.mean([_masses_covered(r["masses"], true_mass) for r in with_mass])
                )
        out.append(entry)
    return out


def _write(args: argparse.Namespace, rows: list[dict[str, Any]], out: Path) -> None:
    summary = summarize_rows(rows, args.true_mass)
    counts = summarize_counts(rows)
    write_json(
        {
            "results": rows,
            "summary": summary,
            "count_summary": counts,
            "true_mass": None
            if args.true_mass is None
            else [*ordered_masses(*args.true_mass[:2]), *args.true_mass[2:]],
            "argv": sys.argv[1:],
        },
        args.json,
    )
    lines = [
        "| method | N | runs | median mu_true | median mu_hat | median ratio | 68% coverage "
        "| stat-only coverage | median Z | Z<2 | masses covered |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for s in summary:
        lines.append(
            f"| {s['method']} | {s['n_signal']} | {s['runs']} | {s['mu_true_median']:.5f} | "
            f"{s['mu_hat_median']:.5f} | {fmt(s.get('median_ratio'))} | "
            f"{s['coverage_68']:.2f} ± {s['coverage_68_err']:.2f} | {fmt(s.get('coverage_68_stat_only'))} | "
            f"{s['significance_median']:.2f} | {s['fraction_significance_below_2']:.2f} | "
            f"{fmt(s.get('mass_coverage'))} |"
        )
    if counts:
        lines += [
            "",
            "binned: fitted vs true number of signal events passing the cut (model-independent:"
            " no signal in the control windows assumed; with-signal-leak: the fraction's fit)",
            "",
            "| method | count | N | runs | median true passing | median fitted | median ratio "
            "| 68% coverage | 95% limit >= truth |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in counts:
            lines.append(
                f"| {c['method']} | {c['kind']} | {c['n_signal']} | {c['runs']} | "
                f"{c['n_pass_true_median']:.1f} | {c['n_pass_hat_median']:.1f} | "
                f"{fmt(c.get('median_ratio'))} | {c['coverage_68']:.2f} ± {c['coverage_68_err']:.2f} | "
                f"{c['limit_above_truth']:.2f} |"
            )
    (out / "gbi_scan_table.md").write_text("\n".join(lines) + "\n")
    plot_scan(rows, out)


if __name__ == "__main__":
    raise SystemExit(main())
