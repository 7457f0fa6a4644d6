"""``gbi workspace``: build a pyhf workspace from histograms (flags or a YAML/JSON config).

Histogram references ``H``: ``FILE.json:KEY[axis=value,...]`` (a UHI JSON file as
``gbi process`` writes, e.g. ``out/histograms.json:qcd/mjj[region=SR]``) or
``FILE.root:PATH``. ``FILE.pkl:KEY`` (a pickled dict, ``KEY`` walks it with ``/``) is read
only with ``--allow-pickle``: a pickle can run code when it is loaded. Prefix ``NAME=`` to
name the sample (default: the first part of ``KEY``). With ``--channels SR CR`` every
reference may contain ``{region}``, and one channel is built per region. Writes the
workspace JSON and, unless ``--no-root``, the histograms as a ROOT file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from gbi.errors import GbiInputError

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``workspace`` subcommand."""
    parser = subparsers.add_parser(
        "workspace",
        help="build a pyhf workspace from histograms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?", help="YAML/JSON config (schema workspace-config-1.0)")
    _add_sample_options(parser)
    _add_model_options(parser)
    _add_output_options(parser)
    parser.set_defaults(func=run)


def _add_sample_options(parser: argparse.ArgumentParser) -> None:
    """The histograms: signal, backgrounds by kind, data."""
    parser.add_argument("--signal", metavar="[NAME=]H", help="signal histogram (POI mu)")
    parser.add_argument(
        "--background",
        metavar="[NAME=]H",
        action="append",
        default=[],
        help="MC background (repeatable)",
    )
    parser.add_argument(
        "--amplified",
        metavar="[NAME=]H",
        action="append",
        default=[],
        help="generator-amplified background (repeatable)",
    )
    parser.add_argument(
        "--data-driven",
        metavar="[NAME=]H",
        action="append",
        default=[],
        help="data-driven background, no lumi (repeatable)",
    )
    parser.add_argument(
        "--data",
        metavar="H|asimov[:MU]",
        default="asimov",
        help="observed data, or the Asimov dataset with signal x MU (default asimov:0)",
    )


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Systematics, channels and the POI."""
    parser.add_argument(
        "--sys",
        type=float,
        default=None,
        help="flat relative normalisation uncertainty on each background, e.g. 0.1",
    )
    parser.add_argument(
        "--signal-sys", type=float, default=None, help="flat relative uncertainty on the signal"
    )
    parser.add_argument(
        "--lumi",
        type=float,
        default=None,
        help="relative luminosity uncertainty for MC samples, e.g. 0.017",
    )
    parser.add_argument("--no-staterror", action="store_true", help="no staterror modifiers")
    parser.add_argument(
        "--channels",
        nargs="+",
        metavar="REGION",
        help="one channel per region; fills {region} in the references (not the regions JSON "
        "of 'gbi process --regions': a list of channel names)",
    )
    parser.add_argument(
        "--channel", default="SR", help="channel name without --channels (default SR)"
    )
    parser.add_argument("--poi", default="mu", help="name of the signal-strength POI (default mu)")
    parser.add_argument(
        "--poi-bounds",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        help="POI bounds (default 0 and an automatic upper bound)",
    )
    parser.add_argument(
        "--negative",
        choices=["error", "clip"],
        default="error",
        help="negative bins: error (default) or clip to 0",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    """What is written, and the pickle opt-in of the readers."""
    parser.add_argument("--out", required=True, help="workspace JSON to write")
    parser.add_argument(
        "--root", help="ROOT file for the histograms (default: OUT with suffix .root)"
    )
    parser.add_argument("--no-root", action="store_true", help="do not write the ROOT file")
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read FILE.pkl references (a pickle can run code: only for files you trust)",
    )


def run(args: argparse.Namespace) -> int:
    """Build, validate and write the workspace (and the ROOT histograms)."""
    from gbi.io import write_json
    from gbi.workspace.builder import build_spec
    from gbi.workspace.config import load_config
    from gbi.workspace.export import write_workspace_root

    if args.config:
        if args.signal or args.background or args.amplified or args.data_driven:
            raise GbiInputError(
                "give either a config file or --signal/--background flags, not both"
            )
        config = load_config(args.config, allow_pickle=args.allow_pickle)
        channels, kwargs = config.channels, config.build_kwargs
    else:
        channels, kwargs = _from_flags(args)
    spec = build_spec(channels, **kwargs)
    out = write_json(spec, args.out)
    nbins = sum(len(c["samples"][0]["data"]) for c in spec["channels"])
    print(
        f"wrote {out}: {len(spec['channels'])} channel(s), {nbins} bins, POI {kwargs.get('poi', 'mu')!r}"
    )
    if not args.no_root:
        root_path = Path(args.root) if args.root else Path(args.out).with_suffix(".root")
        write_workspace_root(channels, spec, root_path)
        print(f"wrote {root_path} (TH1D per channel/sample, for ROOT users)")
    return 0


def _from_flags(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    from gbi.workspace.builder import Channel, Sample
    from gbi.workspace.histograms import load_hist

    if not args.signal:
        raise GbiInputError(
            "--signal is required without a config file "
            "(e.g. --signal out/histograms.json:sig/mjj[region=SR])"
        )
    groups = [
        ("mc", args.background),
        ("amplified", args.amplified),
        ("data-driven", args.data_driven),
    ]
    if not any(refs for _, refs in groups):
        raise GbiInputError("no background given: add --background, --amplified or --data-driven")
    regions = args.channels or [None]
    channels = []
    for region in regions:
        samples = []
        name, ref = _named(args.signal, region, "signal")
        samples.append(
            Sample(
                name,
                load_hist(ref, allow_pickle=args.allow_pickle),
                signal=True,
                sys=args.signal_sys,
                staterror=not args.no_staterror,
            )
        )
        for kind, refs in groups:
            for item in refs:
                name, ref = _named(item, region, None)
                samples.append(
                    Sample(
                        name,
                        load_hist(ref, allow_pickle=args.allow_pickle),
                        kind=kind,
                        sys=args.sys,
                        staterror=not args.no_staterror,
                    )
                )
        data = _data(args.data, region, args.allow_pickle)
        channels.append(Channel(region or args.channel, samples, data))
    kwargs: dict[str, Any] = {"poi": args.poi, "negative": args.negative}
    if args.lumi is not None:
        kwargs["lumi_uncertainty"] = args.lumi
    if args.poi_bounds:
        kwargs["poi_bounds"] = tuple(args.poi_bounds)
    return channels, kwargs


def _fill(ref: str, region: str | None) -> str:
    if region is None:
        if "{region}" in ref:
            raise GbiInputError(f"{ref!r} contains {{region}} but no --channels were given")
        return ref
    return ref.replace("{region}", region)


def _named(item: str, region: str | None, default: str | None) -> tuple[str, str]:
    name, sep, ref = item.partition("=")
    if not sep or ":" in name or "[" in name:
        name, ref = "", item
    ref = _fill(ref, region)
    if not name:
        key = ref.split(":", 1)[1] if ":" in ref else ref
        name = default or key.split("[", 1)[0].split("/", 1)[0]
    return name, ref


def _data(value: str, region: str | None, allow_pickle: bool) -> Any:
    from gbi.workspace.histograms import load_hist

    if value == "asimov" or value.startswith("asimov:"):
        text = value.partition(":")[2] or "0"
        try:
            return float(text)
        except ValueError as err:
            raise GbiInputError(f"--data {value!r}: expected asimov:MU with a number MU") from err
    return load_hist(_fill(value, region), allow_pickle=allow_pickle)
