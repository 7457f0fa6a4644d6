"""Command-line options shared by several ``gbi`` commands (argparse only: cheap to import)."""

from __future__ import annotations

import argparse

__all__ = ["add_overwrite_option"]


def add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: replace what the same command wrote to its output folder before.

    Pass ``args.overwrite`` to :func:`gbi.io.prepare_output_dir`, which refuses any other
    non-empty folder and never removes a file that gbi did not write.
    """
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the outputs of an earlier run of this command in the output folder "
        "(files gbi did not write are never removed)",
    )
