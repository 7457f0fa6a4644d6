"""``gbi detect`` as one library call: read the feature files, run, write the outputs.

Inputs are Parquet feature files or ``gbi process`` output folders (exactly the datasets
their ``summary.json`` lists, :func:`gbi.background.read_features`); rows with NaN/inf in
the features or mjj stop the run with a count, or are dropped and counted with
``drop_invalid``. Writes the files of :mod:`gbi.detect.outputs` into ``out_dir``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gbi.background import read_features
from gbi.detect.config import DetectConfig
from gbi.detect.outputs import write_outputs
from gbi.detect.pipeline import run_detection
from gbi.detect.result import DetectResult

__all__ = ["detect_files"]

log = logging.getLogger(__name__)


def detect_files(
    data: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config: DetectConfig | None = None,
    reference: Sequence[str | Path] | None = None,
    signal: Sequence[str | Path] | None = None,
    test: Sequence[str | Path] | None = None,
    truth_label: str | None = None,
    drop_invalid: bool = False,
    json_path: str | Path | None = None,
) -> tuple[DetectResult, dict[str, Path]]:
    """Run :func:`run_detection` on feature files; returns the result and ``{kind: path}``."""
    config = config or DetectConfig()
    out_dir = Path(out_dir)
    columns = [*config.features, "mjj"]
    samples: dict[str, Any] = {}
    read: dict[str, Any] = {}
    for key, paths, what in (
        ("data", data, "data"),
        ("reference", reference, "reference background"),
        ("signal", signal, "signal"),
        ("test", test, "test set"),
    ):
        got = read_features(paths, what, columns=columns, drop_invalid=drop_invalid)
        samples[key] = None if got is None else got.table
        if got is not None:
            read[key] = {
                "files": [str(f) for f in got.files],
                "events": got.n_read,
                "dropped_invalid": got.dropped_invalid,
            }
    result = run_detection(
        samples["data"],
        config=config,
        reference=samples["reference"],
        signal=samples["signal"],
        test=samples["test"],
        truth_label=truth_label,
        flow_dir=out_dir / "flow",
    )
    result.summary.inputs = {
        "data": [str(p) for p in data],
        "reference_background": None if reference is None else [str(p) for p in reference],
        "signal": None if signal is None else [str(p) for p in signal],
        "test": None if test is None else [str(p) for p in test],
        "truth_label": truth_label,
        "read": read,
    }
    written = write_outputs(result, out_dir)
    if json_path is not None:
        from gbi.io import atomic_path

        with atomic_path(json_path) as tmp:
            shutil.copyfile(written["result"], tmp)
        written["json"] = Path(json_path)
    return result, written
