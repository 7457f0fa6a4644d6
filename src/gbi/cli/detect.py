"""``gbi detect``: resonant anomaly detection on the features of ``gbi process``.

Usage::

    gbi detect DATA.parquet [...] --out DIR [--reference-background REF.parquet ...]
               [--signal SIG.parquet ...] [--test TEST.parquet] [--truth-label label]
               [--methods cathode latent idealized supervised] [--classifier hgb|mlp]
               [--oversampling 4] [--folds 5] [--flow maf|nsf] [--flow-epochs N]
               [--sr LOW HIGH] [--regions REGIONS.json] [--drop-invalid] [--seed S]
               [--json OUT]

Inputs are Parquet feature files or ``gbi process`` output folders. The command parses,
calls :func:`gbi.detect.files.detect_files` and prints what it wrote.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

__all__ = ["register", "run"]

log = logging.getLogger("gbi.detect")

# Written here, not imported, so that ``gbi detect --help`` imports no torch
# (tests/test_cli_startup.py checks that they agree with gbi.detect.config).
METHODS: tuple[str, ...] = ("cathode", "latent", "idealized", "supervised")
DEFAULT_CUTS: tuple[float, ...] = (0.1, 0.01, 0.001)


def register(subparsers: argparse._SubParsersAction) -> None:
    from gbi.cli.options import (
        HelpFormatter,
        add_drop_invalid_option,
        add_overwrite_option,
        add_region_options,
        add_threads_option,
    )

    p = subparsers.add_parser(
        "detect",
        help="resonant anomaly detection (CATHODE, latent CATHODE, idealized, supervised)",
        description="Train a sideband flow p(x|mjj), sample it in the signal region, train a "
        "k-fold classifier data vs generated and score every event; optional idealized and "
        "supervised references and an evaluation with truth labels.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "data", nargs="+", help="feature Parquet file(s) or 'gbi process' output folder(s)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    add_overwrite_option(p)
    for flag, text in (
        ("--reference-background", "independent background sample (idealized, test background)"),
        ("--signal", "signal sample not in the data (supervised detector, test signal)"),
        ("--test", "labelled test set (replaces the one built from the halves)"),
    ):
        p.add_argument(flag, nargs="+", default=None, metavar="FILE", help=text)
    p.add_argument(
        "--truth-label",
        default=None,
        metavar="COLUMN",
        help="truth column (1 signal, 0 background) for the evaluation",
    )
    p.add_argument(
        "--methods", nargs="+", choices=METHODS, default=list(METHODS), help="detectors to run"
    )
    p.add_argument(
        "--classifier", choices=("hgb", "xgb", "mlp"), default="hgb", help="classifier family"
    )
    p.add_argument("--max-iter", type=int, default=200, help="hgb: boosting iterations")
    p.add_argument("--mlp-epochs", type=int, default=60, help="mlp: training epochs")
    p.add_argument("--folds", type=int, default=5, help="folds of the k-fold classifiers")
    p.add_argument(
        "--oversampling",
        type=float,
        default=4.0,
        help="generated SR background events per SR data event",
    )
    p.add_argument("--flow", choices=("maf", "nsf"), default="maf", help="sideband flow type")
    p.add_argument("--flow-epochs", type=int, default=30, help="sideband flow training epochs")
    p.add_argument(
        "--flow-ensemble",
        type=int,
        default=1,
        help="bootstrap sideband flows; more than one adds the generator error to the estimates",
    )
    p.add_argument(
        "--cuts",
        type=float,
        nargs="+",
        default=list(DEFAULT_CUTS),
        help="background efficiencies of the score cuts",
    )
    add_region_options(p)
    p.add_argument(
        "--min-sr-events",
        type=int,
        default=100,
        help="fewer SR events than this: the classifiers are skipped with a message",
    )
    p.add_argument("--device", default="auto", help="torch device: auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, splits and training")
    add_threads_option(p)
    add_drop_invalid_option(p)
    p.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="also write result.json here"
    )
    p.set_defaults(func=run)


def _config(args: argparse.Namespace):
    from gbi.classifiers import ClassifierConfig
    from gbi.cli.options import resolve_regions
    from gbi.detect import DetectConfig
    from gbi.flows import FlowConfig, TrainConfig
    from gbi.tables import DEFAULT_FEATURES

    return DetectConfig(
        methods=tuple(args.methods),
        regions=resolve_regions(args),
        classifier=ClassifierConfig(
            kind=args.classifier,
            max_iter=args.max_iter,
            epochs=args.mlp_epochs,
            device=args.device,
            seed=args.seed,
        ),
        n_folds=args.folds,
        oversampling=args.oversampling,
        flow=FlowConfig(flow=args.flow, features=DEFAULT_FEATURES, context=("mjj",)),
        flow_train=TrainConfig(
            epochs=args.flow_epochs,
            batch_size=1024,
            learning_rate=2e-3,
            seed=args.seed,
            device=args.device,
        ),
        flow_ensemble=args.flow_ensemble,
        cuts=tuple(args.cuts),
        min_sr_events=args.min_sr_events,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    from gbi.detect.files import detect_files
    from gbi.io import prepare_output_dir
    from gbi.threads import resolve_threads, thread_budget

    config = _config(args)  # bad options stop before the output folder is touched
    threads = resolve_threads(args.threads)
    with (
        prepare_output_dir(args.out, overwrite=args.overwrite, command="detect"),
        thread_budget(threads),
    ):
        result, written = detect_files(
            args.data,
            args.out,
            config=config,
            reference=args.reference_background,
            signal=args.signal,
            test=args.test,
            truth_label=args.truth_label,
            drop_invalid=args.drop_invalid,
            json_path=args.json,
        )
    summary = result.summary
    for message in summary.messages:
        log.warning(message)
    for name, info in summary.methods.items():
        sic = (info.evaluation or {}).get("max_sic")
        sic_text = "" if sic is None or not math.isfinite(sic) else f", max SIC {sic:.2f}"
        print(f"{name}: {info.status}{sic_text}")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in summary.stages.items())
    print(f"stages: {stages}")
    print(f"wrote {written['result']} and the other outputs into {args.out}")
    return 0
