"""``gbi detect``: resonant anomaly detection on the features of ``gbi process``.

Usage::

    gbi detect DATA.parquet [...] --out DIR [--reference-background REF.parquet ...]
               [--signal SIG.parquet ...] [--test TEST.parquet] [--truth-label label]
               [--methods cathode latent idealized supervised] [--classifier hgb|mlp]
               [--oversampling 4] [--folds 5] [--flow maf|nsf] [--flow-epochs N]
               [--sr LOW HIGH] [--regions REGIONS.json] [--seed S] [--json OUT]

Inputs are Parquet feature files (or ``gbi process`` output folders). Writes the files of
:mod:`gbi.detect.outputs` into ``--out`` (``result.json`` also to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

__all__ = ["register", "run"]

log = logging.getLogger("gbi.detect")


def register(subparsers: argparse._SubParsersAction) -> None:
    from gbi.detect.config import DEFAULT_CUTS, METHODS

    p = subparsers.add_parser(
        "detect",
        help="resonant anomaly detection (CATHODE, latent CATHODE, idealized, supervised)",
        description="Train a sideband flow p(x|mjj), sample it in the signal region, train a "
        "k-fold classifier data vs generated and score every event; optional idealized and "
        "supervised references and an evaluation with truth labels.",
    )
    p.add_argument(
        "data", nargs="+", help="feature Parquet file(s) or 'gbi process' output folder(s)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--reference-background",
        nargs="+",
        default=None,
        metavar="FILE",
        help="independent background sample (idealized detector, test background)",
    )
    p.add_argument(
        "--signal",
        nargs="+",
        default=None,
        metavar="FILE",
        help="signal sample not in the data (supervised detector, test signal)",
    )
    p.add_argument(
        "--test",
        nargs="+",
        default=None,
        metavar="FILE",
        help="labelled test set (replaces the one built from the halves)",
    )
    p.add_argument(
        "--truth-label",
        default=None,
        metavar="COLUMN",
        help="truth column (1 signal, 0 background) for the evaluation",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=["cathode", "latent", "idealized", "supervised"],
    )
    p.add_argument("--classifier", choices=("hgb", "mlp"), default="hgb")
    p.add_argument("--max-iter", type=int, default=200, help="hgb boosting iterations")
    p.add_argument("--mlp-epochs", type=int, default=60)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--oversampling", type=float, default=4.0)
    p.add_argument("--flow", choices=("maf", "nsf"), default="maf")
    p.add_argument("--flow-epochs", type=int, default=30)
    p.add_argument("--flow-ensemble", type=int, default=1)
    p.add_argument(
        "--cuts",
        type=float,
        nargs="+",
        default=list(DEFAULT_CUTS),
        help="background efficiencies of the score cuts",
    )
    p.add_argument(
        "--sr", nargs=2, type=float, metavar=("LOW", "HIGH"), help="signal region in GeV"
    )
    p.add_argument("--regions", type=Path, metavar="REGIONS.json")
    p.add_argument("--min-sr-events", type=int, default=100)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="also write result.json here"
    )
    p.set_defaults(func=run)


def _read(paths: list[str] | None, what: str):
    """Concatenated feature table of Parquet files / process folders (``None`` if none)."""
    import numpy as np

    from gbi.errors import GbiInputError
    from gbi.tables import read_table

    if not paths:
        return None
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = sorted((entry / "features").glob("*.parquet")) or sorted(
                entry.glob("*.parquet")
            )
            if not found:
                raise GbiInputError(
                    f"{what}: folder {str(entry)!r} holds no Parquet feature files; run 'gbi process' first"
                )
            files += found
        else:
            files.append(entry)
    tables = [read_table(f) for f in files]
    common = set.intersection(*(set(t) for t in tables))
    return {k: np.concatenate([t[k] for t in tables]) for k in sorted(common)}


def run(args: argparse.Namespace) -> int:
    from gbi.classifiers import ClassifierConfig
    from gbi.cli.process import resolve_regions
    from gbi.detect import DetectConfig, run_detection, write_outputs
    from gbi.detect.config import DEFAULT_FEATURES
    from gbi.flows import FlowConfig, TrainConfig

    config = DetectConfig(
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
    data = _read(args.data, "data")
    result = run_detection(
        data,
        config=config,
        reference=_read(args.reference_background, "reference background"),
        signal=_read(args.signal, "signal"),
        test=_read(args.test, "test set"),
        truth_label=args.truth_label,
        flow_dir=args.out / "flow",
    )
    result.summary["inputs"] = {
        "data": list(args.data),
        "reference_background": args.reference_background,
        "signal": args.signal,
        "test": args.test,
        "truth_label": args.truth_label,
    }
    written = write_outputs(result, args.out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(written["result"].read_text())
    for message in result.summary["messages"]:
        log.warning(message)
    for name, info in result.summary["methods"].items():
        ev = info.get("evaluation") or {}
        sic = ev.get("max_sic")
        sic_text = "" if sic is None or not math.isfinite(sic) else f", max SIC {sic:.2f}"
        log.info("%s: %s%s", name, info["status"], sic_text)
    print(json.dumps({"out": str(args.out), "stages_s": result.summary["stages"]}))
    return 0
