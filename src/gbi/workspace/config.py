"""The workspace configuration file (YAML or JSON, schema ``workspace-config-1.0``).

Example (YAML; paths relative to the config file)::

    version: "1.0"
    measurement: {poi: mu, lumi_uncertainty: 0.017}
    defaults: {sys: 0.1}
    channels:
      - name: SR
        data: out/histograms.json:data/mjj[region=SR]
        samples:
          - {name: signal, hist: "out/histograms.json:signal/mjj[region=SR]", signal: true}
          - name: qcd
            hist: out/histograms.json:qcd_amplified/mjj[region=SR]
            kind: amplified
            histosys:
              flow_ensemble: {up: "ens.json:up/mjj[region=SR]", down: "ens.json:down/mjj[region=SR]"}

Histogram references to pickles (``FILE.pkl:KEY``) are refused unless the config says
``allow_pickle: true`` (or the caller passes ``allow_pickle=True``): a pickle can run code
when it is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gbi.errors import GbiInputError, MissingExtraError
from gbi.schema import validate
from gbi.workspace.builder import Channel, HistoSys, Sample
from gbi.workspace.histograms import load_hist

__all__ = ["WorkspaceConfig", "channels_from_config", "load_config", "read_config_file"]

_SAMPLE_DEFAULTS = ("kind", "staterror", "lumi", "sys")


@dataclass
class WorkspaceConfig:
    """Channels plus the keyword arguments of :func:`gbi.workspace.build_spec`."""

    channels: list[Channel]
    build_kwargs: dict[str, Any] = field(default_factory=dict)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON config file into a dict (not validated)."""
    path = Path(path)
    if not path.is_file():
        raise GbiInputError(f"workspace config {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as err:
            raise MissingExtraError(
                f"reading the YAML config {path} needs PyYAML (pip install pyyaml); "
                "or write the config as JSON"
            ) from err
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise GbiInputError(f"{path}: not valid YAML: {err}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise GbiInputError(
            f"{path}: not valid JSON ({err}); YAML files must end in .yaml"
        ) from err


def load_config(path: str | Path, *, allow_pickle: bool = False) -> WorkspaceConfig:
    """Read, validate and resolve a config file (histograms are loaded)."""
    document = read_config_file(path)
    return channels_from_config(
        document, base_dir=Path(path).parent, source=str(path), allow_pickle=allow_pickle
    )


def channels_from_config(
    document: dict[str, Any],
    base_dir: str | Path = ".",
    source: str = "the config",
    *,
    allow_pickle: bool = False,
) -> WorkspaceConfig:
    """Validate ``document`` against ``workspace-config-1.0`` and load its histograms.

    Pickled histogram files are read only with ``allow_pickle`` here or in the document.

    >>> import hist, tempfile, pathlib
    >>> from gbi.hists import write_histograms
    >>> h = hist.Hist.new.Reg(2, 0, 2, name="x").Weight()
    >>> _ = h.fill(x=[0.5, 1.5, 1.5])
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_histograms({"sig": h, "bkg": h * 10}, d / "h.json")
    >>> cfg = channels_from_config({"version": "1.0", "channels": [{"name": "SR",
    ...     "samples": [{"name": "s", "hist": "h.json:sig", "signal": True},
    ...                 {"name": "b", "hist": "h.json:bkg", "sys": 0.1}]}]}, base_dir=d)
    >>> cfg.channels[0].samples[1].nominal.values
    array([10., 20.])
    """
    validate(document, "workspace-config", source)
    pickles = allow_pickle or bool(document.get("allow_pickle", False))
    measurement = document.get("measurement", {})
    kwargs: dict[str, Any] = {
        "poi": measurement.get("poi", "mu"),
        "measurement": measurement.get("name", "meas"),
        "negative": document.get("negative", "error"),
    }
    if "lumi_uncertainty" in measurement:
        kwargs["lumi_uncertainty"] = float(measurement["lumi_uncertainty"])
    if "poi_bounds" in measurement:
        low, high = measurement["poi_bounds"]
        if not low < high:
            raise GbiInputError(
                f"{source}: measurement.poi_bounds must be [low, high], found {[low, high]}"
            )
        kwargs["poi_bounds"] = (float(low), float(high))
    defaults = document.get("defaults", {})
    base = Path(base_dir)
    channels = [_channel(entry, defaults, base, pickles) for entry in document["channels"]]
    return WorkspaceConfig(channels, kwargs)


def _channel(entry: dict[str, Any], defaults: dict[str, Any], base: Path, pickles: bool) -> Channel:
    data: Any = entry.get("data", {"asimov": 0.0})
    if isinstance(data, dict):
        data = float(data["asimov"])
    else:
        data = load_hist(data, base, allow_pickle=pickles)
    samples = [_sample(item, defaults, base, pickles) for item in entry["samples"]]
    return Channel(entry["name"], samples, data)


def _sample(item: dict[str, Any], defaults: dict[str, Any], base: Path, pickles: bool) -> Sample:
    settings = {key: item.get(key, defaults.get(key)) for key in _SAMPLE_DEFAULTS}
    scale = float(item.get("scale", 1.0))

    def template(ref: str) -> Any:
        return load_hist(ref, base, allow_pickle=pickles).scaled(scale)

    histosys = [
        HistoSys(name, template(refs["up"]), template(refs["down"]))
        for name, refs in item.get("histosys", {}).items()
    ]
    return Sample(
        name=item["name"],
        nominal=template(item["hist"]),
        signal=bool(item.get("signal", False)),
        kind=settings["kind"] or "mc",
        staterror=True if settings["staterror"] is None else bool(settings["staterror"]),
        lumi=settings["lumi"],
        sys=settings["sys"],
        normsys={
            name: (float(lo), float(hi)) for name, (lo, hi) in item.get("normsys", {}).items()
        },
        histosys=histosys,
        normfactors=list(item.get("normfactors", [])),
    )
