"""Run a coffea processor over a fileset with the iterative, futures or dask executor.

The same processor gives the same result with every executor; only where the chunks run
changes:

- ``iterative``: one process, chunks one after the other (debugging, small inputs);
- ``futures``: a local process pool of ``workers`` processes (one machine);
- ``dask``: a ``dask.distributed`` cluster: a new ``LocalCluster`` of ``workers``
  single-threaded worker processes, or an existing cluster when ``scheduler`` is given
  (``tcp://host:8786``). Needs the extra ``gbi[dask]``.

Input files are checked up front (:func:`gbi.fileset.check_files`): a bad file stops the
run with one clear message, or, with ``skip_bad_files=True``, is left out and reported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from coffea import processor
from coffea.nanoevents import NanoAODSchema

from gbi.errors import GbiError, GbiInputError
from gbi.executors import (
    EXECUTORS,
    IterativeExecutor,
    ReadThreads,
    make_executor,
    quiet_coffea_console,
)
from gbi.fileset import BadFile, FileInfo, inspect_files

__all__ = ["EXECUTORS", "QuietNanoAODSchema", "RunResult", "run_processor"]

log = logging.getLogger(__name__)

ExecutorName = Literal["iterative", "futures", "dask"]

# NanoAODSchema warns for every cross-reference of full NanoAOD that a slim file lacks
# (e.g. FatJet_subJetIdx1 => SubJet); expected for our inputs, so silenced by message.
_SCHEMA_WARNINGS = ("Missing cross-reference index", "Branch .* already exists")


class QuietNanoAODSchema(NanoAODSchema):
    """coffea's ``NanoAODSchema`` without its expected warnings for slim files.

    The schema is built where each chunk is read: in this process, in a futures worker or
    on a dask worker (16 lines per chunk there before, from spawned processes that no
    filter set here reaches). Other warnings are shown as before.
    """

    def __init__(self, base_form: Any, version: str = "latest") -> None:
        # catch_warnings is process-wide: two threads building a schema at once can at
        # worst leave these two filters set, which is harmless
        with _quiet_schema_warnings():
            super().__init__(base_form, version)


@dataclass
class RunResult:
    """Output of :func:`run_processor`. ``seconds`` is wall time; ``chunks`` counts coffea
    work items. (coffea's ``bytesread`` metric is not kept: with preloaded branches it
    counts a few kB for a whole run, not the bytes read from the files.)"""

    output: Any
    seconds: float
    events_read: int
    chunks: int
    skipped_files: list[BadFile] = field(default_factory=list)
    executor: str = "iterative"
    #: worker processes that ran the chunks (1 for iterative); None when not known here
    workers: int | None = 1

    @property
    def events_per_second(self) -> float:
        return self.events_read / self.seconds if self.seconds > 0 else float("nan")


class _ChunkFailure(Exception):
    """A chunk failed inside coffea; carries the file it came from."""

    def __init__(self, dataset: str, path: str, entries: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.dataset, self.path, self.entries, self.reason = dataset, path, entries, reason


# coffea reports a failed chunk as "Failed processing file: WorkItem(dataset=..., filename=...,
# entrystart=..., entrystop=...). The error was: ..." (a plain Exception).
_WORKITEM = re.compile(
    r"WorkItem\(dataset='(?P<dataset>[^']*)', filename='(?P<path>[^']*)'.*?"
    r"entrystart=(?P<start>\d+), entrystop=(?P<stop>\d+).*?\)\. The error was: (?P<reason>.*)",
    re.DOTALL,
)


def _uproot_options(
    stack: contextlib.ExitStack, executor: str, read_threads: int
) -> dict[str, Any]:
    """Options for every ``uproot.open`` of the run (coffea's and gbi's own)."""
    options: dict[str, Any] = {}
    if read_threads > 1:
        pool = ReadThreads(read_threads)
        stack.callback(pool.close)
        options["decompression_executor"] = pool
    # coffea's preload goes through uproot's per-file array cache (100 MB by default),
    # and uproot's file, TTree and branch objects form reference cycles: each chunk's
    # arrays then stayed alive until Python's next full garbage collection, and peak
    # memory grew with the number of files (252 -> 318 MiB from 8 to 64 files, histograms
    # only, ci/bench_process.py). coffea caches the chunk's buffers itself.
    options["array_cache"] = None
    if executor == "iterative":
        options["object_cache"] = {}  # shared with the executor's FileHolder
    return options


def _run_once(
    fileset: Mapping[str, Any],
    processor_instance: processor.ProcessorABC,
    executor_instance: processor.executor.ExecutorBase,
    chunksize: int,
    maxchunks: int | None,
    progress: bool,
    uproot_options: dict[str, Any],
    files: Mapping[str, FileInfo],
) -> tuple[Any, dict[str, Any]]:
    runner = processor.Runner(
        executor=executor_instance,
        # file metadata (entries per file) comes from gbi's checks: nothing left to read
        pre_executor=IterativeExecutor(status=progress, desc="Reading metadata"),
        chunksize=chunksize,
        maxchunks=maxchunks,
        schema=QuietNanoAODSchema,
        savemetrics=True,
        metadata_cache=_metadata_cache(fileset, files),
    )
    try:
        return runner(dict(fileset), processor_instance, uproot_options=uproot_options)
    except GbiError:
        raise
    except Exception as err:
        match = _WORKITEM.search(str(err))
        if match:
            raise _ChunkFailure(
                match["dataset"],
                match["path"],
                f"{match['start']}-{match['stop']}",
                match["reason"].strip().rstrip("."),
            ) from err
        raise GbiError(f"processing failed: {type(err).__name__}: {err}") from err


def _metadata_cache(
    fileset: Mapping[str, Any], files: Mapping[str, FileInfo]
) -> dict[Any, dict[str, Any]] | None:
    """coffea's per-file metadata (entries, UUID) from our own file checks.

    coffea would otherwise open every file once more before processing: 5-6 ms per file
    here, against about 60 ms to process a 50k-event file. The keys are coffea's
    ``FileMeta`` objects (``coffea.processor.executor``, not a documented name): if it
    moves, coffea reads the metadata itself, as before.
    """
    try:
        from coffea.processor.executor import FileMeta
    except ImportError:
        return None
    cache: dict[Any, dict[str, Any]] = {}
    for dataset, spec in fileset.items():
        user_metadata = dict(spec.get("metadata") or {})
        for path, tree_name in spec["files"].items():
            info = files[path]
            cache[FileMeta(dataset, path, tree_name)] = {
                **user_metadata,
                "numentries": info.entries,
                "uuid": info.uuid,
            }
    return cache


@contextlib.contextmanager
def _quiet_schema_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in _SCHEMA_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=RuntimeWarning)
        yield


def _usable_files(
    fileset: Mapping[str, Mapping[str, Any]],
    bad: list[BadFile],
    good: Mapping[str, FileInfo],
    preload_branches: tuple[str, ...],
    skip_bad_files: bool,
) -> dict[str, Any]:
    """The fileset without the bad files, each dataset with the branches to preload.

    Raises :class:`GbiInputError` for the first bad file unless ``skip_bad_files``.
    """
    if bad and not skip_bad_files:
        first = bad[0]
        more = f" ({len(bad) - 1} more bad files)" if len(bad) > 1 else ""
        n_files = sum(len(spec["files"]) for spec in fileset.values())
        hint = (
            "; or use --skip-bad-files to process the other files and list this one in the summary"
            if n_files > len(bad)
            else ""
        )
        raise GbiInputError(f"{first.path} (dataset {first.dataset!r}): {first.reason}{more}{hint}")
    for problem in bad:
        log.warning("skipping %s: %s", problem.path, problem.reason)
    bad_paths = {(b.dataset, b.path) for b in bad}
    usable: dict[str, Any] = {}
    for dataset, spec in fileset.items():
        files = {p: t for p, t in spec["files"].items() if (dataset, p) not in bad_paths}
        if files:
            usable[dataset] = {**spec, "files": files}
            preload = [b for b in preload_branches if all(b in good[p].branches for p in files)]
            if preload:
                usable[dataset]["preload"] = preload
    if not usable:
        raise GbiInputError("no usable input file is left after skipping the bad ones")
    return usable


def run_processor(
    fileset: Mapping[str, Mapping[str, Any]],
    processor_instance: processor.ProcessorABC,
    *,
    required_branches: tuple[str, ...] = (),
    preload_branches: tuple[str, ...] = (),
    read_threads: int | None = None,
    executor: ExecutorName | str = "iterative",
    workers: int = 1,
    scheduler: str | None = None,
    chunksize: int = 100_000,
    maxchunks: int | None = None,
    skip_bad_files: bool = False,
    progress: bool = True,
    retries: int = 0,
) -> RunResult:
    """Check the files, then run ``processor_instance`` over ``fileset``.

    ``fileset`` is the normalised form of :func:`gbi.fileset.normalize_fileset`.
    ``chunksize`` is in events. ``preload_branches`` (those of them present in every file
    of a dataset) are read in one go per chunk instead of one by one on first access, and
    ``read_threads`` threads decompress them (default: the CPU count, at most 4, with the
    iterative executor; 1 with the others, whose workers already use the cores).
    Raises :class:`GbiInputError` for a bad file unless ``skip_bad_files``; raises
    :class:`GbiError` naming the file and entry range when a chunk fails during processing.
    """
    read_threads = _checked_parameters(chunksize, workers, read_threads, str(executor))
    with contextlib.ExitStack() as stack:
        uproot_options = _uproot_options(stack, str(executor), read_threads)
        if not progress:
            stack.enter_context(quiet_coffea_console())
        executor_instance, map_files = stack.enter_context(
            make_executor(str(executor), workers, scheduler, progress, retries, uproot_options)
        )
        start = time.perf_counter()  # the checks count, a local cluster's start-up does not
        # with dask, the cluster's workers check the files in parallel (see make_executor)
        bad, good = inspect_files(fileset, required_branches, map_function=map_files)
        usable = _usable_files(fileset, bad, good, preload_branches, skip_bad_files)

        def run_once(files: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
            return _run_once(
                files,
                processor_instance,
                executor_instance,
                chunksize,
                maxchunks,
                progress,
                uproot_options,
                good,
            )

        output, metrics = _run_leaving_out_failures(run_once, usable, bad, skip_bad_files)
        seconds = time.perf_counter() - start  # before a local cluster shuts down
    return RunResult(
        output=output,
        seconds=seconds,
        events_read=int(metrics.get("entries", 0)),
        chunks=int(metrics.get("chunks", 0)),
        skipped_files=bad,
        executor=str(executor),
        workers=_worker_count(str(executor), workers, scheduler),
    )


def _checked_parameters(
    chunksize: int, workers: int, read_threads: int | None, executor: str
) -> int:
    """Raise :class:`GbiInputError` for a bad parameter; return the read threads to use."""
    if chunksize < 1:
        raise GbiInputError(f"chunksize: expected a positive number of events, found {chunksize}")
    if workers < 1:
        raise GbiInputError(f"workers: expected at least 1, found {workers}")
    if read_threads is None:
        read_threads = min(os.cpu_count() or 1, 4) if executor == "iterative" else 1
    if read_threads < 1:
        raise GbiInputError(f"read_threads: expected at least 1, found {read_threads}")
    return read_threads


def _worker_count(executor: str, workers: int, scheduler: str | None) -> int | None:
    """Worker processes that ran the chunks; None when unknown (an existing dask cluster)."""
    if executor == "iterative":
        return 1
    if executor == "dask" and scheduler:
        return None  # the cluster's size, which may change during the run
    return workers


def _run_leaving_out_failures(
    run_once: Callable[[Mapping[str, Any]], tuple[Any, dict[str, Any]]],
    usable: dict[str, Any],
    bad: list[BadFile],
    skip_bad_files: bool,
) -> tuple[Any, dict[str, Any]]:
    """``run_once(usable)``; with ``skip_bad_files``, again without each file whose chunk
    failed (appended to ``bad``), so that no partial file is mixed in."""
    while True:
        try:
            return run_once(usable)
        except _ChunkFailure as failure:
            if not skip_bad_files:
                raise GbiError(
                    f"{failure.path} (dataset {failure.dataset!r}, entries "
                    f"{failure.entries}) could not be processed: {failure.reason}; the file "
                    "may be corrupt: copy it again, or use --skip-bad-files to leave it "
                    "out and list it in the summary"
                ) from failure
            log.warning("leaving out %s: %s", failure.path, failure.reason)
            bad.append(
                BadFile(failure.dataset, failure.path, f"failed while processing: {failure.reason}")
            )
            spec = usable[failure.dataset]
            files = {p: t for p, t in spec["files"].items() if p != failure.path}
            if files:
                usable[failure.dataset] = {**spec, "files": files}
            else:
                del usable[failure.dataset]
            if not usable:
                raise GbiInputError(
                    "no usable input file is left after skipping the bad ones"
                ) from None
