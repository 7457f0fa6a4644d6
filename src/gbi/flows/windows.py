"""Row windows of a feature table: keep or drop the events with ``low <= column < high``.

A :class:`Window` is how ``gbi amplify`` selects its training and reference events, e.g. the
mjj sidebands of a CATHODE-style background model (drop the signal region
``3300 <= mjj < 3700`` GeV) or the signal region itself (keep it). The bounds are in the
column's unit (GeV for masses).

>>> import numpy as np
>>> table = {"mjj": np.array([3000.0, 3400.0, 3800.0]), "x": np.array([1.0, 2.0, 3.0])}
>>> sr = Window("mjj", 3300.0, 3700.0)
>>> sr.keep(table)["x"].tolist(), sr.drop(table)["x"].tolist()
([2.0], [1.0, 3.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.tables import Table, subset

__all__ = ["Window", "apply_windows"]


@dataclass(frozen=True)
class Window:
    """The half-open interval ``low <= column < high`` (bounds in the column's unit)."""

    column: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise GbiInputError(
                f"window on {self.column!r}: expected finite LOW < HIGH, found "
                f"[{self.low}, {self.high}); give the bounds in increasing order"
            )

    @classmethod
    def parse(cls, spec: Sequence[str], option: str = "window") -> Window:
        """``[COLUMN, LOW, HIGH]`` as given on the command line (``option`` names it in errors).

        >>> Window.parse(["mjj", "3300", "3.7e3"])
        Window(column='mjj', low=3300.0, high=3700.0)
        """
        if len(spec) != 3:
            raise GbiInputError(
                f"{option}: expected COLUMN LOW HIGH (3 values), found {list(spec)}"
            )
        column, low, high = spec
        try:
            bounds = float(low), float(high)
        except ValueError:
            raise GbiInputError(
                f"{option}: expected numbers for LOW and HIGH, found {low!r} {high!r}; "
                f"e.g. {option} {column} 3300 3700"
            ) from None
        return cls(str(column), *bounds)

    def mask(self, table: Mapping[str, Any], source: str = "input") -> np.ndarray:
        """Boolean array, ``True`` for the rows inside the window."""
        if self.column not in table:
            raise GbiInputError(
                f"{source}: expected column {self.column!r} for the selection, found only "
                f"{sorted(table)}"
            )
        values = np.asarray(table[self.column], dtype=np.float64)
        return (values >= self.low) & (values < self.high)

    def keep(self, table: Mapping[str, Any], source: str = "input") -> Table:
        """The rows of ``table`` inside the window."""
        return subset(table, self.mask(table, source))

    def drop(self, table: Mapping[str, Any], source: str = "input") -> Table:
        """The rows of ``table`` outside the window."""
        return subset(table, ~self.mask(table, source))


def apply_windows(
    table: Mapping[str, Any],
    *,
    select: Window | None = None,
    exclude: Window | None = None,
    source: str = "input",
) -> Table:
    """Keep the rows inside ``select`` (if given), then drop those inside ``exclude``.

    >>> t = {"m": np.arange(10.0)}
    >>> apply_windows(t, select=Window("m", 2, 8), exclude=Window("m", 4, 6))["m"].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    out = {name: np.asarray(values) for name, values in table.items()}
    if select is not None:
        out = select.keep(out, source)
    if exclude is not None:
        out = exclude.drop(out, source)
    return out
