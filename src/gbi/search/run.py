"""The scan: :func:`run_search` runs every window, resumes, and writes the outputs.

Output folder ``OUT``:

- ``windows/<low>_<high>.json``: each window's result, written atomically as soon as the
  window is done (:func:`gbi.search.window.run_window`);
- ``workspaces/<low>_<high>.json``: the window's pyhf workspace (``pyhf cls`` reads it);
- ``search.json`` (schema ``search-result-1.0``), ``search.md``, ``p0_vs_mass.png``,
  ``limits_vs_mass.png`` (:mod:`gbi.search.outputs`).

Resume. Each window file stores ``config_hash`` (:func:`gbi.search.config.result_key`:
configuration, sidebands, window and input data). A rerun into the same ``OUT`` reuses
the windows whose hash matches (``ok`` or ``skipped``) and computes the others (missing,
``failed``, or an ``ok`` window whose workspace file is gone). A window file of another
configuration or input is never reused: the run stops with an error naming it, unless
``overwrite=True`` recomputes it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.infer.signal_grid import SignalGrid
from gbi.io import write_json
from gbi.search.config import WindowConfig, data_identity, grid_identity, result_key
from gbi.search.outputs import write_outputs
from gbi.search.result import SearchResult, WindowResult
from gbi.search.significance import global_significance, overlap_correlation
from gbi.search.tasks import default_threads, map_windows
from gbi.search.windows import WindowGrid

__all__ = ["run_search"]

log = logging.getLogger(__name__)


def run_search(
    data: Mapping[str, np.ndarray],
    windows: WindowGrid,
    config: WindowConfig | None = None,
    *,
    out_dir: str | Path,
    executor: str = "iterative",
    workers: int = 1,
    scheduler: str | None = None,
    threads: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
    global_toys: int = 100_000,
    plots: bool = True,
    signal_grid: SignalGrid | None = None,
) -> SearchResult:
    """Scan ``windows`` over ``data`` (features and ``mjj`` in GeV) into ``out_dir``.

    ``executor``/``workers``/``scheduler``: where the windows run (:mod:`gbi.search.tasks`);
    ``threads``: torch/OpenMP/BLAS threads per window (default: cores / workers);
    ``overwrite``: recompute windows stored with another configuration instead of
    stopping; ``global_toys``: pseudo-experiments of the global significance
    (:mod:`gbi.search.significance`); ``signal_grid``: also the parametrized fit of the
    grid's signals per window (:mod:`gbi.search.parametrized`). Returns the
    :class:`SearchResult` of all windows.
    """
    config = config or WindowConfig()
    out = Path(out_dir)
    start = time.perf_counter()
    table, columns, data_hash = _inputs(data, config, signal_grid)
    keys = {w.name: result_key(config, windows, w, data_hash) for w in windows.windows}
    results = _stored(out, keys, overwrite)
    todo = [(w, keys[w.name]) for w in windows.windows if w.name not in results]
    log.info(
        "gbi search: %d windows, %d stored in %s, %d to compute on %s",
        len(keys),
        len(results),
        out,
        len(todo),
        executor,
    )
    computed = _run_tasks(
        table,
        todo,
        windows,
        config,
        results,
        out,
        progress=progress,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        threads=threads,
        signal_grid=signal_grid,
    )
    ordered = [results[w.name] for w in windows.windows]
    search = SearchResult(
        windows=[WindowResult.from_dict(r) for r in ordered],
        global_significance=_global(ordered, global_toys, config.seed),
        config=config.to_dict(),
        grid=windows.to_dict(),
        data={"events": len(table["mjj"]), "columns": list(columns), "identity": data_hash},
        execution={
            "executor": executor,
            "workers": workers,
            "threads_per_window": threads or default_threads(executor, workers),
            "computed": computed,
            "reused": [w.name for w in windows.windows if w.name not in computed],
            "seconds": time.perf_counter() - start,
        },
    )
    write_outputs(search, out, plots=plots)
    return search


def _inputs(
    data: Mapping[str, np.ndarray], config: WindowConfig, signal_grid: SignalGrid | None
) -> tuple[dict[str, np.ndarray], tuple[str, ...], str]:
    """The columns the scan reads, their names, and the identity of the inputs (the data,
    and the signal grid: a stored window is reused only with the same grid)."""
    missing = [c for c in ("mjj", *config.features) if c not in data]
    if missing:
        raise GbiInputError(
            f"search input: expected column(s) {missing}, found {sorted(data)}; use the "
            "features of 'gbi process' or pick --features that exist"
        )
    columns = ("mjj", *config.features, *(("label",) if "label" in data else ()))
    table = {c: np.asarray(data[c]) for c in columns}
    data_hash = data_identity(table, columns)
    if signal_grid is not None:
        data_hash += ":" + grid_identity(signal_grid, config.features)
    return table, columns, data_hash


def _run_tasks(
    table: dict[str, np.ndarray],
    todo: list[tuple[Any, str]],
    windows: WindowGrid,
    config: WindowConfig,
    results: dict[str, dict[str, Any]],
    out: Path,
    *,
    progress: bool,
    **executor: Any,
) -> list[str]:
    """Run ``todo``; write each window (and its workspace) as it arrives, into ``results``
    too. Returns the names of the windows computed, in the order they finished."""
    from tqdm.auto import tqdm

    computed = []
    with tqdm(total=len(todo), disable=not progress, unit="window", desc="gbi search") as bar:
        for result in map_windows(table, todo, windows, config, **executor):
            name = WindowResult.from_dict(result).name
            workspace = result.pop("workspace", None)
            if workspace is not None:
                write_json(workspace, out / "workspaces" / f"{name}.json")
            write_json(result, out / "windows" / f"{name}.json")
            results[name] = result
            computed.append(name)
            if result["status"] != "ok":
                log.warning("window %s: %s: %s", name, result["status"], result.get("message"))
            bar.set_postfix_str(f"{name} {result['status']}")
            bar.update(1)
    return computed


def _stored(out: Path, keys: dict[str, str], overwrite: bool) -> dict[str, dict[str, Any]]:
    """Window results in ``out/windows`` that this run can reuse (module docstring)."""
    reusable: dict[str, dict[str, Any]] = {}
    foreign = []
    for name, key in keys.items():
        path = out / "windows" / f"{name}.json"
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            log.warning("%s: unreadable (%s): the window is computed again", path, err)
            continue
        if document.get("config_hash") != key:
            foreign.append(f"{path} (config_hash {document.get('config_hash')!r}, now {key!r})")
            continue
        workspace = out / "workspaces" / f"{name}.json"
        if document.get("status") == "skipped" or (
            document.get("status") == "ok" and workspace.is_file()
        ):
            reusable[name] = document
    if foreign and not overwrite:
        raise GbiInputError(
            f"{out} holds window results of another configuration or input: "
            f"{'; '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}; expected the same "
            "settings and data to resume; write to a new --out, or pass --overwrite to "
            "compute those windows again"
        )
    for entry in foreign:
        log.warning("recomputing %s: stored with another configuration (--overwrite)", entry)
    return reusable


def _global(results: list[dict[str, Any]], toys: int, seed: int) -> dict[str, Any] | None:
    fitted = [r for r in results if r.get("status") == "ok"]
    if not fitted:
        return None
    z = np.array([r["local_significance"] for r in fitted])
    corr = overlap_correlation([np.asarray(r.get("passing_events", [])) for r in fitted])
    return global_significance(z, corr, toys=toys, seed=seed + 4242)
