"""``gbi detect`` on the shipped default sample, then the coffea processor with its classifier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gbi.cli import main
from gbi.hists import read_histograms
from gbi.schema import validate
from gbi.tables import read_table


@pytest.fixture(scope="module")
def detect_out(tmp_path_factory) -> Path:
    from gbi.sample import default_fileset

    root = tmp_path_factory.mktemp("detect_cli")
    fileset = root / "fileset.json"
    fileset.write_text(json.dumps(default_fileset()))
    assert main(["process", str(fileset), "--out", str(root / "proc"), "--no-progress"]) == 0
    features = root / "proc" / "features"
    args = [
        "detect", str(features / "qcd.parquet"), str(features / "wprime.parquet"),
        "--out", str(root / "out"), "--methods", "cathode", "latent",
        "--flow-epochs", "1", "--max-iter", "20", "--folds", "2",
        "--truth-label", "label", "--json", str(root / "result.json"),
    ]  # fmt: skip
    assert main(args) == 0
    return root


def test_cli_writes_valid_outputs(detect_out: Path) -> None:
    doc = json.loads((detect_out / "result.json").read_text())
    validate(doc, "detect-result", "cli")
    assert doc["methods"]["cathode"]["status"] in ("ok", "not_learned")
    assert doc["methods"]["cathode"]["evaluation"]["test_set"].startswith("signal-region data")
    assert set(doc["stages"]) >= {"flow_training", "flow_sampling", "classifier_cathode"}
    scores = read_table(detect_out / "out" / "scores.parquet")
    sr = scores["region"] == 1
    assert np.isfinite(scores["score_cathode"][sr]).all()
    assert (detect_out / "out" / "classifier_latent" / "classifier.json").is_file()
    assert not list((detect_out / "out").glob("classifier_*.pkl"))  # classifiers are data
    hists = read_histograms(detect_out / "out" / "hists.json")
    assert {"cathode/observed", "cathode/expected"} <= set(hists)
    assert hists["cathode/observed"].axes.name == ("cut", "mjj")


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gbi", "detect", str(tmp_path / "nope.parquet"), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "expected an existing Parquet file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_processor_applies_saved_classifier(detect_out: Path) -> None:
    from gbi.execution import run_processor
    from gbi.processors.anomaly import AnomalyScoreProcessor
    from gbi.processors.dijet import REQUIRED_BRANCHES
    from gbi.sample import default_fileset

    proc = AnomalyScoreProcessor({"cathode": detect_out / "out" / "classifier_cathode"})
    out = run_processor(
        default_fileset(), proc, required_branches=REQUIRED_BRANCHES, chunksize=7000,
        progress=False,
    ).output  # fmt: skip
    qcd = read_table(detect_out / "proc" / "features" / "qcd.parquet")
    h = out["qcd"]["hists"]["cathode"]
    n_sr = h["all", "SR", :].sum().value
    in_edges = (qcd["mjj"] >= 2500) & (qcd["mjj"] < 6000)
    assert n_sr == pytest.approx(((qcd["region"] == 1) & in_edges).sum())
    passed = [h[c, "SR", :].sum().value for c in ("10%", "1%", "0.1%")]
    assert n_sr > passed[0] >= passed[1] >= passed[2]


def test_saved_latent_classifier_scores_new_events(detect_out: Path) -> None:
    import pickle

    from gbi.detect import load_classifier

    saved = load_classifier(detect_out / "out" / "classifier_latent")
    qcd = read_table(detect_out / "proc" / "features" / "qcd.parquet")
    cols = {k: qcd[k][:50] for k in (*saved.features, "mjj")}
    mean, single = saved.score(cols), saved.score(cols, mode="single", fold_index=qcd["event"][:50])
    assert mean.shape == single.shape == (50,)
    assert np.isfinite(mean).all()
    assert not np.array_equal(mean, single)
    assert "_flow" not in pickle.loads(pickle.dumps(saved)).__dict__
