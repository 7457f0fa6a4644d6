"""Acceptance on the LHCO-like samples (slow: about 10 minutes on 2 CPU cores).

Run with ``pytest -m slow tests/flows/test_amplify_lhco_slow.py``; it drives
``examples/amplify_lhco.py``, which also writes the plots and the full JSON summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "amplify_lhco.py"


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("part", ["unconditional", "conditional"])
def test_lhco_acceptance(part: str, lhco_dir: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(EXAMPLE),
        "--data",
        str(lhco_dir),
        "--out",
        str(tmp_path),
        "--only",
        part,
    ]
    subprocess.run(cmd, check=True, timeout=1800)
    summary = json.loads((tmp_path / "summary.json").read_text())[part]
    if part == "unconditional":
        report = summary["evaluate_vs_qcd_b_000"]
        assert report["c2st_auc"] <= 0.55
        assert summary["train_seconds_wall"] < 15 * 60
    else:
        assert summary["evaluate_sr"]["c2st_auc"] <= 0.55
