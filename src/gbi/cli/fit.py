"""``gbi fit``: MLE fit, discovery significance and CLs limits of a pyhf workspace.

Prints a summary; ``--json OUT`` writes the full result (schema fit-result-1.0) and
``--plot DIR`` writes ``DIR/pulls.png`` and ``DIR/cls_limit.png`` (DIR: new, empty, or
the plots of an earlier fit, replaced with ``--overwrite``). The numbers agree with
``pyhf fit`` and ``pyhf cls`` on the same file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from gbi.cli.options import add_overwrite_option

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``fit`` subcommand."""
    parser = subparsers.add_parser(
        "fit",
        help="fit a pyhf workspace: mu, significance, CLs limits",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("workspace", help="pyhf workspace JSON (e.g. from gbi workspace)")
    parser.add_argument("--json", metavar="OUT", help="write the result JSON here ('-' for stdout)")
    parser.add_argument("--plot", metavar="DIR", help="write pulls.png and cls_limit.png to DIR")
    add_overwrite_option(parser)
    parser.add_argument("--measurement", help="measurement name (default: the first)")
    parser.add_argument("--backend", choices=["numpy", "jax"], default="numpy")
    parser.add_argument(
        "--optimizer",
        choices=["minuit", "scipy"],
        default="minuit",
        help="optimizer of the hypothesis tests (the MLE fit uses minuit)",
    )
    parser.add_argument(
        "--cl", type=float, default=0.95, help="confidence level of the limit (default 0.95)"
    )
    parser.add_argument("--test-stat", choices=["qtilde", "q"], default="qtilde")
    parser.add_argument(
        "--minos", action="store_true", help="also the asymmetric MINOS 68%% interval of mu"
    )
    parser.add_argument(
        "--scan-points",
        type=int,
        default=None,
        help="CLs scan points for the plot (default 25 with --plot)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fit, print the summary, write the JSON and the plots."""
    from gbi.errors import GbiInputError
    from gbi.io import prepare_output_dir

    if not 0 < args.cl < 1:
        raise GbiInputError(f"--cl {args.cl}: expected a confidence level in (0, 1), e.g. 0.95")
    with contextlib.ExitStack() as stack:
        if args.plot:  # checked before the fit, which can take a while
            stack.enter_context(
                prepare_output_dir(args.plot, overwrite=args.overwrite, command="fit --plot")
            )
        _fit_and_report(args)
    return 0


def _fit_and_report(args: argparse.Namespace) -> None:
    from gbi.io import write_json
    from gbi.workspace.fit import fit_workspace, load_workspace

    scan_points = args.scan_points if args.scan_points is not None else (25 if args.plot else 0)
    workspace = load_workspace(args.workspace)
    result = fit_workspace(
        workspace,
        measurement=args.measurement,
        backend=args.backend,
        optimizer=args.optimizer,
        level=1 - args.cl,
        test_stat=args.test_stat,
        scan_points=scan_points,
        minos=args.minos,
        source=str(args.workspace),
    )
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        print(_summary(result))
        if args.json:
            print(f"wrote {write_json(result, args.json)}")
    if args.plot:
        from gbi.workspace.plots import plot_limit, plot_pulls

        folder = Path(args.plot)
        print(f"wrote {plot_pulls(result, folder / 'pulls.png')}")
        print(f"wrote {plot_limit(result, folder / 'cls_limit.png')}")


def _summary(result: dict[str, Any]) -> str:
    band = result["cls_upper_limit_exp_band"]
    cl = 100 * (1 - result["cls_level"])
    minos = ""
    if "mu_minos" in result:
        lo, hi = result["mu_minos"]
        minos = f" (MINOS 68%: [{lo:.4g}, {hi:.4g}])"
    return "\n".join(
        [
            f"{result['poi']}_hat = {result['mu_hat']:.4g} ± {result['mu_err']:.3g}{minos}",
            f"discovery: Z = {result['q0_significance']:.3g} (expected for mu=1: "
            f"{result['q0_significance_exp']:.3g}), p0 = {result['p0']:.3g}",
            f"{cl:g}% CLs upper limit: observed {result['cls_upper_limit_obs']:.4g}, expected "
            f"{band[2]:.4g} (-1σ {band[1]:.4g}, +1σ {band[3]:.4g}; -2σ {band[0]:.4g}, +2σ {band[4]:.4g})",
        ]
    )
