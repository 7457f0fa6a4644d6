"""``gbi infer``: measure the signal fraction (and masses) in the SR with the sideband generator.

Usage::

    gbi infer FEATURES [...] --json OUT [--method parametrized unbinned binned]
              [--signal-grid DIR ...] [--out DIR] [--toys 100] [--flow-epochs 30]
              [--flow-ensemble 3] [--evidence-threshold 2]
              [--binned-mass MX MY] [--sr LOW HIGH] [--regions REGIONS.json]
              [--drop-invalid] [--seed S] [--truth-label label]

``FEATURES`` are Parquet feature files or ``gbi process`` output folders (exactly the
datasets their ``summary.json`` lists). The command parses, calls
:func:`gbi.infer.files.infer_files` and prints one line per method. The signal grid
(``parametrized`` and ``binned``) is made with
``gbi generate --process wprime --mX-grid 100:600:100 --mY-grid 100:600:100 --events 2000``.
Writes the result JSON (schema ``infer-result-1.0``) and, into ``--out``, the likelihood
scan ``likelihood_scan.png`` and the mass profile ``mass_scan.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

__all__ = ["register", "run"]

# Written here, not imported, so that ``gbi infer --help`` imports no torch
# (tests/test_cli_startup.py checks that they agree with gbi.infer).
INFER_METHODS: tuple[str, ...] = ("parametrized", "unbinned", "binned")
EVIDENCE_THRESHOLD = 2.0
SIDEBAND_CLOSURE_MODES: tuple[str, ...] = ("control", "systematic", "off")
SIDEBAND_SIGNAL_MODES: tuple[str, ...] = ("off", "subtract")
SIDEBAND_SIGNAL_DEFAULT = "subtract"
SIDEBAND_PASSES_DEFAULT = 1
EXTEND_MORPHS: tuple[str, ...] = ("auto", "scaling", "measured")
EXTEND_MORPH_DEFAULT = "auto"
UNBINNED_MODELS: tuple[str, ...] = ("flow", "gmm")
UNBINNED_CALIBRATIONS: tuple[str, ...] = ("auto", "generated", "held-out")
UNBINNED_DEFAULTS = {"signal_model": "flow", "em_steps": 8, "em_tol": 0.01}
BINNED_DEFAULTS = {"efficiency": 0.02, "sideband_width": 200.0, "extrapolation_uncertainty": 0.045}


def register(subparsers: argparse._SubParsersAction) -> None:
    from gbi.cli.options import (
        HelpFormatter,
        add_drop_invalid_option,
        add_overwrite_option,
        add_region_options,
        add_threads_option,
    )

    p = subparsers.add_parser(
        "infer",
        help="fit the signal fraction mu (and masses) with intervals and a significance",
        description="Generator-based inference: train the sideband flow, then fit the signal "
        "fraction of SR events with a classifier parametrised in (mX, mY) (needs "
        "--signal-grid), an unbinned likelihood with a learned signal density, or an "
        "anomaly-score cut and a pyhf cut-and-count fit (the model-independent number of "
        "signal events passing the cut; a signal fraction only at the parametrized fit's "
        "masses or --binned-mass, with --signal-grid).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("features", nargs="+", help="feature Parquet file(s) or 'gbi process' folder(s)")
    p.add_argument("--json", type=Path, required=True, metavar="OUT", help="result JSON")
    p.add_argument(
        "--method",
        nargs="+",
        choices=INFER_METHODS,
        default=None,
        help="methods (default: all that the inputs allow)",
    )
    p.add_argument("--signal-grid", nargs="+", metavar="DIR", help="signal grid files or folders")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="folder for plots")
    add_overwrite_option(p)
    p.add_argument(
        "--toys",
        type=int,
        default=100,
        help="background-only toys calibrating the parametrized significance (at least 20: "
        "fewer cap the global Z below the evidence threshold)",
    )
    p.add_argument(
        "--unbinned-toys",
        type=int,
        default=10,
        help="background-only toys calibrating the unbinned significance (held-out: a flow "
        "member whose unseen sideband events near the SR number no more than the SR's makes "
        "one toy, so at most --flow-ensemble distinct ones) (default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-model",
        choices=UNBINNED_MODELS,
        default=UNBINNED_DEFAULTS["signal_model"],
        help="signal density of the unbinned fit: 'flow' (R-ANODE: conditional w scan, then "
        "EM steps) or 'gmm' (Gaussian mixture; about half the signal on the LHCO-style W', "
        "README section 8) (default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-em-steps",
        type=int,
        default=UNBINNED_DEFAULTS["em_steps"],
        metavar="N",
        help="--unbinned-model flow: most EM steps after the w scan (0: the scan alone, low "
        "by 15-35%%). They run only where the scan alone has local Z >= 3 and its "
        "toy-calibrated Z reaches --evidence-threshold, and Z stays the scan's (with no "
        "signal they grew a false one); they measure w, they do not detect. "
        "A fit that reaches N still rising is reported em_converged: false "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-calibration",
        choices=UNBINNED_CALIBRATIONS,
        default="auto",
        help="background-only toys of the unbinned significance: 'held-out' sideband events "
        "that the flow member fitting them never saw, which carry the flows' real mismatch "
        "with data, or 'generated' by the sideband flows (one member per toy, in turn); "
        "'auto': held-out with a bootstrap flow ensemble (--flow-ensemble > 1), else "
        "generated (default: %(default)s)",
    )
    p.add_argument(
        "--parametrized-calibration",
        choices=UNBINNED_CALIBRATIONS,
        default="auto",
        help="the parametrized significance: 'generated' toys alone, or 'held-out': the "
        "data's q0 divided by how much larger the q0 of sideband events that a flow member "
        "never saw are than the generated toys', where beyond their scatter (the flows' "
        "real mismatch, which generated toys cannot hold); 'auto': held-out with a "
        "bootstrap flow ensemble, else generated (default: %(default)s)",
    )
    p.add_argument(
        "--unbinned-em-tol",
        type=float,
        default=UNBINNED_DEFAULTS["em_tol"],
        metavar="FRACTION",
        help="with --unbinned-em-steps: stop the EM steps once one raised the fitted w (the "
        "signal-flow ensemble's) by less than this fraction of it (converged; "
        "--unbinned-em-steps is then the most steps; 0: off, every step runs). Converged is "
        "not unbiased: on a signal that overlaps the background the steps converge above "
        "the truth, 1.4-2.0x on a 5-d toy, README section 8 (default: %(default)s)",
    )
    p.add_argument("--flow-epochs", type=int, default=30, help="sideband flow epochs")
    p.add_argument(
        "--flow-ensemble",
        type=int,
        default=3,
        help="bootstrap sideband flows; their spread is the generator uncertainty",
    )
    p.add_argument(
        "--evidence-threshold",
        type=float,
        default=EVIDENCE_THRESHOLD,
        metavar="Z",
        help="below this significance (sigma) the 68%% interval starts at mu = 0",
    )
    p.add_argument(
        "--classifier-epochs",
        type=int,
        default=60,
        help="epochs of the parametrised classifier (early stopping)",
    )
    p.add_argument(
        "--parametrized-features",
        nargs="+",
        default=None,
        metavar="NAME",
        help="parametrized: the classifier's features, a subset of the generator's (default: "
        "all); e.g. 'mj1 delta_mj', the jet masses, for a fit that does not rely on the grid's "
        "simulation of the jet substructure",
    )
    p.add_argument(
        "--sideband-signal",
        choices=SIDEBAND_SIGNAL_MODES,
        default=SIDEBAND_SIGNAL_DEFAULT,
        help="parametrized: 'subtract' (default) trains the sideband flows again with each "
        "sideband event weighted by its probability to be background under the fitted signal "
        "(its mjj shape from the grid), and refits, when the first fit has evidence; the other "
        "methods use those flows; 'off' keeps the first fit (the flows then learn the signal "
        "that leaks into the sidebands and mu comes out low)",
    )
    p.add_argument(
        "--sideband-passes",
        type=int,
        default=SIDEBAND_PASSES_DEFAULT,
        metavar="N",
        help="parametrized: how many times the subtraction is made, each from the previous "
        "pass's fit; a strong signal's first fit is low, so one pass may leave some of it in "
        "the sidebands (default: %(default)s)",
    )
    p.add_argument(
        "--mW-step",
        dest="mw_step",
        type=float,
        default=100.0,
        metavar="GEV",
        help="parametrized, with a --signal-grid made at several W' masses: step (GeV) of the "
        "mW hypotheses between the grid's (mW is then fitted with its interval; with one W' "
        "mass it is not a parameter)",
    )
    p.add_argument(
        "--extend-grid",
        type=int,
        default=2,
        metavar="STEPS",
        help="parametrized: also train on and scan masses up to STEPS grid steps beyond the "
        "simulated grid, points made by morphing the nearest point's jet masses; 0: the "
        "grid's own range, where a resonance beyond it is not seen (default: %(default)s)",
    )
    p.add_argument(
        "--extend-morph",
        choices=EXTEND_MORPHS,
        default=EXTEND_MORPH_DEFAULT,
        help="parametrized: how the points beyond the grid are made: 'scaling' (jet masses "
        "scaled by the mass ratio: the grid's own signals fit as measured, a signal beyond it "
        "comes out low), 'measured' (the jet-mass response measured on the grid, losses of "
        "decay products included: beyond the grid right, the grid's own signals about 3.5%% "
        "lower), 'auto' (scaling, and measured once a fit lands beyond the simulated masses; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--reference-per-sr-event",
        type=float,
        default=2.0,
        metavar="R",
        help="parametrized: generated reference events normalising the classifier ratios, "
        "per SR event (default 2; the normalisation error falls as 1/sqrt(R), the fit time "
        "grows with R)",
    )
    _add_binned_options(p)
    add_region_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the flows, samples and fits")
    add_threads_option(p)
    add_drop_invalid_option(p)
    p.add_argument(
        "--truth-label",
        default=None,
        help="truth column (1 = signal) to report the true mu (never used in the fit)",
    )
    p.set_defaults(func=run)


def _add_binned_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--binned-mass",
        nargs=2,
        type=float,
        metavar=("MX", "MY"),
        help="binned: quote the signal fraction for a signal of these masses (GeV, either "
        "order: the jets are ordered by mass, so the pair is used as (heavier, lighter)), an "
        "assumption (default: the parametrized fit's masses with their intervals; without "
        "either, binned reports only the model-independent number of signal events passing)",
    )
    p.add_argument(
        "--binned-efficiency",
        type=float,
        default=BINNED_DEFAULTS["efficiency"],
        help="binned: fraction of the generated SR background kept by the score cut",
    )
    p.add_argument(
        "--binned-sideband-width",
        type=float,
        default=BINNED_DEFAULTS["sideband_width"],
        metavar="GEV",
        help="binned: width in GeV of each sideband window next to the SR for the closure",
    )
    p.add_argument(
        "--binned-extrapolation-uncertainty",
        type=float,
        default=BINNED_DEFAULTS["extrapolation_uncertainty"],
        metavar="REL",
        help="binned: relative normsys on the SR background for carrying the sideband "
        "windows' k into the SR, measured on signal-free runs (default: %(default)s)",
    )
    p.add_argument(
        "--binned-sideband-closure",
        choices=SIDEBAND_CLOSURE_MODES,
        default="control",
        help="binned: the score cut's closure factor k, measured in the sideband windows next "
        "to the SR: a free background normalisation fitted in the windows as a control "
        "channel ('control'; for the signal fraction with the signal leaking there modelled), |k - 1| as a "
        "systematic ('systematic'), or only reported ('off')",
    )


def _config(args: argparse.Namespace):
    """The :class:`InferConfig` of the options (it validates the values)."""
    from gbi.cli.options import resolve_regions
    from gbi.infer.config import InferConfig

    methods = tuple(args.method or INFER_METHODS)
    if args.method is None and not args.signal_grid:
        methods = ("unbinned",)
    defaults = InferConfig()
    return InferConfig(
        methods=methods,
        regions=resolve_regions(args),
        toys=args.toys,
        seed=args.seed,
        flow_train=dataclasses.replace(defaults.flow_train, epochs=args.flow_epochs),
        flow_ensemble=args.flow_ensemble,
        evidence_threshold=args.evidence_threshold,
        sideband_signal=args.sideband_signal,
        sideband_passes=args.sideband_passes,
        unbinned_toys=args.unbinned_toys,
        unbinned_calibration=args.unbinned_calibration,
        parametrized_calibration=args.parametrized_calibration,
        unbinned=dataclasses.replace(
            defaults.unbinned,
            signal_model=args.unbinned_model,
            flow=dataclasses.replace(
                defaults.unbinned.flow, em_steps=args.unbinned_em_steps, em_tol=args.unbinned_em_tol
            ),
        ),
        binned_mass=tuple(args.binned_mass) if args.binned_mass else None,
        binned=dataclasses.replace(
            defaults.binned,
            efficiency=args.binned_efficiency,
            sideband_width=args.binned_sideband_width,
            sideband_closure=args.binned_sideband_closure,
            extrapolation_uncertainty=args.binned_extrapolation_uncertainty,
        ),
        parametrized=dataclasses.replace(
            defaults.parametrized,
            epochs=args.classifier_epochs,
            mw_step=args.mw_step,
            reference_per_sr_event=args.reference_per_sr_event,
            extend_steps=args.extend_grid,
            extend_morph=args.extend_morph,
            features=tuple(args.parametrized_features or defaults.parametrized.features),
        ),
    )


def _count_line(name: str, v: dict) -> str:
    """The binned method's model-independent result, and its fraction (or why none) with
    the same fit in events."""
    n = v["n_signal_passing"]
    line = (
        f"{name}: model-independent: signal events passing the cut = {n['mu_hat']:.1f} "
        f"[{n['mu_lo']:.1f}, {n['mu_hi']:.1f}] (68%), < {n['upper_limit_obs']:.1f} "
        f"(95% CL, expected {n['upper_limit_exp']:.1f}), local Z = {n['local_significance']:.2f}"
    )
    f = v.get("signal_fraction")
    if f is None:
        return line + f"\n{name}: {v['signal_fraction_reason']}"
    m, e = f["masses"], f["efficiency"]
    line += (
        f"\n{name}: signal fraction at mX = {m['mX']:g}, mY = {m['mY']:g} GeV ({f['source']}; "
        f"cut efficiency {e['efficiency']:.3f} +- {e['efficiency_err_stat']:.3f} (stat) "
        f"+- {e['efficiency_err_mass']:.3f} (masses)): mu_hat = {f['mu_hat']:.5f} "
        f"[{f['mu_lo']:.5f}, {f['mu_hi']:.5f}] (68%), mu < {f['mu_upper_limit_95']:.5f} "
        f"(95% CL), Z = {f['significance']:.2f}"
    )
    return line + _leak_line(name, f.get("n_signal_passing"))


def _leak_line(name: str, n: dict | None) -> str:
    """The fraction's fit in events: the count with the signal's leak into the windows."""
    if n is None:
        return ""
    return (
        f"\n{name}: with that signal's leak into the control windows "
        f"({n['leak_per_passing']:.2f} per SR event passing): signal events passing = "
        f"{n['mu_hat']:.1f} [{n['mu_lo']:.1f}, {n['mu_hi']:.1f}] (68%), "
        f"< {n['upper_limit_obs']:.1f} (95% CL)"
    )


def _line(name: str, res) -> str:
    if res.status != "ok":
        return f"{name}: skipped: {res.message}"
    v = res.values
    if "n_signal_passing" in v:
        return _count_line(name, v)
    line = (
        f"{name}: mu_hat = {v['mu_hat']:.5f} [{v['mu_lo']:.5f}, {v['mu_hi']:.5f}] (68%), "
        f"mu < {v['mu_upper_limit_95']:.5f} (95% CL), Z = {v['significance']:.2f}"
    )
    if "masses" in v:
        m = v["masses"]
        line += (
            f", masses (heavier, lighter; either may be X): "
            f"mX = {m['mX']:g} [{m['mX_lo']:g}, {m['mX_hi']:g}] GeV, "
            f"mY = {m['mY']:g} [{m['mY_lo']:g}, {m['mY_hi']:g}] GeV"
        )
        if "mW" in m:
            line += f", mW = {m['mW']:g} [{m['mW_lo']:g}, {m['mW_hi']:g}] GeV"
    if v.get("events_outside_support"):
        line += (
            f"\n{name}: {v['events_outside_support']} SR events outside the background flows' "
            "training range were not fitted (mu is the fraction among the others)"
        )
    if v.get("em_converged") is False:
        steps = (v.get("signal_model") or {}).get("em_w_ensemble_steps") or []
        line += (
            f"\n{name}: warning: the EM steps stopped at the cap still rising "
            f"(w: {', '.join(f'{w:.5f}' for w in steps)}); mu_hat is no fixed point and may "
            "lie above the truth, so the 68% interval reaches down to the scan's w (the first)"
        )
    if res.message:
        line += f"\n{name}: note: {res.message}"
    sideband = v.get("sideband_signal") or {}
    if sideband.get("applied"):
        line += (
            f"\n{name}: the fitted signal taken out of the sidebands "
            f"({sideband['signal_in_sidebands']:.0f} events expected there) and the flows "
            f"trained again; the first fit gave mu_hat = {sideband['first_fit']['mu_hat']:.5f}"
        )
        if len(sideband.get("passes", [])) > 2:
            line += f" (mu_hat per pass: {', '.join(f'{m:.5f}' for m in sideband['passes'])})"
    return line


def run(args: argparse.Namespace) -> int:
    import contextlib

    from gbi.infer.files import infer_files
    from gbi.io import prepare_output_dir
    from gbi.threads import resolve_threads, thread_budget

    config = _config(args)  # bad options stop before the output folder is touched
    threads = resolve_threads(args.threads)
    owner = (
        prepare_output_dir(args.out, overwrite=args.overwrite, command="infer")
        if args.out is not None
        else contextlib.nullcontext()
    )
    with owner, thread_budget(threads):
        result = infer_files(
            args.features,
            args.json,
            config=config,
            signal_grid=args.signal_grid,
            out_dir=args.out,
            truth_label=args.truth_label,
            drop_invalid=args.drop_invalid,
        )
    for name, res in result.methods.items():
        print(_line(name, res))
    print(f"wrote {args.json}")
    return 0
