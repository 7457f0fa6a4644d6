"""File-to-file steps of ``gbi amplify``: train on a feature file, sample to a file, evaluate.

Each function reads its inputs (Parquet feature tables, a model directory), does one job
and writes its outputs atomically; the command line (:mod:`gbi.cli.amplify`) only parses
options and prints. Masses are in GeV, times in seconds.

>>> import numpy as np, tempfile, pathlib
>>> from gbi.tables import write_table
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_table({"a": np.random.default_rng(0).normal(size=400)}, d / "train.parquet")
>>> model = amplify_train(d / "train.parquet", d / "model", FlowConfig(flow="maf",
...     features=("a",), transforms=1, hidden_features=(4,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=64), progress=False)
>>> result = sample_to_file(d / "model", 100, d / "generated.parquet")
>>> result.n_events, result.path.name
(100, 'generated.parquet')
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gbi.flows.context import context_for_sampling, resample_context
from gbi.flows.ensemble import FlowModel
from gbi.flows.fitting import train_model
from gbi.flows.models import FlowConfig
from gbi.flows.training import TrainConfig
from gbi.flows.windows import Window, apply_windows
from gbi.tables import read_table, select_columns
from gbi.threads import thread_budget

__all__ = [
    "SampleResult",
    "amplify_train",
    "default_columns",
    "evaluate_model",
    "sample_to_file",
]

PathLike = str | os.PathLike[str]


def default_columns(context: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The modelled columns when none are given: the LHCO dijet features minus ``context``.

    >>> default_columns(["mjj"])
    ('mj1', 'delta_mj', 'tau21_j1', 'tau21_j2')
    """
    from gbi.features import FEATURE_COLUMNS

    return tuple(c for c in FEATURE_COLUMNS if c not in context)


def amplify_train(
    features_file: PathLike,
    out_dir: PathLike,
    config: FlowConfig,
    train: TrainConfig | None = None,
    *,
    ensemble: int = 1,
    bootstrap: bool = False,
    select: Window | None = None,
    exclude: Window | None = None,
    resume: bool = False,
    drop_invalid: bool = False,
    threads: int | None = 1,
    progress: bool = True,
) -> FlowModel:
    """Train a flow ensemble on the rows of ``features_file`` (Parquet) inside ``select`` and
    outside ``exclude`` (e.g. the mjj sidebands) and save it to ``out_dir``.

    A checkpoint per member is written to ``out_dir/checkpoints`` after every epoch, so an
    interrupted run continues with ``resume=True`` and the same arguments. ``threads`` caps
    torch's and the BLAS pools (``None``: every available core). See
    :func:`gbi.flows.fitting.train_model` for seeds and the bootstrap.
    """
    source = str(features_file)
    table = apply_windows(read_table(features_file), select=select, exclude=exclude, source=source)
    with thread_budget(threads):
        return train_model(
            table,
            config,
            train,
            ensemble=ensemble,
            bootstrap=bootstrap,
            out_dir=out_dir,
            resume=resume,
            drop_invalid=drop_invalid,
            source=source,
            progress=progress,
        )


@dataclass(frozen=True)
class SampleResult:
    """What :func:`sample_to_file` wrote: ``n_events`` rows to ``path`` in ``seconds``."""

    path: Path
    n_events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        """Sampling speed (events/s)."""
        return self.n_events / max(self.seconds, 1e-9)


def sample_to_file(
    model_dir: PathLike,
    n_events: int,
    out: PathLike,
    *,
    context_from: PathLike | None = None,
    context_kde: tuple[float, float] | None = None,
    seed: int = 0,
    batch_size: int = 16_384,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = False,
) -> SampleResult:
    """Generate ``n_events`` events of the model in ``model_dir`` into the Parquet file ``out``.

    A conditional model takes its context from ``context_from`` (Parquet): its rows in
    order, or with ``context_kde = (low, high)`` (GeV) a KDE of its one context column in
    that window (:class:`gbi.flows.context.MjjKDE`). ``threads``: CPU threads
    (``None``: the available cores, see :func:`gbi.threads.resolve_threads`).
    """
    from gbi.flows.sampling import write_samples

    with thread_budget(threads):
        model = FlowModel.load(model_dir, device=device)
        table = None if context_from is None else read_table(context_from)
        context = context_for_sampling(
            model.context, table, kde_window=context_kde, source=str(context_from)
        )
        start = time.perf_counter()
        path = write_samples(
            model,
            n_events,
            out,
            context=context,
            seed=seed,
            batch_size=batch_size,
            progress=progress,
        )
    return SampleResult(path, int(n_events), time.perf_counter() - start)


def evaluate_model(
    model_dir: PathLike,
    reference: PathLike,
    json_out: PathLike,
    *,
    plot_dir: PathLike | None = None,
    n_events: int | None = None,
    n_train: int | None = None,
    select: Window | None = None,
    drop_invalid: bool = False,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = 1,
) -> dict[str, Any]:
    """Fidelity of the model in ``model_dir`` against the real events of ``reference``
    (inside ``select``); writes the report to ``json_out`` and returns it.

    ``n_events`` generated events (default: as many as the reference; a conditional model
    takes the reference's context, resampled when more are asked for). ``n_train`` is the
    generator's training sample size for the amplification factor (default: every event
    the model was trained and validated on). Keys: see
    :func:`gbi.flows.evaluation.evaluate_samples`, plus ``model``, ``reference`` and
    ``sampling_events_per_second``.
    """
    from gbi.features import FEATURE_UNITS
    from gbi.flows.evaluation import evaluate_samples
    from gbi.io import write_json

    source = str(reference)
    with thread_budget(threads):
        model = FlowModel.load(model_dir, device=device)
        table = apply_windows(read_table(reference), select=select, source=source)
        columns = [*model.features, *model.context]
        data, _ = select_columns(table, columns, source=source, drop_invalid=drop_invalid)
        real = {c: data[:, j] for j, c in enumerate(columns)}
        n = n_events or len(data)
        context = None
        if model.context:
            context = resample_context(data[:, len(model.features) :], n, seed)
        start = time.perf_counter()
        generated = model.sample(n, context=context, seed=seed)
        sample_seconds = time.perf_counter() - start
        report = evaluate_samples(
            real,
            generated,
            model.features,
            context=model.context,
            n_train=n_train or model.metadata.get("training", {}).get("n_events"),
            seed=seed,
            plot_dir=plot_dir,
            units=FEATURE_UNITS,
        )
    report.update(
        {
            "model": str(model_dir),
            "reference": source,
            "sampling_events_per_second": n / max(sample_seconds, 1e-9),
        }
    )
    write_json(report, json_out)
    return report
