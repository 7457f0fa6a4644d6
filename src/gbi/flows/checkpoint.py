"""Safe saving and loading of weights and training checkpoints.

Weights are a ``torch.save`` of a plain state dict; loading always uses
``torch.load(..., weights_only=True)`` so no arbitrary pickle is ever executed. Every
failure (missing, truncated or corrupted file, a state dict that does not fit the
architecture in the JSON configuration) raises :class:`gbi.errors.GbiInputError` naming
the file, what was expected, what was found and what to do.

>>> import tempfile, pathlib, torch
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> module = torch.nn.Linear(2, 1)
>>> digest = save_state(module.state_dict(), d / "w.pt")
>>> load_into(torch.nn.Linear(2, 1), d / "w.pt", sha256=digest)
>>> load_into(torch.nn.Linear(3, 1), d / "w.pt")
Traceback (most recent call last):
...
gbi.errors.GbiInputError: weights file ...
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gbi.errors import GbiInputError
from gbi.io import atomic_path

__all__ = ["file_sha256", "load_checkpoint", "load_into", "load_state", "save_state"]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_state(state: Mapping[str, Any], path: str | os.PathLike[str]) -> str:
    """``torch.save`` ``state`` (tensors, numbers, strings, lists, dicts) atomically.

    Returns the SHA-256 of the written file (stored in the model JSON to detect corruption).
    """
    with atomic_path(path) as tmp:
        torch.save(dict(state), tmp)
        digest = file_sha256(tmp)
    return digest


def load_state(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    sha256: str | None = None,
    what: str = "weights file",
) -> dict[str, Any]:
    """Load a state saved by :func:`save_state` with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise GbiInputError(
            f"{what} {str(path)!r}: expected an existing file, found nothing; "
            "re-train the model or point to the right model directory"
        )
    if sha256 is not None and file_sha256(path) != sha256:
        raise GbiInputError(
            f"{what} {str(path)!r}: expected SHA-256 {sha256[:12]}... recorded in model.json, "
            "found different content (corrupted or replaced file); re-train or restore the model"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise GbiInputError(
            f"{what} {str(path)!r}: expected a torch state dict saved by gbi, could not load it "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "the file is corrupted or not a gbi file: re-train the model"
        ) from err
    if not isinstance(state, dict):
        raise GbiInputError(
            f"{what} {str(path)!r}: expected a dict, found {type(state).__name__}; re-train the model"
        )
    return state


def load_into(
    module: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    map_location: str | torch.device = "cpu",
) -> None:
    """Load the state dict at ``path`` into ``module``, strictly (same keys and shapes)."""
    state = load_state(path, map_location=map_location, sha256=sha256)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
        for k in expected
        if k in state and hasattr(state[k], "shape") and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        details = "; ".join(
            part
            for part in (
                f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "",
                f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}"
                if unexpected
                else "",
                f"shape mismatch {mismatched[:3]}" if mismatched else "",
            )
            if part
        )
        raise GbiInputError(
            f"weights file {str(path)!r}: expected parameters of the architecture in model.json, "
            f"found a mismatched state dict ({details}); the weights and model.json do not belong "
            "together: re-train or restore the model directory"
        )
    module.load_state_dict(state, strict=True)


def load_checkpoint(
    path: str | os.PathLike[str], *, fingerprint: str, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a training checkpoint and check it was written for the same run ``fingerprint``."""
    state = load_state(path, map_location=map_location, what="checkpoint")
    found = state.get("fingerprint")
    if found != fingerprint:
        raise GbiInputError(
            f"checkpoint {str(path)!r}: expected a checkpoint of this configuration and data "
            f"(fingerprint {fingerprint[:12]}), found {str(found)[:12]}; "
            "train without --resume or use a new --out directory"
        )
    return state
