"""Nothing in a data file runs code (issue 17 item 1).

Every reader of user-supplied files is given a crafted pickle whose unpickling creates a
marker file: each must refuse it with a message that says why and how to opt in, and the
marker must never appear; with the opt-in the pickle is read (the marker appears, which
shows the test payload really runs when unpickled). The data formats that replace the
pickles round-trip exactly: histograms (UHI JSON) and classifiers (scores bit-identical
after save and load), and a tampered or garbage file gives a clear error.
"""

from __future__ import annotations

import json
import pathlib
import pickle
import subprocess
import sys
from pathlib import Path

import hist
import numpy as np
import pytest

from gbi.cli import main
from gbi.errors import GbiInputError
from gbi.hists import nest, read_histogram, read_histograms, write_histograms

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this object calls ``Path.touch(marker)``: code run by loading a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def crafted_pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"qcd": {"mjj": Payload(marker)}, "wprime": Payload(marker)}))
    return path


def weighted_hist(seed: int = 0) -> hist.Hist:
    """Weight storage, category x regular axes, random weights (float64 contents)."""
    rng = np.random.default_rng(seed)
    h = hist.Hist(
        hist.axis.StrCategory(["SBL", "SR", "SBH"], name="region", label="mjj region"),
        hist.axis.Regular(50, 1000.0, 9000.0, name="mjj", label="$m_{jj}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    n = 20_000
    h.fill(
        region=rng.choice(["SBL", "SR", "SBH"], n),
        mjj=rng.uniform(500.0, 10_000.0, n),  # under- and overflow too
        weight=rng.normal(1.0, 0.3, n) * np.exp(rng.normal(0, 3, n)),  # awkward floats
    )
    return h


# ------------------------------------------------------------------ histogram files
def test_uhi_json_round_trip_is_exact(tmp_path: Path) -> None:
    h = weighted_hist()
    cut = hist.Hist(
        hist.axis.StrCategory(["all", "10%"], name="cut"),
        hist.axis.Variable([2500.0, 3100.3, 3333.3333333333335, 6000.0], name="mjj"),
        storage=hist.storage.Weight(),
    )
    cut.fill(cut="all", mjj=[3050.2, 3200.1], weight=[0.1, 1e-17])
    path = write_histograms({"qcd": {"mjj": h}, "cathode/observed": cut}, tmp_path / "h.json")
    back = read_histograms(path)
    assert sorted(back) == ["cathode/observed", "qcd/mjj"]
    for original, loaded in ((h, back["qcd/mjj"]), (cut, back["cathode/observed"])):
        assert loaded == original
        view, loaded_view = original.view(flow=True), loaded.view(flow=True)
        assert np.array_equal(view["value"], loaded_view["value"])  # bit for bit
        assert np.array_equal(view["variance"], loaded_view["variance"])
        for axis, loaded_axis in zip(original.axes, loaded.axes, strict=True):
            assert (axis.name, axis.label, type(axis)) == (
                loaded_axis.name,
                loaded_axis.label,
                type(loaded_axis),
            )
            assert axis.traits == loaded_axis.traits
        assert np.array_equal(original.axes[1].edges, loaded.axes[1].edges)
    assert nest(back)["qcd"]["mjj"] == h


def test_uhi_json_file_is_the_uhi_standard(tmp_path: Path) -> None:
    """Each entry follows uhi's histogram schema, so other UHI readers can load the file."""
    from importlib import resources

    import jsonschema

    path = write_histograms({"qcd": {"mjj": weighted_hist()}}, tmp_path / "h.json")
    schema = json.loads(
        (resources.files("uhi") / "resources" / "histogram.schema.json").read_text()
    )
    document = json.loads(path.read_text())
    jsonschema.Draft7Validator(schema).validate(document["qcd/mjj"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x04garbage", "found content that is not JSON"),
        (b"[1, 2]", "expected a JSON object of named UHI histograms, found a JSON list"),
        (b'{"qcd/mjj": {"uhi_schema": 1, "axes": []}}', r"histogram 'qcd/mjj' is not a valid"),
        (b'{"qcd/mjj": 3}', r"histogram 'qcd/mjj' is not a valid UHI histogram"),
    ],
)
def test_garbage_histogram_file_is_a_clear_error(tmp_path: Path, content, message) -> None:
    path = tmp_path / "histograms.json"
    path.write_bytes(content)
    with pytest.raises(GbiInputError, match=message) as err:
        read_histogram(path, "qcd/mjj")
    assert str(path) in str(err.value)


def test_tampered_histogram_names_the_problem(tmp_path: Path) -> None:
    path = write_histograms({"qcd": {"mjj": weighted_hist()}}, tmp_path / "h.json")
    document = json.loads(path.read_text())
    document["qcd/mjj"]["storage"]["type"] = "weighted_bananas"
    path.write_text(json.dumps(document))
    with pytest.raises(GbiInputError, match=r"h\.json: histogram 'qcd/mjj' is not a valid UHI"):
        read_histogram(path, "qcd/mjj")


# ------------------------------------------------------------------ gbi plot
def test_plot_refuses_a_pickle(tmp_path: Path, marker: Path, capsys) -> None:
    crafted_pickle(tmp_path / "run" / "histograms.pkl", marker)
    assert main(["plot", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "refusing to load a pickle: a pickle can run arbitrary code" in err
    assert "--allow-pickle" in err
    assert len(err.strip().splitlines()) == 1
    assert not marker.exists()
    assert not (tmp_path / "run" / "plots").exists()
    # with the opt-in the pickle is read (and its content then rejected in one line)
    assert main(["plot", str(tmp_path / "run"), "--allow-pickle"]) == 2
    assert marker.exists()
    err = capsys.readouterr().err
    assert "expected {dataset: {feature: hist.Hist(region, feature)}}" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ gbi workspace
def test_workspace_refuses_a_pickle_reference(tmp_path: Path, marker: Path, capsys) -> None:
    path = crafted_pickle(tmp_path / "histograms.pkl", marker)
    argv = [
        "workspace", "--signal", f"{path}:wprime", "--background", f"{path}:qcd/mjj",
        "--out", str(tmp_path / "ws.json"),
    ]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "refusing to load a pickle: a pickle can run arbitrary code" in err
    assert f"{tmp_path / 'histograms.json'}:wprime" in err  # the JSON reference to use
    assert not marker.exists()
    assert main([*argv, "--allow-pickle"]) == 2  # read, then not a histogram
    assert marker.exists()
    assert "expected a 1D hist.Hist, found NoneType" in capsys.readouterr().err


def test_workspace_config_refuses_a_pickle_reference(tmp_path: Path, marker: Path) -> None:
    from gbi.workspace.config import load_config

    crafted_pickle(tmp_path / "histograms.pkl", marker)
    document = {
        "version": "1.0",
        "channels": [{"name": "SR", "samples": [{"name": "s", "hist": "histograms.pkl:wprime"}]}],
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document))
    with pytest.raises(GbiInputError, match="allow_pickle: true"):
        load_config(config)
    assert main(["workspace", str(config), "--out", str(tmp_path / "ws.json")]) == 2
    assert not marker.exists()
    config.write_text(json.dumps({**document, "allow_pickle": True}))
    with pytest.raises(GbiInputError, match=r"expected a 1D hist\.Hist, found NoneType"):
        load_config(config)
    assert marker.exists()


def test_workspace_reads_trusted_pickle_with_the_opt_in(tmp_path: Path) -> None:
    from gbi.workspace.config import channels_from_config

    h = weighted_hist()
    (tmp_path / "h.pkl").write_bytes(pickle.dumps({"qcd": {"mjj": h}}))
    write_histograms({"qcd": {"mjj": h}}, tmp_path / "h.json")
    doc = {"version": "1.0", "channels": [{"name": "SR", "samples": [{"name": "b", "hist": ""}]}]}
    templates = []
    for ref, allow in (("h.pkl:qcd/mjj[region=SR]", True), ("h.json:qcd/mjj[region=SR]", False)):
        doc["channels"][0]["samples"][0]["hist"] = ref
        config = channels_from_config(doc, base_dir=tmp_path, allow_pickle=allow)
        templates.append(config.channels[0].samples[0].nominal)
    assert np.array_equal(templates[0].values, templates[1].values)
    assert np.array_equal(templates[0].variances, templates[1].variances)


# ------------------------------------------------------------------ classifiers
def _ensemble(kind: str):
    from gbi.classifiers import ClassifierConfig, KFoldEnsemble

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, (600, 3)), rng.normal(0.6, 1, (600, 3))])
    y = np.repeat([0, 1], 600)
    config = ClassifierConfig(kind=kind, max_iter=30, epochs=3, hidden=(8, 8), device="cpu")
    ensemble = KFoldEnsemble(config, n_folds=3)
    ensemble.fit(x, y)
    return ensemble


@pytest.fixture(scope="module", params=["hgb", "mlp"])
def saved_classifier(request):
    from gbi.detect.outputs import SavedClassifier

    return SavedClassifier(
        "cathode", ("mj1", "delta_mj", "tau21_j1"), _ensemble(request.param), {"10%": 0.5}
    )


def _columns(n: int = 5000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {name: rng.normal(0.3, 1.2, n) for name in ("mj1", "delta_mj", "tau21_j1", "mjj")}


def test_classifier_scores_identical_after_save_and_load(saved_classifier, tmp_path) -> None:
    from gbi.detect.outputs import load_classifier

    directory = saved_classifier.save(tmp_path / "classifier_cathode")
    files = sorted(p.name for p in directory.iterdir())
    suffix = ".skops" if saved_classifier.ensemble.config.kind == "hgb" else ".pt"
    assert files == ["classifier.json", *(f"fold_{k}{suffix}" for k in range(3))]
    loaded = load_classifier(directory)
    assert (loaded.method, loaded.features, loaded.cuts, loaded.latent_flow) == (
        "cathode",
        ("mj1", "delta_mj", "tau21_j1"),
        {"10%": 0.5},
        None,
    )
    columns = _columns()
    event = np.arange(5000) * 7
    assert np.array_equal(saved_classifier.score(columns), loaded.score(columns))
    assert np.array_equal(
        saved_classifier.score(columns, mode="single", fold_index=event),
        loaded.score(columns, mode="single", fold_index=event),
    )
    # saving again replaces the directory (no stray temporary folders are left)
    saved_classifier.save(directory)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classifier_cathode"]


def test_tampered_classifier_is_a_clear_error(saved_classifier, tmp_path) -> None:
    from gbi.detect.outputs import load_classifier

    directory = saved_classifier.save(tmp_path / "classifier_cathode")
    fold = next(p for p in directory.iterdir() if p.name.startswith("fold_1"))
    data = bytearray(fold.read_bytes())
    data[len(data) // 2] ^= 0xFF
    fold.write_bytes(bytes(data))
    with pytest.raises(GbiInputError, match=r"fold_1\.\w+'?: expected SHA-256 .*corrupted"):
        load_classifier(directory)
    manifest = directory / "classifier.json"
    document = json.loads(manifest.read_text())
    document["folds"][0]["file"] = "../../elsewhere.pt"
    manifest.write_text(json.dumps(document))
    with pytest.raises(GbiInputError, match=r"does not follow the gbi classifier schema"):
        load_classifier(directory)
    manifest.write_text("{not json")
    with pytest.raises(GbiInputError, match=r"classifier\.json: expected the JSON manifest"):
        load_classifier(directory)
    with pytest.raises(GbiInputError, match=r"expected a directory with classifier\.json"):
        load_classifier(tmp_path / "nothing_here")


class Untrusted:
    """A type outside the trusted list of a HistGradientBoosting fold file."""

    value = 1


def test_skops_file_with_other_types_is_refused(tmp_path: Path) -> None:
    import skops.io

    from gbi.classifiers.serialization import load_ensemble, save_ensemble
    from gbi.flows.checkpoint import file_sha256

    directory = save_ensemble(_ensemble("hgb"), tmp_path / "clf", {"method": "cathode"})
    fold = directory / "fold_0.skops"
    skops.io.dump({"model": Untrusted()}, fold)
    manifest = json.loads((directory / "classifier.json").read_text())
    manifest["folds"][0]["sha256"] = file_sha256(fold)  # a consistent, crafted directory
    (directory / "classifier.json").write_text(json.dumps(manifest))
    with pytest.raises(GbiInputError, match=r"fold_0\.skops: expected only the types .*Untrusted"):
        load_ensemble(directory)
    fold.write_bytes(b"garbage")
    manifest["folds"][0]["sha256"] = file_sha256(fold)
    (directory / "classifier.json").write_text(json.dumps(manifest))
    with pytest.raises(GbiInputError, match=r"fold_0\.skops: expected a skops file"):
        load_ensemble(directory)


def test_pickled_classifier_is_refused_everywhere(saved_classifier, tmp_path, marker) -> None:
    from gbi.detect.outputs import load_classifier
    from gbi.processors.anomaly import AnomalyScoreProcessor

    path = tmp_path / "classifier_cathode.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(GbiInputError, match=r"refusing to load a pickle.*re-run 'gbi detect'"):
        load_classifier(path)
    with pytest.raises(GbiInputError, match="refusing to load a pickle"):
        AnomalyScoreProcessor({"cathode": path})
    assert not marker.exists()
    # with the opt-in the pickle is read: the payload runs, and a real classifier loads
    with pytest.raises(GbiInputError, match=r"expected a gbi SavedClassifier, found NoneType"):
        load_classifier(path, allow_pickle=True)
    assert marker.exists()
    path.write_bytes(pickle.dumps(saved_classifier))
    loaded = load_classifier(path, allow_pickle=True)
    assert np.array_equal(loaded.score(_columns(100)), saved_classifier.score(_columns(100)))


def test_anomaly_scores_script_refuses_a_pickle(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "classifier_cathode.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    proc = subprocess.run(
        [sys.executable, str(REPO / "processors" / "anomaly_scores.py"), str(tmp_path / "f.json"),
         "--classifier", str(path), "--out", str(tmp_path / "h.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "refusing to load a pickle" in proc.stderr
    assert "--allow-pickle" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


# ------------------------------------------------------------------ gbi process outputs
@pytest.fixture(scope="module")
def process_dir(tmp_path_factory) -> Path:
    from gbi.feature_job import process_fileset
    from gbi.fileset import normalize_fileset
    from gbi.sample import default_fileset

    out = tmp_path_factory.mktemp("process") / "out"
    process_fileset(normalize_fileset(default_fileset()), out, chunksize=10_000, progress=False)
    return out


def test_process_json_equals_the_pickle(process_dir: Path) -> None:
    with (process_dir / "histograms.pkl").open("rb") as stream:
        pickled = pickle.load(stream)  # written by this test's own gbi process run
    from_json = nest(read_histograms(process_dir / "histograms.json"))
    assert sorted(from_json) == sorted(pickled) == ["qcd", "wprime"]
    for dataset, by_feature in pickled.items():
        assert sorted(from_json[dataset]) == sorted(by_feature)
        for feature, histogram in by_feature.items():
            loaded = from_json[dataset][feature]
            assert loaded == histogram
            assert np.array_equal(
                loaded.view(flow=True)["value"], histogram.view(flow=True)["value"]
            )
    summary = json.loads((process_dir / "summary.json").read_text())
    assert summary["outputs"]["histograms_json"] == "histograms.json"


def test_plot_reads_the_json_and_ignores_the_pickle(process_dir, tmp_path, marker) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("histograms.json", "regions.json"):
        (run / name).write_bytes((process_dir / name).read_bytes())
    crafted_pickle(run / "histograms.pkl", marker)  # beside the JSON: never opened
    assert main(["plot", str(run), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "mjj.png").stat().st_size > 1000
    assert not marker.exists()
