"""The ``gbi`` command line: a thin layer over the library API.

Each subcommand lives in its own module ``gbi.cli.<name>`` that defines
``register(subparsers)``; the module adds its parser and sets ``func`` to a callable
``func(args) -> int``. Errors of type :class:`gbi.errors.GbiError` are printed as one
clear line and give exit code 2; Ctrl-C gives exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gbi import __version__
from gbi.errors import GbiError

__all__ = ["build_parser", "main"]

# Order is the order shown by ``gbi --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "process",
    "generate",
    "plot",
    "amplify",
    "workspace",
    "fit",
    "detect",
    "infer",
    "search",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="gbi",
        description="Generator-Based Inference for collider physics.",
    )
    parser.add_argument("--version", action="version", version=f"gbi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gbi.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"gbi.cli.{name}":
                continue  # command not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gbi`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # libraries' INFO chatter (e.g. pyhf's modifier list) only with -v
        for name in ("pyhf", "jax", "distributed", "numba"):
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
        print(f"gbi {args.command}: interrupted; no partial output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
