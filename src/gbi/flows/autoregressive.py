"""zuko's masked autoregressive flow with an inverse that transforms each feature once.

Sampling a flow inverts its transforms. zuko's :class:`~zuko.transforms.AutoregressiveTransform`
inverts one with ``passes`` rounds, and every round evaluates the network *and the
univariate transform of every feature*, although round ``g`` only fixes the features of
group ``g`` (the features whose parameters depend on groups ``< g`` alone). With ``P``
passes all but ``1/P`` of that work is thrown away: half for a coupling flow (``passes=2``),
two thirds for the default spline flow (``passes=3``), all but ``1/D`` for an autoregressive
flow (one round per feature).
:class:`GroupedInverse` inverts, in round ``g``, only the features of group ``g`` (same
network, same parameters, same result to float32 rounding; tested against zuko), so sampling
costs one univariate inversion per feature and transform. In the first round no feature is
known yet: without context the network's output is the same for every event, so it is
evaluated on one row and broadcast; and the network's last layer computes only the
parameters of the round's group. Written here because zuko has no such inverse; the
forward pass (training, ``log_prob``) is zuko's own.

:func:`masked_flow` builds the same modules as :class:`zuko.flows.MAF` (same parameter
names, so state dicts load either way) with these transforms.

>>> import torch
>>> flow = masked_flow(3, 1, transforms=2, hidden_features=(16,), passes=2)
>>> c = torch.randn(5, 1)
>>> x = flow(c).sample()
>>> torch.allclose(flow(c).transform.inv(flow(c).transform(x)), x, atol=1e-5)
True
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from zuko.distributions import DiagNormal
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.lazy import Flow, UnconditionalDistribution
from zuko.nn import MaskedLinear
from zuko.transforms import AutoregressiveTransform
from zuko.utils import broadcast, unpack

__all__ = ["GroupedInverse", "GroupedMaskedTransform", "masked_flow"]


class GroupedInverse(AutoregressiveTransform):
    """:class:`zuko.transforms.AutoregressiveTransform` of one
    :class:`GroupedMaskedTransform` and context ``c``, inverting each feature group once."""

    def __init__(self, lazy: GroupedMaskedTransform, c: Tensor | None) -> None:
        super().__init__(partial(lazy.meta, c), lazy.passes)
        self.lazy = lazy
        self.context = c

    def _inverse(self, y: Tensor) -> Tensor:
        lazy, c = self.lazy, self.context
        x = torch.zeros_like(y)
        for group in range(self.passes):
            index = torch.nonzero(lazy.order == group).squeeze(-1)
            if index.numel() == 0:
                continue
            if group == 0 and c is None:
                # nothing known yet and no context: one row serves every event
                hidden = x[..., :1, :]
            elif c is None:
                hidden = x
            else:
                hidden = torch.cat(broadcast(x, c, ignore=1), dim=-1)
            phi = _group_parameters(lazy, hidden, index)
            # parameters of one row broadcast against the events in the univariate inverse
            x[..., index] = lazy.univariate(*unpack(phi, lazy.shapes)).inv(y[..., index])
        return x


def _group_parameters(lazy: MaskedAutoregressiveTransform, hidden: Tensor, index: Tensor) -> Tensor:
    """The hyper network's parameters of the features ``index``, ``(*, len(index), total)``:
    the last layer computes only their rows (a pass needs one group's parameters)."""
    last = lazy.hyper[-1]
    if not isinstance(last, MaskedLinear):  # e.g. a residual block: the whole output
        return lazy.hyper(hidden).unflatten(-1, (-1, lazy.total))[..., index, :]
    rows = (index[:, None] * lazy.total + torch.arange(lazy.total, device=index.device)).flatten()
    h = hidden
    for layer in list(lazy.hyper)[:-1]:  # (slicing a MaskedMLP would rebuild it)
        h = layer(h)
    out = F.linear(h, (last.mask * last.weight)[rows], last.bias[rows])
    return out.unflatten(-1, (len(index), lazy.total))


class GroupedMaskedTransform(MaskedAutoregressiveTransform):
    """:class:`zuko.flows.MaskedAutoregressiveTransform` whose inverse is a
    :class:`GroupedInverse` (same arguments, modules and forward pass)."""

    def forward(self, c: Tensor | None = None) -> GroupedInverse:
        return GroupedInverse(self, c)


def masked_flow(
    features: int,
    context: int = 0,
    transforms: int = 3,
    **kwargs: Any,
) -> Flow:
    """``zuko.flows.MAF(features, context, transforms, **kwargs)`` built with
    :class:`GroupedMaskedTransform` (zuko's alternating feature orders, standard normal base;
    same parameter names). ``kwargs`` go to each transform: ``passes``, ``univariate``,
    ``shapes``, ``hidden_features``, ..."""
    orders = [torch.arange(features), torch.flipud(torch.arange(features))]
    layers = [
        GroupedMaskedTransform(features=features, context=context, order=orders[i % 2], **kwargs)
        for i in range(transforms)
    ]
    base = UnconditionalDistribution(
        DiagNormal, loc=torch.zeros(features), scale=torch.ones(features), buffer=True
    )
    return Flow(layers, base)
