"""Pythia 8 settings of the LHCO R&D recipe, one list of ``readString`` lines per process.

Processes (13 TeV pp, default tune, multi-parton interactions on):

``qcd``
    QCD dijets: ``HardQCD:all = on`` with ``PhaseSpace:pTHatMin = 1100`` GeV. Label 0.
``wprime``
    The LHCO R&D signal W' -> X Y, X -> q q', Y -> q q. Pythia's
    ``NewGaugeBoson:ffbar2Wprime`` makes the W' (id 34), which is forced to decay to
    W Z (ids 24, 23); the SM W and Z are then redefined to be X and Y: their masses are
    set to ``mX`` and ``mY`` and they decay to quarks only (no top). Pythia recomputes
    their widths from the new masses (W: about 13 GeV at 500 GeV, Z: about 2.7 GeV at
    100 GeV), so the jet masses peak at ``mX`` and ``mY``. Label 1.

Known difference from the shared LHCO-like reference W' file: with Pythia's own widths (W'
182 GeV, X 13 GeV) and decay angles, the X and Y mass peaks and the mjj peak agree, but
fewer X decays fall outside the leading jets (heavier-jet mass 10% quantile ~350 GeV against
~180 GeV), tau21 is ~0.05 lower and about 64% (reference: 71%) of the events fall in
3.3 < mjj < 3.7 TeV. Forcing narrow widths or changing ``Wprime:anglesWZ`` did not reproduce
the reference (narrow widths give 84%). QCD agrees within statistics.

Every run gets its own random seed (``Random:seed``) derived from the user's seed and the
file index by :func:`file_seed`, so files are independent and reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gbi.errors import GbiInputError

__all__ = [
    "DEFAULT_MASSES",
    "LABELS",
    "PROCESSES",
    "ProcessConfig",
    "file_seed",
    "pythia_settings",
]

#: Known processes, in ``--help`` order.
PROCESSES: tuple[str, ...] = ("qcd", "wprime")

#: Truth label written to the ``label`` branch (0 = QCD background, 1 = W' signal).
LABELS: dict[str, int] = {"qcd": 0, "wprime": 1}

#: Default (mW', mX, mY) of the LHCO R&D signal, GeV.
DEFAULT_MASSES: tuple[float, float, float] = (3500.0, 500.0, 100.0)

#: Largest seed Pythia accepts for ``Random:seed``.
_PYTHIA_MAX_SEED = 900_000_000

_COMMON: tuple[str, ...] = (
    "Beams:eCM = 13000.",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Random:setSeed = on",
)


@dataclass(frozen=True)
class ProcessConfig:
    """A validated generation request (masses in GeV; only used for ``wprime``).

    >>> ProcessConfig.create("qcd").tag
    'qcd'
    >>> ProcessConfig.create("wprime").tag
    'wprime_3500_500_100'
    >>> ProcessConfig.create("ttbar")
    Traceback (most recent call last):
    ...
    gbi.errors.GbiInputError: unknown --process 'ttbar'; expected one of: qcd, wprime
    """

    process: str
    mW: float = DEFAULT_MASSES[0]
    mX: float = DEFAULT_MASSES[1]
    mY: float = DEFAULT_MASSES[2]

    @classmethod
    def create(
        cls,
        process: str,
        mW: float | None = None,
        mX: float | None = None,
        mY: float | None = None,
    ) -> ProcessConfig:
        """Validate ``process`` and the masses (GeV), filling in the defaults."""
        if process not in PROCESSES:
            raise GbiInputError(
                f"unknown --process {process!r}; expected one of: {', '.join(PROCESSES)}"
            )
        masses = {
            "mW": DEFAULT_MASSES[0] if mW is None else float(mW),
            "mX": DEFAULT_MASSES[1] if mX is None else float(mX),
            "mY": DEFAULT_MASSES[2] if mY is None else float(mY),
        }
        if process == "wprime":
            for name, value in masses.items():
                if not np.isfinite(value) or value <= 0:
                    raise GbiInputError(f"--{name} must be a positive mass in GeV, got {value}")
            if masses["mX"] + masses["mY"] >= masses["mW"]:
                raise GbiInputError(
                    f"--mX + --mY must be below --mW for the decay W' -> X Y, got "
                    f"mX + mY = {masses['mX'] + masses['mY']:g} GeV >= mW = {masses['mW']:g} GeV"
                )
        elif any(v is not None for v in (mW, mX, mY)):
            raise GbiInputError(f"--mW/--mX/--mY only apply to --process wprime, not {process!r}")
        return cls(process=process, **masses)

    @property
    def label(self) -> int:
        """Truth label of the process (0 QCD, 1 signal)."""
        return LABELS[self.process]

    @property
    def tag(self) -> str:
        """Name used in output file names; includes the masses for ``wprime``."""
        if self.process == "wprime":
            return f"wprime_{self.mW:g}_{self.mX:g}_{self.mY:g}"
        return self.process


def file_seed(seed: int, index: int) -> int:
    """Pythia ``Random:seed`` of file ``index`` for the user's ``seed``, in [1, 900000000].

    >>> file_seed(1, 0) == file_seed(1, 0) != file_seed(1, 1)
    True
    """
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint64)
    return int(state[0] % _PYTHIA_MAX_SEED) + 1


def pythia_settings(config: ProcessConfig, seed: int) -> list[str]:
    """Pythia ``readString`` lines for ``config`` with ``Random:seed = seed``.

    >>> lines = pythia_settings(ProcessConfig.create("qcd"), 5)
    >>> "HardQCD:all = on" in lines and "Random:seed = 5" in lines
    True
    >>> "24:m0 = 500" in pythia_settings(ProcessConfig.create("wprime"), 5)
    True
    """
    lines = [*_COMMON, f"Random:seed = {int(seed)}"]
    if config.process == "qcd":
        lines += ["HardQCD:all = on", "PhaseSpace:pTHatMin = 1100."]
    else:
        lines += [
            "NewGaugeBoson:ffbar2Wprime = on",
            "Wprime:coup2WZ = 1.",
            f"34:m0 = {config.mW:g}",
            "34:onMode = off",
            "34:onIfAll = 23 24",  # W' -> W Z, i.e. X Y
            f"24:m0 = {config.mX:g}",  # X
            "24:onMode = off",
            "24:onIfAny = 1 2 3 4 5",  # X -> q q'
            "24:offIfAny = 6",  # ... but not t b
            f"23:m0 = {config.mY:g}",  # Y
            "23:onMode = off",
            "23:onIfAny = 1 2 3 4 5",  # Y -> q q
        ]
    return lines
