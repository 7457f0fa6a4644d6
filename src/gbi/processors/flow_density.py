"""``FlowDensityProcessor``: apply a saved flow to every chunk, where the data is.

For each event with two fat jets the LHCO features are computed (as in
:class:`~gbi.processors.dijet.DijetFeatureProcessor`) and the flow's log density
``log p(features | context)`` is evaluated (natural log, density per unit of the features
in GeV). Output per dataset::

    {dataset: {
        "hists":  {"flow_log_prob": hist.Hist(region, flow_log_prob; Weight storage)},
        "chunks": {"<file>::<entrystart>": {"flow_log_prob", "mjj", "region", "weight", "event", ...}},
        "cutflow": {"events": int, "two_fatjets": int, "finite_log_prob": int},
    }}

The model is loaded once per worker process (cached by directory), so it runs on dask
workers without being shipped with every task; only the model *directory path* travels.
Low log density flags events the model finds unlikely (outliers, or data the model was not
trained on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hist
import numpy as np
from coffea import processor

from gbi.features import dijet_features, event_columns
from gbi.processors.dijet import ID_COLUMNS
from gbi.regions import REGION_NAMES, Regions

__all__ = ["FlowDensityProcessor"]


def _load(directory: str, device: str) -> Any:
    from gbi.flows.sampling import cached_model  # one load per worker process

    return cached_model(directory, device)


class FlowDensityProcessor(processor.ProcessorABC):
    """Evaluate a trained :class:`gbi.flows.FlowModel` on each chunk.

    Parameters
    ----------
    model_dir
        Directory written by ``gbi amplify train`` / :func:`gbi.flows.train_model`. Its
        feature and context columns must be LHCO feature names (``mjj``, ``mj1``, ...).
    regions
        Regions used to split the histogram (default SR 3300-3700 GeV).
    device
        ``"cpu"`` (default: one model copy per worker process) or ``"auto"``/``"cuda"``.
    log_prob_axis
        ``(bins, low, high)`` of the log-density histogram.
    """

    def __init__(
        self,
        model_dir: str | Path,
        regions: Regions | None = None,
        device: str = "cpu",
        log_prob_axis: tuple[int, float, float] = (100, -40.0, 10.0),
    ) -> None:
        self.model_dir = str(Path(model_dir).resolve())
        self.regions = regions or Regions()
        self.device = device
        self.log_prob_axis = log_prob_axis
        model = _load(self.model_dir, device)  # fail early, in the client, on a bad model
        self.columns = tuple(model.features) + tuple(model.context)

    def process(self, events: Any) -> dict[str, Any]:
        metadata = events.metadata
        model = _load(self.model_dir, self.device)
        has_two, features = dijet_features(events.FatJet)
        n_events = len(events)
        scalars = event_columns(events, ("genWeight", *ID_COLUMNS))
        weights = scalars.get("genWeight", np.ones(n_events)).astype(np.float64)[has_two]
        log_prob = np.full(int(has_two.sum()), np.nan)
        finite_inputs = np.all([np.isfinite(features[c]) for c in self.columns], axis=0)
        if finite_inputs.any():
            selected = {c: features[c][finite_inputs] for c in self.columns}
            log_prob[finite_inputs] = model.log_prob(selected, source=str(metadata["filename"]))
        region = self.regions.assign(features["mjj"])
        bins, low, high = self.log_prob_axis
        histogram = hist.Hist(
            hist.axis.StrCategory(list(REGION_NAMES), name="region"),
            hist.axis.Regular(bins, low, high, name="flow_log_prob", label="flow log density"),
            storage=hist.storage.Weight(),
        )
        ok = np.isfinite(log_prob)
        for index, name in enumerate(REGION_NAMES):
            mask = ok & (region == index)
            histogram.fill(region=name, flow_log_prob=log_prob[mask], weight=weights[mask])
        columns = {
            "flow_log_prob": log_prob,
            "mjj": features["mjj"],
            "region": region,
            "weight": weights,
        }
        for name in ID_COLUMNS:
            columns[name] = scalars[name][has_two]
        key = f"{metadata['filename']}::{int(metadata['entrystart']):015d}"
        return {
            metadata["dataset"]: {
                "hists": {"flow_log_prob": histogram},
                "chunks": {key: columns},
                "cutflow": {
                    "events": n_events,
                    "two_fatjets": int(has_two.sum()),
                    "finite_log_prob": int(ok.sum()),
                },
            }
        }

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
