"""``gbi generate``: parameters, a tiny end-to-end run, resume, the shipped sample."""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from gbi.cli import main
from gbi.errors import GbiInputError, MissingExtraError
from gbi.generate import ProcessConfig, generate
from gbi.generate.pythia_config import pythia_settings
from gbi.generate.writer import existing_file

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "src" / "gbi" / "data" / "sample"

#: branch -> ROOT typename, as in ../shared/data/lhco_like/*.root
EXPECTED_TYPES = {
    "run": "uint32_t",
    "luminosityBlock": "uint32_t",
    "event": "uint64_t",
    "genWeight": "float",
    "nFatJet": "int32_t",
    "FatJet_pt": "float[]",
    "FatJet_eta": "float[]",
    "FatJet_phi": "float[]",
    "FatJet_mass": "float[]",
    "FatJet_tau1": "float[]",
    "FatJet_tau2": "float[]",
    "FatJet_tau3": "float[]",
    "label": "int8_t",
}


def needs_generator() -> None:
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")


def read(path: Path) -> ak.Array:
    import uproot

    with uproot.open(path) as root_file:
        tree = root_file["Events"]
        assert {b.name: b.typename for b in tree.branches} == EXPECTED_TYPES
        assert list(tree.keys()) == list(EXPECTED_TYPES)
        return tree.arrays()


def check_selection(events: ak.Array) -> None:
    pt = events.FatJet_pt
    assert ak.all(ak.num(pt) == events.nFatJet)
    assert ak.all((events.nFatJet >= 1) & (events.nFatJet <= 4))
    assert ak.all(pt[:, 0] > 1200)
    assert ak.all(pt > 200)
    assert ak.all(abs(events.FatJet_eta) < 2.5)
    assert ak.all(abs(events.FatJet_phi) <= np.pi)
    assert ak.all(pt[:, :-1] >= pt[:, 1:])  # pT-ordered
    assert ak.all(events.FatJet_mass >= 0)
    for n in (1, 2, 3):
        tau = events[f"FatJet_tau{n}"]
        assert ak.all((tau >= 0) & (tau < 1.5))
    assert ak.all(events.genWeight == 1.0)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"process": "qcd", "events": 0}, "--events"),
        ({"process": "qcd", "events": -5}, "--events"),
        ({"process": "qcd", "events": 10, "events_per_file": 0}, "--events-per-file"),
        ({"process": "qcd", "events": 10, "workers": 0}, "--workers"),
        ({"process": "qcd", "events": 10, "seed": -1}, "--seed"),
        ({"process": "ttbar", "events": 10}, "--process"),
        ({"process": "wprime", "events": 10, "mX": 3000, "mY": 600}, "--mX + --mY"),
        ({"process": "wprime", "events": 10, "mY": -1.0}, "--mY"),
        ({"process": "qcd", "events": 10, "mW": 3000}, "--mW"),
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict, parameter: str) -> None:
    with pytest.raises(GbiInputError, match=parameter.replace("+", r"\+")):
        generate(out=tmp_path, progress=False, **kwargs)
    assert not any(tmp_path.iterdir())


def test_bad_parameter_cli_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--process", "qcd", "--events", "0", "--out", str(tmp_path)])
    assert code == 2
    assert "--events must be a positive integer" in capsys.readouterr().err


def test_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # makes the import fail
    with pytest.raises(MissingExtraError, match=r"gbi\[generate\]"):
        generate("qcd", 10, tmp_path, progress=False)


def test_wprime_settings_set_the_masses() -> None:
    lines = pythia_settings(ProcessConfig.create("wprime", mW=3000, mX=400, mY=80), seed=3)
    assert {"34:m0 = 3000", "24:m0 = 400", "23:m0 = 80", "Random:seed = 3"} <= set(lines)


def test_generate_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    needs_generator()
    args = ["generate", "--process", "qcd", "--events", "20", "--events-per-file", "12"]
    args += ["--seed", "11", "--out", str(tmp_path), "--no-progress", "--batch-size", "40"]
    assert main(args) == 0
    files = [tmp_path / "qcd_11_000.root", tmp_path / "qcd_11_001.root"]
    assert sorted(tmp_path.iterdir()) == files  # no temporary files left behind
    assert "kept events/s" in capsys.readouterr().out
    first, second = read(files[0]), read(files[1])
    assert (len(first), len(second)) == (12, 8)
    for events, index in ((first, 0), (second, 1)):
        check_selection(events)
        assert ak.all(events.run == 11)
        assert ak.all(events.luminosityBlock == index + 1)
        assert ak.all(events.label == 0)
        assert events.event.tolist() == list(
            range(index * 10**6 + 1, index * 10**6 + len(events) + 1)
        )

    # rerun: both files are complete and skipped
    mtimes = [f.stat().st_mtime_ns for f in files]
    result = generate("qcd", 20, tmp_path, seed=11, events_per_file=12, progress=False)
    assert result.skipped == files
    assert result.written == []
    assert [f.stat().st_mtime_ns for f in files] == mtimes

    # a missing file is regenerated, identically (same seed -> same events)
    files[1].unlink()
    result = generate("qcd", 20, tmp_path, seed=11, events_per_file=12, progress=False)
    assert result.skipped == files[:1]
    assert result.written == files[1:]
    assert ak.all(read(files[1]).FatJet_pt == second.FatJet_pt)

    # an existing file with a different number of events is an error, not silently kept
    with pytest.raises(
        GbiInputError, match="has 8 events with --nsub-axes onepass-kt but this run expects 12 with"
    ):
        generate("qcd", 24, tmp_path, seed=11, events_per_file=12, progress=False)

    # the axes are stored and part of the cache key: a run with other axes never reads them
    assert [existing_file(f) for f in files] == [(12, "onepass-kt"), (8, "onepass-kt")]
    for events in (first, second):  # one-pass minimised axes: tau2 <= tau1 (float32)
        assert ak.all(events.FatJet_tau2 <= events.FatJet_tau1 * (1 + 1e-6))
    with pytest.raises(
        GbiInputError, match="12 events with --nsub-axes onepass-kt but this run expects 12 with kt"
    ):
        generate("qcd", 20, tmp_path, seed=11, events_per_file=12, progress=False, nsub_axes="kt")


def test_bad_nsub_axes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(GbiInputError, match="--nsub-axes: expected one of onepass-kt, kt"):
        generate("qcd", 10, tmp_path, progress=False, nsub_axes="KT_Axes")
    with pytest.raises(SystemExit):
        main(["generate", "--process", "qcd", "--events", "5", "--out", str(tmp_path),
              "--nsub-axes", "exclusive"])  # fmt: skip
    assert "invalid choice: 'exclusive'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_generate_wprime_with_workers(tmp_path: Path) -> None:
    needs_generator()
    result = generate(
        "wprime", 10, tmp_path, seed=3, events_per_file=5, workers=2, batch_size=20, progress=False
    )
    assert [p.name for p in result.written] == [
        "wprime_3500_500_100_3_000.root",
        "wprime_3500_500_100_3_001.root",
    ]
    assert result.events_generated == 10
    for path in result.written:
        events = read(path)
        assert len(events) == 5
        check_selection(events)
        assert ak.all(events.label == 1)


@pytest.mark.parametrize(("name", "entries", "label"), [("qcd", 20_000, 0), ("wprime", 4_000, 1)])
def test_default_sample(name: str, entries: int, label: int) -> None:
    path = SAMPLE_DIR / f"{name}.root"
    if not path.exists():
        pytest.skip(f"{path} not generated yet (ci/make_default_sample.sh)")
    events = read(path)
    assert len(events) == entries
    check_selection(events)
    assert ak.all(events.label == label)
    assert existing_file(path) == (entries, "kt")  # made before --nsub-axes: kT axes


@pytest.mark.slow
@pytest.mark.shared_data
def test_qcd_agrees_with_reference(tmp_path: Path, lhco_dir: Path) -> None:
    """2,000 generated QCD events against the shared reference file, in distribution."""
    needs_generator()
    # the shared files have exclusive-kT axes
    (path,) = generate(
        "qcd", 2000, tmp_path, seed=21, events_per_file=2000, progress=False, nsub_axes="kt"
    ).files
    ours, ref = read(path), read(lhco_dir / "qcd_a_000.root")

    def stats(events: ak.Array) -> dict[str, float]:
        two = events[events.nFatJet >= 2]
        tau21 = two.FatJet_tau2[:, :2] / two.FatJet_tau1[:, :2]
        return {
            "lead_pt": float(np.median(ak.to_numpy(events.FatJet_pt[:, 0]))),
            "mass": float(np.median(ak.to_numpy(ak.flatten(two.FatJet_mass[:, :2])))),
            "tau21": float(np.nanmedian(ak.to_numpy(ak.flatten(tau21)))),
            "njet": float(np.mean(ak.to_numpy(events.nFatJet))),
        }

    got, want = stats(ours), stats(ref)
    assert got["lead_pt"] == pytest.approx(want["lead_pt"], rel=0.02)
    assert got["mass"] == pytest.approx(want["mass"], rel=0.08)
    assert got["tau21"] == pytest.approx(want["tau21"], rel=0.05)
    assert got["njet"] == pytest.approx(want["njet"], rel=0.05)
