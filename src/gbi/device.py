"""The one device resolver: which torch device a stage runs on.

``"auto"`` picks CUDA when a GPU and a CUDA build of torch are present, else the CPU; an
explicit ``"cuda"`` without a GPU is an error that says what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gbi.errors import GbiInputError

if TYPE_CHECKING:
    import torch

__all__ = ["resolve_device"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU is an error.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise GbiInputError(f"device: expected auto, cpu or cuda, found {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GbiInputError(
            f"device: expected a CUDA GPU for --device {device}, found none; use --device cpu or auto"
        )
    return torch.device(device)
