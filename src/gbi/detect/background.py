"""The sideband background model: a conditional flow ``p(features | mjj)`` trained in the
sidebands and interpolated into the signal region (CATHODE), plus its latent space.

Generated SR background events take mjj from a KDE of the SR data mjj
(:class:`~gbi.flows.MjjKDE`) and features from the flow at that mjj. The latent map
``z = f(x | mjj)`` sends background events to a standard normal independent of mjj, the
input of the latent-space detector (LaCATHODE, arXiv:2210.14924).

>>> rng = np.random.default_rng(0)
>>> mjj = rng.uniform(2800, 4200, 600)
>>> table = {"a": rng.normal(size=600) + mjj / 1000, "mjj": mjj}
>>> from gbi.flows import FlowConfig, TrainConfig
>>> bkg = SidebandBackground.train(table, FlowConfig(flow="maf", features=("a",),
...     context=("mjj",), transforms=1, hidden_features=(8,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=128), sr_mjj=mjj[:50], window=(3300, 3700))
>>> gen = bkg.sample_sr(100, seed=1)
>>> sorted(gen), bool(((gen["mjj"] >= 3300) & (gen["mjj"] <= 3700)).all())
(['a', 'mjj'], True)
>>> bkg.latent(table).shape
(600, 1)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from gbi.flows import FlowConfig, FlowModel, MjjKDE, TrainConfig, train_model
from gbi.tables import select_columns

__all__ = ["SidebandBackground"]


class SidebandBackground:
    """A trained sideband flow and the SR mjj density used to sample it."""

    def __init__(self, model: FlowModel, mjj_density: MjjKDE) -> None:
        self.model = model
        self.mjj_density = mjj_density

    @classmethod
    def train(
        cls,
        sideband: Mapping[str, np.ndarray],
        config: FlowConfig,
        train: TrainConfig,
        *,
        sr_mjj: np.ndarray,
        window: tuple[float, float],
        ensemble: int = 1,
        bootstrap: bool = False,
        out_dir: str | os.PathLike[str] | None = None,
    ) -> SidebandBackground:
        """Train on sideband events (features + mjj, GeV); ``sr_mjj`` (n,) feeds the KDE.

        ``ensemble`` flows are trained; with ``bootstrap`` each on a resampled training set,
        so their spread measures the generator's statistical uncertainty.
        """
        model = train_model(
            sideband,
            config,
            train,
            ensemble=ensemble,
            bootstrap=bootstrap,
            out_dir=out_dir,
            progress=False,
            source="sideband data",
        )
        return cls(model, MjjKDE(sr_mjj, low=window[0], high=window[1]))

    @property
    def features(self) -> tuple[str, ...]:
        return self.model.features

    def sample_sr(self, n: int, seed: int) -> dict[str, np.ndarray]:
        """``n`` generated SR background events ``{column: (n,)}`` (features and mjj)."""
        return self.model.sample(int(n), context=self.mjj_density, seed=seed)

    def sample_at(self, mjj: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        """One generated background event at each given mjj (GeV), any region."""
        return self.model.sample(len(mjj), context={"mjj": np.asarray(mjj)}, seed=seed)

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
