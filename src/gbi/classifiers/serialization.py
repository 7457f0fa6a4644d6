"""Trained k-fold classifier ensembles saved as data, never as code.

A saved ensemble is a directory::

    DIR/classifier.json   manifest (schema ``classifier-1.0``): kind, fold count, number of
                          input features, the ClassifierConfig, the caller's metadata (gbi
                          detect: method, feature names, cuts, latent flow directory) and per
                          fold its file, SHA-256 and training figures
    DIR/fold_<k>.skops    kind "hgb": the fitted HistGradientBoostingClassifier (skops.io)
    DIR/fold_<k>.ubj      kind "xgb": the booster in xgboost's UBJSON model format (data only)
    DIR/fold_<k>.pt       kind "mlp": the network's state dict (``torch.load(...,
                          weights_only=True)``); the standardisation (``mean``, ``scale`` in
                          the units of the input features) is in the manifest, as JSON
                          floats (exact: Python writes the shortest round-tripping repr)

Why skops for the gradient boosting: ``skops.io`` stores the estimator's state as JSON plus
``.npy`` arrays and rebuilds only types that are trusted. gbi passes an explicit list
(:data:`HGB_TRUSTED_TYPES`: the one type beyond skops' own trusted scikit-learn and numpy
types that a fitted HistGradientBoostingClassifier holds) and refuses a file holding any
other type before loading it. It rebuilds the very estimator object, so scores are
bit-identical after save and load (``tests/test_no_code_in_files.py``; measured: identical
``predict_proba`` on 100k events). The alternatives: dumping the TreePredictor node arrays
to npz would rebuild private scikit-learn objects by hand in gbi (what skops maintains for
each scikit-learn release), and xgboost's JSON model would change the classifier.

The directory is written next to its target and renamed into place, so an error leaves
the previous classifier (or none), never a half-written one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gbi.classifiers.kfold import KFoldEnsemble
from gbi.classifiers.models import ClassifierConfig, GradientBoosting
from gbi.errors import GbiInputError
from gbi.schema import validate

__all__ = ["HGB_TRUSTED_TYPES", "MANIFEST", "load_ensemble", "save_ensemble"]

MANIFEST = "classifier.json"

#: Types a skops file of a fitted HistGradientBoostingClassifier may hold beyond skops'
#: default trusted scikit-learn/numpy types (checked with ``skops.io.get_untrusted_types``).
HGB_TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def save_ensemble(
    ensemble: KFoldEnsemble, directory: str | os.PathLike[str], metadata: Mapping[str, Any]
) -> Path:
    """Write a trained ensemble and JSON-ready ``metadata`` to ``directory`` (replaced)."""
    from gbi import __version__

    if not ensemble.models:
        raise GbiInputError("the ensemble is not trained: call fit() before saving it")
    directory = Path(directory)
    kind = ensemble.config.kind
    with _staging(directory) as stage:
        folds = [_save_fold(model, stage, k, kind) for k, model in enumerate(ensemble.models)]
        config = dataclasses.asdict(ensemble.config)
        config["hidden"] = list(config["hidden"])
        manifest = {
            "version": "1.0",
            "gbi_version": __version__,
            "libraries": _library_versions(kind),
            "kind": kind,
            "n_folds": len(folds),
            "n_features": _n_features(ensemble.models[0], kind),
            "config": config,
            "metadata": dict(metadata),
            "folds": folds,
        }
        validate(manifest, "classifier", f"classifier manifest for {directory}")
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return directory


def load_ensemble(
    directory: str | os.PathLike[str], *, device: str = "cpu"
) -> tuple[KFoldEnsemble, dict[str, Any]]:
    """Load a directory written by :func:`save_ensemble`: the ensemble and its metadata.

    MLP folds are loaded on ``device`` (``cpu``, ``cuda`` or ``auto``). Raises
    :class:`GbiInputError` naming the file for a missing, tampered or foreign file.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    fields = {f.name for f in dataclasses.fields(ClassifierConfig)}
    config_doc = {k: v for k, v in manifest["config"].items() if k in fields}
    config_doc["hidden"] = tuple(config_doc.get("hidden", ()))
    config = ClassifierConfig(**{**config_doc, "device": device})
    ensemble = KFoldEnsemble(config, n_folds=manifest["n_folds"])
    for entry in manifest["folds"]:
        path = directory / entry["file"]
        _check_digest(path, entry["sha256"])
        if config.kind == "hgb":
            model: Any = _load_hgb(path, config, manifest["n_features"])
        elif config.kind == "xgb":
            model = _load_xgb(path, config, manifest["n_features"])
        else:
            model = _load_mlp(path, config, entry, manifest["n_features"])
        for name in ("best_iteration", "val_loss"):
            if name in entry:
                setattr(model, name, entry[name])
        ensemble.models.append(model)
    return ensemble, dict(manifest["metadata"])


@contextlib.contextmanager
def _staging(directory: Path) -> Any:
    """A fresh sibling folder that replaces ``directory`` when the block succeeds."""
    from gbi.io import _current_umask

    if directory.exists() and not _replaceable(directory):
        raise GbiInputError(
            f"{directory}: expected a classifier directory written by gbi (or nothing) to "
            f"replace, found a {'file' if directory.is_file() else 'folder'} without "
            f"{MANIFEST}; choose another output path or remove it"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(
        tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent)
    )
    os.chmod(stage, 0o777 & ~_current_umask())  # mkdtemp makes 0700; outputs are ordinary
    try:
        yield stage
        if directory.exists():  # the old directory goes only once the new one is complete
            old = Path(
                tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent)
            )
            os.replace(directory, old / "previous")
            os.replace(stage, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, directory)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _replaceable(directory: Path) -> bool:
    return directory.is_dir() and ((directory / MANIFEST).is_file() or not any(directory.iterdir()))


def _save_fold(model: Any, stage: Path, k: int, kind: str) -> dict[str, Any]:
    from gbi.flows.checkpoint import file_sha256, save_state

    entry: dict[str, Any] = {}
    if kind == "hgb":
        import skops.io

        entry["file"] = f"fold_{k}.skops"
        skops.io.dump(model.model, stage / entry["file"])
        entry["best_iteration"] = int(model.best_iteration)
    elif kind == "xgb":
        entry["file"] = f"fold_{k}.ubj"
        model.model.save_model(stage / entry["file"])  # xgboost's UBJSON format: data only
        entry["best_iteration"] = int(model.best_iteration)
    else:
        entry["file"] = f"fold_{k}.pt"
        state = {key: value.detach().cpu() for key, value in model.network.state_dict().items()}
        save_state(state, stage / entry["file"])
        entry["mean"] = np.asarray(model.mean, dtype=np.float64).tolist()
        entry["scale"] = np.asarray(model.scale, dtype=np.float64).tolist()
        entry["epochs"] = len(getattr(model, "history", []))
    val_loss = float(getattr(model, "val_loss", float("nan")))
    entry["val_loss"] = val_loss if math.isfinite(val_loss) else None
    entry["sha256"] = file_sha256(stage / entry["file"])
    return entry


def _n_features(model: Any, kind: str) -> int:
    return int(model.model.n_features_in_) if kind in ("hgb", "xgb") else len(model.mean)


def _library_versions(kind: str) -> dict[str, str]:
    from importlib.metadata import version

    names = {"hgb": ("scikit-learn", "skops"), "xgb": ("xgboost",)}.get(kind, ("torch",))
    return {name: version(name) for name in names}


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        found = "no such directory" if not directory.exists() else f"no {MANIFEST}"
        if directory.is_file():
            found = "a file (earlier gbi versions pickled classifiers: re-run gbi detect)"
        raise GbiInputError(
            f"classifier {str(directory)!r}: expected a directory with {MANIFEST} written by "
            f"'gbi detect', found {found}"
        )
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise GbiInputError(
            f"{path}: expected the JSON manifest of a gbi classifier, found unreadable content "
            f"({err}); re-run 'gbi detect' or restore the directory"
        ) from err
    validate(manifest, "classifier", str(path))
    if len(manifest["folds"]) != manifest["n_folds"]:
        raise GbiInputError(
            f"{path}: expected {manifest['n_folds']} folds (n_folds), found "
            f"{len(manifest['folds'])} entries in 'folds'; re-run 'gbi detect'"
        )
    return manifest


def _check_digest(path: Path, expected: str) -> None:
    from gbi.flows.checkpoint import file_sha256

    if not path.is_file():
        raise GbiInputError(
            f"classifier fold file {str(path)!r}: expected a file listed in {MANIFEST}, found "
            "nothing; re-run 'gbi detect' or restore the directory"
        )
    if file_sha256(path) != expected:
        raise GbiInputError(
            f"classifier fold file {str(path)!r}: expected SHA-256 {expected[:12]}... recorded "
            f"in {MANIFEST}, found different content (corrupted or replaced file); re-run "
            "'gbi detect' or restore the directory"
        )


def _load_xgb(path: Path, config: ClassifierConfig, n_features: int) -> Any:
    from gbi.classifiers.models import XGBoost, require_xgboost

    xgboost = require_xgboost()
    model = xgboost.XGBClassifier()
    try:
        model.load_model(path)
    except xgboost.core.XGBoostError as err:
        raise GbiInputError(
            f"{path}: expected an xgboost UBJSON model of a gbi classifier fold, could not "
            f"read it ({err}); re-run 'gbi detect'"
        ) from err
    if int(model.n_features_in_) != n_features:
        raise GbiInputError(
            f"{path}: expected a model of {n_features} features ({MANIFEST}), found "
            f"{model.n_features_in_}; re-run 'gbi detect'"
        )
    wrapper = XGBoost(config)
    wrapper.model = model
    return wrapper


def _load_hgb(path: Path, config: ClassifierConfig, n_features: int) -> GradientBoosting:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingClassifier

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as err:  # BadZipFile, KeyError, JSONDecodeError, ...
        raise GbiInputError(
            f"{path}: expected a skops file of a gbi classifier fold, could not read it "
            f"({type(err).__name__}: {err}); re-run 'gbi detect'"
        ) from err
    unexpected = sorted(set(untrusted) - set(HGB_TRUSTED_TYPES))
    if unexpected:
        raise GbiInputError(
            f"{path}: expected only the types of a HistGradientBoostingClassifier, found "
            f"{unexpected[:5]}; refusing to load it (not a file written by gbi)"
        )
    try:
        estimator = skops.io.load(path, trusted=list(HGB_TRUSTED_TYPES))
    except Exception as err:  # a file that passed the type check but does not rebuild
        raise GbiInputError(
            f"{path}: could not rebuild the classifier ({type(err).__name__}: {err}); "
            "re-run 'gbi detect' with this scikit-learn version"
        ) from err
    found = getattr(estimator, "n_features_in_", None)
    if not isinstance(estimator, HistGradientBoostingClassifier) or found != n_features:
        raise GbiInputError(
            f"{path}: expected a HistGradientBoostingClassifier of {n_features} features, found "
            f"a {type(estimator).__name__} of {found}; re-run 'gbi detect'"
        )
    model = GradientBoosting(config)
    model.model = estimator
    return model


def _load_mlp(
    path: Path, config: ClassifierConfig, entry: Mapping[str, Any], n_features: int
) -> Any:
    from gbi.classifiers.mlp import MLPClassifier
    from gbi.flows.checkpoint import load_into

    mean = np.asarray(entry.get("mean", []), dtype=np.float64)
    scale = np.asarray(entry.get("scale", []), dtype=np.float64)
    if mean.shape != (n_features,) or scale.shape != (n_features,) or not (scale > 0).all():
        raise GbiInputError(
            f"{path}: expected 'mean' and 'scale' of {n_features} features (scale > 0) in "
            f"{MANIFEST}, found shapes {mean.shape} and {scale.shape}; re-run 'gbi detect'"
        )
    model = MLPClassifier(config)
    model.network = model._build(n_features)
    load_into(model.network, path, map_location=model.device)  # weights_only=True
    model.network.eval()
    model.mean, model.scale = mean, scale
    return model
