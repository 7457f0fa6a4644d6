"""The signal-region / sideband split of a feature table, with its "too few events" checks.

One function, :func:`split_regions`, turns a table (``column -> array``, mjj in GeV) and a
:class:`~gbi.regions.Regions` into boolean masks and counts. The checks return the message
that a run reports (or ``None``), so that a pipeline (or one window of the search) can skip
a step with a clear reason instead of failing halfway.

>>> import numpy as np
>>> split = split_regions({"mjj": np.array([3000.0, 3400.0, 3500.0, 3800.0])}, Regions())
>>> split.n_sr, split.n_sb, split.sr.tolist()
(2, 2, [False, True, True, False])
>>> split.sidebands_too_small(500)[:41]
'the sidebands hold 2 data events: too few'
>>> split.signal_region_too_small(1) is None
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from gbi.regions import Regions
from gbi.tables import Table, subset

__all__ = ["RegionSplit", "split_regions"]


@dataclasses.dataclass(frozen=True)
class RegionSplit:
    """Masks of the SR and sideband events of one table, for one :class:`Regions` (GeV)."""

    regions: Regions
    sr: np.ndarray  # bool (n,), events in the signal region
    sb: np.ndarray  # bool (n,), events in the sidebands

    @property
    def n_sr(self) -> int:
        """Events in the signal region."""
        return int(self.sr.sum())

    @property
    def n_sb(self) -> int:
        """Events in the sidebands."""
        return int(self.sb.sum())

    def signal_region(self, table: Mapping[str, np.ndarray]) -> Table:
        """The SR rows of ``table`` (the table this split was made from)."""
        return subset(table, self.sr)

    def sidebands(self, table: Mapping[str, np.ndarray]) -> Table:
        """The sideband rows of ``table``."""
        return subset(table, self.sb)

    def signal_region_too_small(self, minimum: int) -> str | None:
        """Why a classifier cannot be trained in the SR (fewer than ``minimum`` events)."""
        if self.n_sr >= minimum:
            return None
        return (
            f"the signal region {self.regions.signal_region} GeV holds {self.n_sr} data events: "
            f"too few to train a classifier (expected at least {minimum}); "
            "all anomaly scores are NaN"
        )

    def sidebands_too_small(self, minimum: int) -> str | None:
        """Why the background generator cannot be trained (fewer than ``minimum`` events)."""
        if self.n_sb >= minimum:
            return None
        return (
            f"the sidebands hold {self.n_sb} data events: too few to train the background "
            f"flow (expected at least {minimum}); check --sr and the mjj range of the data"
        )

    def too_few(self, min_sr: int, min_sb: int) -> str | None:
        """One message when the SR holds fewer than ``min_sr`` or the sidebands fewer than
        ``min_sb`` events (the inference's check), else ``None``."""
        if self.n_sr >= min_sr and self.n_sb >= min_sb:
            return None
        return (
            f"the signal region holds {self.n_sr} and the sidebands {self.n_sb} data events: "
            f"too few (expected at least {min_sr} and {min_sb})"
        )


def split_regions(table: Mapping[str, Any], regions: Regions) -> RegionSplit:
    """SR and sideband masks of ``table["mjj"]`` (GeV) for ``regions``."""
    mjj = np.asarray(table["mjj"])
    return RegionSplit(regions, regions.in_signal_region(mjj), regions.in_sidebands(mjj))
