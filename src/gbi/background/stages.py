"""Wall time per stage of a run: one helper for detect, infer and the search.

>>> stages = Stages()
>>> with stages("flow_training"):
...     pass
>>> with stages("flow_training"):  # a second block adds to the same stage
...     pass
>>> list(stages.to_dict()), stages.to_dict()["flow_training"] >= 0
(['flow_training'], True)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Stages"]


class Stages:
    """Seconds of wall time per named stage, in the order the stages first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block (seconds) and add it to stage ``name``, also when it raises."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def to_dict(self) -> dict[str, float]:
        """``{stage: seconds}`` (a copy)."""
        return dict(self.seconds)
