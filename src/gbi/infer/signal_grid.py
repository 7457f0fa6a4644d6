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
from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.infer.efficiency import JET_MASS_FEATURES, morph, morph_distance
from gbi.infer.jet_response import JetResponse
from gbi.regions import Regions
from gbi.tables import Table

__all__ = [
    "MassKey",
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


#: A grid point: ``(mX, mY)`` with ``mX >= mY``, or ``(mX, mY, mW)`` in a grid of several W'
#: masses (GeV).
MassKey = tuple[float, ...]


class SignalGrid:
    """Signal-region feature tables per mass point (GeV): keyed ``(mX, mY)`` (``mX >= mY``,
    :func:`ordered_masses`) for a grid made at one W' mass ``m_w``, or ``(mX, mY, mW)`` for a
    grid of several W' masses (``m_w`` is then ``None``, ``m_ws`` lists them; the parametrized
    classifier becomes ``f(x, mX, mY, mW)``). Keys with one ``mW`` only are reduced to
    ``(mX, mY)`` with that ``m_w``.

    >>> t = {"mjj": np.array([3400.0])}
    >>> g = SignalGrid({(300.0, 100.0, 3500.0): t, (100.0, 300.0, 3700.0): t})
    >>> g.m_w, g.m_ws, g.masses.tolist()
    (None, (3500.0, 3700.0), [[300.0, 100.0, 3500.0], [300.0, 100.0, 3700.0]])
    >>> g.at_m_w(3650.0).m_w, list(g.at_m_w(3650.0).tables)
    (3700.0, [(300.0, 100.0)])
    """

    def __init__(
        self,
        tables: Mapping[Any, Table],
        m_w: float | None = None,
        outside: Mapping[Any, Table] | None = None,
        jets_m_w: float | None = None,
    ) -> None:
        if not tables:
            raise GbiInputError("signal grid: expected at least one mass point, found none")
        sizes = {len(k) for k in tables}
        if not sizes <= {2, 3} or len(sizes) > 1:
            raise GbiInputError(
                f"signal grid: expected every point as (mX, mY) or every point as (mX, mY, mW) "
                f"(GeV), found keys {sorted(tables)}"
            )
        m_ws = sorted({float(k[2]) for k in tables}) if sizes == {3} else []
        if len(m_ws) == 1:  # one W' mass: the plain (mX, mY) grid
            m_w = m_ws[0]
            tables = {k[:2]: v for k, v in tables.items()}
            outside = {k[:2]: v for k, v in (outside or {}).items()}
        elif m_ws:
            m_w = None
        elif m_w is None:
            raise GbiInputError(
                "signal grid: expected the W' mass m_w (GeV) of its (mX, mY) points"
            )
        #: SR events per point (see the class docstring for the keys).
        self.tables: dict[MassKey, Table] = dict(sorted(_ordered_keys(tables, "tables").items()))
        #: Events of each point outside the SR (the binned fit's sideband windows); the
        #: SR tables set the normalisation, so these count as ``len(outside) / len(tables)``.
        self.outside: dict[MassKey, Table] = _ordered_keys(outside or {}, "outside")
        #: The W' mass (GeV) of a one-mass grid, ``None`` for several (``m_ws``).
        self.m_w: float | None = None if m_w is None else float(m_w)
        self.m_ws: tuple[float, ...] = tuple(m_ws) if m_ws else (float(m_w or 0.0),)
        #: Points made by morphing another (:meth:`extended`): key -> the simulated source.
        self.morphed: dict[MassKey, MassKey] = {}
        #: The W' mass (GeV) the jets were simulated at (``m_w`` unless :meth:`moved_to`
        #: moved the grid to another): :meth:`extended` then models the losses of a jet at
        #: the new resonance mass.
        self.jets_m_w: float | None = self.m_w if jets_m_w is None else float(jets_m_w)

    @property
    def masses(self) -> np.ndarray:
        """``(n_points, 2)`` array of ``(mX, mY)``, or ``(n_points, 3)`` with ``mW``."""
        return np.array(list(self.tables), dtype=np.float64)

    def describe_m_w(self) -> str:
        """``"mW = 3500 GeV"`` or ``"mW = 3500, 3700 GeV"``."""
        return f"mW = {', '.join(f'{m:g}' for m in self.m_ws)} GeV"

    def at_m_w(self, m_w: float) -> SignalGrid:
        """The one-mass grid at the grid's W' mass nearest to ``m_w`` (GeV); itself when it
        has one."""
        if self.m_w is not None:
            return self
        nearest = min(self.m_ws, key=lambda m: abs(m - m_w))
        return SignalGrid(
            {k[:2]: v for k, v in self.tables.items() if k[2] == nearest},
            nearest,
            {k[:2]: v for k, v in self.outside.items() if k[2] == nearest},
        )

    def moved_to(self, m_w: float, regions: Regions) -> SignalGrid:
        """The one-mass grid's resonance moved to ``m_w`` (GeV): every event's mjj scaled by
        ``m_w / self.m_w`` (the mjj width of a resonance grows with its mass: the jet energy
        resolution is relative), then split at ``regions`` (:meth:`for_region`; the jet
        features are kept). The signal in the sidebands and the binned cut's window leaks
        of a resonance the grid was not made at (:mod:`gbi.infer.sidebands`); itself when
        ``m_w`` is the grid's.

        >>> t = {"mjj": np.array([3300.0, 3500.0, 3600.0])}
        >>> g = SignalGrid({(300.0, 100.0): t}, m_w=3500).moved_to(3700.0, Regions(3500, 3900))
        >>> g.m_w, g.tables[(300.0, 100.0)]["mjj"].round(1).tolist()
        (3700.0, [3700.0, 3805.7])
        """
        if self.m_w is None or not self.m_w > 0:
            raise GbiInputError(
                f"signal grid: expected a grid at one known W' mass to move, found "
                f"{self.describe_m_w()}; take one with at_m_w() first"
            )
        if not m_w > 0:
            raise GbiInputError(f"signal grid: expected a W' mass > 0 GeV to move to, found {m_w}")
        if m_w == self.m_w:
            return self
        factor = float(m_w) / self.m_w
        tables = {k: {**t, "mjj": np.asarray(t["mjj"]) * factor} for k, t in self.tables.items()}
        outside = {k: {**t, "mjj": np.asarray(t["mjj"]) * factor} for k, t in self.outside.items()}
        moved = SignalGrid(tables, float(m_w), outside, self.jets_m_w).for_region(regions)
        if moved is None:
            raise GbiInputError(
                f"signal grid: moved to mW = {m_w:g} GeV it has no events in the signal region "
                f"{regions.signal_region} GeV"
            )
        return moved

    def without(self, point: tuple[float, ...]) -> SignalGrid:
        """The grid minus one point (to test interpolation to a mass not on the grid); the
        point's ``(mX, mY)`` in either order (and its ``mW`` in a grid of several)."""
        key = _ordered_key(point)
        if key not in self.tables:
            raise GbiInputError(
                f"signal grid: expected a point of the grid to leave out, found {point}; "
                f"the grid has {sorted(self.tables)} (GeV)"
            )
        return SignalGrid(
            {k: v for k, v in self.tables.items() if k != key},
            self.m_w,
            {k: v for k, v in self.outside.items() if k != key},
            self.jets_m_w,
        )

    def extended(self, steps: int, morph_with: str = "measured") -> SignalGrid:
        """The grid with points up to ``steps`` grid steps beyond its highest (and, where
        they stay positive, below its lowest) ``mX`` and ``mY`` (GeV), made by morphing the
        nearest simulated point's jets with the jet-mass response measured on the grid
        (:class:`gbi.infer.jet_response.JetResponse`: contained jets' masses moved in
        quadrature with the radiation term, and the share of jets that lose a decay product
        raised as the grid's loss curve, extrapolated, says; mjj and the other columns
        kept); itself for ``steps = 0``. :attr:`morphed` maps each new point to its source.
        A parametrised classifier scans only the masses it was trained on: a W' beyond the
        grid is otherwise invisible to it (measured, issue 19: a W'(3500; 800, 250) with
        1000 events injected gave the 100..600 GeV grid's fit Z = 0 at (550, 250) GeV,
        where the unbinned fit found Z = 15.7). ``morph_with="scaling"``: the jet masses
        only scaled by the mass ratio (:func:`gbi.infer.efficiency.morph`), which keeps the
        source's losses: the fraction fitted on such points came out low (W'(3500; 800,
        250): median 0.75 of the truth, 4 runs), but a classifier trained on them fits the
        grid's own signal as before (:data:`gbi.infer.parametrized.EXTEND_MORPHS`).

        >>> t = {"mj1": np.array([100.0]), "delta_mj": np.array([100.0]), "mjj": np.array([3500.0])}
        >>> g = SignalGrid({(200.0, 100.0): t, (200.0, 200.0): t}, m_w=3500).extended(1)
        >>> sorted(g.morphed)  # mX one step down (100) and up (300); mY up to 300, not down to 0
        [(100.0, 100.0), (300.0, 100.0), (300.0, 200.0), (300.0, 300.0)]
        >>> g.morphed[(300.0, 100.0)], g.tables[(300.0, 100.0)]["delta_mj"].tolist()
        ((200.0, 100.0), [200.0])
        """
        if steps < 0:
            raise GbiInputError(
                f"signal grid extension (--extend-grid): expected a number of grid steps >= 0, "
                f"found {steps}"
            )
        if morph_with not in ("measured", "scaling"):
            raise GbiInputError(
                f"signal grid extension: expected morph_with 'measured' or 'scaling', found "
                f"{morph_with!r}"
            )
        if steps == 0:
            return self
        missing = [c for c in JET_MASS_FEATURES if any(c not in t for t in self.tables.values())]
        if missing:
            raise GbiInputError(
                f"signal grid extension (--extend-grid): expected the jet-mass features "
                f"{list(JET_MASS_FEATURES)} in every grid table to morph, found {missing} "
                "missing; use --extend-grid 0"
            )
        tables = dict(self.tables)
        outside = dict(self.outside)
        morphed: dict[MassKey, MassKey] = {}
        # Measured on the simulated points only (not on points an earlier call morphed).
        simulated = {k: t for k, t in self.tables.items() if k not in self.morphed}
        for rest in sorted({k[2:] for k in simulated}):
            keys = [k for k in simulated if k[2:] == rest]
            response: JetResponse | None = None
            if morph_with == "measured":
                response = JetResponse.measure({k: simulated[k] for k in keys})
            boost = 1.0
            if self.m_w and self.jets_m_w:  # a grid moved to another resonance mass
                boost = self.m_w / self.jets_m_w
            values_of = [np.unique([k[j] for k in keys]) for j in (0, 1)]
            # The grid's step along each mass (the other mass's where it has one value).
            diffs = [np.diff(v) for v in values_of]
            both = np.concatenate(diffs)
            if not len(both):
                continue  # one point at this mW: no step to extend by
            axes = []
            for values, diff in zip(values_of, diffs, strict=True):
                step = float(diff.min()) if len(diff) else float(both.min())
                low = [values[0] - i * step for i in range(steps, 0, -1)]
                high = [values[-1] + i * step for i in range(1, steps + 1)]
                axes.append([v for v in low if v > 0] + list(values) + high)
            lo = (min(k[0] for k in keys), min(k[1] for k in keys))
            hi = (max(k[0] for k in keys), max(k[1] for k in keys))
            for tx in axes[0]:
                for ty in axes[1]:
                    inside = lo[0] <= tx <= hi[0] and lo[1] <= ty <= hi[1]
                    if ty > tx or inside:
                        continue
                    target = (float(tx), float(ty))
                    source = min(keys, key=lambda k: (morph_distance((k[0], k[1]), target), k))
                    pair = (source[0], source[1])
                    key = (*target, *rest)
                    if morph_with == "scaling":
                        tables[key] = morph(self.tables[source], pair, target)
                        if source in self.outside:
                            outside[key] = morph(self.outside[source], pair, target)
                    else:
                        assert response is not None
                        tables[key] = response.morph(self.tables[source], pair, target, boost)
                        if source in self.outside:
                            outside[key] = response.morph(self.outside[source], pair, target, boost)
                    morphed[key] = source
        grid = SignalGrid(tables, self.m_w, outside, self.jets_m_w)
        grid.morphed = {**self.morphed, **morphed}
        return grid

    def counts(self) -> dict[str, int]:
        """SR events per point, keyed ``"mX/mY"`` (``"mX/mY/mW"``)."""
        return {"/".join(f"{m:g}" for m in k): len(t["mjj"]) for k, t in self.tables.items()}

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
        tables: dict[MassKey, Table] = {}
        outside: dict[MassKey, Table] = {}
        for key, inside in self.tables.items():
            rest = self.outside.get(key)
            parts = [inside] if rest is None else [inside, rest]
            columns = set.intersection(*(set(t) for t in parts))
            table = {c: np.concatenate([t[c] for t in parts]) for c in sorted(columns)}
            mask = regions.in_signal_region(table["mjj"])
            if mask.sum() >= max(1, min_events):
                tables[key] = {c: v[mask] for c, v in table.items()}
                outside[key] = {c: v[~mask] for c, v in table.items()}
        return SignalGrid(tables, self.m_w, outside, self.jets_m_w) if tables else None


def _ordered_key(key: tuple[float, ...]) -> MassKey:
    """``(mX, mY[, mW])`` with the mass pair as ``(heavier, lighter)``."""
    return (*ordered_masses(key[0], key[1]), *(float(m) for m in key[2:]))


def _ordered_keys(tables: Mapping[Any, Table], what: str) -> dict[MassKey, Table]:
    """``tables`` keyed ``(heavier, lighter[, mW])``; a pair given in both orders is an error."""
    out: dict[MassKey, Table] = {}
    for key, table in tables.items():
        ordered = _ordered_key(key)
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
    ``outside`` the rest. Files at several W' masses make a grid keyed ``(mX, mY, mW)``
    (:class:`SignalGrid`); at one, keyed ``(mX, mY)`` as before.
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
    grouped: dict[MassKey, list[Table]] = {}
    for path, table in tables.items():
        m_w, m_x, m_y = parse_masses(path)
        grouped.setdefault((*ordered_masses(m_x, m_y), m_w), []).append(table)
    merged: dict[MassKey, Table] = {}
    outside: dict[MassKey, Table] = {}
    for key, parts in grouped.items():
        columns = set.intersection(*(set(t) for t in parts))
        table = {c: np.concatenate([t[c] for t in parts]) for c in sorted(columns)}
        mask = regions.in_signal_region(table["mjj"])
        merged[key] = {c: v[mask] for c, v in table.items()}
        outside[key] = {c: v[~mask] for c, v in table.items()}
    return SignalGrid(merged, outside=outside)  # one mW: keys (mX, mY), m_w set
