"""The windows of a scan: sliding signal regions over mjj, their sidebands and control windows.

A scan is a :class:`WindowGrid`: signal regions (SR) ``[low, high)`` in GeV and one sideband
definition shared by all windows. Two ways to give it, one JSON schema (``windows-1.0``)::

    WindowGrid.from_range("3000:4200:100", width=400)   # --windows 3000:4200:100 --width 400
    WindowGrid.from_json("windows.json")                 # --windows windows.json

``START:STOP:STEP`` are **low edges and the scanned span**: the windows are
``[s, s + width)`` for ``s = START, START + STEP, ...`` as long as ``s + width <= STOP``, so
``[START, STOP]`` is the mjj range the signal regions cover. Nothing here knows about any
particular resonance mass: the grid is generic.

Sidebands. CATHODE (arXiv:2109.00546) and the LHCO studies train the background flow
``p(x | mjj)`` on all the data outside the SR and interpolate it into the SR; the CMS
anomaly-detection dijet search slides the SR and rebuilds the background model of each
window from its own sidebands. ``sideband_width=None`` (the default) is the CATHODE choice:
all of the mjj range outside the window. A number ``w`` keeps the data within ``w`` GeV on
each side, ``[low - w, low)`` and ``[high, high + w)``: the flow then models only the local
conditional density (less to learn, faster per window), at the price of fewer training
events. Either way a window needs data on **both** sides, so the flow interpolates into
the SR instead of extrapolating (windows at the spectrum's edges are skipped with that
reason, see :func:`gbi.search.window.run_window`).

Control windows. The sideband closure of the cut (:mod:`gbi.infer.binned`) uses the
``control_width`` GeV next to each side of the SR (default: half the window's width, the
200 GeV of ``gbi infer`` for its 400 GeV SR), a part of the sidebands.

All intervals are half-open ``[low, high)``, in GeV.

>>> grid = WindowGrid.from_range("3000:3800:200", width=400)
>>> [w.name for w in grid.windows]
['3000_3400', '3200_3600', '3400_3800']
>>> WindowGrid.from_range("3000:3800:0", width=400)
Traceback (most recent call last):
...
gbi.errors.GbiInputError: --windows '3000:3800:0': expected START:STOP:STEP in GeV with STEP > 0, found STEP 0.0; e.g. --windows 2800:4400:100
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.schema import validate

__all__ = ["Window", "WindowGrid", "format_mass"]


def format_mass(value: float) -> str:
    """A mass in GeV as written in file names: ``3300.0 -> "3300"``, ``3312.5 -> "3312.5"``."""
    return format(float(value), ".10g")


@dataclass(frozen=True)
class Window:
    """One signal region ``[low, high)`` in GeV."""

    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    @property
    def center(self) -> float:
        """Centre of the SR (GeV): the mass the window's results are plotted at."""
        return 0.5 * (self.low + self.high)

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def name(self) -> str:
        """``<low>_<high>``: the window's file name stem (``windows/``, ``workspaces/``)."""
        return f"{format_mass(self.low)}_{format_mass(self.high)}"

    def in_signal_region(self, mjj: np.ndarray) -> np.ndarray:
        """Boolean mask of ``low <= mjj < high`` (GeV)."""
        m = np.asarray(mjj)
        return (m >= self.low) & (m < self.high)


@dataclass(frozen=True)
class WindowGrid:
    """The windows of a scan and the sideband definition they share (GeV).

    ``sideband_width``: data within this many GeV on each side of a window train its
    background model (``None``: all the rest of ``mjj_range``); ``control_width``: the
    sideband-closure windows next to the SR (``None``: half the window's width);
    ``mjj_range``: ``(low, high)`` outside which no event is used (``None``: all the data).
    """

    windows: tuple[Window, ...]
    sideband_width: float | None = None
    control_width: float | None = None
    mjj_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.windows:
            raise GbiInputError("windows: expected at least one signal-region window, found none")
        for label, value in (
            ("sideband_width", self.sideband_width),
            ("control_width", self.control_width),
        ):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise GbiInputError(f"{label}: expected a width > 0 GeV or null, found {value}")
        if self.mjj_range is not None:
            low, high = (float(v) for v in self.mjj_range)
            if not low < high:
                raise GbiInputError(f"range: expected low < high in GeV, found [{low}, {high}]")
            object.__setattr__(self, "mjj_range", (low, high))
        seen: dict[str, Window] = {}
        for w in self.windows:
            _check_window(w, self.mjj_range)
            if w.name in seen:
                raise GbiInputError(
                    f"window [{w.low}, {w.high}) GeV is given twice: expected each signal "
                    "region once; remove the duplicate"
                )
            seen[w.name] = w
            control = self.control_width_of(w)
            if self.sideband_width is not None and control > self.sideband_width:
                raise GbiInputError(
                    f"window [{w.low}, {w.high}) GeV: its control windows ({control:g} GeV on "
                    f"each side) are wider than its sidebands ({self.sideband_width:g} GeV): "
                    "expected control_width <= sideband_width; widen the sidebands or narrow "
                    "the control windows"
                )
        object.__setattr__(self, "windows", tuple(sorted(self.windows, key=lambda w: w.low)))

    # --- per-window regions ------------------------------------------------------------
    def sidebands(self, window: Window, mjj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the low and high sideband of ``window`` (the flow's training data)."""
        m = np.asarray(mjj)
        lo_edge, hi_edge = self.mjj_range or (-math.inf, math.inf)
        if self.sideband_width is not None:
            lo_edge = max(lo_edge, window.low - self.sideband_width)
            hi_edge = min(hi_edge, window.high + self.sideband_width)
        return (m >= lo_edge) & (m < window.low), (m >= window.high) & (m < hi_edge)

    def control_width_of(self, window: Window) -> float:
        """Width (GeV) of each control window next to ``window``'s SR."""
        return self.control_width if self.control_width is not None else 0.5 * window.width

    def controls(self, window: Window, mjj: np.ndarray) -> np.ndarray:
        """Mask of the two control windows (inside the sidebands) next to the SR."""
        width = self.control_width_of(window)
        low, high = self.sidebands(window, mjj)
        m = np.asarray(mjj)
        return (low & (m >= window.low - width)) | (high & (m < window.high + width))

    # --- construction and serialisation -------------------------------------------------
    @classmethod
    def from_range(cls, spec: str, width: float, **kwargs: Any) -> WindowGrid:
        """Windows ``[s, s + width)`` for the low edges ``s`` of ``START:STOP:STEP`` (GeV)
        with ``s + width <= STOP`` (module docstring); ``kwargs`` go to the grid."""
        start, stop, step = _parse_range(spec)
        if not (math.isfinite(width) and width > 0):
            raise GbiInputError(
                f"--width: expected the window width in GeV (> 0), found {width}; e.g. --width 400"
            )
        if start + width > stop:
            raise GbiInputError(
                f"--windows {spec!r} with --width {width:g}: no window fits, the first one "
                f"[{start:g}, {start + width:g}) GeV ends above STOP {stop:g}; widen "
                "START:STOP or use a smaller --width"
            )
        n = math.floor((stop - width - start) / step + 1e-9) + 1
        lows = [round(start + i * step, 6) for i in range(n)]
        return cls(tuple(Window(s, round(s + width, 6)) for s in lows), **kwargs)

    @classmethod
    def from_dict(cls, document: dict[str, Any], source: str = "windows") -> WindowGrid:
        """Build from a ``windows-1.0`` document.

        >>> g = WindowGrid.from_dict({"version": "1.0", "windows": [{"low": 3000, "high": 3400}],
        ...     "sideband_width": 800})
        >>> g.windows[0].center, g.sideband_width
        (3200.0, 800.0)
        """
        validate(document, "windows", source)
        rng = document.get("range")
        side, control = document.get("sideband_width"), document.get("control_width")
        try:
            return cls(
                tuple(Window(float(w["low"]), float(w["high"])) for w in document["windows"]),
                sideband_width=None if side is None else float(side),
                control_width=None if control is None else float(control),
                mjj_range=None if rng is None else (float(rng[0]), float(rng[1])),
            )
        except GbiInputError as err:
            raise GbiInputError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, path: str | Path) -> WindowGrid:
        """Read a windows JSON file (schema ``windows-1.0``)."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise GbiInputError(
                f"windows file {str(path)!r} does not exist; expected a windows-1.0 JSON file "
                "or START:STOP:STEP"
            ) from None
        except json.JSONDecodeError as err:
            raise GbiInputError(f"windows file {path} is not valid JSON: {err}") from None
        return cls.from_dict(document, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict following schema ``windows-1.0``."""
        return {
            "version": "1.0",
            "observable": "mjj",
            "unit": "GeV",
            "range": None if self.mjj_range is None else list(self.mjj_range),
            "sideband_width": self.sideband_width,
            "control_width": self.control_width,
            "windows": [{"low": w.low, "high": w.high} for w in self.windows],
        }


def _check_window(w: Window, mjj_range: tuple[float, float] | None) -> None:
    where = f"window [{w.low}, {w.high}) GeV"
    if not (math.isfinite(w.low) and math.isfinite(w.high)):
        raise GbiInputError(f"{where}: expected finite edges in GeV")
    if not w.low < w.high:
        raise GbiInputError(
            f"{where}: expected low < high (an SR of positive width), found an inverted or "
            "empty interval; swap or fix its edges"
        )
    if mjj_range is not None and not (mjj_range[0] < w.low and w.high < mjj_range[1]):
        raise GbiInputError(
            f"{where} must lie strictly inside the range [{mjj_range[0]}, {mjj_range[1]}) GeV "
            "so that both of its sidebands exist; widen 'range' or drop the window"
        )


def _parse_range(spec: str) -> tuple[float, float, float]:
    parts = str(spec).split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise GbiInputError(
            f"--windows {spec!r}: expected START:STOP:STEP in GeV (three numbers) or a "
            "windows-1.0 JSON file; e.g. --windows 2800:4400:100"
        ) from None
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise GbiInputError(f"--windows {spec!r}: expected finite numbers in GeV")
    if not step > 0:
        raise GbiInputError(
            f"--windows {spec!r}: expected START:STOP:STEP in GeV with STEP > 0, found STEP "
            f"{step}; e.g. --windows 2800:4400:100"
        )
    if not start < stop:
        raise GbiInputError(
            f"--windows {spec!r}: expected START < STOP in GeV, found {start:g} >= {stop:g}"
        )
    return start, stop, step
