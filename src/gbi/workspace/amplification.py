"""Amplification study: is a generator-amplified background template good enough for a fit?

The study of Gavranovič & Kerševan ("Normalizing Flows for Physics Data Analyses", sec. 5):
an Asimov dataset is built from a *large* Monte Carlo sample of background plus signal at
``S/B = 5%`` in the fitted region; the background template of the fit is then replaced by a
*limited* MC sample, or by a generator (a normalizing flow trained on the limited MC) that
has produced ``N_gen`` events, and the fitted signal strength and the CLs upper limit are
compared with those of the large-MC template while the luminosity (the background yield
``B`` of the fitted region) and ``N_gen`` are scanned.

Every source (large MC, limited MC, generator) enters as a :class:`UnitTemplate`: its events
that fall in the fitted region, binned, divided by the number of events the source has in
*all* regions, so the bin contents are fractions of the whole sample and a luminosity is one
multiplier for every source. Variances per bin:

- the sampling noise of the source, ``count_j / N**2`` (Poisson, unit weights);
- for a generator, a *floor* for what it does not know: its region shape is worth
  ``n_equivalent`` real events (``n_equivalent = A * n_train`` with the amplification factor
  ``A`` of :func:`gbi.metrics.amplification_factor`, measured on the fit variable in the
  region against an independent sample), ``var_j += u_j * f_R / n_equivalent`` with ``f_R``
  the region fraction. It does not shrink when more events are generated; for a perfect
  generator ``n_equivalent = inf`` and only the sampling noise is left.

In the workspace these variances become the background ``staterror``; an ensemble spread
(:func:`ensemble_histosys`) can be added as a ``histosys``. The background also carries the
inclusive flat systematic ``beta`` (a ``normsys``, 5/10/20% in the paper), which absorbs the
difference in normalisation between sources; the signal is MC with its own staterror.

>>> rng = np.random.default_rng(0)
>>> edges = np.linspace(0.0, 1.0, 6)
>>> truth = unit_template(rng.exponential(0.5, 200_000), edges, 200_000)  # ~86% in [0, 1)
>>> signal = unit_template(rng.normal(0.6, 0.08, 50_000), edges, 50_000)
>>> generated = unit_template(rng.exponential(0.5, 100_000), edges, 100_000)
>>> point = study_point(truth, signal, generated, background_yield=1e4, sys=0.1)
>>> abs(point["pull"]) < 0.3, point["background_yield"], round(point["signal_yield"])
(True, 10000.0, 500)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gbi.errors import GbiError, GbiInputError
from gbi.workspace.builder import Channel, HistoSys, Sample, build_workspace
from gbi.workspace.fit import fit_workspace, model_and_data
from gbi.workspace.histograms import Template

__all__ = [
    "SIGNAL_FRACTION",
    "UnitTemplate",
    "ensemble_histosys",
    "limit_difference",
    "profile_error",
    "quantile_edges",
    "study_point",
    "unit_template",
]

#: Signal yield over background yield in the fitted region (the paper's ``S/B = 5%``).
SIGNAL_FRACTION = 0.05


@dataclass(frozen=True)
class UnitTemplate:
    """A binned source normalised per event of the whole sample.

    ``values[j]`` is the fraction of the source's ``n_events`` that falls in bin ``j`` of the
    fitted region, ``variances`` its variance; ``edges`` has ``nbins + 1`` entries.
    """

    values: np.ndarray
    variances: np.ndarray
    edges: np.ndarray
    n_events: int
    label: str = "<source>"

    @property
    def region_fraction(self) -> float:
        """Fraction of all events of the source inside the fitted region."""
        return float(np.sum(self.values))

    def template(self, total_events: float) -> Template:
        """The source scaled to ``total_events`` events in all regions (a luminosity)."""
        return Template(
            self.values * total_events,
            self.variances * total_events**2,
            np.asarray(self.edges, dtype=np.float64),
            self.label,
        )


def unit_template(
    x: np.ndarray,
    edges: Sequence[float] | np.ndarray,
    n_events: int,
    *,
    n_equivalent: float | None = None,
    label: str = "<source>",
) -> UnitTemplate:
    """Bin ``x``, the fit variable of the events of a source (unit weights), on ``edges``.

    Values outside ``[edges[0], edges[-1])`` are outside the fitted region and only count in
    ``n_events``, the number of events of the source in all regions (``>= len(x)``).
    ``n_equivalent`` adds the generator floor described in the module docstring.

    >>> u = unit_template(np.array([0.1, 0.2, 0.7, 5.0]), [0.0, 0.5, 1.0], 10)
    >>> u.values.tolist(), u.variances.tolist(), u.region_fraction
    ([0.2, 0.1], [0.02, 0.01], 0.30000000000000004)
    >>> unit_template(np.array([0.1, 0.7]), [0.0, 0.5, 1.0], 2, n_equivalent=4).variances.tolist()
    [0.375, 0.375]
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise GbiInputError(
            f"{label}: expected increasing bin edges (>= 2), found {edges.tolist()[:6]}"
        )
    if n_events < max(1, len(x)):
        raise GbiInputError(
            f"{label}: n_events={n_events} must count every event of the source, at least the "
            f"{len(x)} given"
        )
    counts, _ = np.histogram(x, bins=edges)
    values = counts / n_events
    variances = counts / float(n_events) ** 2
    if n_equivalent is not None:
        if not n_equivalent > 0:
            raise GbiInputError(f"{label}: n_equivalent must be positive, found {n_equivalent}")
        if math.isfinite(n_equivalent):
            variances = variances + values * values.sum() / n_equivalent
    return UnitTemplate(values, variances, edges, int(n_events), label)


def quantile_edges(x: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Bin edges at ``quantiles`` of ``x`` (outer edges = min and max, widened a hair), so
    that each bin of the reference holds the requested share of its events.

    >>> quantile_edges(np.arange(101.0), [0.0, 0.5, 1.0]).round(6).tolist()
    [0.0, 50.0, 100.0001]
    """
    x = np.asarray(x, dtype=np.float64)
    edges = np.quantile(x, np.asarray(quantiles, dtype=np.float64))
    edges[-1] = np.nextafter(edges[-1], np.inf) + 1e-6 * max(abs(edges[-1]), 1.0)
    edges = np.unique(edges)
    if len(edges) < 2:
        raise GbiInputError("quantile_edges: the reference has too few distinct values")
    return edges


def ensemble_histosys(
    members: Sequence[UnitTemplate], name: str = "generator_ensemble", bootstrap: bool = False
) -> tuple[UnitTemplate, list[np.ndarray]]:
    """Mean of ensemble-member templates and the ``(up, down)`` unit shapes mean +- spread.

    Returns the mean :class:`UnitTemplate` (variance: the sampling noise of the pooled events)
    and ``[up, down]`` arrays for :func:`study_point` (``histosys=``). The spread is the
    between-member standard deviation, which estimates what the limited training sample left
    uncertain in each member. For ``bootstrap`` members (each trained on a resample) the
    pooled template's own error is ``sqrt(1 + 1/K)`` times that spread, and up/down use it.

    >>> a = UnitTemplate(np.array([0.2, 0.3]), np.array([1e-4, 1e-4]), np.array([0, 1, 2.0]), 100)
    >>> b = UnitTemplate(np.array([0.4, 0.3]), np.array([1e-4, 1e-4]), np.array([0, 1, 2.0]), 100)
    >>> mean, (up, down) = ensemble_histosys([a, b])
    >>> mean.values.round(3).tolist(), (up - down).round(3).tolist()
    ([0.3, 0.3], [0.283, 0.0])
    """
    if len(members) < 2:
        raise GbiInputError(f"{name}: expected >= 2 ensemble members, found {len(members)}")
    values = np.stack([m.values for m in members])
    mean = values.mean(axis=0)
    k = len(members)
    from gbi.spread import ensemble_error

    spread = ensemble_error(values, "bootstrap" if bootstrap else "member")
    pooled = UnitTemplate(
        mean,
        np.sum([m.variances for m in members], axis=0) / k**2,
        members[0].edges,
        sum(m.n_events for m in members),
        name,
    )
    return pooled, [mean + spread, np.maximum(mean - spread, 0.0)]


def study_point(
    truth: UnitTemplate,
    signal: UnitTemplate,
    background: UnitTemplate,
    *,
    background_yield: float,
    signal_fraction: float = SIGNAL_FRACTION,
    sys: float | None = 0.1,
    sys_mode: str = "bin",
    histosys: Sequence[np.ndarray] | None = None,
    kind: str = "mc",
    truth_stat: bool = True,
    poi_bounds: tuple[float, float] = (0.0, 100.0),
    full: bool = False,
) -> dict[str, Any]:
    """Fit Asimov data (truth background + signal at ``mu = 1``) with ``background`` as the
    background template, at the luminosity where the truth has ``background_yield`` events
    in the fitted region; the signal is scaled to ``signal_fraction * background_yield``.

    Returns ``mu_hat``, ``mu_err`` (profile likelihood, :func:`profile_error`; HESSE's is
    ``mu_err_hesse``), ``pull = (mu_hat - 1) / err`` with the error on the side of 1, the observed and
    expected CLs upper limits (95%), the yields and the background template's relative
    normalisation w.r.t. the truth; ``full=True`` adds the whole ``fit-result-1.0`` dict.

    ``sys`` is the inclusive relative systematic ``beta`` of the background. ``sys_mode="bin"``
    (the paper's simple model, like ``pyhf.simplemodels.uncorrelated_background``) adds
    ``(beta * b_j)**2`` to the variance of every bin, uncorrelated, so the total per-bin
    uncertainty is ``sqrt(stat_j**2 + (beta * b_j)**2)``: when the template statistics become
    negligible the limit converges to the one of the systematic alone. ``sys_mode="norm"``
    makes it one correlated normalisation ``normsys`` instead.

    ``poi_bounds`` are wide by default: a poor template may push the limit far above 1.

    ``truth_stat=True`` adds the statistical variance of the truth sample to the background
    staterror when the background is another source: the Asimov data then carry the
    fluctuations of a finite MC sample, which would otherwise be read as a mis-modelling of
    the replacement template (with the truth itself as template the data match exactly).
    """
    if sys_mode not in ("bin", "norm"):
        raise GbiInputError(f"sys_mode: expected 'bin' or 'norm', found {sys_mode!r}")
    if not background_yield > 0:
        raise GbiInputError(f"background_yield must be positive, found {background_yield}")
    for what, unit in (("truth", truth), ("signal", signal), ("background", background)):
        if not np.array_equal(unit.edges, truth.edges):
            raise GbiInputError(f"{what} template ({unit.label}): binning differs from the truth")
        if not unit.region_fraction > 0:
            raise GbiInputError(f"{what} template ({unit.label}): no events in the fitted region")
    total = background_yield / truth.region_fraction  # background events in all regions
    truth_t = truth.template(total)
    signal_t = signal.template(signal_fraction * background_yield / signal.region_fraction)
    data = Template(truth_t.values + signal_t.values, None, truth_t.edges, "asimov")
    background_t = background.template(total)
    variances = background_t.variances
    if truth_stat and background is not truth:
        variances = variances + truth_t.variances
    if sys and sys_mode == "bin":
        variances = variances + (sys * background_t.values) ** 2
    background_t = Template(background_t.values, variances, background_t.edges, background.label)
    systematics = []
    if histosys is not None:
        up, down = (np.asarray(h, dtype=np.float64) * total for h in histosys)
        edges = truth_t.edges
        systematics.append(
            HistoSys("generator_ensemble", Template(up, None, edges), Template(down, None, edges))
        )
    channel = Channel(
        "SR",
        [
            Sample("signal", signal_t, signal=True, lumi=False),
            Sample(
                "background",
                background_t,
                kind=kind,
                sys=sys if sys_mode == "norm" else None,
                histosys=systematics,
                lumi=False,
            ),
        ],
        data=data,
    )
    workspace = build_workspace([channel], poi_bounds=poi_bounds)
    result = fit_workspace(workspace, source=background.label)
    try:
        err_up, err_down = profile_error(workspace, result["mu_hat"], result["mu_err"])
        method = "profile"
    except Exception:  # a failed fixed-POI fit far from mu_hat: fall back to HESSE
        err_up = err_down = result["mu_err"]
        method = "hesse"
    out: dict[str, Any] = {
        "template": background.label,
        "background_yield": float(background_yield),
        "signal_yield": float(signal_t.total),
        "template_yield_ratio": float(background_t.total / truth_t.total),
        "template_rel_stat": float(
            np.sqrt(background.template(total).variances.sum()) / background_t.total
        ),
        "sys": sys,
        "sys_mode": sys_mode,
        "mu_hat": result["mu_hat"],
        "mu_err": 0.5 * (err_up + err_down),
        "mu_err_up": err_up,
        "mu_err_down": err_down,
        "mu_err_hesse": result["mu_err"],
        "mu_err_method": method,
        "pull": (result["mu_hat"] - 1.0) / (err_up if result["mu_hat"] < 1.0 else err_down),
        "ul_obs": result["cls_upper_limit_obs"],
        "ul_exp": result["cls_upper_limit_exp"],
        "q0_significance": result["q0_significance"],
    }
    if full:
        out["fit"] = result
    return out


def profile_error(workspace: Any, mu_hat: float, guess: float) -> tuple[float, float]:
    """Upper and lower ``1 sigma`` errors of the POI from the profile likelihood.

    Two fixed-POI fits on each side: ``sigma = delta / sqrt(2 Delta NLL(mu_hat +- delta))``,
    first with ``delta = guess`` (HESSE), then with the result. Unlike minuit's HESSE, which
    can be off by a factor 2 when many per-bin parameters are very tightly constrained (large
    yields), this is the interval that ``Delta(2 NLL) = 1`` defines, for a parabola exactly.
    The POI may go below its lower bound here.
    """
    from gbi.workspace.inference import fit_with_fallback, pyhf_backend

    with pyhf_backend("numpy", "minuit"):
        model, data = model_and_data(workspace)
        poi = model.config.poi_index
        init = model.config.suggested_init()
        fixed = model.config.suggested_fixed()
        bounds = model.config.suggested_bounds()
        delta0 = guess if math.isfinite(guess) and guess > 0 else 0.1 * max(abs(mu_hat), 1.0)
        span = 20.0 * delta0
        bounds[poi] = (min(bounds[poi][0], mu_hat - span), max(bounds[poi][1], mu_hat + span))
        init[poi] = mu_hat
        _, nll_min = fit_with_fallback(data, model, init, bounds, fixed)
        errors = []
        for sign in (1.0, -1.0):
            delta = delta0
            for _ in range(2):
                _, nll = fit_with_fallback(
                    data, model, init, bounds, fixed, poi_value=mu_hat + sign * delta
                )
                rise = float(nll) - float(nll_min)
                if not rise > 1e-9:
                    raise GbiError(
                        f"profile_error: the likelihood does not rise {sign * delta:+.3g} from "
                        f"mu_hat={mu_hat:.4g}; the fit did not converge"
                    )
                delta = min(delta / math.sqrt(rise), span)
            errors.append(delta)
    return errors[0], errors[1]


def limit_difference(ml: dict[str, Any], mc: dict[str, Any], key: str = "ul_obs") -> float:
    """``Delta mu_UL``: upper limit with the ML (generated) background minus that with MC.

    >>> limit_difference({"ul_obs": 1.3}, {"ul_obs": 1.0})
    0.30000000000000004
    """
    for what, point in (("ml", ml), ("mc", mc)):
        if key not in point:
            raise GbiError(f"limit_difference: the {what} point has no {key!r}")
    return float(ml[key]) - float(mc[key])
