"""The runnable scripts in processors/ run on the shipped sample (plain processor.Runner)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gbi.sample import default_fileset

SCRIPTS = Path(__file__).resolve().parents[2] / "processors"


@pytest.mark.parametrize(
    "script",
    [
        "dijet_features",
        pytest.param("flow_density", marks=pytest.mark.slow),  # trains a flow
        pytest.param("anomaly_scores", marks=pytest.mark.slow),  # trains classifiers
    ],
)
def test_script_runs_on_the_shipped_sample(
    script: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fileset = tmp_path / "fileset.json"
    fileset.write_text(json.dumps(default_fileset()))
    extra = {
        "dijet_features": [],
        "flow_density": [str(request.getfixturevalue("flow_dir"))],
        "anomaly_scores": [
            "--classifier",
            str(request.getfixturevalue("classifier_dir")),
            "--out",
            str(tmp_path / "scores.json"),
        ],
    }[script]
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / f"{script}.py"),
            str(fileset),
            *extra,
            "--chunksize",
            "7000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith(("qcd", "wprime"))]
    assert len(lines) >= 2  # one line per dataset
    assert "'events': 20000" in out.stdout  # the QCD sample's cutflow
