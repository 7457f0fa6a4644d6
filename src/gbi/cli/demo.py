"""``gbi demo``: the whole chain on the default sample shipped with gbi (no external data).

1. ``gbi process`` on the shipped QCD and W' files (features, cutflow, weighted histograms);
2. plots of mjj and of each feature in the signal region;
3. a pyhf workspace of mjj in the signal region: QCD as background (staterror from the
   histogram variances, 10% normalisation systematic), the W' as signal scaled to
   ``--signal-fraction`` of the background, Asimov data with mu = 1; and its fit (mu_hat,
   discovery significance, CLs limits).

The demo owns ``--out`` (:func:`gbi.io.prepare_output_dir`): a folder of an earlier demo
is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gbi.cli.options import add_overwrite_option

__all__ = ["register", "run", "signal_region_workspace"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the chain on the small default sample shipped with gbi (QCD + W' signal)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("gbi-demo"), help="output folder [default: gbi-demo]"
    )
    add_overwrite_option(parser)
    parser.add_argument(
        "--executor",
        choices=("iterative", "futures", "dask"),
        default="iterative",
        help="coffea executor",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workers for futures/dask [default: 2]"
    )
    parser.add_argument(
        "--signal-fraction",
        type=float,
        default=0.05,
        help="signal yield / background yield in the SR for the fit [default: 0.05]",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def signal_region_workspace(
    hists: dict[str, dict[str, Any]], signal_fraction: float, regions: Any
) -> dict[str, Any]:
    """pyhf spec for mjj in the SR: ``qcd`` background, ``wprime`` signal scaled to
    ``signal_fraction`` x background, Asimov data at mu = 1."""
    import hist

    from gbi.workspace import Channel, Sample, build_spec

    def sr(dataset: str) -> Any:
        mjj = hists[dataset]["mjj"][{"region": "SR"}]
        return mjj[hist.loc(regions.sr_low) : hist.loc(regions.sr_high)]

    background, signal = sr("qcd"), sr("wprime")
    scale = signal_fraction * background.sum().value / signal.sum().value
    channel = Channel(
        "SR_mjj",
        [
            Sample("wprime", signal * scale, signal=True),
            Sample("qcd", background, sys=0.1),
        ],
        data=1.0,
    )
    return build_spec([channel])


def run(args: argparse.Namespace) -> int:
    from gbi.io import prepare_output_dir

    with prepare_output_dir(args.out, overwrite=args.overwrite, command="demo"):
        _run_chain(args)
    return 0


def _run_chain(args: argparse.Namespace) -> None:
    from gbi.cli.plot import load_process_histograms, make_plots
    from gbi.cli.process import print_summary
    from gbi.feature_job import process_fileset
    from gbi.io import write_json
    from gbi.regions import Regions
    from gbi.sample import default_fileset
    from gbi.workspace import fit_workspace
    from gbi.workspace.builder import build_workspace_from_spec

    process_dir = args.out / "process"
    summary = process_fileset(
        default_fileset(),
        process_dir,
        executor=args.executor,
        workers=args.workers,
        chunksize=10_000,
        progress=not args.no_progress,
    )
    print_summary(summary, process_dir)
    for path in make_plots(process_dir, args.out / "plots"):
        print(f"plot: {path}")

    hists = load_process_histograms(process_dir)  # histograms.json, written just above
    spec = signal_region_workspace(hists, args.signal_fraction, Regions())
    workspace_file = write_json(spec, args.out / "workspace.json")
    result = fit_workspace(
        build_workspace_from_spec(spec, "demo workspace"), source=str(workspace_file)
    )
    fit_file = write_json(result, args.out / "fit.json")
    # one short line per figure: a terminal never breaks them mid-sentence
    print(
        f"fit of mjj in the SR (S/B = {args.signal_fraction:g}, Asimov data with mu = 1):\n"
        f"  mu_hat = {result['mu_hat']:.3f} +- {result['mu_err']:.3f}\n"
        f"  expected discovery significance: {result['q0_significance']:.2f} sigma\n"
        f"  expected CLs upper limit: mu < {result['cls_upper_limit_exp']:.3f}\n"
        f"workspace: {workspace_file}\n"
        f"fit: {fit_file}"
    )
