"""``gbi --help`` and a command's ``--help`` start in about a second: building the parser
imports no heavy library (issue 21.5). Checked by the modules imported, in fresh
processes, never by timing (benchmarks/bench_startup.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gbi.cli import COMMANDS, build_parser

HEAVY = ("torch", "coffea", "pyhf", "matplotlib", "hist", "awkward", "uproot", "numpy")
#: Every command: none may import a heavy library to build its parser.
LIGHT_COMMANDS = tuple(COMMANDS)


def _imported_after(code: str) -> dict:
    script = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], "
        "'backend': __import__('os').environ.get('MPLBACKEND')}))"
    )
    env_clean = "import os; os.environ.pop('MPLBACKEND', None)\n"
    result = subprocess.run(
        [sys.executable, "-c", env_clean + script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_gbi_and_the_cli_imports_no_heavy_library():
    assert _imported_after("import gbi, gbi.cli")["heavy"] == []


def test_top_level_help_imports_no_command_module():
    found = _imported_after(
        "import contextlib, io\n"
        "from gbi.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main([])\n"
        "assert not [m for m in sys.modules if m.startswith('gbi.cli.') and m != 'gbi.cli.options']"
    )
    assert found["heavy"] == []
    assert found["backend"] == "Agg"  # set by main() before anything imports matplotlib


@pytest.mark.parametrize("command", LIGHT_COMMANDS)
def test_command_help_imports_no_heavy_library(command):
    found = _imported_after(
        "import contextlib, io\n"
        "from gbi.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main([{command!r}, '--help'])"
    )
    assert found["heavy"] == []


def test_command_table_matches_the_modules():
    """``gbi --help`` shows COMMANDS without importing the modules: same text as theirs."""
    parser = build_parser()  # every command registered by its module
    [subparsers] = [a for a in parser._actions if a.dest == "command"]
    registered = {choice.dest: choice.help for choice in subparsers._choices_actions}
    assert registered == COMMANDS


def test_help_texts_are_plain():
    parser = build_parser()
    [subparsers] = [a for a in parser._actions if a.dest == "command"]
    for name, sub in subparsers.choices.items():
        assert "``" not in sub.format_help(), name
        assert ":func:" not in sub.format_help(), name


def test_generate_help_defaults_agree_with_the_generator():
    from gbi.cli import generate as cli_generate
    from gbi.generate import nsubjettiness, pythia_config, runner

    assert cli_generate.PROCESSES == pythia_config.PROCESSES
    assert cli_generate.DEFAULT_MASSES == pythia_config.DEFAULT_MASSES
    assert cli_generate.DEFAULT_EVENTS_PER_FILE == runner.DEFAULT_EVENTS_PER_FILE
    assert cli_generate.DEFAULT_BATCH_SIZE == runner.DEFAULT_BATCH_SIZE
    assert tuple(nsubjettiness.NSUB_AXES) == cli_generate.NSUB_AXES
    assert cli_generate.DEFAULT_NSUB_AXES == nsubjettiness.DEFAULT_NSUB_AXES


def test_detect_and_infer_help_defaults_agree_with_the_library():
    from gbi.cli import detect as cli_detect
    from gbi.cli import infer as cli_infer
    from gbi.detect.config import DEFAULT_CUTS, METHODS
    from gbi.infer.binned import SIDEBAND_CLOSURE_MODES, BinnedConfig
    from gbi.infer.config import (
        INFER_METHODS,
        SIDEBAND_SIGNAL_MODES,
        UNBINNED_CALIBRATIONS,
        InferConfig,
    )
    from gbi.infer.unbinned import SIGNAL_MODELS
    from gbi.infer.uncertainty import EVIDENCE_THRESHOLD

    assert cli_infer.UNBINNED_MODELS == SIGNAL_MODELS
    assert cli_detect.METHODS == METHODS
    assert cli_detect.DEFAULT_CUTS == DEFAULT_CUTS
    assert cli_infer.INFER_METHODS == INFER_METHODS
    assert cli_infer.EVIDENCE_THRESHOLD == EVIDENCE_THRESHOLD
    assert cli_infer.SIDEBAND_CLOSURE_MODES == SIDEBAND_CLOSURE_MODES
    assert cli_infer.SIDEBAND_SIGNAL_MODES == SIDEBAND_SIGNAL_MODES
    assert cli_infer.UNBINNED_CALIBRATIONS == UNBINNED_CALIBRATIONS
    assert InferConfig.unbinned_calibration == "auto"  # the CLI's default
    assert InferConfig.parametrized_calibration == "auto"  # the CLI's default
    from gbi.infer.unbinned import UnbinnedConfig

    assert {
        "signal_model": UnbinnedConfig.signal_model,
        "em_steps": UnbinnedConfig().flow.em_steps,
        "em_tol": UnbinnedConfig().flow.em_tol,
    } == cli_infer.UNBINNED_DEFAULTS
    assert InferConfig.sideband_signal == cli_infer.SIDEBAND_SIGNAL_DEFAULT
    assert InferConfig.sideband_passes == cli_infer.SIDEBAND_PASSES_DEFAULT
    from gbi.infer.parametrized import EXTEND_MORPHS, ParametrizedConfig

    assert cli_infer.EXTEND_MORPHS == EXTEND_MORPHS
    assert ParametrizedConfig.extend_morph == cli_infer.EXTEND_MORPH_DEFAULT
    for name, value in cli_infer.BINNED_DEFAULTS.items():
        assert getattr(BinnedConfig, name) == value, name
