"""``gbi infer`` end to end on the shipped default sample, with a small toy signal grid."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gbi.cli import main
from gbi.schema import validate


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from gbi.sample import default_sample_path

    work = tmp_path_factory.mktemp("infer")
    assert (
        main(
            [
                "process",
                str(default_sample_path("qcd")),
                str(default_sample_path("wprime")),
                "--out",
                str(work / "proc"),
                "--no-progress",
            ]
        )
        == 0
    )
    tables = {
        p.stem: pq.read_table(p).to_pydict() for p in (work / "proc" / "features").glob("*.parquet")
    }
    qcd = {k: np.asarray(v) for k, v in tables["qcd"].items()}
    sig = {k: np.asarray(v) for k, v in tables["wprime"].items()}
    order = np.random.default_rng(0).permutation(len(sig["mjj"]))
    data = {k: np.concatenate([qcd[k], sig[k][order[:300]]]) for k in qcd}
    pq.write_table(pa.table(data), work / "data.parquet")
    grid = work / "grid"
    grid.mkdir()
    rest = {k: v[order[300:]] for k, v in sig.items()}
    # A toy grid: the shipped W'(500, 100) and copies with shifted jet masses.
    for mx, my in ((500, 100), (400, 100), (500, 200), (300, 100)):
        shifted = dict(rest)
        shifted["mj1"] = rest["mj1"] + (my - 100)
        shifted["delta_mj"] = rest["delta_mj"] + (mx - 500) - (my - 100)
        pq.write_table(pa.table(shifted), grid / f"wprime_3500_{mx}_{my}_1_000.parquet")
    return {"data": work / "data.parquet", "grid": grid, "work": work}


@pytest.mark.slow  # all three methods end to end through the CLI (about 10 s)
def test_infer_cli_all_methods(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = inputs["work"] / "run"
    rc = main(
        [
            "infer",
            str(inputs["data"]),
            "--signal-grid",
            str(inputs["grid"]),
            "--json",
            str(out / "result.json"),
            "--out",
            str(out),
            "--truth-label",
            "label",
            "--toys",
            "30",
            "--flow-epochs",
            "5",
            "--classifier-epochs",
            "20",
            "--flow-ensemble",
            "2",
            "--unbinned-toys",
            "4",
            "--unbinned-calibration",
            "held-out",
            # The toy grid's points are copies shifted in jet mass, while the extension
            # scales them (as a simulated resonance's jets scale): its morphed points would
            # not be this toy's (test_parametrized tests the extension on a scaling toy).
            "--extend-grid",
            "0",
        ]
    )
    assert rc == 0
    doc = json.loads((out / "result.json").read_text())
    validate(doc, "infer-result", "test")
    assert 0.03 < doc["mu_true"] < 0.1
    for name in ("parametrized", "unbinned", "binned"):
        res = doc["methods"][name]
        assert res["status"] == "ok", res
        assert res["mu_lo"] <= res["mu_hat"] <= res["mu_hi"]
        assert res["mu_upper_limit_95"] > 0
    binned = doc["methods"]["binned"]
    assert binned["generator_normsys"] == ["generator_ensemble"]
    # The count is always there; the fraction is the parametrized fit's signal's.
    assert binned["n_signal_passing"]["result_kind"] == "model-independent"
    assert binned["truth"]["signal_passing"] <= binned["truth"]["signal_in_sr"]
    fraction = binned["signal_fraction"]
    assert binned["result_kind"] == fraction["result_kind"] == "signal-fraction"
    # At the parametrized fit's masses between its scan points (within half a step).
    fitted = doc["methods"]["parametrized"]["masses"]
    assert fraction["masses"]["mX"] == fitted["mX_local"]
    assert abs(fitted["mX_local"] - fitted["mX"]) <= 25.0
    assert fitted["mX_sigma"] > 0
    assert "parametrized" in fraction["source"]
    unb = doc["methods"]["unbinned"]
    # The unbinned significance is calibrated with background-only toys of sideband events
    # that the flow member fitting each never saw; each of the 2 members has fewer such
    # events near the SR than the SR has, so a toy holds them all and the 4 asked make 2
    # distinct toys (a repeat would be the same fit).
    assert unb["toy_calibration"] == "held-out"
    assert len(unb["toy_q0"]) == len(unb["toy_events"]) == 2
    assert min(unb["toy_events"]) > 100
    # 300 W' events in about 3000: the scan is significant, so the EM steps ran
    assert isinstance(unb["em_converged"], bool)
    assert unb["significance"] < unb["significance_local"]
    # ... and its fraction says that it comes from a learned density (stop 43)
    assert "not calibrated" in unb["message"], unb["message"]
    # ... and the scan's own fit before the steps is reported (stop 44)
    scan = unb["scan_fit"]
    assert scan["mu_hat"] == unb["signal_model"]["em_w_ensemble_steps"][0]
    assert scan["mu_lo_stat"] <= scan["mu_hat"] <= scan["mu_hi_stat"]
    par = doc["methods"]["parametrized"]
    # Two bootstrap flows: the generator spread is measured and inside the total interval.
    assert len(par["mu_hat_flow_members"]) == 2
    assert par["mu_sys_generator"] >= 0
    assert par["mu_lo"] <= par["mu_lo_stat"]
    assert par["mu_hi"] >= par["mu_hi_stat"]
    assert par["significance"] > 3  # 300 injected W' events in ~3000 SR events
    # Its significance is checked on each member's unseen sideband events too (the default
    # with a bootstrap ensemble): one toy per member, the scale at least 1.
    assert len(par["toy_q0_held_out"]) == len(par["toy_events_held_out"]) == 2
    assert par["q0_held_out_scale"] >= 1.0
    assert par["masses"]["mX_lo"] <= 500 <= par["masses"]["mX_hi"]
    assert (out / "likelihood_scan.png").is_file()
    assert (out / "mass_scan.png").is_file()
    printed = capsys.readouterr().out
    assert "mu_hat" in printed
    assert "binned: model-independent: signal events passing the cut" in printed
    # Z > 3 (above): the fitted signal was taken out of the sidebands, and the output says so.
    assert par["sideband_signal"]["applied"] is True
    assert "parametrized: the fitted signal taken out of the sidebands" in printed
    # The toy grid is made at 3500 GeV, the SR's centre: its mjj shape is used as it is.
    assert par["sideband_signal"]["signal_mjj"] == {
        "grid_mW": 3500.0,
        "resonance_mW": 3500.0,
        "source": "signal-region centre",
    }


def test_infer_without_grid_and_bad_input(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = inputs["work"] / "nogrid.json"
    rc = main(
        [
            "infer",
            str(inputs["data"]),
            "--json",
            str(out),
            "--method",
            "parametrized",
            "--flow-epochs",
            "1",
        ]
    )
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["methods"]["parametrized"]["status"] == "skipped"
    assert "--signal-grid" in doc["methods"]["parametrized"]["message"]
    assert main(["infer", str(inputs["data"]), "--json", str(out), "--truth-label", "nope"]) == 2
    assert "--truth-label 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "infer",
                str(inputs["data"]),
                "--json",
                str(out),
                "--signal-grid",
                str(inputs["work"] / "missing"),
            ]
        )
        == 2
    )
    assert "expected a directory or a file" in capsys.readouterr().err
    bad_cut = ["--binned-efficiency", "1.5"]
    assert main(["infer", str(inputs["data"]), "--json", str(out), *bad_cut]) == 2
    assert "binned efficiency: expected a fraction in (0, 1), found 1.5" in capsys.readouterr().err
    bad_features = ["--parametrized-features", "mj1", "mjj"]
    assert main(["infer", str(inputs["data"]), "--json", str(out), *bad_features]) == 2
    assert "expected a subset of the generator's features" in capsys.readouterr().err
    # Too few signal-region events: a valid result with skipped methods, not a crash.
    table = pq.read_table(inputs["data"]).to_pydict()
    keep = np.asarray(table["mjj"]) < 3300
    small = {k: np.asarray(v)[keep] for k, v in table.items()}
    pq.write_table(pa.table(small), inputs["work"] / "no_sr.parquet")
    rc = main(["infer", str(inputs["work"] / "no_sr.parquet"), "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    validate(doc, "infer-result", "test")
    assert all(r["status"] == "skipped" for r in doc["methods"].values())


def test_injection_scan_never_duplicates_background_events() -> None:
    """The scan script's default used to bootstrap the background for seeds > 0: duplicated
    events faked signals (Z = 16 with nothing injected). Every run now uses distinct events."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "examples" / "gbi_injection_scan.py"
    spec = importlib.util.spec_from_file_location("gbi_injection_scan", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for seed in range(5):
        rng = np.random.default_rng(5000 + seed)
        for n_events in (None, 500, 10_000):
            rows = module.background_rows(1000, n_events, rng)
            assert len(np.unique(rows)) == len(rows) == min(n_events or 1000, 1000)


def test_injection_scan_compares_the_true_masses_as_an_unordered_pair() -> None:
    """The fit reports (heavier, lighter): a signal injected as --true-mass 250 450 is
    found at mX = 450, mY = 250, and that is inside the intervals, not a miss."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "examples" / "gbi_injection_scan.py"
    spec = importlib.util.spec_from_file_location("gbi_injection_scan", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fitted = dict(mX=450.0, mX_lo=420.0, mX_hi=480.0, mY=250.0, mY_lo=230.0, mY_hi=270.0)
    row = dict(method="parametrized", n_signal=1000, mu_true=0.02, mu_hat=0.02, mu_lo=0.01)
    rows = [{**row, "mu_hi": 0.03, "significance": 9.0, "masses": fitted}]
    for truth, covered in (((250.0, 450.0), 1.0), ((450.0, 250.0), 1.0), ((350.0, 150.0), 0.0)):
        (summary,) = module.summarize_rows(rows, truth)
        assert summary["mass_coverage"] == covered, truth
    # The W' mass counts only when fitted (a grid at several mW).
    (summary,) = module.summarize_rows(rows, (250.0, 450.0, 3700.0))
    assert summary["mass_coverage"] == 1.0
    rows[0]["masses"] = {**fitted, "mW": 3500.0, "mW_lo": 3450.0, "mW_hi": 3550.0}
    (summary,) = module.summarize_rows(rows, (250.0, 450.0, 3700.0))
    assert summary["mass_coverage"] == 0.0


@pytest.mark.slow  # parametrized and binned end to end through the CLI (86 s on a loaded core)
def test_infer_cli_with_a_grid_at_two_w_prime_masses(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A grid at mW = 3500 and 3700 GeV (here copies: mW is not identifiable): the JSON
    validates, mW is fitted inside the grid's range with its interval, binned takes its
    efficiency from the points at the nearest grid mW and says so."""
    import shutil

    grid = inputs["work"] / "grid_two_mw"
    grid.mkdir()
    for path in inputs["grid"].glob("wprime_3500_*.parquet"):
        shutil.copy(path, grid / path.name)
        shutil.copy(path, grid / path.name.replace("wprime_3500_", "wprime_3700_"))
    out = inputs["work"] / "run_two_mw"
    argv = ["infer", str(inputs["data"]), "--signal-grid", str(grid), "--json",
            str(out / "result.json"), "--out", str(out), "--method", "parametrized", "binned",
            "--toys", "20", "--flow-epochs", "5", "--classifier-epochs", "10",
            "--flow-ensemble", "2", "--mW-step", "50"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads((out / "result.json").read_text())
    validate(doc, "infer-result", "test")
    par = doc["methods"]["parametrized"]
    assert par["grid_m_w"] == [3500.0, 3700.0]
    masses = par["masses"]
    assert 3500 <= masses["mW"] <= 3700
    assert masses["mW_lo"] <= masses["mW"] <= masses["mW_hi"]
    assert set(masses) >= {"mX", "mY", "mW", "mW_sys_generator"}
    assert "grid points at mW" in doc["methods"]["binned"]["signal_fraction"]["source"]
    assert (out / "mass_scan.png").is_file()
    assert "mW = " in capsys.readouterr().out


@pytest.mark.slow  # the flows trained twice (about 30 s)
def test_sideband_signal_subtraction_removes_the_injected_signal_from_the_sidebands(
    inputs: dict[str, Path],
) -> None:
    """``--sideband-signal subtract``: the signal expected in the sidebands (the sum of the
    sideband events' signal probabilities, from the first fit and the grid's mjj shape)
    closes on the injected signal events that really lie there (truth labels), and the
    parametrized fit is repeated with flows trained without them; a second pass
    (``sideband_passes=2``) starts from the first pass's fit and keeps the very first fit."""
    from gbi.infer import InferConfig, load_signal_grid, run_inference
    from gbi.regions import Regions

    table = {k: np.asarray(v) for k, v in pq.read_table(inputs["data"]).to_pydict().items()}
    config = InferConfig(
        methods=("parametrized",), toys=30, sideband_signal="subtract", sideband_passes=2
    )
    config = dataclasses.replace(
        config, flow_train=dataclasses.replace(config.flow_train, epochs=5), flow_ensemble=2
    )
    grid = load_signal_grid([inputs["grid"]])
    result = run_inference(table, config=config, signal_grid=grid)
    doc = result.to_dict()
    validate(doc, "infer-result", "test")
    par = doc["methods"]["parametrized"]
    info = par["sideband_signal"]
    assert info["applied"] is True, info
    in_sb = Regions().in_sidebands(table["mjj"])
    true_sb = int(((table["label"] == 1) & in_sb).sum())
    assert true_sb > 20
    assert 0.5 * true_sb < info["signal_in_sidebands"] < 1.5 * true_sb, (info, true_sb)
    assert info["first_fit"]["mu_hat"] > 0
    assert "flow_training_sideband_signal" in doc["stages"]
    # Two passes (both with evidence: the injected signal is strong), or one and the reason.
    passes = info["passes"]
    assert passes[0] == info["first_fit"]["mu_hat"]
    assert passes[-1] == par["mu_hat"]
    assert len(passes) == 3 or (len(passes) == 2 and "no evidence" in info["passes_stopped"])


def test_too_few_toys_are_refused(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """With fewer than 20 toys the parametrized global Z is capped below the evidence
    threshold (5 toys: 0.97), which silently turned off the sideband subtraction and made
    every interval reach 0: refused, with the cap named. Without parametrized, allowed."""
    from gbi.errors import GbiInputError
    from gbi.infer import InferConfig

    with pytest.raises(GbiInputError, match=r"--toys.*found 5.*cannot exceed 0\.97"):
        InferConfig(toys=5)
    assert InferConfig(toys=20).toys == 20
    assert InferConfig(methods=("binned",), toys=0).toys == 0
    with pytest.raises(GbiInputError, match=r"--toys.*expected >= 0, found -1"):
        InferConfig(methods=("binned",), toys=-1)
    out = str(inputs["work"] / "few_toys.json")
    argv = ["infer", str(inputs["data"]), "--json", out, "--method", "parametrized"]
    assert main([*argv, "--toys", "3"]) == 2
    assert "--toys" in capsys.readouterr().err


def test_summary_line_says_how_many_events_were_not_fitted() -> None:
    """The unbinned line names the SR events left out (outside the flows' range), and says
    nothing when there were none."""
    from gbi.cli.infer import _line
    from gbi.infer.result import InferMethodResult

    values = {
        "mu_hat": 0.01,
        "mu_lo": 0.005,
        "mu_hi": 0.015,
        "mu_upper_limit_95": 0.02,
        "significance": 1.0,
        "events_outside_support": 2,
    }
    assert "2 SR events outside" in _line("unbinned", InferMethodResult.ok(values))
    values["events_outside_support"] = 0
    assert "outside" not in _line("unbinned", InferMethodResult.ok(values))


def test_summary_line_warns_of_em_steps_that_did_not_converge() -> None:
    """EM steps that reached the cap still rising are said, with the ensemble's w per step;
    converged steps (or none) print no warning."""
    from gbi.cli.infer import _line
    from gbi.infer.result import InferMethodResult

    values = {
        "mu_hat": 0.03,
        "mu_lo": 0.025,
        "mu_hi": 0.035,
        "mu_upper_limit_95": 0.04,
        "significance": 6.0,
        "em_converged": False,
        "signal_model": {"em_w_ensemble_steps": [0.02, 0.025, 0.03]},
    }
    line = _line("unbinned", InferMethodResult.ok(values))
    assert "still rising (w: 0.02000, 0.02500, 0.03000)" in line
    for converged in (True, None):
        values["em_converged"] = converged
        assert "warning" not in _line("unbinned", InferMethodResult.ok(values))
