"""Windows as tasks: run :func:`gbi.search.window.run_window` on the iterative, futures or
dask executor and hand each result over as soon as it is done.

- ``iterative``: in this process, one window after the other;
- ``futures``: a local pool of ``workers`` processes. The processes are *spawned*, not
  forked: a forked child of a process that has used torch's thread pool can hang in torch
  (``gbi.executors`` met the same with coffea's futures executor);
- ``dask``: a new ``LocalCluster`` of ``workers`` single-threaded worker processes, or the
  existing cluster at ``scheduler``. The data are scattered to the workers once. A worker
  that dies takes its running windows with it; the scheduler reruns them on another
  worker (dask's ``distributed.scheduler.allowed-failures``, 3 by default), and since a
  window's result depends only on its seed, nothing changes.

coffea's executors (:mod:`gbi.executors`) are built for chunks of files merged by an
accumulator, so this module does not reuse them: a window is one function call and its
result is written on arrival. The executor names and the dask cluster settings are those
of ``gbi process``.

Each task runs under :func:`gbi.threads.thread_budget` with ``threads`` threads (default:
the available cores divided by the workers), so that ``workers`` tasks on one machine do not
oversubscribe its cores.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from gbi.errors import GbiInputError, require_extra
from gbi.executors import EXECUTORS, local_dask_client
from gbi.infer.signal_grid import SignalGrid
from gbi.search.config import WindowConfig
from gbi.search.window import run_window
from gbi.search.windows import Window, WindowGrid
from gbi.threads import available_cores

__all__ = ["EXECUTORS", "default_threads", "map_windows"]

#: One task: ``(window, result_key)``.
Task = tuple[Window, str]


def default_threads(executor: str, workers: int) -> int:
    """Threads per task: the available cores shared by the workers (at least 1)."""
    parallel = 1 if executor == "iterative" else max(1, workers)
    return max(1, available_cores() // parallel)


def _run(
    data: Mapping[str, np.ndarray],
    task: Task,
    grid: WindowGrid,
    config: WindowConfig,
    threads: int,
    signal_grid: SignalGrid | None = None,
) -> dict[str, Any]:
    window, key = task
    return run_window(data, window, grid, config, threads=threads, key=key, signal_grid=signal_grid)


def map_windows(
    data: Mapping[str, np.ndarray],
    tasks: Sequence[Task],
    grid: WindowGrid,
    config: WindowConfig,
    *,
    executor: str = "iterative",
    workers: int = 1,
    scheduler: str | None = None,
    threads: int | None = None,
    signal_grid: SignalGrid | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the result of every task, in the order they finish (``signal_grid``: the
    parametrized fit of each window too, :mod:`gbi.search.parametrized`)."""
    if executor not in EXECUTORS:
        raise GbiInputError(f"executor: expected one of {', '.join(EXECUTORS)}, found {executor!r}")
    if int(workers) != workers or workers < 1:
        raise GbiInputError(f"workers: expected a positive integer, found {workers!r}")
    n_threads = threads if threads is not None else default_threads(executor, workers)
    if not tasks:
        return
    if executor == "iterative":
        for task in tasks:
            yield _run(data, task, grid, config, n_threads, signal_grid)
    elif executor == "futures":
        yield from _futures(data, tasks, grid, config, workers, n_threads, signal_grid)
    else:
        yield from _dask(data, tasks, grid, config, workers, scheduler, n_threads, signal_grid)


def _futures(
    data: Mapping[str, np.ndarray],
    tasks: Sequence[Task],
    grid: WindowGrid,
    config: WindowConfig,
    workers: int,
    threads: int,
    signal_grid: SignalGrid | None,
) -> Iterator[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=context
    ) as pool:
        futures = [
            pool.submit(_run, data, task, grid, config, threads, signal_grid) for task in tasks
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield _result_or_failure(future.result, _task_of(futures, future, tasks))
        finally:
            for future in futures:
                future.cancel()


def _task_of(futures: list[Any], future: Any, tasks: Sequence[Task]) -> Task:
    return tasks[futures.index(future)]


def _result_or_failure(get: Callable[[], dict[str, Any]], task: Task) -> dict[str, Any]:
    """The task's result, or a ``failed`` result when its worker process died."""
    try:
        return get()
    except Exception as err:  # the worker itself broke (killed, out of memory)
        window, key = task
        return {
            "low": window.low,
            "high": window.high,
            "center": window.center,
            "config_hash": key,
            "status": "failed",
            "message": f"the worker running this window died: {type(err).__name__}: {err}",
        }


@contextlib.contextmanager
def _dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    require_extra("distributed", "dask", "the dask executor (--executor dask)")
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as err:
            raise GbiInputError(
                f"cannot connect to the dask scheduler at {scheduler!r} ({err}); "
                "expected the address of a running scheduler, e.g. tcp://127.0.0.1:8786"
            ) from None
        with client:
            yield client
        return
    with local_dask_client(workers) as client:
        yield client


def _dask(
    data: Mapping[str, np.ndarray],
    tasks: Sequence[Task],
    grid: WindowGrid,
    config: WindowConfig,
    workers: int,
    scheduler: str | None,
    threads: int,
    signal_grid: SignalGrid | None,
) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    with _dask_client(workers, scheduler) as client:
        shared = client.scatter(dict(data), broadcast=True)
        futures = {
            client.submit(
                _run,
                shared,
                task,
                grid,
                config,
                threads,
                signal_grid,
                key=f"gbi-window-{task[0].name}-{task[1]}",
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(futures):
                yield _result_or_failure(future.result, futures[future])
        finally:
            client.cancel(list(futures))
