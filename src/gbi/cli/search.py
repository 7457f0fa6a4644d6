"""``gbi search``: scan the mjj spectrum with sliding signal regions (a bump hunt).

Usage::

    gbi search FEATURES... --out DIR (--windows START:STOP:STEP --width W | --windows FILE.json)
               [--sideband-width W] [--control-width W] [--columns mj1 delta_mj ...]
               [--quick] [--flow-epochs N] [--folds K] [--efficiency 0.02] [--seed S]
               [--executor iterative|futures|dask] [--workers N] [--scheduler ADDRESS]
               [--threads T] [--overwrite] [--no-progress]

FEATURES are Parquet feature files or ``gbi process`` output folders. Windows and outputs
are described in :mod:`gbi.search` (``DIR/search.json``, ``search.md``, the plots,
``windows/`` and ``workspaces/``). A rerun into the same ``--out`` computes only the windows
that are missing. Heavy imports (torch, pyhf) happen in :func:`run`, not at import.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

EXECUTORS = ("iterative", "futures", "dask")


def register(subparsers: argparse._SubParsersAction) -> None:
    from gbi.cli.options import add_drop_invalid_option

    p = subparsers.add_parser(
        "search",
        help="scan mjj with sliding signal regions: local and global significance, limits",
        description="For every mjj window: a sideband flow, generated SR background, the "
        "CATHODE classifier, a cut and the model-independent pyhf fit with its sideband "
        "control channel; then the global significance and the limits vs mass.",
    )
    p.add_argument("features", nargs="+", help="feature Parquet file(s) or 'gbi process' folder(s)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    w = p.add_argument_group("windows (GeV)")
    w.add_argument(
        "--windows",
        required=True,
        metavar="START:STOP:STEP|FILE",
        help="low edges START, START+STEP, ... of windows [s, s+WIDTH) inside [START, STOP], "
        "or a windows-1.0 JSON file",
    )
    w.add_argument("--width", type=float, help="window width with START:STOP:STEP")
    w.add_argument(
        "--sideband-width",
        type=float,
        default=None,
        help="sidebands: the data within this many GeV on each side (default: all the rest)",
    )
    w.add_argument(
        "--control-width",
        type=float,
        default=None,
        help="control windows next to the SR for the closure fit (default: half the width)",
    )
    w.add_argument("--range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=None)
    s = p.add_argument_group("per-window settings")
    s.add_argument("--columns", nargs="+", default=None, help="feature columns (default: LHCO)")
    s.add_argument("--quick", action="store_true", help="small flows and classifiers (seconds)")
    s.add_argument("--flow", choices=("maf", "nsf"), default=None)
    s.add_argument("--flow-epochs", type=int, default=None)
    s.add_argument("--flow-ensemble", type=int, default=None)
    s.add_argument("--oversampling", type=float, default=None)
    s.add_argument("--classifier", choices=("hgb", "xgb", "mlp"), default=None)
    s.add_argument("--max-iter", type=int, default=None, help="hgb boosting iterations")
    s.add_argument("--folds", type=int, default=None)
    s.add_argument("--efficiency", type=float, default=None, help="background fraction kept")
    s.add_argument("--min-sr-events", type=int, default=None)
    s.add_argument("--min-sideband-events", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    add_drop_invalid_option(s)
    s.add_argument(
        "--signal-grid",
        nargs="+",
        default=None,
        metavar="DIR",
        help="simulated signal grid (files or folders of 'gbi generate --mX-grid ...'): also "
        "fit the grid's signals in each window it reaches (parametrized classifier)",
    )
    s.add_argument(
        "--parametrized-epochs", type=int, default=None, help="parametrized classifier epochs"
    )
    s.add_argument(
        "--truth-label",
        default=None,
        metavar="COLUMN",
        help="truth column (1 = signal) reported per window; never an input",
    )
    e = p.add_argument_group("execution")
    e.add_argument("--executor", choices=EXECUTORS, default="iterative")
    e.add_argument("--workers", type=int, default=1)
    e.add_argument("--scheduler", default=None, metavar="ADDRESS", help="existing dask cluster")
    e.add_argument("--threads", type=int, default=None, help="threads per window (cores/workers)")
    e.add_argument("--global-toys", type=int, default=100_000)
    e.add_argument("--overwrite", action="store_true", help="recompute windows of another config")
    e.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _grid(args: argparse.Namespace):
    from gbi.errors import GbiInputError
    from gbi.search import WindowGrid

    extra = {
        "sideband_width": args.sideband_width,
        "control_width": args.control_width,
        "mjj_range": tuple(args.range) if args.range else None,
    }
    if Path(args.windows).suffix == ".json" or Path(args.windows).is_file():
        grid = WindowGrid.from_json(args.windows)
        given = {k: v for k, v in extra.items() if v is not None}
        return dataclasses.replace(grid, **given) if given else grid
    if args.width is None:
        raise GbiInputError(
            f"--windows {args.windows!r} needs --width (the window width in GeV), e.g. --width 400"
        )
    return WindowGrid.from_range(args.windows, args.width, **extra)


def _config(args: argparse.Namespace):
    from gbi.search import WindowConfig

    base = WindowConfig.small() if args.quick else WindowConfig()
    changes: dict[str, Any] = {"seed": args.seed}
    if args.columns:
        changes["features"] = tuple(args.columns)
    for option, field in (
        ("flow", "flow"),
        ("flow_ensemble", "flow_ensemble"),
        ("oversampling", "oversampling"),
        ("folds", "n_folds"),
        ("efficiency", "efficiency"),
        ("min_sr_events", "min_sr_events"),
        ("min_sideband_events", "min_sideband_events"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    if args.parametrized_epochs is not None:
        changes["parametrized_epochs"] = args.parametrized_epochs
    if args.flow_epochs is not None:
        changes["flow_train"] = dataclasses.replace(base.flow_train, epochs=args.flow_epochs)
    clf = {k: v for k, v in (("kind", args.classifier), ("max_iter", args.max_iter)) if v}
    if clf:
        changes["classifier"] = dataclasses.replace(base.classifier, **clf)
    return dataclasses.replace(base, **changes)


def _signal_grid(args: argparse.Namespace):
    """The ``--signal-grid`` files, whole (each window splits them anew), or ``None``."""
    if not args.signal_grid:
        return None
    from gbi.infer.signal_grid import load_signal_grid
    from gbi.regions import Regions

    return load_signal_grid(args.signal_grid, regions=Regions())


def run(args: argparse.Namespace) -> int:
    from gbi.background import read_features
    from gbi.errors import GbiInputError
    from gbi.search import run_search

    grid = _grid(args)
    config = _config(args)
    features = read_features(
        args.features,
        "search input",
        columns=("mjj", *config.features),
        drop_invalid=args.drop_invalid,
    )
    assert features is not None  # argparse requires at least one path
    data = dict(features.table)
    label = data.pop("label", None)
    if args.truth_label:
        if args.truth_label == "label" and label is not None:
            data["label"] = label
        elif args.truth_label in data:
            data["label"] = data.pop(args.truth_label)
        else:
            raise GbiInputError(
                f"--truth-label {args.truth_label!r}: no such column, found {sorted(data)}"
            )
    result = run_search(
        data,
        grid,
        config,
        out_dir=args.out,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        threads=args.threads,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        global_toys=args.global_toys,
        signal_grid=_signal_grid(args),
    )
    counts = {s: sum(w.status == s for w in result.windows) for s in ("ok", "skipped", "failed")}
    print(f"gbi search: {len(result.windows)} windows ({counts}) -> {args.out}/search.json")
    best, g = result.best, result.global_significance
    if best is not None and g is not None:
        print(
            f"best window {best.low:g}-{best.high:g} GeV: local significance "
            f"{best.local_significance:.2f} sigma; global {g['significance']:.2f} sigma "
            f"(p = {g['p_value']:.3g})"
        )
    for w in result.windows:
        if w.status != "ok":
            print(f"  {w.name}: {w.status}: {w.message}")
    return 0
