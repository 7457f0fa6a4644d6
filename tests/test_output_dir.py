"""A command owns its output folder: nothing of an earlier run is left to be read as data,
and no file that gbi did not write is ever removed (issue 17.2)."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest

from gbi.cli import main
from gbi.errors import GbiInputError
from gbi.feature_job import process_fileset
from gbi.fileset import normalize_fileset
from gbi.io import MANIFEST_NAME, prepare_output_dir
from gbi.sample import default_fileset


def _write_run(out, command="process", names=("a.json", "sub/b.json")):
    with prepare_output_dir(out, overwrite=False, command=command):
        for name in names:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text("{}")


def test_new_and_empty_folders_are_used(tmp_path):
    _write_run(tmp_path / "new" / "deep")
    manifest = json.loads((tmp_path / "new" / "deep" / MANIFEST_NAME).read_text())
    assert manifest["command"] == "process"
    assert manifest["complete"] is True
    assert manifest["files"] == ["a.json", "sub/b.json"]
    (tmp_path / "empty").mkdir()
    _write_run(tmp_path / "empty")


def test_own_folder_needs_overwrite_which_removes_only_listed_files(tmp_path):
    out = tmp_path / "o"
    _write_run(out)
    with pytest.raises(GbiInputError, match=r"earlier 'gbi process' run .*--overwrite"):
        prepare_output_dir(out, overwrite=False, command="process")
    assert (out / "sub" / "b.json").is_file()  # refusing removes nothing
    prepare_output_dir(out, overwrite=True, command="process")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME]  # sub/ pruned as well


def test_unknown_files_are_never_removed(tmp_path):
    out = tmp_path / "o"
    _write_run(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GbiInputError, match=r"did not list as its outputs: notes.txt"):
        prepare_output_dir(out, overwrite=True, command="process")
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "a.json").is_file()  # nothing removed when refused

    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("x")
    with pytest.raises(GbiInputError, match=r"not empty and was not written by gbi .*thesis.tex"):
        prepare_output_dir(user, overwrite=True, command="process")
    assert (user / "thesis.tex").is_file()


def test_a_manifest_cannot_point_outside_the_folder(tmp_path):
    out = tmp_path / "o"
    _write_run(out)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    manifest["files"] += [str(victim), "../victim.txt"]
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    prepare_output_dir(out, overwrite=True, command="process")
    assert victim.read_text() == "keep"


def test_links_are_not_followed(tmp_path):
    outside = tmp_path / "data"
    outside.mkdir()
    (outside / "precious.root").write_text("x")
    out = tmp_path / "o"
    _write_run(out)
    (out / "link").symlink_to(outside)
    with pytest.raises(GbiInputError, match="link"):
        prepare_output_dir(out, overwrite=True, command="process")
    assert (outside / "precious.root").is_file()


def test_another_commands_folder_is_refused(tmp_path):
    out = tmp_path / "o"
    _write_run(out, command="demo")
    with pytest.raises(GbiInputError, match=r"outputs of 'gbi demo', not of 'gbi process'"):
        prepare_output_dir(out, overwrite=True, command="process")


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(GbiInputError, match="is a file; expected a folder"):
        prepare_output_dir(tmp_path / "f", overwrite=True, command="process")


def test_failed_run_without_outputs_leaves_nothing(tmp_path):
    with (
        pytest.raises(RuntimeError),
        prepare_output_dir(tmp_path / "o", overwrite=False, command="process"),
    ):
        raise RuntimeError("failed before writing")
    assert not (tmp_path / "o").exists()


def test_killed_run_is_refused_with_the_files_named(tmp_path):
    out = tmp_path / "o"
    prepare_output_dir(out, overwrite=False, command="process")  # never finished
    (out / "summary.json").write_text("{}")
    with pytest.raises(GbiInputError, match=r"unfinished run.*summary.json"):
        prepare_output_dir(out, overwrite=True, command="process")


def test_rerun_with_fewer_datasets_leaves_no_stale_features(tmp_path):
    """The issue's case: 2 datasets, then 1 into the same folder."""
    out = tmp_path / "o"
    both = normalize_fileset(default_fileset())
    process_fileset(both, out, progress=False)
    assert sorted(p.name for p in (out / "features").iterdir()) == [
        "qcd.parquet",
        "wprime.parquet",
    ]
    only_qcd = {"qcd": both["qcd"]}
    with pytest.raises(GbiInputError, match="--overwrite"):
        process_fileset(only_qcd, out, progress=False)
    summary = process_fileset(only_qcd, out, progress=False, overwrite=True)
    assert list(summary["datasets"]) == ["qcd"]
    assert sorted(p.name for p in (out / "features").iterdir()) == ["qcd.parquet"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert "features/wprime.parquet" not in manifest["files"]
    assert "features/qcd.parquet" in manifest["files"]


def test_cli_process_overwrite(capsys, tmp_path):
    files = [next(iter(default_fileset()[name]["files"])) for name in ("qcd", "wprime")]
    out = str(tmp_path / "o")
    assert main(["process", *files, "--out", out, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["process", files[0], "--out", out, "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["process", files[0], "--out", out, "--no-progress", "--overwrite"]) == 0
    assert not (tmp_path / "o" / "features" / "wprime.parquet").exists()


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    """A demo run with --overwrite over an earlier demo folder (made by hand: one run)."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    _write_run(out, command="demo", names=("fit.json", "process/features/stale.parquet"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--out", str(out), "--no-progress", "--overwrite"]) == 0
    (out.parent / "stdout.txt").write_text(printed.getvalue())
    return out


def test_demo_prints_whole_lines(demo_out):
    """Each figure of the fit on its own short line: a terminal never breaks one mid-sentence."""
    printed = (demo_out.parent / "stdout.txt").read_text().splitlines()
    fit = printed[printed.index(next(x for x in printed if x.startswith("fit of mjj"))) :]
    assert all(len(line) <= 80 for line in fit if not line.startswith(("workspace:", "fit:")))
    assert any(line.startswith("  expected CLs upper limit: mu < ") for line in fit)
    assert logging.getLogger("matplotlib").getEffectiveLevel() >= logging.WARNING  # font cache


def test_demo_replaces_its_earlier_outputs(demo_out, capsys):
    assert not (demo_out / "process" / "features" / "stale.parquet").exists()
    assert (demo_out / "process" / "features" / "qcd.parquet").is_file()
    manifest = json.loads((demo_out / MANIFEST_NAME).read_text())
    assert manifest["command"] == "demo"
    assert "process/summary.json" in manifest["files"]
    assert main(["demo", "--out", str(demo_out), "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_demo_fit_names_the_workspace_it_fitted(demo_out):
    fit = json.loads((demo_out / "fit.json").read_text())
    assert fit["workspace"] == str(demo_out / "workspace.json")
    assert json.loads((demo_out / "workspace.json").read_text())["channels"]


def test_fit_plot_folder_is_owned(demo_out, tmp_path, capsys):
    plots = tmp_path / "plots"
    argv = ["fit", str(demo_out / "workspace.json"), "--plot", str(plots), "--scan-points", "4"]
    assert main(argv) == 0
    assert (plots / "pulls.png").is_file()
    manifest = json.loads((plots / MANIFEST_NAME).read_text())
    assert manifest["command"] == "fit --plot"
    assert manifest["files"] == ["cls_limit.png", "pulls.png"]
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_generate_names_files_an_earlier_run_left(tmp_path, monkeypatch, capsys):
    """generate resumes file by file; files of the same process and seed beyond this run
    (an earlier run with more --events) are named, since a glob would read them."""
    import gbi.generate
    from gbi.generate import GenerateResult

    planned = [tmp_path / "qcd_1_000.root", tmp_path / "qcd_1_001.root"]
    for path in [*planned, tmp_path / "qcd_1_002.root", tmp_path / "qcd_2_000.root"]:
        path.write_bytes(b"x")

    def fake_generate(*args, **kwargs):
        return GenerateResult(files=planned, skipped=planned)

    monkeypatch.setattr(gbi.generate, "generate", fake_generate)
    argv = ["generate", "--process", "qcd", "--events", "20", "--out", str(tmp_path)]
    assert main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 file(s) of this process and seed that this run did not make (qcd_1_002.root)" in err
    assert "qcd_2_000" not in err  # another seed: another sample, not stale
