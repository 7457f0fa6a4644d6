"""Thread budgets: keep every stage within ``n`` CPU threads (torch, OpenMP, BLAS).

Several gbi jobs, coffea futures workers or dask workers on one machine each default to
using every core for their OpenMP/BLAS/torch pools; together they oversubscribe the cores
and slow each other down far more than their share. :func:`thread_budget` caps all three
pools for the duration of a block and restores them afterwards. threadpoolctl does the
OpenMP/BLAS part; torch's intra-op pool is not a threadpoolctl API, so it is set by hand.

>>> import torch
>>> with thread_budget(1):
...     torch.get_num_threads()
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from gbi.errors import GbiInputError

__all__ = [
    "available_cores",
    "environment",
    "limit_process_threads",
    "passive_openmp",
    "resolve_threads",
    "thread_budget",
    "worker_environment",
]

#: Environment variables that size the OpenMP/BLAS pools of a process started with them.
POOL_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the CPU count).

    Inside a dask worker this is the worker's ``nthreads``, so that each worker process
    keeps to its own share of the machine.
    """
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """``None`` -> :func:`available_cores`; otherwise a positive integer, checked.

    >>> resolve_threads(2)
    2
    """
    if threads is None:
        return available_cores()
    if int(threads) != threads or threads < 1:
        raise GbiInputError(f"threads: expected a positive integer, found {threads!r}")
    return int(threads)


@contextmanager
def thread_budget(threads: int | None) -> Iterator[int]:
    """Run the block with at most ``threads`` (``None``: the available cores) threads in
    torch's intra-op pool and in every OpenMP/BLAS pool threadpoolctl finds; yields the
    number used."""
    import torch
    from threadpoolctl import threadpool_limits

    n = resolve_threads(threads)
    previous = torch.get_num_threads()
    try:
        with threadpool_limits(limits=n):
            torch.set_num_threads(n)
            yield n
    finally:
        torch.set_num_threads(previous)


def passive_openmp() -> None:
    """Make idle OpenMP threads sleep instead of spin-waiting (``OMP_WAIT_POLICY=PASSIVE``),
    unless the user set a policy. Only takes effect before libgomp is loaded (call it at the
    start of a command, before sklearn/torch are imported): spinning workers of one job
    steal the cores of another job on the same machine."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def worker_environment(threads: int) -> dict[str, str]:
    """Environment for a worker process that must keep to ``threads`` threads: the
    OpenMP/BLAS pool sizes (torch's intra-op pool follows ``OMP_NUM_THREADS``) and a
    passive OpenMP wait policy.

    >>> worker_environment(2)["OMP_NUM_THREADS"]
    '2'
    """
    n = str(resolve_threads(threads))
    env = dict.fromkeys(POOL_VARIABLES, n)
    env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    return env


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (inherited by processes started in
    it), then restore the previous values."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def limit_process_threads(threads: int | None) -> int:
    """Cap this whole process (torch intra-op, every OpenMP/BLAS pool) at ``threads`` for
    the rest of its life (``None``: the available cores): for worker processes and scripts,
    not for a library call."""
    import torch
    from threadpoolctl import threadpool_limits

    n = resolve_threads(threads)
    threadpool_limits(limits=n)
    torch.set_num_threads(n)
    return n
