"""Amplified histograms: generated events normalised to a yield, with generator uncertainties.

The bin contents are the generated distribution scaled to ``expected_yield`` events. The
bin variances describe what the generator knows, not how many events were generated:

``ensemble``
    the variance of the bin content between the ``K`` ensemble members (each sampled with
    ``n_events``), minus the expected Monte Carlo noise of those samples; it does not shrink
    when more events are generated.
``amplification``
    the Poisson variance of a sample worth ``N_eff = A * n_train`` real events
    (:mod:`gbi.metrics.amplification`): ``var_j = Y * value_j / N_eff`` for a total yield ``Y``.
``both``
    the sum of the two.

>>> import hist, numpy as np, tempfile
>>> from gbi.flows import FlowConfig, TrainConfig, train_model
>>> rng = np.random.default_rng(0)
>>> model = train_model({"a": rng.normal(size=300)}, FlowConfig(flow="maf", features=("a",),
...     transforms=1, hidden_features=(4,), preprocessing="standard"),
...     TrainConfig(epochs=1, batch_size=64), ensemble=2, progress=False)
>>> template = hist.Hist(hist.axis.Regular(5, -3, 3, name="a"))
>>> h = amplified_histogram(model, template, 100.0, 2000, method="both",
...     amplification=2.0, n_train=300)
>>> round(float(h.sum(flow=True).value), 6), bool((h.variances() > 0).all())
(100.0, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gbi.errors import GbiInputError
from gbi.flows.context import ContextSource
from gbi.flows.ensemble import FlowModel
from gbi.flows.sampling import fill_histogram

__all__ = ["METHODS", "amplified_histogram"]

#: Variance estimates understood by :func:`amplified_histogram`.
METHODS: tuple[str, ...] = ("ensemble", "amplification", "both")


def amplified_histogram(
    model: FlowModel,
    template: Any,
    expected_yield: float,
    n_events: int,
    *,
    method: str = "ensemble",
    amplification: float | None = None,
    n_train: int | None = None,
    context: ContextSource = None,
    seed: int = 0,
    batch_size: int = 16_384,
) -> Any:
    """Histogram (``hist.Hist``, Weight storage, axes of ``template``) of ``n_events``
    generated events per member, normalised to ``expected_yield`` events (flow bins included).

    ``amplification`` (factor ``A``) and ``n_train`` are needed for ``method="amplification"``
    or ``"both"``; ``method="ensemble"`` needs at least two members.
    """
    import hist

    if method not in METHODS:
        raise GbiInputError(f"method: expected one of {', '.join(METHODS)}, found {method!r}")
    if method in ("ensemble", "both") and len(model) < 2:
        raise GbiInputError(
            f"method {method!r}: expected an ensemble of >= 2 members, found {len(model)}; "
            "train with --ensemble K or use method='amplification'"
        )
    if method in ("amplification", "both") and (not amplification or not n_train):
        raise GbiInputError(
            f"method {method!r}: expected amplification factor and n_train, found "
            f"amplification={amplification}, n_train={n_train}; measure them with "
            "gbi.metrics.amplification_factor"
        )
    if n_events < 1:
        raise GbiInputError(f"n_events: expected >= 1, found {n_events}")
    scale = float(expected_yield) / n_events
    plain = hist.Hist(*template.axes, storage=hist.storage.Double())
    per_member = np.stack(
        [
            fill_histogram(
                model, plain, n_events, context=context, seed=seed, batch_size=batch_size, member=k
            ).values(flow=True)
            * scale
            for k in range(len(model))
        ]
    )
    values = per_member.mean(axis=0)
    variance = np.zeros_like(values)
    if method in ("ensemble", "both"):
        # between-member variance minus the Monte Carlo noise of n_events per member
        mc_noise = values * scale
        variance += np.maximum(per_member.var(axis=0, ddof=1) - mc_noise, 0.0)
    if method in ("amplification", "both"):
        variance += (
            values * float(expected_yield) / (float(amplification or 1.0) * float(n_train or 1))
        )
    out = hist.Hist(*template.axes, storage=hist.storage.Weight())
    view = out.view(flow=True)
    view.value = values
    view.variance = variance
    return out
