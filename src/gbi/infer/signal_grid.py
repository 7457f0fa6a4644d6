"""The simulated signal grid: W' -> X Y events at a grid of (mX, mY), made with ``gbi generate``.

Files follow ``gbi generate``'s naming, ``wprime_{mW}_{mX}_{mY}_{seed}_{index}.root`` (or a
feature Parquet file of the same stem), so the masses (GeV) are read from the name.
:func:`generate_grid` makes a grid in one call and is cached: complete files are skipped,
so a rerun (or a larger ``events``) only generates what is missing. Only points with
``mY <= mX`` are made: the dijet features order the jets by mass, so ``(mX, mY)`` and
``(mY, mX)`` give the same events (the lighter jet may come from X or from Y). Every mass
pair is therefore *unordered*: the grid, the fit and its result use ``(heavier, lighter)``,
``mX >= mY`` (:func:`ordered_masses`), whichever particle is which in the generator.

>>> parse_masses("grid/wprime_3500_500_100_11_000.root")
(3500.0, 500.0, 100.0)
>>> grid_points([100, 200], [100, 200])
[(100.0, 100.0), (200.0, 100.0), (200.0, 200.0)]
>>> parse_range("100:300:100")
[100.0, 200.0, 300.0]
>>> ordered_masses(250, 450)
(450.0, 250.0)
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from gbi.errors import GbiInputError
from gbi.regions import Regions
from gbi.tables import Table

__all__ = [
    "SignalGrid",
    "generate_grid",
    "grid_points",
    "load_signal_grid",
    "ordered_masses",
    "parse_masses",
    "parse_range",
]

_NAME = re.compile(r"wprime_([0-9.]+)_([0-9.]+)_([0-9.]+)(?:_|\.|$)")


def parse_masses(path: str | os.PathLike[str]) -> tuple[float, float, float]:
    """``(mW, mX, mY)`` in GeV from a ``gbi generate`` file name."""
    match = _NAME.search(Path(path).name)
    if not match:
        raise GbiInputError(
            f"signal grid file {str(path)!r}: expected a name like "
            "'wprime_<mW>_<mX>_<mY>_<seed>_<index>.root' (as 'gbi generate' writes), found none; "
            "rename it or regenerate the grid with 'gbi generate --mX-grid ... --mY-grid ...'"
        )
    m_w, m_x, m_y = (float(g) for g in match.groups())
    return m_w, m_x, m_y


def ordered_masses(m_a: float, m_b: float) -> tuple[float, float]:
    """The unordered resonance-mass pair as ``(heavier, lighter)`` (GeV).

    The jet features are ordered by jet mass (``mj1`` the lighter jet), so a W' -> X Y with
    ``mX < mY`` gives the same events as ``(mY, mX)``: every grid key, mass hypothesis and
    fitted ``(mX, mY)`` is in this order, and a true mass pair must be put in it before it
    is compared with a fit.
    """
    return (float(max(m_a, m_b)), float(min(m_a, m_b)))


def parse_range(text: str) -> list[float]:
    """``"100:600:100"`` (start:stop:step, stop included) or ``"100,250,400"`` -> masses (GeV)."""
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if step <= 0:
                raise ValueError
            return [float(v) for v in np.arange(start, stop + 0.5 * step, step)]
        return [float(v) for v in text.split(",") if v]
    except ValueError as err:
        raise GbiInputError(
            f"mass grid {text!r}: expected 'start:stop:step' (GeV, step > 0) or a comma list"
        ) from err


def grid_points(
    mx_values: Iterable[float], my_values: Iterable[float]
) -> list[tuple[float, float]]:
    """The ``(mX, mY)`` points with ``mY <= mX``, sorted."""
    ys = sorted({float(v) for v in my_values})
    return [(float(x), y) for x in sorted({float(v) for v in mx_values}) for y in ys if y <= x]


def generate_grid(
    out: str | os.PathLike[str],
    points: Sequence[tuple[float, float]],
    events: int,
    *,
    seed: int = 11,
    m_w: float = 3500.0,
    workers: int = 1,
    progress: bool = True,
    nsub_axes: str | None = None,
) -> list[Path]:
    """Generate ``events`` W' events at every ``(mX, mY)`` of ``points`` into ``out`` (cached).

    ``nsub_axes``: the N-subjettiness axes (``gbi generate --nsub-axes``; ``None``: its default).
    """
    from gbi.generate import generate
    from gbi.generate.nsubjettiness import DEFAULT_NSUB_AXES

    files: list[Path] = []
    for m_x, m_y in points:
        result = generate(
            "wprime",
            events,
            out,
            seed=seed,
            mW=m_w,
            mX=m_x,
            mY=m_y,
            events_per_file=events,
            workers=workers,
            progress=progress,
            nsub_axes=nsub_axes or DEFAULT_NSUB_AXES,
        )
        files += result.files
    return files


class SignalGrid:
    """Signal-region feature tables per mass point ``(mX, mY)`` (GeV)."""

    def __init__(
        self,
        tables: dict[tuple[float, float], Table],
        m_w: float,
        outside: dict[tuple[float, float], Table] | None = None,
    ) -> None:
        if not tables:
            raise GbiInputError("signal grid: expected at least one mass point, found none")
        #: SR events per point, keyed ``(mX, mY)`` with ``mX >= mY`` (:func:`ordered_masses`).
        self.tables = dict(sorted(_ordered_keys(tables, "tables").items()))
        #: Events of each point outside the SR (the binned fit's sideband windows); the
        #: SR tables set the normalisation, so these count as ``len(outside) / len(tables)``.
        self.outside = _ordered_keys(outside or {}, "outside")
        self.m_w = m_w

    @property
    def masses(self) -> np.ndarray:
        """``(n_points, 2)`` array of ``(mX, mY)``."""
        return np.array(list(self.tables), dtype=np.float64)

    def without(self, point: tuple[float, float]) -> SignalGrid:
        """The grid minus one point (to test interpolation to a mass not on the grid); the
        point's masses in either order."""
        point = ordered_masses(*point)
        return SignalGrid(
            {k: v for k, v in self.tables.items() if k != point},
            self.m_w,
            {k: v for k, v in self.outside.items() if k != point},
        )

    def counts(self) -> dict[str, int]:
        return {f"{mx:g}/{my:g}": len(t["mjj"]) for (mx, my), t in self.tables.items()}

    def for_region(self, regions: Regions, min_events: int = 1) -> SignalGrid | None:
        """The grid split anew for another signal region (e.g. one window of a spectrum
        scan): each point's events inside ``regions.signal_region`` become its table, the
        rest its ``outside``. Points with fewer than ``min_events`` events in the region are
        left out; ``None`` when none is left (the grid's resonance does not reach it).

        >>> t = {"mjj": np.array([3000.0, 3400.0, 3600.0])}
        >>> g = SignalGrid({(300.0, 100.0): t}, m_w=3500).for_region(Regions(3300, 3500))
        >>> g.tables[(300.0, 100.0)]["mjj"].tolist(), g.outside[(300.0, 100.0)]["mjj"].tolist()
        ([3400.0], [3000.0, 3600.0])
        """
        tables: dict[tuple[float, float], Table] = {}
        outside: dict[tuple[float, float], Table] = {}
        for key, inside in self.tables.items():
            rest = self.outside.get(key)
            parts = [inside] if rest is None else [inside, rest]
            columns = set.intersection(*(set(t) for t in parts))
            table = {c: np.concatenate([t[c] for t in parts]) for c in sorted(columns)}
            mask = regions.in_signal_region(table["mjj"])
            if mask.sum() >= max(1, min_events):
                tables[key] = {c: v[mask] for c, v in table.items()}
                outside[key] = {c: v[~mask] for c, v in table.items()}
        return SignalGrid(tables, self.m_w, outside) if tables else None


def _ordered_keys(
    tables: Mapping[tuple[float, float], Table], what: str
) -> dict[tuple[float, float], Table]:
    """``tables`` keyed ``(heavier, lighter)``; a pair given in both orders is an error."""
    out: dict[tuple[float, float], Table] = {}
    for key, table in tables.items():
        ordered = ordered_masses(*key)
        if ordered in out:
            raise GbiInputError(
                f"signal grid {what}: expected each unordered mass pair once, found "
                f"{ordered} twice (as {key} and in the other order); the jet features are "
                "ordered by mass, so (mX, mY) and (mY, mX) are the same signal"
            )
        out[ordered] = table
    return out


def _feature_tables(paths: list[Path], cache: Path | None) -> dict[Path, Table]:
    """Features of each file: Parquet read directly, ROOT run through ``gbi process`` once."""
    from gbi.tables import read_table

    out: dict[Path, Table] = {}
    roots = [p for p in paths if p.suffix == ".root"]
    for p in paths:
        if p.suffix == ".parquet":
            out[p] = read_table(p)
    if roots:
        cache = cache or roots[0].parent / ".gbi-features"
        todo = [
            p
            for p in roots
            if not (cache / "features" / f"{p.stem}.parquet").is_file()
            or (cache / "features" / f"{p.stem}.parquet").stat().st_mtime < p.stat().st_mtime
        ]
        if todo:
            from gbi.feature_job import process_fileset

            fileset = {p.stem: {"files": {str(p): "Events"}, "metadata": {}} for p in todo}
            # A fresh folder per call: a second load in the same process (another file of
            # the grid) must not meet the first call's outputs.
            cache.mkdir(parents=True, exist_ok=True)
            part = Path(tempfile.mkdtemp(prefix=f"part-{os.getpid()}-", dir=cache))
            process_fileset(fileset, part, progress=False)
            (cache / "features").mkdir(parents=True, exist_ok=True)
            for p in todo:
                os.replace(
                    part / "features" / f"{p.stem}.parquet",
                    cache / "features" / f"{p.stem}.parquet",
                )
            shutil.rmtree(part, ignore_errors=True)
        for p in roots:
            out[p] = read_table(cache / "features" / f"{p.stem}.parquet")
    return out


def load_signal_grid(
    sources: Sequence[str | os.PathLike[str]],
    *,
    regions: Regions | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> SignalGrid:
    """Load grid files (directories are searched for ``wprime_*.root`` / ``.parquet``).

    ``tables`` hold the signal-region events (mjj inside ``regions.signal_region``),
    ``outside`` the rest.
    """
    regions = regions or Regions()
    paths: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            paths += sorted(path.glob("wprime_*.root")) + sorted(path.glob("wprime_*.parquet"))
        elif path.is_file():
            paths.append(path)
        else:
            raise GbiInputError(
                f"signal grid {str(path)!r}: expected a directory or a file, found nothing; "
                "make the grid with 'gbi generate --process wprime --mX-grid ... --mY-grid ...'"
            )
    if not paths:
        raise GbiInputError(
            f"signal grid {[str(s) for s in sources]}: expected wprime_*.root or .parquet files, "
            "found none"
        )
    tables = _feature_tables(paths, None if cache is None else Path(cache))
    grouped: dict[tuple[float, float], list[Table]] = {}
    m_ws = set()
    for path, table in tables.items():
        m_w, m_x, m_y = parse_masses(path)
        m_ws.add(m_w)
        key = ordered_masses(m_x, m_y)
        grouped.setdefault(key, []).append(table)
    if len(m_ws) > 1:
        raise GbiInputError(f"signal grid: expected one W' mass, found {sorted(m_ws)} GeV")
    merged: dict[tuple[float, float], Table] = {}
    outside: dict[tuple[float, float], Table] = {}
    for key, parts in grouped.items():
        columns = set.intersection(*(set(t) for t in parts))
        table = {c: np.concatenate([t[c] for t in parts]) for c in sorted(columns)}
        mask = regions.in_signal_region(table["mjj"])
        merged[key] = {c: v[mask] for c, v in table.items()}
        outside[key] = {c: v[~mask] for c, v in table.items()}
    return SignalGrid(merged, m_w=m_ws.pop(), outside=outside)
