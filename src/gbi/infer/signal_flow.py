"""R-ANODE signal density: zuko flows, scored out of fold, scanned in ``w``.

In the signal region the data density is ``(1 - w) p_bkg(z) + w p_sig(z)`` with ``p_bkg``
fixed (the sideband flows times the mjj density, given per event as ``log_bkg``) and
``p_sig`` a small normalizing flow (zuko MAF, or NSF with ``kind="nsf"``) over the
standardised ``z`` = (features, mjj), as in R-ANODE (Das, Kasieczka, Shih, arXiv:2312.11629).
For a given ``w`` the flow is trained by minimising ``-mean log(w p_sig + (1 - w) p_bkg)``
(Adam, early stopping on a validation part of its training events).

**Out of fold.** A flow scored on the events it was trained on finds more signal than there
is (it memorises fluctuations). The SR events are split at random into ``folds`` parts; for
each part a flow is trained on the other parts, and each event's ``p_sig`` comes from the
flow that never saw it. The held-out log likelihood of the scan point,
``l(w) = sum_i log(1 + w (r_i(w) - 1))`` with ``r_i(w) = p_sig,w(z_i) / p_bkg(z_i)``, is an
honest measure of how well the pair (``w``, ``p_sig,w``) describes the data
(``l(0) = 0``: background only).

**Scan in w (the profile likelihood).** As R-ANODE does, ``w`` is scanned rather than fitted
jointly with the flow: a learned ``p_sig`` that may also absorb background is degenerate in
``w`` (any ``w`` above the truth fits equally well in principle), and fitting ``w`` on the
flow's own densities was measured to be biased: on the LHCO-style W' with 1000 injected
events a jointly fitted ``w`` settled at half the truth (the flow learns the signal's core,
and the refit of ``w`` with that core alone is low), while the held-out likelihood of flows
trained at fixed ``w`` peaks near the truth. The scan starts at ``w_start`` and multiplies
``w`` by ``w_step`` until ``l(w)`` has fallen ``stop_drop`` nats below its maximum (or
``w_max``); each point's flows are warm-started from the previous point's
(``warm_epochs``; the first point trains for ``epochs``). Then the geometric midpoints
next to the best point are added. ``mu_hat`` and the 68% interval come from a parabola
through the best point and its neighbours (``2 dl = 1``, Wilks); the points themselves
are the profile (:func:`scan_fit`). The points scatter around the parabola by the
flows' training noise (several nats); the standard error of the vertex from a
least-squares fit to up to five points is added in quadrature to the likelihood interval.
With no signal the scan stops after a few points (``l`` only falls), so background-only
toys are cheap.

**The conditional scan (default, ``scan="conditional"``).** Flows trained separately at
each ``w`` learn different things by chance: on a 5-d toy with an exact background (issue 19,
``docs/data/issue19/scripts/ranode_scan_noise.py``) neighbouring points' ``l(w)`` differed by
20-35 nats from the training alone, so the noise, not the likelihood's curvature, chose
``w``. Instead one flow ``p_sig(z | w)`` per fold takes ``log w`` as its context and is
trained with ``w`` drawn log-uniformly per event (loss ``-log(1 + w (r - 1)) / w``, so small
and large ``w`` pull alike); ``l(w)`` read on ``grid_points`` values is then smooth, and the
scan is one training per fold and member instead of one per point. ``ensemble`` such flows with different seeds are averaged (the mean of
their held-out ``l(w)``, :func:`scan_fit`) and the spread of their own fits is the
training error that
:func:`gbi.infer.run_inference` adds to the interval (``mu_sys_signal_flow_training``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import zuko

from gbi.errors import GbiInputError
from gbi.infer.mixture import (
    THRESHOLD_68,
    THRESHOLD_UL95,
    MixtureFit,
    _crossing,
    log_likelihood,
)

__all__ = ["SCANS", "SignalFlowConfig", "SignalScan", "scan_fit", "scan_signal_flows"]


@dataclasses.dataclass(frozen=True)
class SignalFlowConfig:
    """Settings of the R-ANODE signal flow and its ``w`` scan (inputs are standardised)."""

    kind: str = "nsf"
    transforms: int = 2
    hidden_features: tuple[int, ...] = (32, 32)
    bins: int = 8
    epochs: int = 40
    warm_epochs: int = 12
    patience: int = 6
    batch_size: int = 256
    learning_rate: float = 5e-3
    val_fraction: float = 0.2
    folds: int = 2
    w_start: float = 0.0025
    w_step: float = 2.0
    w_max: float = 0.3
    stop_drop: float = 10.0
    warm_start: bool = False
    #: ``"conditional"``: one flow ``p_sig(z | w)`` per fold, trained across ``w`` and read
    #: on ``grid_points`` values from ``w_start`` to ``w_max`` (module doc); ``"points"``:
    #: one flow per fold trained at each scan point (the R-ANODE recipe).
    scan: str = "conditional"
    grid_points: int = 49
    #: Conditional flows per fold, different seeds; their mean density is fitted and the
    #: spread of their own fits is the training error (``SignalScan.member_log_sig``).
    ensemble: int = 3

    def __post_init__(self) -> None:
        if self.kind not in ("maf", "nsf"):
            raise GbiInputError(f"signal flow kind: expected 'maf' or 'nsf', found {self.kind!r}")
        if self.scan not in SCANS:
            raise GbiInputError(f"signal flow scan: expected one of {SCANS}, found {self.scan!r}")
        if self.grid_points < 5 or self.ensemble < 1:
            raise GbiInputError(
                "signal flow grid_points, ensemble: expected >= 5 and >= 1, found "
                f"{self.grid_points}, {self.ensemble}"
            )
        if self.folds < 2:
            raise GbiInputError(f"signal flow folds: expected >= 2, found {self.folds}")
        if not 0.0 < self.w_start < self.w_max <= 1.0 or self.w_step <= 1.0:
            raise GbiInputError(
                "signal flow w_start, w_max, w_step: expected 0 < w_start < w_max <= 1 and "
                f"w_step > 1, found {self.w_start}, {self.w_max}, {self.w_step}"
            )


#: The ways to scan ``w`` (:attr:`SignalFlowConfig.scan`).
SCANS: tuple[str, ...] = ("conditional", "points")


@dataclasses.dataclass
class SignalScan:
    """The ``w`` scan: ``w (h,)`` sorted, held-out signal log densities ``log_sig (n, h)``
    (units of ``z``), and the epochs each point's flows trained (per fold); with a
    conditional ensemble, each member's own ``member_log_sig (K, n, h)`` (``log_sig`` is
    the log of their mean density; :func:`scan_fit` averages the members' likelihoods)."""

    w: np.ndarray
    log_sig: np.ndarray
    epochs: list[list[int]]
    member_log_sig: np.ndarray | None = None


def _build(config: SignalFlowConfig, d: int, context: int = 0) -> torch.nn.Module:
    kwargs: dict[str, Any] = {
        "context": context,
        "transforms": config.transforms,
        "hidden_features": config.hidden_features,
    }
    if config.kind == "nsf":
        return zuko.flows.NSF(d, bins=config.bins, **kwargs)
    return zuko.flows.MAF(d, **kwargs)


def _mixture_loss(log_sig: torch.Tensor, log_bkg: torch.Tensor, w: float) -> torch.Tensor:
    return -torch.logaddexp(log_sig + math.log(w), log_bkg + math.log1p(-w)).mean()


@torch.no_grad()
def _log_prob(flow: torch.nn.Module, z: torch.Tensor, batch: int = 65536) -> torch.Tensor:
    flow.eval()
    return torch.cat([flow().log_prob(z[i : i + batch]) for i in range(0, len(z), batch)])


def _optimise(
    flow: torch.nn.Module,
    train: torch.Tensor,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    val_loss: Callable[[], float],
    config: SignalFlowConfig,
    gen: torch.Generator,
    epochs: int,
) -> int:
    """Adam on ``batch_loss(indices)`` over shuffled batches of ``train``, early stopping
    on ``val_loss()`` (``patience``), best state kept; returns the epochs run."""
    batch = max(1, min(config.batch_size, len(train)))
    optimizer = torch.optim.Adam(flow.parameters(), lr=config.learning_rate)
    best_loss, best_state, bad, run = math.inf, copy.deepcopy(flow.state_dict()), 0, 0
    for epoch in range(epochs):
        flow.train()
        perm = train[torch.randperm(len(train), generator=gen)]
        for start in range(0, len(perm) - batch + 1, batch):
            loss = batch_loss(perm[start : start + batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        run = epoch + 1
        flow.eval()
        with torch.no_grad():
            current = val_loss()
        if not math.isfinite(current):
            raise GbiInputError(
                f"signal flow: training diverged at epoch {epoch} (validation loss {current}); "
                "lower the signal flow learning_rate"
            )
        if current < best_loss - 1e-6:
            best_loss, best_state, bad = current, copy.deepcopy(flow.state_dict()), 0
        else:
            bad += 1
            if bad >= config.patience:
                break
    flow.load_state_dict(best_state)
    flow.eval()
    return run


def _split(n: int, config: SignalFlowConfig, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random validation and training indices of ``n`` events."""
    order = torch.randperm(n, generator=gen)
    n_val = max(1, round(config.val_fraction * n))
    return order[:n_val], order[n_val:]


def _train(
    flow: torch.nn.Module,
    z: torch.Tensor,
    log_bkg: torch.Tensor,
    w: float,
    config: SignalFlowConfig,
    seed: int,
    epochs: int,
) -> int:
    """Train ``flow`` in place at fixed ``w`` (train/validation split inside); epochs run."""
    gen = torch.Generator().manual_seed(seed)
    val, train = _split(len(z), config, gen)
    return _optimise(
        flow,
        train,
        lambda idx: _mixture_loss(flow().log_prob(z[idx]), log_bkg[idx], w),
        lambda: float(_mixture_loss(_log_prob(flow, z[val]), log_bkg[val], w)),
        config,
        gen,
        epochs,
    )


def _w_context(w: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``log w`` mapped to [-1, 1] over the training range, shape ``(n, 1)``."""
    return (2.0 * (torch.log(w) - lo) / (hi - lo) - 1.0)[:, None]


def _conditional_loss(
    flow: torch.nn.Module,
    z: torch.Tensor,
    log_bkg: torch.Tensor,
    w: torch.Tensor,
    lo: float,
    hi: float,
) -> torch.Tensor:
    """Mean of ``-log(1 + w (r - 1)) / w`` with each event's own ``w``: the mixture loss
    relative to background only, divided by ``w`` so that small and large ``w`` pull alike
    (at small ``w`` the loss is about ``-w (r - 1)``)."""
    log_sig = flow(_w_context(w, lo, hi)).log_prob(z)
    mix = torch.logaddexp(log_sig + torch.log(w), log_bkg + torch.log1p(-w))
    return (-(mix - log_bkg) / w).mean()


def _train_conditional(
    z: torch.Tensor,
    log_bkg: torch.Tensor,
    config: SignalFlowConfig,
    seed: int,
    lo: float,
    hi: float,
) -> tuple[torch.nn.Module, int]:
    """One flow ``p_sig(z | w)`` with ``log w`` drawn uniformly in ``[lo, hi]`` per event
    and batch (early stopping on a validation part with fixed draws); epochs run."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    flow = _build(config, z.shape[1], context=1)
    val, train = _split(len(z), config, gen)
    w_val = torch.exp(lo + (hi - lo) * torch.rand(len(val), generator=gen))

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        w = torch.exp(lo + (hi - lo) * torch.rand(len(idx), generator=gen))
        return _conditional_loss(flow, z[idx], log_bkg[idx], w, lo, hi)

    run = _optimise(
        flow,
        train,
        batch_loss,
        lambda: float(_conditional_loss(flow, z[val], log_bkg[val], w_val, lo, hi)),
        config,
        gen,
        config.epochs,
    )
    return flow, run


def _conditional_scan(
    z: torch.Tensor,
    log_bkg: torch.Tensor,
    parts: list[tuple[torch.Tensor, np.ndarray]],
    config: SignalFlowConfig,
    seed: int,
) -> SignalScan:
    """The ``"conditional"`` scan: out-of-fold ``p_sig(z | w)`` of each ensemble member on a
    log grid of ``w`` (module doc). Trained over ``w_start / 2 .. min(2 w_max, 0.95)`` so the
    grid's ends are not the training range's."""
    ws = np.geomspace(config.w_start, config.w_max, config.grid_points)
    lo, hi = math.log(config.w_start / 2.0), math.log(min(2.0 * config.w_max, 0.95))
    members = np.empty((config.ensemble, len(z), len(ws)))
    epochs: list[int] = []
    for m in range(config.ensemble):
        for k, (train, held) in enumerate(parts):
            flow, run = _train_conditional(
                z[train], log_bkg[train], config, seed * 1009 + 7919 * m + k, lo, hi
            )
            epochs.append(run)
            zh = z[torch.as_tensor(held)]
            with torch.no_grad():
                for j, w in enumerate(ws):
                    context = _w_context(torch.full((len(zh),), float(w)), lo, hi)
                    members[m, held, j] = flow(context).log_prob(zh).double().numpy()
    log_sig = np.logaddexp.reduce(members, axis=0) - math.log(config.ensemble)
    return SignalScan(w=ws, log_sig=log_sig, epochs=[epochs] * len(ws), member_log_sig=members)


def _held_out_ll(w: float, log_sig: np.ndarray, log_bkg: np.ndarray) -> float:
    ratio = np.exp(np.clip(log_sig - log_bkg, -700.0, 700.0))
    return float(log_likelihood(w, ratio)[0])


def scan_signal_flows(
    z: np.ndarray,
    log_bkg: np.ndarray,
    config: SignalFlowConfig | None = None,
    seed: int = 0,
) -> SignalScan:
    """The ``w`` scan of out-of-fold signal flows on the events ``z (n, d)`` (module doc).

    ``log_bkg (n,)`` is the fixed background log density in the units of ``z``.
    """
    config = config or SignalFlowConfig()
    z_t = torch.as_tensor(np.asarray(z, dtype=np.float32))
    lb = np.asarray(log_bkg, dtype=np.float64)
    lb_t = torch.as_tensor(lb.astype(np.float32))
    n, d = z_t.shape
    if n < 4 * config.folds:
        raise GbiInputError(
            f"signal flow: expected at least {4 * config.folds} signal-region events, found {n}"
        )
    fold = np.random.default_rng(seed).permutation(n) % config.folds
    parts = [
        (torch.as_tensor(np.flatnonzero(fold != k)), np.flatnonzero(fold == k))
        for k in range(config.folds)
    ]
    if config.scan == "conditional":
        return _conditional_scan(z_t, lb_t, parts, config, seed)
    points: dict[float, tuple[np.ndarray, list[torch.nn.Module], list[int]]] = {}

    def run_point(w: float, start: list[torch.nn.Module] | None, step: int) -> float:
        log_sig = np.empty(n)
        flows, epochs = [], []
        for k, (train, held) in enumerate(parts):
            if start is None or not config.warm_start:
                torch.manual_seed(seed * 1009 + k)
                flow = _build(config, d)
            else:
                flow = copy.deepcopy(start[k])
            epochs.append(
                _train(
                    flow,
                    z_t[train],
                    lb_t[train],
                    w,
                    config,
                    seed * 1009 + 31 * step + k,
                    config.warm_epochs
                    if start is not None and config.warm_start
                    else config.epochs,
                )
            )
            log_sig[held] = _log_prob(flow, z_t[torch.as_tensor(held)]).double().numpy()
            flows.append(flow)
        points[w] = (log_sig, flows, epochs)
        return _held_out_ll(w, log_sig, lb)

    w, step, prev = config.w_start, 0, None
    best_ll, best_w = 0.0, 0.0  # w = 0: background only, l(0) = 0
    while w <= config.w_max:
        ll = run_point(w, prev, step)
        prev = points[w][1]
        if ll > best_ll:
            best_ll, best_w = ll, w
        if ll < best_ll - config.stop_drop and step >= 1:
            break
        w, step = w * config.w_step, step + 1
    # Refine: geometric midpoints next to the best point, warm-started from its flows.
    if best_w > 0:
        for factor in (config.w_step**-0.5, config.w_step**0.5):
            w_mid = best_w * factor
            if w_mid <= config.w_max and w_mid not in points:
                step += 1
                run_point(w_mid, points[best_w][1], step)
    ws = np.array(sorted(points))
    return SignalScan(
        w=ws,
        log_sig=np.stack([points[w][0] for w in ws], 1),
        epochs=[points[w][2] for w in ws],
    )


def _parabola(w: np.ndarray, ll: np.ndarray, best: int) -> tuple[float, float, float] | None:
    """Least-squares parabola through the best point and up to two neighbours on each side
    (``w = 0``, ``l = 0`` included): vertex, curvature ``a < 0`` and the vertex's standard
    error from the points' scatter around it (the flows' training noise; 0 with 3 points),
    or ``None`` where it is not concave."""
    lo, hi = max(best - 2, 0), min(best + 3, len(w))
    ws, ls = w[lo:hi], ll[lo:hi]
    if len(ws) < 3:
        return None
    (a, b, _), residuals, *_ = np.polyfit(ws, ls, 2, full=True)
    if not a < 0:
        return None
    vertex = -b / (2 * a)
    sigma = 0.0
    if len(ws) > 3 and len(residuals):
        s2 = float(residuals[0]) / (len(ws) - 3)
        design = np.stack([ws**2, ws, np.ones_like(ws)], 1)
        cov = s2 * np.linalg.inv(design.T @ design)
        grad = np.array([b / (2 * a**2), -1 / (2 * a), 0.0])  # d vertex / d(a, b, c)
        sigma = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return float(vertex), float(a), sigma


def scan_fit(w: np.ndarray, ratios: np.ndarray) -> MixtureFit:
    """``mu`` from the held-out likelihood scan: ``w (h,)`` the scan points, ``ratios (n, h)``
    each point's out-of-fold ``p_sig / p_bkg`` (module doc); or ``(K, n, h)`` for an
    ensemble of signal flows, whose held-out log likelihoods are averaged: the mean of
    honest likelihood estimates. (Fitting their mean density instead rewards the ensemble's
    breadth: on the 5-d toy the mean density's ``l(w)`` peaked at 1.44 times the truth where
    the members' own peaked at 0.87, 0.93 and 1.41.) ``fit.ratios`` is then the members'
    mean and ``fit.member_ratios`` keeps them.

    >>> rng = np.random.default_rng(0)
    >>> n, mu = 20000, 0.05
    >>> x = np.where(rng.random(n) < mu, rng.normal(2.0, 0.5, n), rng.normal(0.0, 1.0, n))
    >>> from scipy import stats
    >>> r = stats.norm.pdf(x, 2.0, 0.5) / stats.norm.pdf(x)
    >>> w = np.linspace(0.01, 0.1, 10)
    >>> fit = scan_fit(w, np.repeat(r[:, None], 10, 1))
    >>> bool(fit.interval[0] < mu < fit.interval[1])
    True
    """
    w = np.asarray(w, dtype=np.float64)
    members = np.asarray(ratios, dtype=np.float64)
    members = members[None] if members.ndim == 2 else members
    r = members.mean(axis=0)
    ll_points = np.array(
        [
            float(np.mean([log_likelihood(wj, m[:, j])[0] for m in members]))
            for j, wj in enumerate(w)
        ]
    )
    ws, ll = np.r_[0.0, w], np.r_[0.0, ll_points]
    best = int(np.argmax(ll))
    ll_max = float(ll[best])
    vertex = _parabola(ws, ll, best)
    if vertex is not None and ws[0] - 0.5 * ws[1] <= vertex[0] <= ws[-1]:
        mu_hat, a, sigma_fit = vertex
        half = math.sqrt(THRESHOLD_68 / (-2.0 * a) + sigma_fit**2)
        interval = (mu_hat - half, mu_hat + half)
        base = max(mu_hat, 0.0)
        ul_half = math.sqrt(THRESHOLD_UL95 / (-2.0 * a) + THRESHOLD_UL95 * sigma_fit**2)
        upper = mu_hat + math.hypot(ul_half, base - mu_hat)
    else:  # no concave maximum: read the points, at least out to the neighbouring ones
        mu_hat = float(ws[best])
        dn = 2.0 * (ll_max - ll)
        interval = (
            min(_crossing(ws, dn, THRESHOLD_68, -1, start=mu_hat), float(ws[max(best - 1, 0)])),
            max(
                _crossing(ws, dn, THRESHOLD_68, +1, start=mu_hat),
                float(ws[min(best + 1, len(ws) - 1)]),
            ),
        )
        upper = _crossing(ws, dn, THRESHOLD_UL95, +1, start=mu_hat)
    q0 = 2.0 * max(float(ll_points.max()), 0.0) if mu_hat > 0 else 0.0
    return MixtureFit(
        mu_hat=float(mu_hat),
        mu_err=0.5 * (interval[1] - interval[0]),
        interval=(float(interval[0]), float(interval[1])),
        upper_limit=float(upper),
        q0=q0,
        significance=math.sqrt(q0),
        best=max(best - 1, 0),
        log_likelihood=float(ll.max()),
        profile={"mu": ws.tolist(), "two_delta_nll": (2.0 * (ll.max() - ll)).tolist()},
        per_hypothesis={"mu_hat": w.copy(), "log_likelihood": ll_points, "w_fixed": w.copy()},
        ratios=r,
        member_ratios=members if len(members) > 1 else None,
    )
