"""The jet-mass response of the simulated grid, measured, to make signal points beyond it.

A parametrised classifier only knows the masses it was trained on, so the grid is extended
beyond its simulated masses by *morphing* the nearest simulated point
(:meth:`gbi.infer.signal_grid.SignalGrid.extended`). Scaling the jet masses by the mass
ratio (:func:`gbi.infer.efficiency.morph`) gets two things wrong that the simulated grid
shows (issue 19, ``docs/data/issue19/scripts/morph_closure.py``):

* **Losses.** At a fixed W' mass the X and Y come with about the same transverse momentum,
  and the heavier a particle, the wider its two decay jets open: more often one of them
  falls outside the fat jet, whose mass is then that of a one-prong jet (about 100-300 GeV,
  ``tau21`` near 0.45) instead of the particle's. On the 100..600 GeV grid at mW = 3500 GeV
  the fraction of heavier jets below 0.8 of the particle mass is 0.018, 0.041, 0.079 and
  0.127 at 300, 400, 500 and 600 GeV; simulated W'(3500; 800, 250) has 0.285. Scaling keeps
  the source's fraction, so a morphed point at 800 GeV has too clean a signal (its
  efficiencies are too high and a fraction fitted with it too low). The odds of a loss grow
  as a power of the mass (``logit p = a + b log m``; b about 3 on that grid; fitted on the
  points up to 500 GeV it predicts 0.134 at 600 GeV, simulated 0.127), measured here on the
  grid and extrapolated; a morphed point gets the extra losses by giving that share of its
  contained jets the mass and ``tau21`` of a lost jet drawn from the grid's heaviest points.
* **Radiation.** A contained jet's mass is not proportional to the particle's: radiation
  and the underlying event add about the same mass in quadrature at any mass (medians 1.37,
  1.10 and 1.04 times the mass at 100, 200 and 300 GeV). So a contained jet's squared mass
  minus that term (``radiation2``, measured as the grid's median of ``m_jet^2 - m^2``) is
  scaled, and the term added back (:func:`quadrature_morph`).

Measured on the grid, leaving the target's mass column out of the loss fit (the points at
mX = 600 GeV morphed from 500 GeV), the largest Kolmogorov-Smirnov distance of the two
jet-mass distributions to the simulated ones went from 0.09-0.15 (scaling) to 0.03-0.08
(at (600, 500), where the jets are confused, 0.28 to 0.22); against simulated points
beyond the grid, W'(3500; 800, 250) from (600, 300) 0.24 to 0.10 and W'(3500; 750, 400)
from (600, 400) 0.15 to 0.06.

Jets are told apart per event: the heavier jet is the X's when its mass is at least
``LOSS_THRESHOLD`` (0.8) times ``mX``; otherwise the X's jet was lost and is the one further (in log
mass) from the Y's expected jet mass ``sqrt(mY^2 + radiation2)``. Nothing here is needed
inside the simulated range, where the grid's own points are used (the binned efficiency
between grid points keeps the plain scaling). Written by hand: it is a model of this
detector-level response (a median, a two-parameter weighted least-squares fit and a
resampling), which no library offers.

>>> rng = np.random.default_rng(1)
>>> def point(mx, my, n=4000):
...     odds = 0.1 * (mx / 500.0) ** 3
...     lost = rng.random(n) < odds / (1 + odds)
...     heavy = np.where(lost, rng.uniform(100, 250, n), mx * rng.normal(1, 0.05, n))
...     light = my * rng.normal(1, 0.05, n)
...     return {"mj1": np.minimum(light, heavy), "delta_mj": np.abs(heavy - light),
...             "tau21_j1": np.full(n, 0.2), "tau21_j2": np.where(lost, 0.45, 0.2)}
>>> grid = {(mx, 100.0): point(mx, 100.0) for mx in (300.0, 400.0, 500.0, 600.0)}
>>> response = JetResponse.measure(grid)
>>> round(float(response.loss(800.0)), 2)  # 0.1 * (800 / 500) ** 3 odds: 0.29
0.29
>>> moved = response.morph(grid[(600.0, 100.0)], (600.0, 100.0), (800.0, 100.0))
>>> heavy = moved["mj1"] + moved["delta_mj"]
>>> round(float(np.mean(heavy < 0.8 * 800)), 2)
0.29
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping

import numpy as np

from gbi.tables import Table

__all__ = ["JetResponse", "quadrature_morph"]

#: A jet below this fraction of its particle's mass counts as having lost a decay product.
LOSS_THRESHOLD = 0.8


def quadrature_morph(
    mass: np.ndarray, source: float, target: float, radiation2: float
) -> np.ndarray:
    """Contained jet masses (GeV) of a particle of mass ``source`` moved to ``target``: the
    squared mass minus the radiation term ``radiation2`` (GeV^2) scaled by
    ``(target / source)^2``, the term added back (jets below it keep their mass scaled).
    With ``radiation2 = 0`` this is the plain scaling.

    >>> quadrature_morph(np.array([120.0, 300.0]), 100.0, 200.0, 0.0).tolist()
    [240.0, 600.0]
    >>> [round(v, 1) for v in quadrature_morph(np.array([130.0]), 100.0, 200.0, 85.0**2).tolist()]
    [214.3]
    """
    mass = np.asarray(mass, dtype=np.float64)
    m2 = mass * mass
    core = m2 - radiation2
    scaled = np.sqrt(np.maximum(core, 0.0) * (target / source) ** 2 + radiation2)
    return np.where(core > 0, scaled, mass * (target / source))


def _jets(table: Table) -> tuple[np.ndarray, np.ndarray]:
    light = np.asarray(table["mj1"], dtype=np.float64)
    return light, light + np.asarray(table["delta_mj"], dtype=np.float64)


def _light_is_x(light: np.ndarray, heavy: np.ndarray, y_jet: float) -> np.ndarray:
    """Where the X's jet was lost: whether it is the lighter jet, i.e. the one further (in
    log mass) from the Y's expected jet mass ``y_jet`` (GeV)."""
    return np.abs(np.log(np.maximum(light, 1e-9) / y_jet)) > np.abs(
        np.log(np.maximum(heavy, 1e-9) / y_jet)
    )


def _clean(key: tuple[float, ...]) -> bool:
    """Points whose two jets cannot be confused: the lighter particle at most half the
    heavier's mass."""
    return key[1] <= key[0] / 2


@dataclasses.dataclass(frozen=True)
class JetResponse:
    """The grid's jet-mass response (module docstring): ``radiation2`` (GeV^2),
    ``loss_coef`` ``(a, b)`` of ``logit p_loss = a + b log(m / GeV)`` (``None``: too few
    losses on the grid to fit, none modelled), and the pool of lost jets (``lost_mass``,
    GeV, and ``lost_tau21``) that morphed points draw from."""

    radiation2: float = 0.0
    loss_coef: tuple[float, float] | None = None
    lost_mass: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    lost_tau21: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))

    @classmethod
    def measure(cls, tables: Mapping[tuple[float, ...], Table]) -> JetResponse:
        """Measure the response on simulated points keyed ``(mX, mY, ...)`` (GeV; ``mX >=
        mY``), from the points whose jets cannot be confused (``mY <= mX / 2``)."""
        clean = {k: t for k, t in tables.items() if _clean(k) and len(t["mj1"])}
        radiation = []
        per_mass: dict[float, list[int]] = {}
        for (mx, my, *_), table in clean.items():
            light, heavy = _jets(table)
            x_kept = heavy >= LOSS_THRESHOLD * mx
            # The lighter jet only where the X's is contained (else it may be the X's).
            for kept, m in (
                (heavy[x_kept], mx),
                (light[x_kept & (light >= LOSS_THRESHOLD * my)], my),
            ):
                if len(kept) >= 20:
                    radiation.append(float(np.median(kept**2)) - m * m)
            lost = int(np.sum(heavy < LOSS_THRESHOLD * mx))
            counts = per_mass.setdefault(float(mx), [0, 0])
            counts[0] += lost
            counts[1] += len(heavy)
        radiation2 = max(float(np.median(radiation)), 0.0) if radiation else 0.0
        masses = np.array(sorted(per_mass))
        k = np.array([per_mass[m][0] for m in masses], dtype=np.float64)
        n = np.array([per_mass[m][1] for m in masses], dtype=np.float64)
        coef = None
        if np.sum(k >= 5) >= 2:  # a power law needs two masses with losses to fit
            use = k >= 1
            p = (k[use] + 0.5) / (n[use] + 1.0)
            weight = np.sqrt(n[use] * p * (1 - p))
            design = np.vstack([np.ones(use.sum()), np.log(masses[use])]).T
            a, b = np.linalg.lstsq(
                design * weight[:, None], np.log(p / (1 - p)) * weight, rcond=None
            )[0]
            coef = (float(a), float(b))
        pool_mass, pool_tau = _lost_pool(clean, masses, k, radiation2)
        return cls(radiation2, coef, pool_mass, pool_tau)

    def loss(self, mass: float | np.ndarray) -> np.ndarray:
        """Probability that a particle of ``mass`` (GeV) loses a decay product from its jet
        (0 without a fitted curve)."""
        if self.loss_coef is None:
            return np.zeros_like(np.asarray(mass, dtype=np.float64))
        a, b = self.loss_coef
        return 1.0 / (1.0 + np.exp(-(a + b * np.log(np.asarray(mass, dtype=np.float64)))))

    def morph(
        self,
        table: Table,
        source: tuple[float, float],
        target: tuple[float, float],
        boost: float = 1.0,
    ) -> Table:
        """Events of simulated point ``source`` ``(mX, mY)`` moved to ``target`` (GeV):
        contained jets by :func:`quadrature_morph`, lost jets kept, and where the target's
        loss probability is higher, that share of the contained jets replaced by lost ones
        (a seed from the two points: the same morph every time). ``mj1``, ``delta_mj`` and,
        where present, ``tau21_j1`` / ``tau21_j2`` are recomputed in the lighter / heavier
        order; the other columns are kept.

        ``boost``: the target's W' mass over the one the source was simulated at (a grid
        moved to another resonance mass, :meth:`~gbi.infer.signal_grid.SignalGrid.moved_to`).
        A particle's decay opens by its mass over its momentum, about ``mW / 2``, so the
        target's loss probability is the grid's at ``mass / boost``: measured on simulated
        W' not used here, the share of lost X jets is 0.039 +- 0.004 for W'(4000; 450, 150)
        (the grid's curve at 450 GeV: 0.057; at 450 x 3500 / 4000: 0.039), 0.019 +- 0.002
        for W'(3300; 300, 150) (0.017; 0.020), 0.157 +- 0.008 for W'(3800; 730, 380)
        (0.212; 0.172)."""
        (sx, sy), (tx, ty) = sorted(source, reverse=True), sorted(target, reverse=True)
        light, heavy = _jets(table)
        taus = [
            np.asarray(table[c], dtype=np.float64) if c in table else None
            for c in ("tau21_j1", "tau21_j2")
        ]
        x_kept = heavy >= LOSS_THRESHOLD * sx
        # The X's jet: the heavier when contained, else the one further from the Y's
        # expected jet mass (as in the pool of lost jets).
        x_is_heavy = x_kept | ~_light_is_x(light, heavy, np.sqrt(sy * sy + self.radiation2))
        mass_x = np.where(x_is_heavy, heavy, light)
        mass_y = np.where(x_is_heavy, light, heavy)
        tau_x = tau_y = None
        if taus[0] is not None and taus[1] is not None:
            tau_x = np.where(x_is_heavy, taus[1], taus[0])
            tau_y = np.where(x_is_heavy, taus[0], taus[1])
        y_kept = mass_y >= LOSS_THRESHOLD * sy
        rng = np.random.default_rng(zlib.crc32(repr((source, target)).encode()))
        new_x, new_y = mass_x.copy(), mass_y.copy()
        new_x[x_kept] = quadrature_morph(mass_x[x_kept], sx, tx, self.radiation2)
        new_y[y_kept] = quadrature_morph(mass_y[y_kept], sy, ty, self.radiation2)
        for kept, masses, tau, s, t in (
            (x_kept, new_x, tau_x, sx, tx),
            (y_kept, new_y, tau_y, sy, ty),
        ):
            p_s, p_t = float(self.loss(s)), float(self.loss(t / boost))
            if p_t <= p_s or not len(self.lost_mass):
                continue
            convert = kept & (rng.random(len(masses)) < (p_t - p_s) / (1.0 - p_s))
            draw = rng.integers(len(self.lost_mass), size=int(convert.sum()))
            masses[convert] = self.lost_mass[draw]
            if tau is not None:
                tau[convert] = self.lost_tau21[draw]
        out = dict(table)
        x_heavier = new_x >= new_y
        out["mj1"] = np.minimum(new_x, new_y)
        out["delta_mj"] = np.abs(new_x - new_y)
        if tau_x is not None and tau_y is not None:
            out["tau21_j1"] = np.where(x_heavier, tau_y, tau_x)
            out["tau21_j2"] = np.where(x_heavier, tau_x, tau_y)
        return out


def _lost_pool(
    clean: Mapping[tuple[float, ...], Table],
    masses: np.ndarray,
    lost: np.ndarray,
    radiation2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mass (GeV) and ``tau21`` of the X's lost jets at the heaviest ``mX`` with losses (the
    nearest to a point beyond the grid); the X's jet is the one further (in log mass) from
    the Y's expected jet mass, ``sqrt(mY^2 + radiation2)`` (a lost jet with about that mass
    cannot be told from the Y's; either gives the pool about the same mass)."""
    with_losses = masses[lost > 0]
    if not len(with_losses):
        return np.zeros(0), np.zeros(0)
    top = float(with_losses.max())
    pool_m, pool_t = [], []
    for (mx, my, *_), table in clean.items():
        if float(mx) != top:
            continue
        light, heavy = _jets(table)
        lost_x = heavy < LOSS_THRESHOLD * mx
        light_is_x = _light_is_x(light, heavy, np.sqrt(my * my + radiation2))
        pool_m.append(np.where(light_is_x, light, heavy)[lost_x])
        if "tau21_j1" in table and "tau21_j2" in table:
            tau = np.where(light_is_x, np.asarray(table["tau21_j1"]), np.asarray(table["tau21_j2"]))
            pool_t.append(tau[lost_x])
        else:
            pool_t.append(np.full(int(lost_x.sum()), np.nan))
    return np.concatenate(pool_m), np.concatenate(pool_t)
