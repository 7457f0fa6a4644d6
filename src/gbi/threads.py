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

__all__ = ["available_cores", "resolve_threads", "thread_budget"]


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
