"""Sampling at scale: streamed to Parquet, or filled into histograms on dask workers.

Memory is bounded by the batch size: :func:`write_samples` streams batches into a Parquet
file, :func:`fill_histogram` fills a :class:`hist.Hist` batch by batch, and
:func:`sample_histogram` splits the work into dask tasks with independent seeds
(:class:`numpy.random.SeedSequence` spawning) that each load the model, fill a histogram
and return only that histogram; the histograms are summed ("generate on demand, never
store the events").

>>> import hist, numpy as np, tempfile
>>> from gbi.flows import FlowConfig, TrainConfig, train_model
>>> rng = np.random.default_rng(0)
>>> d = tempfile.mkdtemp()
>>> _ = train_model({"a": rng.normal(size=300)}, FlowConfig(flow="maf", features=("a",),
...     transforms=1, hidden_features=(4,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=64), out_dir=d, progress=False)
>>> template = hist.Hist(hist.axis.Regular(10, -3, 3, name="a"), storage=hist.storage.Weight())
>>> h = sample_histogram(d, template, 1000, seed=1, n_tasks=2, scheduler="synchronous")
>>> float(h.sum(flow=True).value)
1000.0
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.flows.context import ContextSource
from gbi.flows.ensemble import FlowModel

__all__ = ["cached_model", "fill_histogram", "sample_histogram", "task_seeds", "write_samples"]


def task_seeds(seed: int, n_tasks: int) -> list[int]:
    """Independent 63-bit seeds for ``n_tasks`` tasks derived from ``seed``.

    >>> len(set(task_seeds(0, 4)))
    4
    """
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    return [int(c.generate_state(2, np.uint64)[0] >> np.uint64(1)) for c in children]


def write_samples(
    model: FlowModel,
    n: int,
    path: str | os.PathLike[str],
    *,
    context: ContextSource = None,
    seed: int = 0,
    batch_size: int = 16_384,
    progress: bool = False,
) -> Path:
    """Stream ``n`` generated events (float64 columns) to a Parquet file, atomically.

    Each event gets ``weight = 1``; the file has the feature and context columns.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from gbi.io import atomic_path

    columns = [*model.features, *model.context, "weight"]
    schema = pa.schema([(c, pa.float64()) for c in columns])
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        bar = tqdm(total=int(n), unit="event", disable=not progress, desc="sample")
        for batch in model.iter_batches(n, context=context, seed=seed, batch_size=batch_size):
            size = len(batch[model.features[0]])
            batch["weight"] = np.ones(size)
            writer.write_table(pa.table({c: batch[c] for c in columns}, schema=schema))
            bar.update(size)
        bar.close()
    return Path(path)


def fill_histogram(
    model: FlowModel,
    template: Any,
    n: int,
    *,
    context: ContextSource = None,
    seed: int = 0,
    batch_size: int = 16_384,
    weight: float = 1.0,
    member: int | None = None,
) -> Any:
    """Fill a copy of ``template`` (a ``hist.Hist`` whose axis names are columns) with ``n``
    generated events of weight ``weight``; the events are never kept."""
    names = [ax.name for ax in template.axes]
    available = set(model.features) | set(model.context)
    missing = [name for name in names if name not in available]
    if missing:
        raise GbiInputError(
            f"histogram axes: expected names among the model columns {sorted(available)}, "
            f"found {missing}; name the axes after generated columns"
        )
    h = template.copy()
    h.reset()
    for batch in model.iter_batches(
        n, context=context, seed=seed, batch_size=batch_size, member=member
    ):
        h.fill(**{name: batch[name] for name in names}, weight=weight)
    return h


@functools.lru_cache(maxsize=4)
def cached_model(directory: str, device: str = "cpu") -> FlowModel:
    """Load a model directory once per process and reuse it (dask workers, coffea processors).

    The cache is keyed by ``(directory, device)``; a retrained model needs a new directory
    (or ``cached_model.cache_clear()``).
    """
    return FlowModel.load(directory, device=device)


def _task(
    directory: str,
    device: str,
    template: Any,
    n: int,
    context: Any,
    seed: int,
    batch_size: int,
    weight: float,
) -> Any:
    model = cached_model(directory, device)
    return fill_histogram(
        model, template, n, context=context, seed=seed, batch_size=batch_size, weight=weight
    )


def sample_histogram(
    model_dir: str | os.PathLike[str],
    template: Any,
    n: int,
    *,
    context: ContextSource = None,
    seed: int = 0,
    n_tasks: int = 1,
    batch_size: int = 16_384,
    weight: float = 1.0,
    device: str = "cpu",
    scheduler: Any = None,
) -> Any:
    """Generate ``n`` events in ``n_tasks`` dask tasks and return the summed histogram.

    ``context`` must be ``None`` or a sampler (arrays would be copied into every task).
    ``scheduler`` is passed to :func:`dask.compute` (``None`` = the default or active
    ``distributed.Client``; ``"synchronous"``, ``"threads"``, ``"processes"``).
    """
    from gbi.errors import require_extra

    require_extra("dask", "dask", "distributed sampling")
    import dask

    if context is not None and isinstance(context, (np.ndarray, Mapping)):
        raise GbiInputError(
            "distributed sampling: expected no context or a context sampler (e.g. MjjKDE), "
            "found an array; arrays would be shipped to every task"
        )
    if n_tasks < 1:
        raise GbiInputError(f"n_tasks: expected >= 1, found {n_tasks}")
    sizes = [n // n_tasks + (1 if k < n % n_tasks else 0) for k in range(n_tasks)]
    task = dask.delayed(_task, pure=False)
    parts = [
        task(str(model_dir), device, template, size, context, s, batch_size, weight)
        for size, s in zip(sizes, task_seeds(seed, n_tasks), strict=True)
        if size > 0
    ]
    # pairwise tree reduction keeps the graph shallow for many tasks
    while len(parts) > 1:
        add = dask.delayed(lambda a, b: a + b, pure=True)
        parts = [
            add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    (result,) = dask.compute(parts[0], scheduler=scheduler)
    return result
