"""``DijetFeatureProcessor``: LHCO dijet features, cutflow and weighted histograms per dataset.

Output of :meth:`DijetFeatureProcessor.process` for one chunk (merged by coffea over chunks)::

    {dataset: {
        "cutflow":  {"events": int, "two_fatjets": int, "in_range": int, "SBL": int, "SR": int, "SBH": int,
                     "sumw_events": float, "sumw_two_fatjets": float},
        "hists":    {"mjj" | "mj1" | ... : hist.Hist(region, feature; Weight storage)},
        "chunks":   {"<file>::<entrystart>": {column: np.ndarray}},
        # or, with ``columns_dir``: "column_parts": {"<file>::<entrystart>": "<part path>"}
        "mjj_range": {"<file>::<entrystart>": (min, max)},
    }}

Feature columns are kept per chunk under a key made of the file name and the first entry,
and :func:`assemble_columns` concatenates them in sorted key order: the result does not
depend on the order in which chunks finish (iterative, process pool or dask).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hist
import numpy as np
from coffea import processor

from gbi.column_parts import part_path, write_column_part
from gbi.features import FEATURE_COLUMNS, dijet_features, event_columns
from gbi.regions import REGION_NAMES, Regions

__all__ = [
    "ID_COLUMNS",
    "OPTIONAL_BRANCHES",
    "REQUIRED_BRANCHES",
    "DijetFeatureProcessor",
    "assemble_columns",
    "default_axes",
]

#: Branches the processor reads (checked up front by :func:`gbi.fileset.check_files`).
REQUIRED_BRANCHES: tuple[str, ...] = (
    "run",
    "luminosityBlock",
    "event",
    "nFatJet",
    "FatJet_pt",
    "FatJet_eta",
    "FatJet_phi",
    "FatJet_mass",
    "FatJet_tau1",
    "FatJet_tau2",
)
#: Branches read when a file has them (weights, truth labels of simulated samples).
OPTIONAL_BRANCHES: tuple[str, ...] = ("genWeight", "label")
#: Event identifiers carried along with the features.
ID_COLUMNS: tuple[str, ...] = ("run", "luminosityBlock", "event")

_LABELS = {
    "mjj": r"$m_{jj}$ [GeV]",
    "mj1": r"$m_{j1}$ (lighter jet) [GeV]",
    "delta_mj": r"$\Delta m_{j} = m_{j2} - m_{j1}$ [GeV]",
    "tau21_j1": r"$\tau_{21}$ of the lighter jet",
    "tau21_j2": r"$\tau_{21}$ of the heavier jet",
}


def default_axes(regions: Regions) -> dict[str, hist.axis.Regular]:
    """Default binning per feature: mjj in 100 GeV bins over the regions' range."""
    low, high = regions.range_low, regions.range_high
    return {
        "mjj": hist.axis.Regular(
            max(1, round((high - low) / 100.0)), low, high, name="mjj", label=_LABELS["mjj"]
        ),
        "mj1": hist.axis.Regular(60, 0.0, 1200.0, name="mj1", label=_LABELS["mj1"]),
        "delta_mj": hist.axis.Regular(60, 0.0, 1200.0, name="delta_mj", label=_LABELS["delta_mj"]),
        "tau21_j1": hist.axis.Regular(40, 0.0, 1.6, name="tau21_j1", label=_LABELS["tau21_j1"]),
        "tau21_j2": hist.axis.Regular(40, 0.0, 1.6, name="tau21_j2", label=_LABELS["tau21_j2"]),
    }


class DijetFeatureProcessor(processor.ProcessorABC):
    """Compute the LHCO features of each event and fill weighted histograms by mjj region.

    Parameters
    ----------
    regions
        Signal region and sidebands (default: SR 3300-3700 GeV in 1000-10000 GeV).
    keep_columns
        Keep the per-event feature columns (turn off to fill histograms only).
    columns_dir
        When given, each chunk writes its columns to a part file under this folder
        (:mod:`gbi.column_parts`) and returns ``"column_parts": {chunk_key: path}`` instead
        of the arrays under ``"chunks"``: memory then does not grow with the events kept.
        Every worker must see the folder.

    Weights are ``genWeight`` when the tree has it, else 1. Events with fewer than two
    ``FatJet`` s are counted in the cutflow (``events`` minus ``two_fatjets``).
    """

    def __init__(
        self,
        regions: Regions | None = None,
        keep_columns: bool = True,
        columns_dir: str | None = None,
    ) -> None:
        self.regions = regions or Regions()
        self.keep_columns = keep_columns
        self.columns_dir = None if columns_dir is None else str(columns_dir)

    def _empty_hists(self) -> dict[str, hist.Hist]:
        region_axis = hist.axis.StrCategory(list(REGION_NAMES), name="region", label="mjj region")
        return {
            name: hist.Hist(region_axis, axis, storage=hist.storage.Weight())
            for name, axis in default_axes(self.regions).items()
        }

    def process(self, events: Any) -> dict[str, Any]:
        metadata = events.metadata
        dataset = metadata["dataset"]
        n_events = len(events)
        wanted = ("genWeight", *ID_COLUMNS, "label") if self.keep_columns else ("genWeight",)
        scalars = event_columns(events, wanted)
        if "genWeight" in scalars:
            weights = scalars["genWeight"].astype(np.float64)
        else:
            weights = np.ones(n_events, dtype=np.float64)

        has_two, features = dijet_features(events.FatJet)
        passing_weights = weights[has_two]
        region = self.regions.assign(features["mjj"])

        cutflow: dict[str, float] = {
            "events": n_events,
            "two_fatjets": int(has_two.sum()),
            "in_range": int((region >= 0).sum()),
            "sumw_events": float(weights.sum()),
            "sumw_two_fatjets": float(passing_weights.sum()),
        }
        counts = np.bincount(region[region >= 0], minlength=len(REGION_NAMES))
        cutflow.update({name: int(counts[i]) for i, name in enumerate(REGION_NAMES)})
        hists = self._empty_hists()
        for feature in FEATURE_COLUMNS:
            _fill_by_region_index(hists[feature], region, features[feature], passing_weights)

        mjj = features["mjj"]
        key = f"{metadata['filename']}::{int(metadata['entrystart']):015d}"
        out: dict[str, Any] = {"cutflow": cutflow, "hists": hists, "mjj_range": {}}
        if len(mjj):
            # per-chunk (min, max): disjoint keys merge without arithmetic
            out["mjj_range"][key] = (float(mjj.min()), float(mjj.max()))
        if self.keep_columns:
            columns = {name: features[name] for name in FEATURE_COLUMNS}
            columns["weight"] = passing_weights
            columns["region"] = region
            for name in (*ID_COLUMNS, "label"):
                if name in scalars:
                    columns[name] = scalars[name][has_two]
            if self.columns_dir is None:
                out["chunks"] = {key: columns}
            else:
                path = write_column_part(columns, part_path(self.columns_dir, dataset, key))
                out["column_parts"] = {key: str(path)}
        return {dataset: out}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def _fill_by_region_index(
    target: hist.Hist, region: np.ndarray, values: np.ndarray, weights: np.ndarray
) -> None:
    """Fill ``target`` (axes: region category, feature) from region indices (-1: none).

    A category axis is filled by its string values, so 15 fills (3 regions x 5 features)
    were needed, after a sort by region: 2.4 ms per 50k events. One fill per feature of an
    integer region axis, copied into the category histogram's bins, takes 1.5 ms.
    """
    by_index = hist.Hist(
        hist.axis.Integer(0, len(REGION_NAMES), underflow=False, overflow=False),
        target.axes[1],
        storage=hist.storage.Weight(),
    )
    by_index.fill(region, values, weight=weights)
    target.view(flow=True)[: len(REGION_NAMES)] = by_index.view(flow=True)


def assemble_columns(chunks: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-chunk columns in sorted chunk-key order (independent of finish order).

    >>> a = {"f::000000000000010": {"x": np.array([3.0])}, "f::000000000000000": {"x": np.array([1.0, 2.0])}}
    >>> assemble_columns(a)["x"].tolist()
    [1.0, 2.0, 3.0]
    """
    if not chunks:
        return {}
    keys = sorted(chunks)
    names = list(chunks[keys[0]])
    return {name: np.concatenate([np.asarray(chunks[k][name]) for k in keys]) for name in names}
