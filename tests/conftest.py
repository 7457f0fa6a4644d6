"""Shared fixtures.

Tests that need the real data in ``../shared/data`` use the ``shared_data`` fixture (or
``lhco_file``/``nanoaod_file``), which skips with a clear reason when it is absent:
users do not have ``../shared``; CI does, so those tests run there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # library plots never pick a backend; tests do

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GBI_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is not there."""
    if not (SHARED_DATA / "lhco_like").is_dir():
        pytest.skip(
            f"needs the shared data directory {SHARED_DATA} (set GBI_SHARED_DATA to override); "
            "it is present in CI, absent on a user's machine"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def lhco_dir(shared_data: Path) -> Path:
    return shared_data / "lhco_like"


@pytest.fixture(scope="session")
def testdata_dir(shared_data: Path) -> Path:
    return shared_data / "scikit-hep-testdata"
