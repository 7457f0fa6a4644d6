"""Writing a detection run: scores, histograms, saved classifiers, result JSON, SIC plot.

Files in the output directory:

======================== ==============================================================
``scores.parquet``       data events (features, mjj, region, label if any) with one
                         ``score_<method>`` column per method (SR: out-of-fold scores)
``hists.json``           ``{"<method>/observed"|"<method>/expected": hist.Hist}``, axes
                         cut x mjj [GeV], Weight storage (sum of weights and variances),
                         UHI JSON (:func:`gbi.hists.read_histograms`)
``hists.pkl``            the same dict pickled, for coffea users (gbi never loads it)
``classifier_<m>/``      :class:`SavedClassifier` for the coffea processor: JSON manifest
                         + one data file per fold (:mod:`gbi.classifiers.serialization`)
``result.json``          summary following ``gbi/schemas/detect-result-1.0.json``
``sic.png``              SIC vs signal efficiency of all evaluated methods
``flow/``                the sideband flow (``FlowModel`` directory)
======================== ==============================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from gbi.background import cut_label, thresholds
from gbi.detect.result import DetectResult
from gbi.errors import GbiInputError
from gbi.hists import write_histograms
from gbi.io import write_json, write_pickle
from gbi.schema import validate
from gbi.tables import write_table

__all__ = ["SavedClassifier", "load_classifier", "plot_sic", "write_outputs"]


@dataclasses.dataclass
class SavedClassifier:
    """A trained fold ensemble with what is needed to apply it to new events.

    ``features`` are the input columns (GeV); ``cuts`` maps a cut label to its score
    threshold; ``latent_flow`` is the flow directory when inputs are latent coordinates.
    """

    method: str
    features: tuple[str, ...]
    ensemble: Any
    cuts: dict[str, float]
    latent_flow: str | None = None

    def _latent_map(self) -> Any:
        """The sideband flow, loaded once per process (kept out of the pickle)."""
        cached = self.__dict__.get("_flow")
        if cached is None:
            from gbi.background import SidebandBackground
            from gbi.flows import FlowModel

            cached = SidebandBackground(FlowModel.load(self.latent_flow, device="auto"), None)  # type: ignore[arg-type]
            self.__dict__["_flow"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_flow"}

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the classifier as data (manifest + fold files) to ``directory``."""
        from gbi.classifiers.serialization import save_ensemble

        metadata = {
            "method": self.method,
            "features": list(self.features),
            "cuts": dict(self.cuts),
            "latent_flow": self.latent_flow,
        }
        return save_ensemble(self.ensemble, directory, metadata)

    def score(
        self,
        columns: dict[str, np.ndarray],
        mode: str = "mean",
        fold_index: np.ndarray | None = None,
    ) -> np.ndarray:
        """Score events ``{column: (n,)}``, shape ``(n,)``.

        ``mode="mean"``: mean of the fold models (best discrimination). ``mode="single"``:
        each event by one fold model, ``fold_index % n_folds`` (e.g. the event number), so
        scores are distributed like the out-of-fold scores that fixed :attr:`cuts`: the
        cuts then keep their nominal background efficiency on new events.
        """
        x = np.stack([np.asarray(columns[f], dtype=np.float64) for f in self.features], 1)
        if self.latent_flow is not None:
            x = self._latent_map().latent(columns)
        if not len(x):
            return np.empty(0)
        if mode == "mean":
            return self.ensemble.predict(x)
        if mode != "single":
            raise GbiInputError(f"score mode: expected 'mean' or 'single', found {mode!r}")
        models = self.ensemble.models
        which = (
            np.arange(len(x)) if fold_index is None else np.asarray(fold_index, dtype=np.int64)
        ) % len(models)
        out = np.empty(len(x))
        for k, model in enumerate(models):
            mask = which == k
            if mask.any():
                out[mask] = model.score(x[mask])
        return out


def load_classifier(
    path: str | os.PathLike[str], *, device: str = "cpu", allow_pickle: bool = False
) -> SavedClassifier:
    """Load a ``classifier_<method>/`` directory written by :func:`write_outputs`.

    Nothing in it runs code (JSON, skops with an explicit type list, weights-only torch
    state dicts). A pickled classifier of an earlier gbi (a ``.pkl`` file) is loaded only
    with ``allow_pickle=True``: a pickle can run code when it is loaded.
    """
    from gbi.classifiers.serialization import load_ensemble

    path = Path(path)
    if path.is_file() and path.suffix in (".pkl", ".pickle"):
        return _load_pickled(path, allow_pickle)
    ensemble, meta = load_ensemble(path, device=device)
    return SavedClassifier(
        str(meta.get("method", path.name.removeprefix("classifier_"))),
        tuple(meta.get("features", ())),
        ensemble,
        {str(k): float(v) for k, v in meta.get("cuts", {}).items()},
        latent_flow=meta.get("latent_flow"),
    )


def _load_pickled(path: Path, allow_pickle: bool) -> SavedClassifier:
    from gbi.hists import load_pickle

    hint = (
        "re-run 'gbi detect' to write the classifier as data (classifier_<method>/), or, only "
        "for a file you trust, pass --allow-pickle (processors/anomaly_scores.py) or "
        "allow_pickle=True (Python)"
    )
    obj = load_pickle(path, allow_pickle=allow_pickle, hint=hint)
    if not isinstance(obj, SavedClassifier):
        raise GbiInputError(
            f"{str(path)!r}: expected a gbi SavedClassifier, found {type(obj).__name__}"
        )
    return obj


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def plot_sic(
    curves: dict[str, dict[str, Any]], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """SIC vs signal efficiency (TPR) for each method (``{name: evaluation dict}``)."""
    from gbi.plotting import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, ev in curves.items():
        curve = ev.get("curve") if ev else None
        if not curve or not curve.get("tpr"):
            continue
        label = f"{name} (max {ev['max_sic']:.1f})" if ev.get("max_sic") else name
        ax.plot(curve["tpr"], curve["sic"], label=label)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("signal efficiency (TPR)")
    ax.set_ylabel(r"SIC = TPR / $\sqrt{\mathrm{FPR}}$")
    ax.set_xlim(0, 1)
    if title:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:  # no curve when no method could be evaluated
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    from gbi.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_outputs(result: DetectResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write every output file (see module doc); returns ``{kind: path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    written["scores"] = write_table(result.scores, out / "scores.parquet")
    written["hists"] = write_histograms(result.hists, out / "hists.json")
    written["hists_pickle"] = write_pickle(result.hists, out / "hists.pkl")
    flow_dir = None
    if result.background is not None and result.background.model.directory is not None:
        flow_dir = str(result.background.model.directory)
    for name, run in result.runs.items():
        if not run.usable or run.background_scores is None:
            continue
        cuts = thresholds(run.background_scores, result.config.cuts)
        saved = SavedClassifier(
            name,
            tuple(result.config.features),
            run.ensemble,
            {cut_label(e): float(t) for e, t in zip(result.config.cuts, cuts, strict=True)},
            latent_flow=flow_dir if name == "latent" else None,
        )
        if name == "latent" and flow_dir is None:
            continue  # latent inputs need the flow on disk
        written[f"classifier_{name}"] = saved.save(out / f"classifier_{name}")
    summary = _clean(result.to_dict())
    summary["outputs"] = {k: str(v) for k, v in written.items()}
    evaluations = {n: m["evaluation"] for n, m in summary["methods"].items() if m.get("evaluation")}
    if evaluations:
        written["sic_plot"] = plot_sic(evaluations, out / "sic.png")
        summary["outputs"]["sic_plot"] = str(written["sic_plot"])
    validate(summary, "detect-result", "detect result")
    written["result"] = write_json(summary, out / "result.json")
    return written
