"""The ``gbi`` command line: a thin layer over the library API.

Each subcommand lives in its own module ``gbi.cli.<name>`` that defines
``register(subparsers)``; the module adds its parser and sets ``func`` to a callable
``func(args) -> int``. Errors of type :class:`gbi.errors.GbiError` are printed as one
clear line and give exit code 2; Ctrl-C gives exit code 130.

Start-up is kept to about a second: ``gbi --help`` lists the commands from
:data:`COMMANDS` without importing their modules, and ``gbi CMD ...`` imports only
``gbi.cli.CMD``. A command module must therefore be cheap to import and to ``register``
(argparse and the standard library only: torch, coffea, pyhf, matplotlib, hist, numpy
and gbi modules that import them belong inside the ``run`` functions).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import re
import sys
from collections.abc import Iterable, Sequence

from gbi import __version__
from gbi.errors import GbiError

__all__ = ["COMMANDS", "COMMAND_MODULES", "build_parser", "main", "plain_text"]

#: Command name -> the one-line help of ``gbi --help`` (the same text as the module's own
#: ``add_parser(help=...)``; a test checks). Order is the order shown.
COMMANDS: dict[str, str] = {
    "demo": "run the chain on the small default sample shipped with gbi (QCD + W' signal)",
    "process": "dijet features, cutflow and weighted histograms from ROOT files",
    "generate": "generate LHCO R&D-style dijet events (needs gbi[generate])",
    "plot": "plots (mjj and each feature) of the histograms of a gbi process output folder",
    "amplify": "normalizing-flow generators: train, sample, evaluate",
    "workspace": "build a pyhf workspace from histograms",
    "fit": "fit a pyhf workspace: mu, significance, CLs limits",
    "detect": "resonant anomaly detection (CATHODE, latent CATHODE, idealized, supervised)",
    "infer": "fit the signal fraction mu (and masses) with intervals and a significance",
    "search": "scan mjj with sliding signal regions: local and global significance, limits",
}
COMMAND_MODULES: tuple[str, ...] = tuple(COMMANDS)

# Loggers of libraries whose INFO lines are chatter in a normal run (pyhf's modifier list,
# distributed's worker start/stop, matplotlib's font cache); shown with -v.
_QUIET_LOGGERS = ("pyhf", "jax", "distributed", "numba", "matplotlib")


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser; ``commands`` (default: all) are registered by their modules.

    The other commands get a placeholder parser that only shows in ``gbi --help``, so
    their modules are not imported.
    """
    chosen = set(COMMANDS if commands is None else commands)
    parser = argparse.ArgumentParser(
        prog="gbi",
        description="Generator-Based Inference for collider physics.",
    )
    parser.add_argument("--version", action="version", version=f"gbi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if importlib.util.find_spec(f"gbi.cli.{name}") is None:
            continue  # command not part of this build
        if name in chosen:
            importlib.import_module(f"gbi.cli.{name}").register(subparsers)
            _plain_help(subparsers.choices[name])
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


# reStructuredText roles and literals, as in module docstrings used as descriptions
_RST_MARKUP = re.compile(r"(?::[\w:]+:)?`{1,2}~?([^`]+?)`{1,2}")


def plain_text(text: str) -> str:
    """``text`` without reStructuredText markup, for argparse help.

    >>> plain_text("writes ``DIR/pulls.png``; see :func:`gbi.io.write_json` and `x`")
    'writes DIR/pulls.png; see gbi.io.write_json and x'
    """
    return _RST_MARKUP.sub(r"\1", text)


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Strip reStructuredText markup from a command's description and option help
    (module docstrings are often its description), in its subcommands too."""
    if parser.description:
        parser.description = plain_text(parser.description)
    if parser.epilog:
        parser.epilog = plain_text(parser.epilog)
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = plain_text(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if isinstance(choice.help, str):
                    choice.help = plain_text(choice.help)
            for sub in set(action.choices.values()):
                _plain_help(sub)


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand of ``argv``: its first word that is not an option (the top-level
    options take no value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gbi`` console script."""
    # The CLI draws figures to files only; set before anything imports matplotlib, and
    # left alone when the user chose a backend.
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Idle OpenMP threads sleep instead of spinning on cores another job needs; before
    # anything loads libgomp (sklearn, torch), unless the user chose a policy.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    parser = build_parser([command] if command else [])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except GbiError as err:
        print(f"gbi {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"gbi {args.command}: interrupted; files are written atomically, so none is "
            "half-written",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
