"""The typed result of :func:`gbi.detect.run_detection`.

:class:`DetectSummary` is the ``result.json`` content as an object; :meth:`DetectSummary.to_dict`
gives the JSON of schema ``detect-result-1.0`` (counts are events, stage times seconds,
estimates expected SR events, mjj in GeV). :class:`DetectResult` adds the arrays, histograms
and trained models that :func:`gbi.detect.outputs.write_outputs` writes.

>>> s = DetectSummary(config={"methods": ["idealized"]}, counts=DetectCounts(10, 4, 6))
>>> s.to_dict()["counts"]["signal_region"], list(s.to_dict())
(4, ['version', 'config', 'counts', 'methods', 'messages', 'stages'])
"""

from __future__ import annotations

import dataclasses
from typing import Any

import hist

from gbi.background import MethodRun, SidebandBackground
from gbi.detect.config import DetectConfig
from gbi.tables import Table

__all__ = ["DetectCounts", "DetectMethodSummary", "DetectResult", "DetectSummary"]


@dataclasses.dataclass
class DetectCounts:
    """Events in each sample of the run."""

    data: int
    signal_region: int
    sidebands: int
    generated_sr: int = 0
    test_signal: int = 0
    test_background: int = 0

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DetectMethodSummary:
    """One detector's outcome.

    ``status``: ``ok``, ``not_learned`` or ``skipped``; ``training``: seconds, events per
    class, ``norm`` (expected SR background events per background-class event) and the
    classifier's figures; ``cuts``: one entry per background efficiency (threshold,
    ``n_pass``, ``estimate`` +- ``estimate_err`` in SR events, ``observed_sr``,
    ``excess_significance``, chi2 of the mjj spectra), ``None`` when the method did not
    train; ``expected_source``: where the expected mjj spectra come from; ``evaluation``:
    ROC/SIC with truth, or ``None``.
    """

    status: str
    message: str
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    cuts: list[dict[str, Any]] | None = None
    expected_source: str | None = None
    evaluation: dict[str, Any] | None = None

    @classmethod
    def from_run(cls, run: MethodRun, **fields: Any) -> DetectMethodSummary:
        """The summary of a trained (or skipped) :class:`MethodRun` plus ``fields``."""
        training = run.to_dict()
        status, message = str(training.pop("status")), str(training.pop("message"))
        return cls(status, message, training, **fields)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "message": self.message, **self.training}
        if self.cuts is not None:
            out["cuts"] = self.cuts
            out["expected_source"] = self.expected_source
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation
        return out


@dataclasses.dataclass
class DetectSummary:
    """What a detection run reports.

    ``methods``: one :class:`DetectMethodSummary` per method. ``inputs``: what the files
    were (set by :func:`gbi.detect.files.detect_files`), or ``None``.
    """

    config: dict[str, Any]
    counts: DetectCounts
    methods: dict[str, DetectMethodSummary] = dataclasses.field(default_factory=dict)
    messages: list[str] = dataclasses.field(default_factory=list)
    stages: dict[str, float] = dataclasses.field(default_factory=dict)
    inputs: dict[str, Any] | None = None
    version: str = "1.0"

    def to_dict(self) -> dict[str, Any]:
        """The ``detect-result-1.0`` JSON content (before NaN -> null)."""
        out: dict[str, Any] = {
            "version": self.version,
            "config": self.config,
            "counts": self.counts.to_dict(),
            "methods": {name: m.to_dict() for name, m in self.methods.items()},
            "messages": list(self.messages),
            "stages": dict(self.stages),
        }
        if self.inputs is not None:
            out["inputs"] = self.inputs
        return out


@dataclasses.dataclass
class DetectResult:
    """Everything a run produced (see :func:`gbi.detect.outputs.write_outputs`)."""

    summary: DetectSummary
    scores: Table  # data columns + score_<method>, shape (n_data,) each
    hists: dict[str, hist.Hist]  # "<method>/observed", "<method>/expected"
    runs: dict[str, MethodRun]
    background: SidebandBackground | None
    config: DetectConfig

    def to_dict(self) -> dict[str, Any]:
        """The summary's JSON content (:meth:`DetectSummary.to_dict`)."""
        return self.summary.to_dict()
