"""The ``gbi process`` job: dijet features, cutflows and histograms of a fileset, written to disk.

Output folder layout (every file written atomically)::

    OUT/features/<dataset>.parquet  per-event columns (see gbi.processors.dijet), one file per dataset
    OUT/histograms.json             {"<dataset>/<feature>": hist.Hist(region, feature)} as UHI JSON
                                    (Weight storage; read with gbi.hists.read_histograms)
    OUT/histograms.pkl              the same as {dataset: {feature: hist.Hist}}, pickled for coffea
                                    users (gbi itself never loads it without allow_pickle)
    OUT/histograms.root             TH1Ds "<dataset>/<feature>_<region>" for ROOT users
    OUT/regions.json                the region definition used (schema regions-1.0)
    OUT/summary.json                counts, timing, skipped files (schema process-summary-1.0)
    OUT/.gbi-output.json            the files above: the folder is gbi process's (gbi.io)

The run owns ``OUT`` (:func:`gbi.io.prepare_output_dir`): it must be new, empty, or the
output of an earlier ``gbi process`` run, whose files ``overwrite=True`` removes first; so
no ``features/<dataset>.parquet`` of an earlier run is left beside the new ones.

While a local run is in progress, ``OUT/.column-parts-*/`` holds each chunk's columns
(:mod:`gbi.column_parts`); it is removed when the run ends, also after an error.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gbi import __version__
from gbi.column_parts import merge_column_parts
from gbi.execution import RunResult, run_processor
from gbi.hists import write_histograms
from gbi.io import (
    prepare_output_dir,
    write_json,
    write_parquet,
    write_pickle,
    write_root_histograms,
)
from gbi.processors.dijet import (
    OPTIONAL_BRANCHES,
    REQUIRED_BRANCHES,
    DijetFeatureProcessor,
    assemble_columns,
)
from gbi.regions import REGION_NAMES, Regions

__all__ = ["process_fileset", "root_histograms"]


def process_fileset(
    fileset: Mapping[str, Mapping[str, Any]],
    out_dir: str | Path,
    *,
    regions: Regions | None = None,
    executor: str = "iterative",
    workers: int = 1,
    scheduler: str | None = None,
    chunksize: int = 100_000,
    maxchunks: int | None = None,
    read_threads: int | None = None,
    skip_bad_files: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run :class:`DijetFeatureProcessor` on ``fileset`` and write the outputs to ``out_dir``.

    Returns the summary dict that is also written to ``out_dir/summary.json``.
    ``out_dir`` must be new, empty or an earlier output of this job (replaced only with
    ``overwrite=True``): see :func:`gbi.io.prepare_output_dir`, which raises
    :class:`GbiInputError` otherwise, before any file is read.
    With a local executor (no ``scheduler``) the feature columns are spilled per chunk to a
    temporary folder in ``out_dir`` and merged at the end (:mod:`gbi.column_parts`), so
    memory does not grow with the number of events; the folder is removed afterwards, also
    after an error.
    Raises :class:`GbiInputError` when the signal region lies outside the mjj range of the
    data (nothing is written then).
    """
    regions = regions or Regions()
    out_dir = Path(out_dir)
    with contextlib.ExitStack() as cleanup:
        # after an error, leave no empty output folder behind; on success list the outputs
        cleanup.enter_context(prepare_output_dir(out_dir, overwrite=overwrite, command="process"))
        columns_dir = None
        if scheduler is None:  # local workers share this disk: spill columns per chunk
            columns_dir = tempfile.mkdtemp(prefix=".column-parts-", dir=out_dir)
            cleanup.callback(shutil.rmtree, columns_dir, ignore_errors=True)  # runs first
        result = run_processor(
            fileset,
            DijetFeatureProcessor(regions, columns_dir=columns_dir),
            required_branches=REQUIRED_BRANCHES,
            preload_branches=REQUIRED_BRANCHES + OPTIONAL_BRANCHES,
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            chunksize=chunksize,
            maxchunks=maxchunks,
            read_threads=read_threads,
            skip_bad_files=skip_bad_files,
            progress=progress,
        )
        return _write_outputs(result, fileset, out_dir, regions, chunksize)


def _write_outputs(
    result: RunResult,
    fileset: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    regions: Regions,
    chunksize: int,
) -> dict[str, Any]:
    output = result.output

    ranges = [r for d in output.values() for r in d.get("mjj_range", {}).values()]
    if ranges:
        regions.check_data_range(
            min(r[0] for r in ranges), max(r[1] for r in ranges), ", ".join(sorted(output))
        )

    # The Parquet files are written on threads, next to each other and to the histogram
    # files: pyarrow's writer releases the GIL, and it is most of the time spent here
    # (0.16 s per 400k events on this project's machine).
    workers_for_outputs = max(1, min(len(output), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(workers_for_outputs) as pool:
        writes = [
            pool.submit(_write_features, output[dataset], out_dir, dataset)
            for dataset in sorted(output)
        ]
        hists = {dataset: output[dataset]["hists"] for dataset in sorted(output)}
        write_histograms(hists, out_dir / "histograms.json")
        write_pickle(hists, out_dir / "histograms.pkl")
        write_root_histograms(root_histograms(hists), out_dir / "histograms.root")
        write_json(regions.to_dict(), out_dir / "regions.json")
        for write in writes:
            write.result()  # raises the first failure, after every thread has finished

    skipped: dict[str, int] = {}
    for bad in result.skipped_files:
        skipped[bad.dataset] = skipped.get(bad.dataset, 0) + 1
    datasets: dict[str, Any] = {}
    for dataset in sorted(output):
        part = output[dataset]
        dataset_ranges = list(part.get("mjj_range", {}).values())
        cutflow = dict(part["cutflow"])
        datasets[dataset] = {
            "files": len(fileset[dataset]["files"]) - skipped.get(dataset, 0),
            "events_read": int(cutflow["events"]),
            "events_passing": int(cutflow["two_fatjets"]),
            "cutflow": cutflow,
            "mjj_range_GeV": (
                [min(r[0] for r in dataset_ranges), max(r[1] for r in dataset_ranges)]
                if dataset_ranges
                else None
            ),
            "features_file": str(_features_file(dataset)),
        }

    events_read = sum(d["events_read"] for d in datasets.values())
    summary = {
        "version": "1.0",
        "gbi_version": __version__,
        "executor": result.executor,
        **({"workers": result.workers} if result.workers is not None else {}),
        "chunksize": chunksize,
        "events_read": events_read,
        "events_passing": sum(d["events_passing"] for d in datasets.values()),
        "seconds": round(result.seconds, 3),
        "events_per_second": round(result.events_per_second, 1) if result.seconds > 0 else None,
        "chunks": result.chunks,
        "datasets": datasets,
        "skipped_files": [bad.as_dict() for bad in result.skipped_files],
        "regions": regions.to_dict(),
        "outputs": {
            "histograms_json": "histograms.json",
            "histograms_pickle": "histograms.pkl",
            "histograms_root": "histograms.root",
            "regions": "regions.json",
        },
    }
    write_json(summary, out_dir / "summary.json")
    return summary


def _features_file(dataset: str) -> Path:
    return Path("features") / f"{dataset}.parquet"


def _write_features(part: Mapping[str, Any], out_dir: Path, dataset: str) -> None:
    """Write one dataset's feature columns: merge the spilled parts, or the in-memory chunks."""
    target = out_dir / _features_file(dataset)
    if part.get("column_parts"):
        merge_column_parts(part["column_parts"], target, dataset=dataset)
    else:
        write_parquet(assemble_columns(part.get("chunks", {})), target)


def root_histograms(hists: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Flatten ``{dataset: {feature: Hist(region, x)}}`` into 1D hists keyed for ROOT.

    Keys are ``"<dataset>/<feature>_<region>"`` for each region and ``"<dataset>/<feature>"``
    for the sum over regions.
    """
    flat: dict[str, Any] = {}
    for dataset, by_feature in hists.items():
        for feature, histogram in by_feature.items():
            flat[f"{dataset}/{feature}"] = histogram[{"region": sum}]
            for region in REGION_NAMES:
                flat[f"{dataset}/{feature}_{region}"] = histogram[{"region": region}]
    return flat
