"""The small default sample shipped inside the package.

Made with ``gbi generate`` (Pythia 8 + FastJet, the LHCO R&D recipe); see
``gbi/data/sample/README.md`` for the exact commands. It lets ``gbi demo`` and the test
suite run on a fresh machine without any external data.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from gbi.errors import GbiError

__all__ = ["SAMPLE_DATASETS", "default_fileset", "default_sample_path"]

#: Datasets of the default sample: name -> file name inside ``gbi/data/sample``.
SAMPLE_DATASETS: dict[str, str] = {"qcd": "qcd.root", "wprime": "wprime.root"}


def default_sample_path(dataset: str) -> Path:
    """Path of the shipped ROOT file of ``dataset`` (``"qcd"`` or ``"wprime"``).

    >>> default_sample_path("qcd").name
    'qcd.root'
    """
    if dataset not in SAMPLE_DATASETS:
        raise GbiError(
            f"unknown default-sample dataset {dataset!r}; expected one of {sorted(SAMPLE_DATASETS)}"
        )
    path = Path(str(resources.files("gbi") / "data" / "sample" / SAMPLE_DATASETS[dataset]))
    if not path.is_file():
        raise GbiError(
            f"the default sample file {path} is missing from this installation; reinstall gbi "
            "or make it with ci/make_default_sample.sh"
        )
    return path


def default_fileset() -> dict[str, dict[str, Any]]:
    """The default sample as a normalised fileset ``{dataset: {"files": {path: "Events"}}}``."""
    return {
        name: {"files": {str(default_sample_path(name)): "Events"}, "metadata": {}}
        for name in SAMPLE_DATASETS
    }
