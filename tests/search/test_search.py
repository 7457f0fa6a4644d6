"""The scan on a toy with a known bump: fields, skipped windows, schema, the bump found,
executors giving identical results, resume, a failing window, the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from search_toys import MASS

from gbi.errors import GbiInputError
from gbi.schema import validate
from gbi.search import Window, WindowGrid, run_search

#: What changes between runs of the same window (timestamps, timings).
VOLATILE = ("started", "finished", "seconds", "timing_s", "classifier", "threads")


def _stable(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in VOLATILE}


def test_every_window_has_its_fields_and_files(scan_dir):
    out, result = scan_dir
    ok = {w.name: w for w in result.windows if w.status == "ok"}
    assert sorted(ok) == ["2200_2600", "2600_3000", "3000_3400", "3400_3800"]
    for w in ok.values():
        assert w.n_sr > 0
        assert w.p0_local is not None
        assert 0 <= w.p0_local <= 0.5
        assert w.mu_lo <= w.mu_hat <= w.mu_hi
        band = w.upper_limit_exp_band
        assert band[0] < band[2] < band[4]
        assert band[2] == w.upper_limit_exp
        assert w.upper_limit_obs > 0
        assert (out / "windows" / f"{w.name}.json").is_file()
        spec = json.loads((out / "workspaces" / f"{w.name}.json").read_text())
        assert {c["name"] for c in spec["channels"]} == {"signal_region", "sideband_windows"}
    for name in ("search.json", "search.md", "p0_vs_mass.png", "limits_vs_mass.png"):
        assert (out / name).is_file()


def test_windows_without_data_or_sideband_are_skipped_with_a_reason(scan_dir):
    _, result = scan_dir
    skipped = {w.name: w.message for w in result.windows if w.status != "ok"}
    assert set(skipped) == {"1500_1900", "7000_7400"}
    assert "the low sideband holds 0 data events" in skipped["1500_1900"]
    assert "lies outside the data's mjj range" in skipped["7000_7400"]


def test_search_json_follows_the_schema(scan_dir):
    out, result = scan_dir
    document = json.loads((out / "search.json").read_text())
    validate(document, "search-result", "search.json")
    assert document == json.loads(json.dumps(result.to_dict()))
    assert document["counts"] == {"ok": 4, "skipped": 2, "failed": 0}
    assert document["global_significance"]["method"] == "toys-correlated-gaussian"
    broken = {**document, "windows": [{**document["windows"][0], "status": "done"}]}
    with pytest.raises(GbiInputError, match="search-result schema"):
        validate(broken, "search-result", "broken")


def test_the_injected_bump_is_found_in_its_window(scan_dir):
    _, result = scan_dir
    best = result.best
    assert best.low <= MASS < best.high
    assert best.local_significance > 3
    truth = best.details["truth"]["signal_passing"]
    assert best.mu_hat == pytest.approx(truth, rel=0.5)
    for w in result.fitted:
        if w is not best:
            assert w.local_significance < 2, w.name
    g = result.global_significance
    assert 0 < g["significance"] < best.local_significance


@pytest.mark.parametrize(
    "executor",
    # both start worker processes that import torch (about 10 s each): the slow CI step
    [pytest.param("futures", marks=pytest.mark.slow), pytest.param("dask", marks=pytest.mark.slow)],
)
def test_executors_give_the_iterative_results(tmp_path, toy, config, scan_dir, executor):
    """Two windows on two workers: the same numbers as in the iterative scan (each window's
    result depends only on its seed, not on the grid or where it runs)."""
    if executor == "dask":
        pytest.importorskip("distributed")
    out, _ = scan_dir
    grid = WindowGrid((Window(2600, 3000), Window(3000, 3400)))
    run_search(
        toy, grid, config, out_dir=tmp_path, executor=executor, workers=2, threads=1,
        global_toys=100,
    )  # fmt: skip
    for w in grid.windows:
        mine = json.loads((tmp_path / "windows" / f"{w.name}.json").read_text())
        iterative = json.loads((out / "windows" / f"{w.name}.json").read_text())
        assert _stable(mine) == _stable(iterative)


def test_resume_computes_only_the_missing_window(tmp_path, toy, grid, config, scan_dir):
    out, first = scan_dir
    shutil.copytree(out, tmp_path / "scan")
    copy = tmp_path / "scan"
    (copy / "windows" / "3000_3400.json").unlink()
    kept = {p.name: p.read_text() for p in (copy / "windows").glob("*.json")}
    again = run_search(toy, grid, config, out_dir=copy, threads=1, global_toys=20_000)
    assert again.execution["computed"] == ["3000_3400"]
    for name, text in kept.items():  # untouched, timestamps included
        assert (copy / "windows" / name).read_text() == text
    redone = json.loads((copy / "windows" / "3000_3400.json").read_text())
    original = json.loads((out / "windows" / "3000_3400.json").read_text())
    assert _stable(redone) == _stable(original)
    assert again.best == first.best
    assert again.global_significance == first.global_significance


def test_results_of_another_configuration_are_never_reused(tmp_path, toy, grid, config, scan_dir):
    import dataclasses

    out, _ = scan_dir
    shutil.copytree(out, tmp_path / "scan")
    other = dataclasses.replace(config, efficiency=0.2)
    with pytest.raises(GbiInputError, match="holds window results of another configuration"):
        run_search(toy, grid, other, out_dir=tmp_path / "scan", threads=1)
    changed = {**toy, "f1": toy["f1"] + 1e-9}
    with pytest.raises(GbiInputError, match="another configuration or input"):
        run_search(changed, grid, config, out_dir=tmp_path / "scan", threads=1)


def test_a_failing_window_is_reported_and_the_others_finish(tmp_path, toy, config, monkeypatch):
    import gbi.search.window as window_module

    real = window_module.SidebandBackground.train

    def train(table, split, *args, **kwargs):
        if split.regions.sr_low == 3000:
            raise RuntimeError("boom in the flow")
        return real(table, split, *args, **kwargs)

    monkeypatch.setattr(window_module.SidebandBackground, "train", train)
    grid = WindowGrid((Window(3000, 3400), Window(3400, 3800)))
    result = run_search(toy, grid, config, out_dir=tmp_path, threads=1, global_toys=100)
    status = {w.name: (w.status, w.message) for w in result.windows}
    assert status["3000_3400"] == ("failed", "RuntimeError: boom in the flow")
    assert status["3400_3800"][0] == "ok"
    assert json.loads((tmp_path / "search.json").read_text())["counts"]["failed"] == 1


def test_cli_reuses_a_finished_scan(tmp_path, toy, grid, scan_dir, capsys):
    from gbi.cli import main
    from gbi.tables import write_table

    out, first = scan_dir
    shutil.copytree(out, tmp_path / "scan")
    write_table(toy, tmp_path / "toy.parquet")
    (tmp_path / "windows.json").write_text(json.dumps(grid.to_dict()))
    argv = ["search", str(tmp_path / "toy.parquet"), "--out", str(tmp_path / "scan")]
    argv += ["--windows", str(tmp_path / "windows.json"), "--quick", "--columns", "f1", "f2"]
    argv += ["--truth-label", "label", "--threads", "1", "--no-progress", "--global-toys", "20000"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best window 3000-3400 GeV" in printed
    document = json.loads((tmp_path / "scan" / "search.json").read_text())
    assert document["execution"]["computed"] == []
    assert document["best"]["local_significance"] == first.best.local_significance
    assert main([*argv[:4], "--windows", "3000:3400:100"]) == 2
    assert "needs --width" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_dask_worker_does_not_change_the_result(tmp_path, toy, config, scan_dir):
    """The worker running a window is killed while it runs: dask reruns the window on
    another worker and the window file is the one of the iterative scan."""
    import contextlib
    import os
    import threading

    distributed = pytest.importorskip("distributed")
    out, _ = scan_dir
    grid = WindowGrid((Window(2600, 3000), Window(3000, 3400)))
    killed: list[str] = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        done = threading.Event()

        def kill_a_busy_worker() -> None:
            while not done.is_set() and not killed:
                for worker, keys in client.processing().items():
                    if any(str(k).startswith("gbi-window-3000_3400") for k in keys):
                        killed.append(worker)
                        with contextlib.suppress(Exception):  # the call dies with the worker
                            client.run(os._exit, 1, workers=[worker])
                        return
                done.wait(0.1)

        thread = threading.Thread(target=kill_a_busy_worker, daemon=True)
        thread.start()
        result = run_search(
            toy, grid, config, out_dir=tmp_path, executor="dask",
            scheduler=cluster.scheduler_address, threads=1, global_toys=100,
        )  # fmt: skip
        done.set()
        thread.join()
    assert killed, "no worker was seen running the window"
    assert [w.status for w in result.windows] == ["ok", "ok"]
    for w in grid.windows:
        mine = json.loads((tmp_path / "windows" / f"{w.name}.json").read_text())
        iterative = json.loads((out / "windows" / f"{w.name}.json").read_text())
        assert _stable(mine) == _stable(iterative)


def test_cli_reads_only_the_datasets_of_a_process_folder(tmp_path, toy, capsys):
    """A ``gbi process`` folder gives exactly the datasets its summary.json lists: a stale
    Parquet file of an earlier run beside them (here a big bump) is never read."""
    from gbi.cli import main
    from gbi.tables import write_table

    folder = tmp_path / "proc"
    (folder / "features").mkdir(parents=True)
    write_table(toy, folder / "features" / "toy.parquet")
    stale = {k: v[:5000] for k, v in toy.items()}
    write_table(stale, folder / "features" / "old.parquet")
    summary = {"datasets": {"toy": {"features_file": "features/toy.parquet"}}}
    (folder / "summary.json").write_text(json.dumps(summary))
    argv = ["search", str(folder), "--out", str(tmp_path / "scan"), "--windows", "3000:3400:400"]
    argv += ["--width", "400", "--quick", "--columns", "f1", "f2", "--threads", "1"]
    argv += ["--no-progress", "--global-toys", "100"]
    assert main(argv) == 0
    document = json.loads((tmp_path / "scan" / "search.json").read_text())
    assert document["data"]["events"] == len(toy["mjj"])
