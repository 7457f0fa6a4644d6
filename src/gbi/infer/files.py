"""``gbi infer`` as one library call: read the feature files, run, write JSON and plots.

Inputs are Parquet feature files or ``gbi process`` output folders (exactly the datasets
their ``summary.json`` lists, :func:`gbi.background.read_features`); NaN/inf rows in the
features or mjj stop the run with a count, or are dropped and counted with
``drop_invalid``. Writes the result JSON (schema ``infer-result-1.0``) and, into ``out_dir``,
``likelihood_scan.png`` and ``mass_scan.png``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from gbi.background import read_features
from gbi.errors import GbiInputError
from gbi.infer.config import InferConfig
from gbi.infer.pipeline import run_inference
from gbi.infer.result import InferResult

__all__ = ["infer_files"]

log = logging.getLogger(__name__)


def infer_files(
    features: Sequence[str | Path],
    json_path: str | Path,
    *,
    config: InferConfig | None = None,
    signal_grid: Sequence[str | Path] | None = None,
    out_dir: str | Path | None = None,
    truth_label: str | None = None,
    drop_invalid: bool = False,
) -> InferResult:
    """Run :func:`run_inference` on feature files and write its outputs.

    ``truth_label``: a column (1 = signal) reported as the true ``mu``, never used in the
    fit; without it any ``label`` column is ignored.
    """
    from gbi.infer.signal_grid import load_signal_grid
    from gbi.io import write_json
    from gbi.schema import validate

    config = config or InferConfig()
    columns = [*config.features, "mjj"]
    got = read_features(features, "data", columns=columns, drop_invalid=drop_invalid)
    assert got is not None, "no feature files given"
    data = got.table
    if truth_label:
        if truth_label not in data:
            raise GbiInputError(
                f"--truth-label {truth_label!r}: no such column, found {sorted(data)}"
            )
        data["label"] = data.pop(truth_label)
    else:
        data.pop("label", None)
    grid = load_signal_grid(list(signal_grid), regions=config.regions) if signal_grid else None
    result = run_inference(data, config=config, signal_grid=grid)
    summary = result.to_dict()
    validate(summary, "infer-result", "the inference result")
    write_json(summary, json_path)
    if out_dir is not None:
        _plots(result, Path(out_dir))
    return result


def _plots(result: InferResult, out_dir: Path) -> None:
    from gbi.infer.plots import plot_mass_scan, plot_profile

    profiles = {name: fit.profile for name, fit in result.fits.items() if name != "binned"}
    if profiles:
        plot_profile(profiles, out_dir / "likelihood_scan.png", result.mu_true)
    if result.mass_scan is not None:
        plot_mass_scan(result.mass_scan, out_dir / "mass_scan.png")
