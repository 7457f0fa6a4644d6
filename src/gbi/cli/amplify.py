"""``gbi amplify``: train, sample and evaluate flow generators.

::

    gbi amplify train FEATURES --out MODEL_DIR [--flow maf|nsf] [--context mjj] [--ensemble K]
                      [--device auto|cpu|cuda] [--epochs N] [--batch-size N] [--resume]
                      [--drop-invalid]
    gbi amplify sample MODEL_DIR --events N --out FILE [--context-from FILE]
                      [--context-kde LOW HIGH] [--seed S]
    gbi amplify evaluate MODEL_DIR --reference FILE --json OUT [--plots DIR]
                      [--events N] [--n-train N]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

__all__ = ["register"]

# Defaults shown by --help; equal to TrainConfig()/FlowConfig() (checked by the tests). Kept
# here so that building the parser does not import torch.
_TRAIN_DEFAULTS = argparse.Namespace(
    epochs=40, batch_size=512, learning_rate=3e-4, patience=10, val_fraction=0.2
)
_FLOW_DEFAULTS = argparse.Namespace(
    transforms=4, hidden_features=(64, 64), bins=8, preprocessing="logit"
)

log = logging.getLogger("gbi.amplify")


def register(subparsers: Any) -> None:
    """Add the ``amplify`` command with its ``train``/``sample``/``evaluate`` subcommands."""
    parser = subparsers.add_parser(
        "amplify",
        help="normalizing-flow generators: train, sample, evaluate",
        description="Train conditional normalizing flows on feature files, generate "
        "amplified samples and measure their fidelity.",
    )
    sub = parser.add_subparsers(dest="amplify_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 1)[1])

    train = sub.add_parser("train", help="train a flow (ensemble) on a feature Parquet file")
    train.add_argument("features", type=Path, metavar="FEATURES", help="feature Parquet file")
    train.add_argument("--out", type=Path, required=True, help="model directory to write")
    train.add_argument(
        "--flow", choices=("maf", "nsf"), default="nsf", help="flow kind (default nsf)"
    )
    train.add_argument(
        "--columns",
        nargs="+",
        default=None,
        help="modelled columns (default: the LHCO features minus --context)",
    )
    train.add_argument("--context", nargs="*", default=[], help="conditioning columns, e.g. mjj")
    train.add_argument("--ensemble", type=int, default=1, metavar="K", help="number of flows")
    train.add_argument(
        "--bootstrap",
        action="store_true",
        help="train every member on a bootstrap resample (ensemble spread = "
        "statistical uncertainty of the training sample)",
    )
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t, f = _TRAIN_DEFAULTS, _FLOW_DEFAULTS
    train.add_argument("--epochs", type=int, default=t.epochs, help=f"max epochs ({t.epochs})")
    train.add_argument("--batch-size", type=int, default=t.batch_size, help=f"({t.batch_size})")
    train.add_argument(
        "--learning-rate", type=float, default=t.learning_rate, help=f"({t.learning_rate})"
    )
    train.add_argument(
        "--patience", type=int, default=t.patience, help=f"early stopping ({t.patience})"
    )
    train.add_argument(
        "--val-fraction", type=float, default=t.val_fraction, help=f"({t.val_fraction})"
    )
    train.add_argument("--transforms", type=int, default=f.transforms, help=f"({f.transforms})")
    train.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=list(f.hidden_features),
        help=f"MADE hidden widths ({' '.join(map(str, f.hidden_features))})",
    )
    train.add_argument("--bins", type=int, default=f.bins, help=f"spline bins, nsf ({f.bins})")
    train.add_argument(
        "--preprocessing",
        default=f.preprocessing,
        choices=("logit", "standard", "minmax", "quantile"),
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--select",
        nargs=3,
        metavar=("COLUMN", "LOW", "HIGH"),
        default=None,
        help="keep events with LOW <= COLUMN < HIGH",
    )
    train.add_argument(
        "--exclude",
        nargs=3,
        metavar=("COLUMN", "LOW", "HIGH"),
        default=None,
        help="drop events with LOW <= COLUMN < HIGH (e.g. the signal region)",
    )
    train.add_argument("--drop-invalid", action="store_true", help="drop NaN/inf rows (counted)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    train.add_argument("--no-progress", action="store_true")
    _add_threads_option(train)
    train.set_defaults(func=_train)

    sample = sub.add_parser("sample", help="generate events into a Parquet file")
    sample.add_argument("model", type=Path, metavar="MODEL_DIR")
    sample.add_argument("--events", type=int, required=True)
    sample.add_argument("--out", type=Path, required=True, help="output Parquet file")
    sample.add_argument(
        "--context-from",
        type=Path,
        default=None,
        help="Parquet file with the context columns (rows reused in order)",
    )
    sample.add_argument(
        "--context-kde",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=None,
        help="draw the context from a KDE of --context-from in [LOW, HIGH]",
    )
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--batch-size", type=int, default=16_384)
    sample.add_argument("--device", default="auto")
    _add_threads_option(sample)
    sample.set_defaults(func=_sample)

    evaluate = sub.add_parser("evaluate", help="fidelity metrics against a reference file")
    evaluate.add_argument("model", type=Path, metavar="MODEL_DIR")
    evaluate.add_argument("--reference", type=Path, required=True, help="real Parquet file")
    evaluate.add_argument("--json", type=Path, required=True, help="metrics JSON to write")
    evaluate.add_argument("--plots", type=Path, default=None, help="plot directory")
    evaluate.add_argument(
        "--events",
        type=int,
        default=None,
        help="generated events (default: as many as the reference)",
    )
    evaluate.add_argument(
        "--n-train",
        type=int,
        default=None,
        help="training events for the amplification factor (default: from the model)",
    )
    evaluate.add_argument(
        "--select",
        nargs=3,
        metavar=("COLUMN", "LOW", "HIGH"),
        default=None,
        help="restrict the reference to LOW <= COLUMN < HIGH",
    )
    evaluate.add_argument("--drop-invalid", action="store_true")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="auto")
    _add_threads_option(evaluate)
    evaluate.set_defaults(func=_evaluate)


def _add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch (default 1: small flows gain little from more, "
        "and lose a lot on a shared machine)",
    )


def _set_threads(threads: int) -> None:
    import torch

    from gbi.errors import GbiInputError

    if threads < 1:
        raise GbiInputError(f"--threads: expected >= 1, found {threads}")
    torch.set_num_threads(threads)


def _window(
    table: dict[str, Any], spec: list[str] | None, *, exclude: bool, source: str
) -> dict[str, Any]:
    import numpy as np

    from gbi.errors import GbiInputError

    if spec is None:
        return table
    column, low, high = spec[0], float(spec[1]), float(spec[2])
    if column not in table:
        raise GbiInputError(
            f"{source}: expected column {column!r} for the selection, found only {sorted(table)}"
        )
    values = np.asarray(table[column], dtype=np.float64)
    inside = (values >= low) & (values < high)
    keep = ~inside if exclude else inside
    return {k: np.asarray(v)[keep] for k, v in table.items()}


def _train(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    from gbi.features import FEATURE_COLUMNS
    from gbi.flows import FlowConfig, TrainConfig, train_model
    from gbi.tables import read_table

    table = read_table(args.features)
    table = _window(table, args.select, exclude=False, source=str(args.features))
    table = _window(table, args.exclude, exclude=True, source=str(args.features))
    columns = args.columns or [c for c in FEATURE_COLUMNS if c not in args.context]
    config = FlowConfig(
        flow=args.flow,
        features=tuple(columns),
        context=tuple(args.context),
        transforms=args.transforms,
        hidden_features=tuple(args.hidden),
        bins=args.bins,
        preprocessing=args.preprocessing,
    )
    train = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
    )
    start = time.perf_counter()
    model = train_model(
        table,
        config,
        train,
        ensemble=args.ensemble,
        bootstrap=args.bootstrap,
        out_dir=args.out,
        resume=args.resume,
        drop_invalid=args.drop_invalid,
        source=str(args.features),
        progress=not args.no_progress,
    )
    info = model.metadata["training"]
    if info["dropped_invalid"]:
        log.warning(
            "dropped %d events with NaN/inf values from %s", info["dropped_invalid"], args.features
        )
    for k, m in enumerate(model.metadata["members"]):
        log.info(
            "member %d: best epoch %d, validation loss %.4f, %d epochs, %.1f s",
            k,
            m["best_epoch"],
            m["best_val_loss"],
            m["epochs_run"],
            m["train_seconds"],
        )
    log.info(
        "trained %d flow(s) on %d events in %.1f s -> %s",
        len(model),
        info["n_events"],
        time.perf_counter() - start,
        args.out,
    )
    return 0


def _context_source(model: Any, path: Path | None, kde: list[float] | None) -> Any:
    from gbi.errors import GbiInputError
    from gbi.flows.context import MjjKDE
    from gbi.tables import read_table, select_columns

    if not model.context:
        if path is not None:
            raise GbiInputError("--context-from: the model is unconditional; drop --context-from")
        return None
    if path is None:
        raise GbiInputError(
            f"--context-from: the model is conditional on {list(model.context)}, found no "
            "context file; pass --context-from FILE (with --context-kde LOW HIGH for a KDE)"
        )
    table = read_table(path)
    values, _ = select_columns(
        table, model.context, source=str(path), role="context", drop_invalid=True
    )
    if kde is None:
        return values
    if values.shape[1] != 1:
        raise GbiInputError(
            f"--context-kde: expected one context column, found {list(model.context)}"
        )
    return MjjKDE(values[:, 0], low=kde[0], high=kde[1])


def _sample(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    from gbi.flows import load_model
    from gbi.flows.sampling import write_samples

    model = load_model(args.model, device=args.device)
    context = _context_source(model, args.context_from, args.context_kde)
    start = time.perf_counter()
    write_samples(
        model,
        args.events,
        args.out,
        context=context,
        seed=args.seed,
        batch_size=args.batch_size,
        progress=True,
    )
    seconds = time.perf_counter() - start
    log.info(
        "wrote %d events to %s in %.1f s (%.0f events/s)",
        args.events,
        args.out,
        seconds,
        args.events / max(seconds, 1e-9),
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    import numpy as np

    from gbi.features import FEATURE_UNITS
    from gbi.flows import load_model
    from gbi.flows.evaluation import evaluate_samples
    from gbi.io import write_json
    from gbi.tables import read_table, select_columns

    model = load_model(args.model, device=args.device)
    table = _window(
        read_table(args.reference), args.select, exclude=False, source=str(args.reference)
    )
    columns = [*model.features, *model.context]
    data, _ = select_columns(
        table, columns, source=str(args.reference), drop_invalid=args.drop_invalid
    )
    real = {c: data[:, j] for j, c in enumerate(columns)}
    n = args.events or len(data)
    context = None
    if model.context:
        context = np.stack([real[c] for c in model.context], 1)
        if n > len(context):
            context = context[np.random.default_rng(args.seed).integers(len(context), size=n)]
    start = time.perf_counter()
    generated = model.sample(n, context=context, seed=args.seed)
    sample_seconds = time.perf_counter() - start
    # every real event the generator consumed (training + validation split) counts
    n_train = args.n_train or model.metadata.get("training", {}).get("n_events")
    report = evaluate_samples(
        real,
        generated,
        model.features,
        context=model.context,
        n_train=n_train,
        seed=args.seed,
        plot_dir=args.plots,
        units=FEATURE_UNITS,
    )
    report.update(
        {
            "model": str(args.model),
            "reference": str(args.reference),
            "sampling_events_per_second": n / max(sample_seconds, 1e-9),
        }
    )
    write_json(report, args.json)
    log.info(
        "c2st AUC %.4f +- %.4f, amplification factor %s%.2f (%s); wrote %s",
        report["c2st_auc"],
        report["c2st_auc_err"],
        ">" if report.get("amplification_factor_lower_limit") else "",
        report["amplification_factor"],
        report.get("amplification_factor_feature"),
        args.json,
    )
    return 0
