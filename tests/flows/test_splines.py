"""gbi's spline (gbi.flows.splines) against zuko's: same values, inverse, log-det and flows."""

from __future__ import annotations

import pytest
import torch
import zuko
from zuko.transforms import MonotonicRQSTransform

from gbi.flows.splines import RQSTransform, spline_flow


@pytest.mark.parametrize("scale", [0.0, 1.0, 10.0])
def test_spline_matches_zuko(scale: float) -> None:
    """Forward, inverse and log|det J| equal zuko's to float32 rounding, inside the
    [-5, 5] spline domain and on the linear tails, for flat and steep parameters."""
    g = torch.Generator().manual_seed(1)
    phi = [scale * torch.randn(400, 3, k, generator=g) for k in (8, 8, 7)]
    x = 7.0 * torch.randn(400, 3, generator=g)  # about half outside [-5, 5]
    ours, theirs = RQSTransform(*phi), MonotonicRQSTransform(*phi)
    y, ladj = ours.call_and_ladj(x)
    y_ref, ladj_ref = theirs.call_and_ladj(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ladj, ladj_ref, rtol=1e-4, atol=1e-4)
    back = ours.inv(y)
    assert torch.isfinite(back).all()
    if scale <= 1.0:  # steep random splines invert poorly in float32, in zuko too
        torch.testing.assert_close(back, theirs.inv(y_ref), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(back, x, rtol=1e-3, atol=1e-3)


def test_broadcast_parameters_match_zuko() -> None:
    """Knots of one row broadcast against many events (the first pass of a sampled flow)."""
    g = torch.Generator().manual_seed(2)
    phi = [torch.randn(1, 2, k, generator=g) for k in (8, 8, 7)]
    x = 2.0 * torch.randn(500, 2, generator=g)
    torch.testing.assert_close(RQSTransform(*phi)(x), MonotonicRQSTransform(*phi)(x))
    y = MonotonicRQSTransform(*phi)(x)
    back = RQSTransform(*phi).inv(y)
    torch.testing.assert_close(back, MonotonicRQSTransform(*phi).inv(y), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(back, x, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("passes", [None, 2])
def test_spline_flow_loads_zuko_nsf_weights(passes: int | None) -> None:
    """Same parameter names as zuko.flows.NSF: a saved NSF loads and gives its densities
    and samples."""
    torch.manual_seed(0)
    reference = zuko.flows.NSF(4, 1, transforms=2, hidden_features=(16,), passes=passes)
    for p in reference.parameters():  # away from the flat initialisation
        p.data += 0.3 * torch.randn_like(p)
    flow = spline_flow(4, 1, transforms=2, hidden_features=(16,), passes=passes)
    flow.load_state_dict(reference.state_dict())
    x, c = torch.randn(300, 4), torch.randn(300, 1)
    with torch.no_grad():
        torch.testing.assert_close(
            flow(c).log_prob(x), reference(c).log_prob(x), rtol=1e-4, atol=1e-4
        )
        torch.manual_seed(3)
        a = flow(c).sample()
        torch.manual_seed(3)
        b = reference(c).sample()
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
