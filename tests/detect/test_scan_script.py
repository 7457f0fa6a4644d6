"""examples/lhco_injection_scan.py on toy feature files: the JSON table has the promised rows."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from detect_toys import toy_background, toy_signal

from gbi.tables import write_table

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "lhco_injection_scan.py"


@pytest.mark.slow  # end-to-end run of the example script (about 30 s)
def test_injection_scan_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "bkg": toy_background(8000, 1),
        "ref": toy_background(8000, 2),
        "sig": toy_signal(2000, 3),
    }
    for name, table in files.items():
        write_table(table, tmp_path / f"{name}.parquet")
    # The script runs its seeds in spawned processes, which unpickle ``_run_seed`` by its
    # module name: import it from sys.path (inherited by the children), not from a file spec.
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    module = importlib.import_module(SCRIPT.stem)
    out = tmp_path / "scan.json"
    rc = module.main([
        "--signal", str(tmp_path / "sig.parquet"),
        "--background", str(tmp_path / "bkg.parquet"),
        "--reference-background", str(tmp_path / "ref.parquet"),
        "--n-signal", "0", "400", "--seeds", "2", "--methods", "idealized", "supervised",
        "--max-iter", "30", "--json", str(out), "--out", str(tmp_path / "scan"),
    ])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())["results"]
    keys = {"method", "n_signal", "max_sic_median", "max_sic_16", "max_sic_84"}
    assert all(keys <= set(r) for r in rows)
    assert {(r["method"], r["n_signal"]) for r in rows} == {
        (m, n) for m in ("idealized", "supervised") for n in (0, 400)
    }
    ideal = {r["n_signal"]: r["max_sic_median"] for r in rows if r["method"] == "idealized"}
    assert ideal[400] > 2.0 > (ideal[0] or 0.0)
    assert (tmp_path / "scan" / "sic_vs_n.png").is_file()
    assert (tmp_path / "scan" / "sic_curves_hgb_N400.png").is_file()
    assert "| hgb | idealized | 400 |" in (tmp_path / "scan" / "scan_table.md").read_text()
    # The same scan split over two processes (--first-seed) and merged gives the same table.
    common = [
        "--signal", str(tmp_path / "sig.parquet"),
        "--background", str(tmp_path / "bkg.parquet"),
        "--reference-background", str(tmp_path / "ref.parquet"),
        "--n-signal", "0", "400", "--seeds", "1", "--methods", "idealized", "supervised",
        "--max-iter", "30",
    ]  # fmt: skip
    for first in (0, 1):
        part = ["--first-seed", str(first), "--json", str(tmp_path / f"part{first}.json")]
        assert module.main([*common, *part, "--out", str(tmp_path / f"p{first}")]) == 0
    merged = tmp_path / "merged.json"
    parts = [str(tmp_path / "part0.json"), str(tmp_path / "part1.json")]
    rc = module.main(["--merge", *parts, "--json", str(merged), "--out", str(tmp_path / "m")])
    assert rc == 0

    def physics(table: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "wall_s_median"} for r in table]

    assert physics(json.loads(merged.read_text())["results"]) == physics(rows)


def test_map_seeds_runs_the_seeds_as_dask_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--dask``: the seeds are tasks on a local dask cluster; the rows come back in seed
    order, each task within its thread share (the workers cannot import the script)."""
    pytest.importorskip("distributed")
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    module = importlib.import_module(SCRIPT.stem)
    got = list(module.map_seeds(module._square_rows, [3, 1, 2], jobs=2, threads=2, dask="local"))
    assert got == [[{"seed": s, "square": s * s}] for s in (3, 1, 2)]
