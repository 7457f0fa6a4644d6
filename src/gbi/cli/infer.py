"""``gbi infer``: measure the signal fraction (and masses) in the SR with the sideband generator.

Usage::

    gbi infer FEATURES [...] --json OUT [--method parametrized unbinned binned]
              [--signal-grid DIR ...] [--out DIR] [--toys 100] [--flow-epochs 30]
              [--flow-ensemble 3] [--evidence-threshold 2]
              [--binned-mass MX MY] [--seed S] [--truth-label label]

``FEATURES`` are Parquet feature files or ``gbi process`` output folders. The signal grid
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


def register(subparsers: argparse._SubParsersAction) -> None:
    from gbi.infer.binned import SIDEBAND_CLOSURE_MODES, BinnedConfig
    from gbi.infer.pipeline import INFER_METHODS
    from gbi.infer.uncertainty import EVIDENCE_THRESHOLD

    p = subparsers.add_parser(
        "infer",
        help="fit the signal fraction mu (and masses) with intervals and a significance",
        description="Generator-based inference: train the sideband flow, then fit the signal "
        "fraction of SR events with a classifier parametrised in (mX, mY) (needs "
        "--signal-grid), an unbinned likelihood with a learned signal density, or an "
        "anomaly-score cut and pyhf (needs --signal-grid).",
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
    p.add_argument(
        "--toys", type=int, default=100, help="background-only toys, parametrized (default: 100)"
    )
    p.add_argument(
        "--unbinned-toys",
        type=int,
        default=10,
        help="background-only toys calibrating the unbinned significance (default: 10)",
    )
    p.add_argument("--flow-epochs", type=int, default=30, help="sideband flow epochs (default: 30)")
    p.add_argument(
        "--flow-ensemble",
        type=int,
        default=3,
        help="bootstrap sideband flows; their spread is the generator uncertainty (default: 3)",
    )
    p.add_argument(
        "--evidence-threshold",
        type=float,
        default=EVIDENCE_THRESHOLD,
        metavar="Z",
        help="below this significance (sigma) the 68%% interval starts at mu = 0 "
        f"(default: {EVIDENCE_THRESHOLD:g})",
    )
    p.add_argument(
        "--classifier-epochs",
        type=int,
        default=60,
        help="epochs of the parametrised classifier (default: 60, early stopping)",
    )
    p.add_argument(
        "--binned-mass",
        nargs=2,
        type=float,
        metavar=("MX", "MY"),
        help="signal template mass of the binned fit (default: the parametrized best fit)",
    )
    p.add_argument(
        "--binned-efficiency",
        type=float,
        default=BinnedConfig.efficiency,
        help="binned: fraction of the generated SR background kept by the score cut "
        f"(default: {BinnedConfig.efficiency:g})",
    )
    p.add_argument(
        "--binned-bins",
        type=int,
        default=BinnedConfig.bins,
        help=f"binned: mjj bins of the SR histogram (default: {BinnedConfig.bins})",
    )
    p.add_argument(
        "--binned-sideband-width",
        type=float,
        default=BinnedConfig.sideband_width,
        metavar="GEV",
        help="binned: width of each sideband window next to the SR for the closure "
        f"(default: {BinnedConfig.sideband_width:g} GeV)",
    )
    p.add_argument(
        "--binned-sideband-closure",
        choices=SIDEBAND_CLOSURE_MODES,
        default="control",
        help="binned: the score cut's closure factor k, measured in the sideband windows next "
        "to the SR: a free background normalisation fitted in the windows as a control "
        "channel, with the signal leaking there modelled ('control', default), |k - 1| as a "
        "systematic ('systematic'), or only reported ('off')",
    )
    p.add_argument("--sr", nargs=2, type=float, metavar=("LOW", "HIGH"), help="signal region, GeV")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--truth-label",
        default=None,
        help="truth column (1 = signal) to report the true mu (never used in the fit)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gbi.cli.detect import _read
    from gbi.errors import GbiInputError
    from gbi.infer.pipeline import INFER_METHODS, InferConfig, run_inference
    from gbi.infer.plots import plot_mass_scan, plot_profile
    from gbi.infer.signal_grid import load_signal_grid
    from gbi.io import write_json
    from gbi.regions import Regions
    from gbi.schema import validate

    data = _read(args.features, "features")
    assert data is not None
    if args.truth_label:
        if args.truth_label not in data:
            raise GbiInputError(
                f"--truth-label {args.truth_label!r}: no such column, found {sorted(data)}"
            )
        data["label"] = data.pop(args.truth_label)
    else:
        data.pop("label", None)
    methods = tuple(args.method or INFER_METHODS)
    if args.method is None and not args.signal_grid:
        methods = ("unbinned",)
    if args.flow_ensemble < 1:
        raise GbiInputError(f"--flow-ensemble: expected >= 1 flows, found {args.flow_ensemble}")
    if not args.evidence_threshold >= 0:
        raise GbiInputError(
            f"--evidence-threshold: expected a significance >= 0 (sigma), "
            f"found {args.evidence_threshold}"
        )
    if args.unbinned_toys < 1:
        raise GbiInputError(f"--unbinned-toys: expected >= 1 toys, found {args.unbinned_toys}")
    if args.toys < 0:
        raise GbiInputError(f"--toys: expected >= 0, found {args.toys}")
    regions = Regions() if args.sr is None else Regions(sr_low=args.sr[0], sr_high=args.sr[1])
    config = InferConfig(methods=methods, regions=regions, toys=args.toys, seed=args.seed)
    config = dataclasses.replace(
        config,
        flow_train=dataclasses.replace(config.flow_train, epochs=args.flow_epochs),
        flow_ensemble=args.flow_ensemble,
        evidence_threshold=args.evidence_threshold,
        unbinned_toys=args.unbinned_toys,
        binned_mass=tuple(args.binned_mass) if args.binned_mass else None,
        binned=dataclasses.replace(
            config.binned,
            efficiency=args.binned_efficiency,
            bins=args.binned_bins,
            sideband_width=args.binned_sideband_width,
            sideband_closure=args.binned_sideband_closure,
        ),
        parametrized=dataclasses.replace(config.parametrized, epochs=args.classifier_epochs),
    )
    grid = load_signal_grid(args.signal_grid, regions=regions) if args.signal_grid else None
    summary, extras = run_inference(data, config=config, signal_grid=grid)
    validate(summary, "infer-result", "the inference result")
    write_json(summary, args.json)
    if args.out is not None:
        profiles = {
            name: extras[name]["fit"].profile
            for name in ("parametrized", "unbinned")
            if name in extras
        }
        if profiles:
            plot_profile(profiles, args.out / "likelihood_scan.png", summary.get("mu_true"))
        if "parametrized" in extras:
            plot_mass_scan(extras["parametrized"]["masses"]["scan"], args.out / "mass_scan.png")
    for name, res in summary["methods"].items():
        if res["status"] != "ok":
            print(f"{name}: skipped: {res['message']}")
            continue
        line = (
            f"{name}: mu_hat = {res['mu_hat']:.5f} [{res['mu_lo']:.5f}, {res['mu_hi']:.5f}] (68%), "
            f"mu < {res['mu_upper_limit_95']:.5f} (95% CL), Z = {res['significance']:.2f}"
        )
        if "masses" in res:
            m = res["masses"]
            line += (
                f", mX = {m['mX']:g} [{m['mX_lo']:g}, {m['mX_hi']:g}] GeV, "
                f"mY = {m['mY']:g} [{m['mY_lo']:g}, {m['mY_hi']:g}] GeV"
            )
        print(line)
    print(f"wrote {args.json}")
    return 0
