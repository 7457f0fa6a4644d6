"""``gbi amplify``: train, sample and evaluate flow generators.

::

    gbi amplify train FEATURES --out MODEL_DIR [--flow maf|nsf] [--passes N|none|auto]
                      [--context mjj] [--ensemble K]
                      [--exclude mjj LOW HIGH] [--device auto|cpu|cuda] [--epochs N]
                      [--batch-size N] [--resume] [--drop-invalid]
    gbi amplify sample MODEL_DIR --events N --out FILE [--context-from FILE]
                      [--context-kde LOW HIGH] [--seed S]
    gbi amplify evaluate MODEL_DIR --reference FILE --json OUT [--plots DIR]
                      [--events N] [--n-train N]

Each subcommand parses its options, calls one function of :mod:`gbi.flows.amplify`
(:func:`~gbi.flows.amplify.amplify_train`, :func:`~gbi.flows.amplify.sample_to_file`,
:func:`~gbi.flows.amplify.evaluate_model`) and prints what it did. torch and zuko are
imported only when a subcommand runs, so that ``gbi --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gbi.flows.windows import Window

__all__ = ["register", "resume_command"]

# Defaults shown by --help; equal to TrainConfig()/FlowConfig() (checked by the tests). Kept
# here so that building the parser does not import torch.
_TRAIN_DEFAULTS = argparse.Namespace(
    epochs=40, batch_size=2048, learning_rate=1e-3, patience=10, val_fraction=0.2
)
_FLOW_DEFAULTS = argparse.Namespace(
    flow="nsf", passes="auto", transforms=4, hidden_features=(64, 64), bins=8, preprocessing="logit"
)
_SAMPLE_BATCH = 16_384

log = logging.getLogger("gbi.amplify")


class _Options:
    """Adds arguments to a parser and keeps their actions, to rebuild a command line."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        self.actions: list[argparse.Action] = []

    def add(self, *flags: str, **kwargs: Any) -> None:
        self.actions.append(self.parser.add_argument(*flags, **kwargs))


def resume_command(args: argparse.Namespace, actions: list[argparse.Action]) -> str:
    """The ``gbi amplify train`` command line of ``args`` with ``--resume`` (shell-quoted):
    positionals, required options and every option that differs from its default."""
    words = ["gbi", "amplify", "train"]
    for action in actions:
        value = getattr(args, action.dest)
        if not action.option_strings:
            words.append(str(value))
        elif action.nargs == 0:  # a flag
            words.extend([action.option_strings[-1]] if value else [])
        elif action.dest == "passes" and value != action.default:
            words.extend([action.option_strings[-1], "none" if value is None else str(value)])
        elif value is not None and (action.required or value != action.default):
            values = value if isinstance(value, list | tuple) else [value]
            words.extend([action.option_strings[-1], *map(str, values)])
    if not args.resume:
        words.append("--resume")
    return shlex.join(words)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {value}")
    return value


def _passes(text: str) -> int | str | None:
    """``--passes``: a positive integer, ``none`` (fully autoregressive) or ``auto``."""
    if text.strip().lower() == "none":
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, 'none' or 'auto', found {text!r}"
        ) from None


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
    _add_train(sub)
    _add_sample(sub)
    _add_evaluate(sub)


def _add_common(opt: _Options, what: str, *, all_cores: bool = False) -> None:
    """``--seed``, ``--device`` and ``--threads``; ``all_cores``: ``--threads`` defaults to
    the available cores (sampling scales with them) instead of 1."""
    opt.add("--seed", type=int, default=0, help=f"seed of {what} [default: %(default)s]")
    opt.add(
        "--device",
        default="auto",
        help="auto (CUDA when available), cpu or cuda [default: %(default)s]",
    )
    if all_cores:
        threads_help = (
            "CPU threads for torch and BLAS (sampling gains from every core; pass 1 on a "
            "shared machine) [default: the available cores]"
        )
    else:
        threads_help = (
            "CPU threads for torch and BLAS (small flows gain little from more, and lose a "
            "lot on a shared machine) [default: %(default)s]"
        )
    opt.add(
        "--threads",
        type=_positive_int,
        default=None if all_cores else 1,
        help=threads_help,
    )


def _add_train(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train a flow (ensemble) on a feature Parquet file",
        description="Train a flow ensemble; checkpoints are written to MODEL_DIR/checkpoints "
        "after every epoch, so an interrupted run continues with --resume.",
    )
    opt, t = _Options(parser), _TRAIN_DEFAULTS
    opt.add("features", type=Path, metavar="FEATURES", help="feature Parquet file")
    opt.add("--out", type=Path, required=True, metavar="MODEL_DIR", help="model folder to write")
    opt.add(
        "--flow",
        choices=("maf", "nsf"),
        default=_FLOW_DEFAULTS.flow,
        help="flow kind: maf (affine) or nsf (splines) [default: %(default)s]",
    )
    opt.add(
        "--columns",
        nargs="+",
        default=None,
        help="modelled columns [default: mjj mj1 delta_mj tau21_j1 tau21_j2 minus --context]",
    )
    opt.add(
        "--context", nargs="*", default=[], help="conditioning columns, e.g. mjj [default: none]"
    )
    opt.add("--ensemble", type=_positive_int, default=1, metavar="K", help="flows [default: 1]")
    opt.add(
        "--bootstrap",
        action="store_true",
        help="train every member on a bootstrap resample (ensemble spread = statistical "
        "uncertainty of the training sample) [default: off]",
    )
    opt.add("--epochs", type=int, default=t.epochs, help="max epochs [default: %(default)s]")
    opt.add(
        "--batch-size",
        type=int,
        default=t.batch_size,
        help="events per gradient step [default: %(default)s]",
    )
    opt.add(
        "--learning-rate", type=float, default=t.learning_rate, help="Adam [default: %(default)s]"
    )
    opt.add(
        "--patience",
        type=int,
        default=t.patience,
        help="early stopping: epochs without improvement [default: %(default)s]",
    )
    opt.add(
        "--val-fraction",
        type=float,
        default=t.val_fraction,
        help="validation share of the events [default: %(default)s]",
    )
    _add_flow_options(opt)
    for flag, what, default in (("--select", "keep", "all"), ("--exclude", "drop", "none")):
        opt.add(
            flag,
            nargs=3,
            metavar=("COLUMN", "LOW", "HIGH"),
            default=None,
            help=f"{what} the events with LOW <= COLUMN < HIGH, e.g. the signal region "
            f"mjj 3300 3700 (GeV) [default: {default}]",
        )
    opt.add("--drop-invalid", action="store_true", help="drop NaN/inf rows, counted [default: off]")
    opt.add("--resume", action="store_true", help="continue from the checkpoints [default: off]")
    opt.add("--no-progress", action="store_true", help="no progress bar [default: shown]")
    _add_common(opt, "initialisation, split and shuffling")
    parser.set_defaults(func=lambda args: _train(args, opt.actions))


def _add_flow_options(opt: _Options) -> None:
    f = _FLOW_DEFAULTS
    opt.add(
        "--transforms",
        type=int,
        default=f.transforms,
        help="autoregressive transforms [default: %(default)s]",
    )
    opt.add(
        "--hidden",
        type=int,
        nargs="+",
        default=list(f.hidden_features),
        help=f"MADE hidden widths [default: {' '.join(map(str, f.hidden_features))}]",
    )
    opt.add("--bins", type=int, default=f.bins, help="spline bins, nsf [default: %(default)s]")
    opt.add(
        "--passes",
        type=_passes,
        default=f.passes,
        help="network passes to invert a transform: 2 = coupling (fastest sampling), none = "
        "fully autoregressive (one per feature), auto = 3 for nsf, none for maf "
        "[default: %(default)s]",
    )
    opt.add(
        "--preprocessing",
        default=f.preprocessing,
        choices=("logit", "standard", "minmax", "quantile"),
        help="per-feature transform [default: %(default)s]",
    )


def _add_sample(sub: Any) -> None:
    parser = sub.add_parser("sample", help="generate events into a Parquet file")
    opt = _Options(parser)
    opt.add("model", type=Path, metavar="MODEL_DIR", help="folder written by gbi amplify train")
    opt.add("--events", type=_positive_int, required=True, help="events to generate")
    opt.add("--out", type=Path, required=True, help="output Parquet file")
    opt.add(
        "--context-from",
        type=Path,
        default=None,
        help="Parquet file with the context columns, rows reused in order (needed for a "
        "conditional model) [default: none]",
    )
    opt.add(
        "--context-kde",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=None,
        help="draw the context from a KDE of --context-from in [LOW, HIGH] (GeV) [default: off]",
    )
    opt.add(
        "--batch-size",
        type=_positive_int,
        default=_SAMPLE_BATCH,
        help="events generated per batch (bounds the memory) [default: %(default)s]",
    )
    _add_common(opt, "the sampling", all_cores=True)
    parser.set_defaults(func=_sample)


def _add_evaluate(sub: Any) -> None:
    parser = sub.add_parser("evaluate", help="fidelity metrics against a reference file")
    opt = _Options(parser)
    opt.add("model", type=Path, metavar="MODEL_DIR", help="folder written by gbi amplify train")
    opt.add("--reference", type=Path, required=True, help="real events, Parquet file")
    opt.add("--json", type=Path, required=True, help="metrics JSON file to write")
    opt.add("--plots", type=Path, default=None, help="plot folder [default: no plots]")
    opt.add(
        "--events",
        type=_positive_int,
        default=None,
        help="generated events [default: as many as the reference]",
    )
    opt.add(
        "--n-train",
        type=_positive_int,
        default=None,
        help="training events for the amplification factor [default: from the model]",
    )
    opt.add(
        "--select",
        nargs=3,
        metavar=("COLUMN", "LOW", "HIGH"),
        default=None,
        help="restrict the reference to LOW <= COLUMN < HIGH [default: all events]",
    )
    opt.add("--drop-invalid", action="store_true", help="drop NaN/inf rows, counted [default: off]")
    _add_common(opt, "the sampling and the classifier test")
    parser.set_defaults(func=_evaluate)


def _window(spec: list[str] | None, option: str) -> Window | None:
    from gbi.flows.windows import Window

    return None if spec is None else Window.parse(spec, option)


def _train(args: argparse.Namespace, actions: list[argparse.Action]) -> int:
    from gbi.flows import FlowConfig, TrainConfig, amplify_train
    from gbi.flows.amplify import default_columns

    config = FlowConfig(
        flow=args.flow,
        features=tuple(args.columns or default_columns(args.context)),
        context=tuple(args.context),
        transforms=args.transforms,
        hidden_features=tuple(args.hidden),
        bins=args.bins,
        passes=args.passes,
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
    try:
        model = amplify_train(
            args.features,
            args.out,
            config,
            train,
            ensemble=args.ensemble,
            bootstrap=args.bootstrap,
            select=_window(args.select, "--select"),
            exclude=_window(args.exclude, "--exclude"),
            resume=args.resume,
            drop_invalid=args.drop_invalid,
            threads=args.threads,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        print(
            f"gbi amplify train: interrupted; the checkpoints in {args.out / 'checkpoints'} "
            f"are kept and the training can be resumed with:\n  {resume_command(args, actions)}",
            file=sys.stderr,
        )
        return 130
    _log_training(model.metadata, args, time.perf_counter() - start)
    return 0


def _log_training(metadata: dict[str, Any], args: argparse.Namespace, seconds: float) -> None:
    info = metadata["training"]
    if info["dropped_invalid"]:
        log.warning(
            "dropped %d events with NaN/inf values from %s", info["dropped_invalid"], args.features
        )
    for k, m in enumerate(metadata["members"]):
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
        len(metadata["members"]),
        info["n_events"],
        seconds,
        args.out,
    )


def _sample(args: argparse.Namespace) -> int:
    from gbi.flows import sample_to_file

    result = sample_to_file(
        args.model,
        args.events,
        args.out,
        context_from=args.context_from,
        context_kde=None if args.context_kde is None else tuple(args.context_kde),
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        threads=args.threads,
        progress=True,
    )
    log.info(
        "wrote %d events to %s in %.1f s (%.0f events/s)",
        result.n_events,
        result.path,
        result.seconds,
        result.events_per_second,
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gbi.flows import evaluate_model

    report = evaluate_model(
        args.model,
        args.reference,
        args.json,
        plot_dir=args.plots,
        n_events=args.events,
        n_train=args.n_train,
        select=_window(args.select, "--select"),
        drop_invalid=args.drop_invalid,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
    )
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
