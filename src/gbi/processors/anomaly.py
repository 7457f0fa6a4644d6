"""``AnomalyScoreProcessor``: apply saved ``gbi detect`` classifier ensembles to chunks of
NanoAOD-style events and fill weighted mjj histograms for each score cut.

Output of :meth:`AnomalyScoreProcessor.process` for one chunk (merged by coffea)::

    {dataset: {
        "cutflow": {"events": int, "two_fatjets": int, "in_range": int},
        "hists":   {method: hist.Hist(cut, region, mjj; Weight storage)},
    }}

``cut`` is ``"all"`` and the labels of the saved cuts (``"10%"``, ``"1%"``, ``"0.1%"``,
background efficiencies fixed when the classifier was trained), ``region`` is ``SBL``,
``SR``, ``SBH``; weights are ``genWeight`` (1 when absent). Each classifier directory is
loaded once per worker process (cached by path), not pickled with the processor; it holds
data only (:mod:`gbi.classifiers.serialization`), and a pickled classifier of an earlier
gbi is read only with ``allow_pickle=True``. Each event is
scored by one fold model chosen by its event number (``event % n_folds``): such scores are
distributed like the out-of-fold scores that fixed the cuts, so a cut keeps its nominal
background efficiency on new events (the fold mean would shift it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hist
import numpy as np
from coffea import processor

from gbi.features import dijet_features, event_columns
from gbi.regions import REGION_NAMES, Regions

__all__ = ["AnomalyScoreProcessor", "score_histogram"]

_CACHE: dict[str, Any] = {}


def _load(path: str, allow_pickle: bool = False) -> Any:
    if path not in _CACHE:
        from gbi.detect.outputs import load_classifier

        _CACHE[path] = load_classifier(path, allow_pickle=allow_pickle)
    return _CACHE[path]


def score_histogram(cuts: list[str], edges: np.ndarray) -> hist.Hist:
    """Empty ``hist.Hist`` (cut x region x mjj [GeV]) with Weight storage.

    >>> h = score_histogram(["10%"], np.array([3000.0, 3500.0, 4000.0]))
    >>> [ax.name for ax in h.axes]
    ['cut', 'region', 'mjj']
    """
    return hist.Hist(
        hist.axis.StrCategory(["all", *cuts], name="cut", label="background efficiency"),
        hist.axis.StrCategory(list(REGION_NAMES), name="region", label="mjj region"),
        hist.axis.Variable(edges, name="mjj", label="$m_{jj}$ [GeV]"),
        storage=hist.storage.Weight(),
    )


class AnomalyScoreProcessor(processor.ProcessorABC):
    """Score events with saved classifiers and histogram mjj per cut and region.

    Parameters
    ----------
    classifiers
        ``{method: classifier_<method>/ directory}`` written by ``gbi detect``.
    regions
        Signal region and sidebands (GeV).
    edges
        mjj bin edges in GeV; default 100 GeV bins from 2500 to 6000 GeV.
    allow_pickle
        Also read pickled classifiers (``.pkl``, earlier gbi versions). A pickle can run
        code when it is loaded, on every worker: only for files you trust.
    """

    def __init__(
        self,
        classifiers: Mapping[str, str | os.PathLike[str]],
        regions: Regions | None = None,
        edges: np.ndarray | None = None,
        allow_pickle: bool = False,
    ) -> None:
        self.classifiers = {name: str(Path(p).resolve()) for name, p in classifiers.items()}
        self.allow_pickle = allow_pickle
        for path in self.classifiers.values():
            _load(path, allow_pickle)  # fail early with a clear message
        self.regions = regions or Regions()
        self.edges = np.arange(2500.0, 6000.1, 100.0) if edges is None else np.asarray(edges)

    def process(self, events: Any) -> dict[str, Any]:
        dataset = events.metadata["dataset"]
        n_events = len(events)
        scalars = event_columns(events, ("genWeight", "event"))
        weights = scalars.get("genWeight", np.ones(n_events)).astype(np.float64)
        has_two, features = dijet_features(events.FatJet)
        w = weights[has_two]
        region = self.regions.assign(features["mjj"])
        keep = region >= 0
        cutflow = {
            "events": n_events,
            "two_fatjets": int(has_two.sum()),
            "in_range": int(keep.sum()),
        }
        hists: dict[str, hist.Hist] = {}
        columns = {k: np.asarray(v)[keep] for k, v in features.items()}
        if "event" in scalars:
            event = scalars["event"][has_two][keep]
        else:
            event = np.arange(len(region))[keep] + int(events.metadata.get("entrystart", 0))
        names = np.asarray(REGION_NAMES)[region[keep]] if keep.any() else np.empty(0, str)
        for method, path in self.classifiers.items():
            saved = _load(path, self.allow_pickle)
            h = score_histogram(list(saved.cuts), self.edges)
            if keep.any():
                score = saved.score(columns, mode="single", fold_index=event)
                h.fill(cut="all", region=names, mjj=columns["mjj"], weight=w[keep])
                for label, threshold in saved.cuts.items():
                    sel = score > threshold
                    h.fill(
                        cut=label, region=names[sel], mjj=columns["mjj"][sel], weight=w[keep][sel]
                    )
            hists[method] = h
        return {dataset: {"cutflow": cutflow, "hists": hists}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
