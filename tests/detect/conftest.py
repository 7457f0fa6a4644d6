"""Fixtures of the detection tests."""

from __future__ import annotations

import numpy as np
import pytest
from detect_toys import toy_background, toy_signal


@pytest.fixture(scope="module")
def toy_samples() -> dict[str, dict[str, np.ndarray]]:
    return {
        "background": toy_background(20000, 1),
        "reference": toy_background(20000, 2),
        "signal_pool": toy_signal(4000, 3),
    }
