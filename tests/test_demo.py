"""The main job on the sample shipped inside the package: runs with no external data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gbi.cli import main
from gbi.sample import SAMPLE_DATASETS, default_fileset, default_sample_path

REPO = Path(__file__).resolve().parents[1]


def test_default_sample_is_shipped_and_small():
    sizes = {name: default_sample_path(name).stat().st_size for name in SAMPLE_DATASETS}
    assert all(0 < size < 5_000_000 for size in sizes.values()), sizes
    assert set(default_fileset()) == {"qcd", "wprime"}


@pytest.mark.parametrize("executor", ["iterative", pytest.param("futures", marks=pytest.mark.slow)])
def test_demo_runs_on_the_shipped_sample(tmp_path, executor):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress", "--executor", executor]) == 0
    summary = json.loads((out / "process" / "summary.json").read_text())
    qcd, wprime = summary["datasets"]["qcd"], summary["datasets"]["wprime"]
    assert qcd["events_read"] >= 10_000
    # physics sanity of the shipped sample (LHCO-style): ~15% of QCD and ~70% of W' in the SR
    assert 0.10 < qcd["cutflow"]["SR"] / qcd["events_passing"] < 0.20
    assert 0.60 < wprime["cutflow"]["SR"] / wprime["events_passing"] < 0.80
    assert (out / "plots" / "mjj.png").stat().st_size > 10_000
    assert (out / "process" / "features" / "qcd.parquet").is_file()
    fit = json.loads((out / "fit.json").read_text())
    assert fit["mu_hat"] == pytest.approx(1.0, abs=1e-3)  # Asimov data at mu = 1: closure
    assert fit["mu_err"] > 0
    assert fit["q0_significance"] > 0
    assert fit["cls_upper_limit_exp"] > 1.0  # S/B = 5%: not excluded at mu = 1 expected


def test_readme_commands_match_ci():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .*)\n```", readme)
    assert len(commands) >= 2, "README must show the two set-up commands"
    main_job, test_job = commands[0], commands[1]
    assert main_job.endswith("gbi demo --out gbi-demo")
    assert test_job.endswith("&& pytest")
    install = (REPO / "ci" / "install.sh").read_text()
    for piece in ("torch==2.13.0", '-e ".[test,dask,generate]" -c ci/constraints.txt'):
        assert piece in test_job
        assert piece in install
    assert "pytest" in (REPO / ".ci" / "run").read_text()
