"""The sideband background generator: a conditional flow ``p(features | mjj)`` trained in the
sidebands and interpolated into the signal region (CATHODE), plus its latent space.

Generated SR background events take mjj from a KDE of the SR data mjj
(:class:`~gbi.flows.MjjKDE`) and features from the flow at that mjj. The latent map
``z = f(x | mjj)`` sends background events to a standard normal independent of mjj, the
input of the latent-space detector (LaCATHODE, arXiv:2210.14924). The number of generated
SR events and the seed of that sample are set in one place, :meth:`SidebandBackground.generate`.

>>> from gbi.background.split import split_regions
>>> from gbi.flows import FlowConfig, TrainConfig
>>> from gbi.regions import Regions
>>> rng = np.random.default_rng(0)
>>> mjj = rng.uniform(2800, 4200, 600)
>>> table = {"a": rng.normal(size=600) + mjj / 1000, "mjj": mjj}
>>> config = GeneratorConfig(FlowConfig(flow="maf", features=("a",), context=("mjj",),
...     transforms=1, hidden_features=(8,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=128))
>>> split = split_regions(table, Regions())
>>> bkg = SidebandBackground.train(table, split, config)
>>> gen = bkg.generate(n_sr=25, oversampling=4.0, seed=0)
>>> sorted(gen), len(gen["mjj"]), bool(((gen["mjj"] >= 3300) & (gen["mjj"] <= 3700)).all())
(['a', 'mjj'], 100, True)
>>> bkg.latent(table).shape
(600, 1)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np
import torch

from gbi.background.split import RegionSplit
from gbi.flows import FlowConfig, FlowModel, MjjKDE, TrainConfig, train_model
from gbi.tables import Table, select_columns

__all__ = ["SR_SAMPLE_SEED", "GeneratorConfig", "SidebandBackground", "n_generated"]

#: Offset added to a run's seed for the generated SR background sample.
SR_SAMPLE_SEED = 101


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """How the sideband generator is trained.

    Attributes
    ----------
    flow
        The conditional flow ``p(features | mjj)`` (context ``("mjj",)``, mjj in GeV).
    train
        Its training (epochs, batch size, learning rate, seed, device).
    ensemble
        Number of flows trained.
    bootstrap
        Train each flow on a resampled sideband set, so that their spread measures the
        generator's statistical uncertainty (meaningful with ``ensemble > 1``).
    """

    flow: FlowConfig
    train: TrainConfig
    ensemble: int = 1
    bootstrap: bool = False


#: Column of the sideband event weights in :meth:`SidebandBackground.train`.
WEIGHT_COLUMN = "_sideband_weight"


def n_generated(n_sr: int, oversampling: float) -> int:
    """Generated SR background events for ``n_sr`` SR data events: ``max(1, round(o * n))``.

    >>> n_generated(1620, 4.0), n_generated(0, 4.0)
    (6480, 1)
    """
    return max(1, round(oversampling * n_sr))


class SidebandBackground:
    """A trained sideband flow and the SR mjj density used to sample it."""

    def __init__(
        self,
        model: FlowModel,
        mjj_density: MjjKDE | None,
        training_table: Table | None = None,
        training_weights: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.mjj_density = mjj_density
        #: The sideband events the flows were trained on (features + mjj, GeV; row order of
        #: the training, for :func:`gbi.flows.fitting.unseen_rows`); None when loaded.
        self.training_table = training_table
        #: Their training weights (e.g. each event's probability to be background), one per
        #: row of ``training_table``; None where they were unweighted.
        self.training_weights = training_weights

    @classmethod
    def train(
        cls,
        data: Mapping[str, np.ndarray],
        split: RegionSplit,
        config: GeneratorConfig,
        *,
        out_dir: str | os.PathLike[str] | None = None,
        weights: np.ndarray | None = None,
    ) -> SidebandBackground:
        """Train on the sideband events of ``data`` (features + mjj, GeV); the SR mjj of
        ``data`` feed the KDE that samples mjj in the SR. ``out_dir`` keeps the flows.
        ``weights``: one per sideband event (e.g. its probability to be background)."""
        sidebands = dict(split.sidebands(data))
        table = dict(sidebands)
        if weights is not None:
            table[WEIGHT_COLUMN] = np.asarray(weights, dtype=np.float64)
        model = train_model(
            table,
            config.flow,
            config.train,
            ensemble=config.ensemble,
            bootstrap=config.bootstrap,
            out_dir=out_dir,
            progress=False,
            source="sideband data",
            weight_column=None if weights is None else WEIGHT_COLUMN,
        )
        low, high = split.regions.signal_region
        mjj_sr = np.asarray(data["mjj"])[split.sr]
        return cls(
            model,
            MjjKDE(mjj_sr, low=low, high=high),
            training_table=sidebands,
            training_weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        )

    @property
    def features(self) -> tuple[str, ...]:
        return self.model.features

    def sample_sr(self, n: int, seed: int) -> Table:
        """``n`` generated SR background events ``{column: (n,)}`` (features and mjj, GeV)."""
        assert self.mjj_density is not None, "a generator loaded without its SR mjj density"
        return self.model.sample(int(n), context=self.mjj_density, seed=seed)

    def generate(self, n_sr: int, oversampling: float, seed: int) -> Table:
        """The run's generated SR background: :func:`n_generated` events, seed
        ``seed + SR_SAMPLE_SEED``."""
        return self.sample_sr(n_generated(n_sr, oversampling), seed=seed + SR_SAMPLE_SEED)

    def sample_at(self, mjj: np.ndarray, seed: int, member: int | None = None) -> Table:
        """One generated background event at each given mjj (GeV), any region; from a random
        member of the flow ensemble per event, or all from ``member``."""
        return self.model.sample(
            len(mjj), context={"mjj": np.asarray(mjj)}, seed=seed, member=member
        )

    @torch.no_grad()
    def latent(self, table: Mapping[str, np.ndarray], batch_size: int = 65536) -> np.ndarray:
        """Latent coordinates ``z = f(x | mjj)`` of the first flow member, shape ``(n, d)``.

        For background events ``z`` follows a standard normal whatever mjj is.
        """
        member = self.model.members[0]
        x, _ = select_columns(table, self.features, source="latent input")
        c, _ = select_columns(table, self.model.context, source="latent input", role="context")
        z0 = member.feature_pre.transform(x)
        assert member.context_pre is not None
        c0 = member.context_pre.transform(c)
        out = np.empty_like(z0)
        for start in range(0, len(z0), batch_size):
            sl = slice(start, start + batch_size)
            zt = torch.as_tensor(z0[sl], dtype=torch.float32, device=member.device)
            ct = torch.as_tensor(c0[sl], dtype=torch.float32, device=member.device)
            out[sl] = member.flow(ct).transform(zt).double().cpu().numpy()
        return out
