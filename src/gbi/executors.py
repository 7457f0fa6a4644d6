"""The coffea executors that :func:`gbi.execution.run_processor` runs with.

- :func:`make_executor` builds coffea's iterative, futures or dask executor from gbi's
  options (a local dask cluster is started and stopped around the run);
- :class:`IterativeExecutor` is coffea's iterative executor that keeps each file open
  across its chunks (:class:`FileHolder`) and draws its progress bar only when asked;
- :class:`ReadThreads` is the decompression thread pool shared by the files of a run;
- :func:`quiet_coffea_console` silences coffea's bars where ``status`` does not.

Internal to gbi: the names may change between releases.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uproot
from coffea import processor

from gbi.errors import GbiInputError, require_extra
from gbi.threads import available_cores, environment, limit_process_threads, worker_environment

__all__ = [
    "EXECUTORS",
    "FileHolder",
    "FileMap",
    "IterativeExecutor",
    "ReadThreads",
    "local_dask_client",
    "make_executor",
    "quiet_coffea_console",
    "worker_share",
]

#: Executor names accepted by :func:`make_executor` (and ``gbi process --executor``).
EXECUTORS: tuple[str, ...] = ("iterative", "futures", "dask")


class ReadThreads:
    """uproot decompression executor shared by every file of one run.

    uproot shuts a file's executors down when the file closes, and coffea opens and closes
    each file per chunk, so a plain thread pool would die after the first chunk: here
    ``shutdown`` is a no-op and the pool is closed once, after the run. With the branches a
    processor needs preloaded in one read, their baskets are decompressed in parallel (zlib
    releases the GIL), which uses the otherwise idle cores of the iterative executor.
    """

    def __init__(self, threads: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="gbi-read")

    def submit(self, task: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return self._pool.submit(task, *args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:  # called by uproot for every closed file
        pass

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class FileHolder:
    """Keep the file of the current work item open, with its TTree in a shared object cache.

    coffea's work function opens the file and deserialises its TTree again for every
    chunk. When the uproot options that it opens files with carry this holder's
    ``object_cache``, its ``file[treename]`` finds the TTree read here instead, attached to
    this still-open file (uproot drops cached objects whose file is closed). A TTree takes
    4-6 ms to read with the 13 branches of the LHCO files and 220-330 ms with the 947 of
    the CMS NanoAOD test file, so a file split into N chunks paid N reads. Measured in
    the split-files section of ``ci/bench_process.py`` (warm, best of 3, 2-core machine):
    the NanoAOD file in 10 chunks took 5.50 s with this holder switched off and 1.93 s
    with it; the eight LHCO files in 5 chunks each, 1.53 s and 1.39 s.

    For the iterative executor only: its work items run in this process one after the
    other, grouped by file, so one file is open at a time. If the file cannot be opened
    here, the work function opens it as before and reports the error with the chunk.
    """

    def __init__(self, uproot_options: Mapping[str, Any]) -> None:
        self._options = dict(uproot_options)
        self._cache: MutableMapping[str, Any] = self._options["object_cache"]
        self._path: str | None = None
        self._file: Any = None

    def wrap(self, function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``function`` (coffea's work function, called with a ``WorkItem``) with the
        item's file held open first."""

        def run_item(item: Any) -> Any:
            self._hold(item.filename, item.treename)
            return function(item)

        return run_item

    def _hold(self, path: str, tree_name: str) -> None:
        if path == self._path:
            return
        self.close()
        self._path = path
        try:
            self._file = uproot.open({path: None}, **self._options)
            self._file[tree_name]  # deserialised once, into the shared cache
        except Exception:
            self.close()

    def close(self) -> None:
        """Close the held file and forget its TTree."""
        if self._file is not None:
            self._file.close()
        self._file = None
        self._cache.clear()


@dataclass
class IterativeExecutor(processor.IterativeExecutor):
    """coffea's iterative executor, holding each file open across its chunks.

    Files are held when ``uproot_options``, the options the run passes to coffea, have an
    ``object_cache`` (a dict): see :class:`FileHolder`. Without ``status`` no bar
    is drawn: coffea 2026.9 always draws a ``rich`` bar here (``status=False`` only
    reaches ``add_task`` as a custom field), whose start, refreshes and stop cost 30-50 ms
    per run, about one 50k-event file.
    """

    uproot_options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, items: Any, function: Any, accumulator: Any) -> Any:
        holder = FileHolder(self.uproot_options) if "object_cache" in self.uproot_options else None
        if holder is not None:
            function = holder.wrap(function)
        try:
            if self.status:
                return super().__call__(items, function, accumulator)
            if len(items) == 0:
                return accumulator, 0
            return processor.accumulate(map(function, items), accumulator), 0
        finally:
            if holder is not None:
                holder.close()


@contextlib.contextmanager
def quiet_coffea_console() -> Iterator[None]:
    """Silence coffea's rich console: its futures executor draws bars whatever ``status``."""
    try:
        from coffea.util import coffea_console
    except ImportError:  # moved in a later coffea: nothing to silence here
        yield
        return
    was_quiet = coffea_console.quiet
    coffea_console.quiet = True
    try:
        yield
    finally:
        coffea_console.quiet = was_quiet


#: ``map``-like function of the executor's workers: ``map_files(function, *iterables)``
#: returns the list of results, in order.
FileMap = Callable[..., list[Any]]


def _serial_map(function: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
    return list(map(function, *iterables))


@contextlib.contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    """Raise the logger ``name`` to at least ``level`` for the block: distributed's
    scheduler and nanny log some 30 INFO lines per run (start, workers, close)."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(before)


class _DropShutdownHeartbeat(logging.Filter):
    """Drops the worker's "Failed to communicate with scheduler during heartbeat" ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to communicate with scheduler")


def _quiet_worker_shutdown() -> None:
    """Run on each worker of a local cluster: when the cluster closes, a worker whose
    heartbeat is in flight logs an ERROR with a traceback (a shutdown race in distributed,
    seen in about one run in ten here). A worker that really loses its scheduler fails its
    tasks, which the client reports, so only this message is dropped."""
    logging.getLogger("distributed.worker").addFilter(_DropShutdownHeartbeat())


def _limit_worker_threads(dask_worker: Any) -> int:
    """Run on each dask worker: cap torch and the BLAS/OpenMP pools of its process at the
    worker's ``nthreads`` (its share of the machine). Local clusters also start their
    workers with :func:`gbi.threads.worker_environment`, which OpenMP needs: an OpenMP
    limit set from this thread does not reach the worker's task threads."""
    return limit_process_threads(max(1, int(dask_worker.state.nthreads)))


def worker_share(workers: int) -> int:
    """Threads each of ``workers`` worker processes on this machine gets: the available
    cores divided among them, at least 1.

    >>> worker_share(10**6)
    1
    """
    return max(1, available_cores() // max(1, workers))


@contextlib.contextmanager
def local_dask_client(workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` of a new ``LocalCluster`` of ``workers`` single-threaded
    worker processes on free ports, quiet at shutdown; closed with the block."""
    require_extra("distributed", "dask", "the dask executor (--executor dask)")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP server (no dashboard) took port 8787, and warned when
            # another cluster on the machine had it
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
            env=worker_environment(1),  # one thread each (threads_per_worker=1)
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_quiet_worker_shutdown)
        client.run(_limit_worker_threads)
        yield client


@contextlib.contextmanager
def make_executor(
    name: str,
    workers: int,
    scheduler: str | None,
    progress: bool,
    retries: int,
    uproot_options: dict[str, Any],
) -> Iterator[tuple[processor.executor.ExecutorBase, FileMap]]:
    """The coffea executor called ``name`` (``iterative``, ``futures`` or ``dask``), and a
    ``map`` for the up-front file checks: over the dask workers, else in this process.

    ``uproot_options`` are those of the run (the iterative executor shares its
    ``object_cache``). A local dask cluster lives as long as the context, across retries.
    Raises :class:`GbiInputError` for an unknown name or an unreachable ``scheduler``.
    """
    if name == "iterative":
        yield (
            IterativeExecutor(status=progress, retries=retries, uproot_options=uproot_options),
            _serial_map,
        )
    elif name == "futures":
        # The files are checked here, one by one: coffea's loky pool restarts a worker whose
        # memory grows by 300 MB after its first task, which a small check task followed by
        # processing (torch, for the flow processors) trips; a pool with the standard
        # library's fork hung in torch in its workers.
        # Each worker process starts with its share of the cores for OpenMP/BLAS/torch (the
        # pool's processes inherit this environment), so the workers do not oversubscribe.
        with environment(worker_environment(worker_share(workers))):
            yield (
                processor.FuturesExecutor(workers=workers, status=progress, retries=retries),
                _serial_map,
            )
    elif name == "dask":
        require_extra("distributed", "dask", "the dask executor (--executor dask)")
        from distributed import Client

        with contextlib.ExitStack() as stack:
            if not logging.getLogger("gbi").isEnabledFor(logging.DEBUG):  # unless -v
                stack.enter_context(_logger_level("distributed", logging.WARNING))
            if scheduler:
                try:
                    client = stack.enter_context(Client(scheduler, timeout="20s"))
                except OSError as err:
                    raise GbiInputError(
                        f"cannot connect to the dask scheduler at {scheduler!r} ({err}); "
                        "expected the address of a running scheduler, e.g. tcp://127.0.0.1:8786"
                    ) from None
                client.run(_limit_worker_threads)
            else:
                client = stack.enter_context(local_dask_client(workers))

            def client_map(function: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
                return client.gather(client.map(function, *iterables, pure=False))

            yield (
                processor.DaskExecutor(client=client, status=progress, retries=retries),
                client_map,
            )
    else:
        raise GbiInputError(f"executor: expected one of {', '.join(EXECUTORS)}, found {name!r}")
