"""File-by-file, resumable generation with a progress bar and an optional process pool."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gbi.errors import GbiError, GbiInputError, require_extra
from gbi.generate.nsubjettiness import DEFAULT_NSUB_AXES, check_axes
from gbi.generate.pythia_config import ProcessConfig, file_seed, pythia_settings
from gbi.generate.writer import event_columns, existing_file, write_events

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_EVENTS_PER_FILE",
    "FileJob",
    "GenerateResult",
    "generate",
    "generate_file",
    "plan_files",
]

log = logging.getLogger(__name__)

DEFAULT_EVENTS_PER_FILE = 10_000
DEFAULT_BATCH_SIZE = 500
_MAX_SEED = 2**32 - 1
#: Give up on a file when fewer than this fraction of generated events pass the selection.
_MIN_EFFICIENCY = 1e-3


@dataclass(frozen=True)
class FileJob:
    """One output file: ``events`` kept events with Pythia seed ``file_seed(seed, index)``,
    N-subjettiness with the axes ``nsub_axes``."""

    config: ProcessConfig
    seed: int
    index: int
    events: int
    path: Path
    nsub_axes: str = DEFAULT_NSUB_AXES


@dataclass
class GenerateResult:
    """What :func:`generate` did. ``rate`` is kept events per second of wall time."""

    files: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    events_generated: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events_generated / self.seconds if self.seconds > 0 else 0.0


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise GbiInputError(f"{name} must be a positive integer, got {value!r}")
    return value


def plan_files(
    config: ProcessConfig, events: int, out: str | os.PathLike[str], seed: int, events_per_file: int
) -> list[FileJob]:
    """Split ``events`` into files ``out/{tag}_{seed}_{index:03d}.root``.

    >>> jobs = plan_files(ProcessConfig.create("qcd"), 25, "o", seed=3, events_per_file=10)
    >>> [(j.path.name, j.events) for j in jobs]
    [('qcd_3_000.root', 10), ('qcd_3_001.root', 10), ('qcd_3_002.root', 5)]
    """
    n_files = math.ceil(events / events_per_file)
    out = Path(out)
    return [
        FileJob(
            config=config,
            seed=seed,
            index=i,
            events=min(events_per_file, events - i * events_per_file),
            path=out / f"{config.tag}_{seed}_{i:03d}.root",
        )
        for i in range(n_files)
    ]


def _make_pythia(config: ProcessConfig, seed: int) -> Any:
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(config, seed):
        if not pythia.readString(line):
            raise GbiError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise GbiError(f"Pythia failed to initialise for process {config.process!r}")
    return pythia


def generate_file(
    job: FileJob,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> Path:
    """Generate one file of ``job.events`` kept events and write it atomically.

    Events are made in batches (at most ``batch_size``, smaller near the end so that few
    events are wasted); each batch is clustered and selected at once. ``progress(n)`` is
    called with the number of events kept after each batch.
    """
    import awkward as ak

    from gbi.generate.events import select_batch

    pythia = _make_pythia(job.config, file_seed(job.seed, job.index))
    chunks: list[ak.Array] = []
    kept = tried = 0
    while kept < job.events:
        remaining = job.events - kept
        efficiency = max(kept / tried, 0.05) if tried else 0.5
        n_batch = min(batch_size, max(16, math.ceil(1.2 * remaining / efficiency)))
        batch = pythia.nextBatch(n_batch)
        tried += n_batch
        jets = select_batch(batch, nsub_axes=job.nsub_axes)[:remaining]
        if len(jets):
            chunks.append(jets)
            kept += len(jets)
            if progress is not None:
                progress(len(jets))
        if tried >= 10_000 and kept < _MIN_EFFICIENCY * tried:
            raise GbiError(
                f"only {kept} of {tried} generated {job.config.process} events pass the "
                "selection; check the process parameters"
            )
    jets = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    columns = event_columns(jets, seed=job.seed, index=job.index, label=job.config.label)
    return write_events(columns, job.path, job.nsub_axes)


def _worker(job: FileJob, batch_size: int, progress_queue: Any) -> Path:
    return generate_file(job, batch_size, progress=progress_queue.put)


def _run_pool(
    jobs: list[FileJob], workers: int, batch_size: int, update: Callable[[int], object]
) -> None:
    context = multiprocessing.get_context("spawn")
    with (
        context.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        progress_queue = manager.Queue()
        futures = [pool.submit(_worker, job, batch_size, progress_queue) for job in jobs]
        pending = set(futures)
        try:
            while pending:
                with contextlib.suppress(queue_module.Empty):
                    update(progress_queue.get(timeout=0.2))
                done = {f for f in pending if f.done()}
                for future in done:
                    future.result()  # re-raise a worker's error
                pending -= done
            while not progress_queue.empty():
                update(progress_queue.get())
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _is_complete(job: FileJob) -> bool:
    """Whether ``job.path`` exists with the expected events and axes (``False``: no file);
    an existing file that differs is an error, never overwritten nor read as complete."""
    found = existing_file(job.path)
    if found is not None and found != (job.events, job.nsub_axes):
        raise GbiInputError(
            f"existing output file {str(job.path)!r} has {found[0]} events with --nsub-axes "
            f"{found[1]} but this run expects {job.events} with {job.nsub_axes} (different "
            "--events, --events-per-file or --nsub-axes?); remove it or choose another --out"
        )
    return found is not None


def generate(
    process: str,
    events: int,
    out: str | os.PathLike[str],
    seed: int = 1,
    *,
    mW: float | None = None,
    mX: float | None = None,
    mY: float | None = None,
    events_per_file: int = DEFAULT_EVENTS_PER_FILE,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
    nsub_axes: str = DEFAULT_NSUB_AXES,
) -> GenerateResult:
    """Generate ``events`` kept events of ``process`` into ROOT files under ``out``.

    Files are ``out/{tag}_{seed}_{index:03d}.root`` (``tag`` is ``qcd`` or
    ``wprime_{mW}_{mX}_{mY}``) with ``events_per_file`` events each (the last one may have
    fewer). A file that already exists with the expected number of events is skipped, so
    an interrupted run resumes where it stopped; ``workers`` > 1 makes files in parallel
    processes. Masses are in GeV and only apply to ``wprime``. ``nsub_axes`` names the
    N-subjettiness axes (:data:`gbi.generate.nsubjettiness.NSUB_AXES`; the default, one-pass
    kT, is CMS NanoAOD's); it is stored in each file, and an existing file with other axes is
    an error, never skipped. Needs the ``generate`` extra (``pythia8mc`` and ``fastjet``).
    """
    config = ProcessConfig.create(process, mW=mW, mX=mX, mY=mY)
    _positive_int(events, "--events")
    _positive_int(events_per_file, "--events-per-file")
    _positive_int(workers, "--workers")
    _positive_int(batch_size, "--batch-size")
    check_axes(nsub_axes)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise GbiInputError(f"--seed must be an integer in [0, {_MAX_SEED}], got {seed!r}")
    require_extra("pythia8mc", "generate", "gbi generate")
    require_extra("fastjet", "generate", "gbi generate")

    result = GenerateResult()
    todo: list[FileJob] = []
    for planned in plan_files(config, events, out, seed, events_per_file):
        job = dataclasses.replace(planned, nsub_axes=nsub_axes)
        result.files.append(job.path)
        if _is_complete(job):
            log.info("skipping %s: already complete (%d events)", job.path, job.events)
            result.skipped.append(job.path)
        else:
            todo.append(job)
    if not todo:
        return result

    from tqdm.auto import tqdm

    total = sum(job.events for job in todo)
    start = time.perf_counter()
    with tqdm(
        total=total, unit=" kept ev", desc=f"gbi generate {config.tag}", disable=not progress
    ) as bar:

        def update(n: int) -> None:
            bar.update(n)
            result.events_generated += n

        if workers == 1 or len(todo) == 1:
            for job in todo:
                generate_file(job, batch_size, progress=update)
                result.written.append(job.path)
        else:
            _run_pool(todo, min(workers, len(todo)), batch_size, update)
            result.written.extend(job.path for job in todo)
    result.seconds = time.perf_counter() - start
    log.info(
        "wrote %d file(s), %d events in %.1f s (%.1f kept events/s)",
        len(result.written),
        result.events_generated,
        result.seconds,
        result.rate,
    )
    return result
