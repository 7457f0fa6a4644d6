"""Amplification study on the LHCO-like samples (the study of Gavranovič & Kerševan,
"Normalizing Flows for Physics Data Analyses", sec. 5, with QCD as background and the W' as
signal).

Samples (``--data``, the LHCO-like ROOT files; features made once into ``OUT/features``):

- *truth* ("large MC"): ``qcd_b_000..003`` (200k QCD events): the Asimov background;
- *limited MC*: the first ``--limited-mc`` events of ``qcd_a_000``: template (a), and the
  training sample of the flow;
- *flow*: an unconditional NSF flow (``gbi.flows`` defaults) on the five dijet features
  ``mjj, mj1, delta_mj, tau21_j1, tau21_j2`` of the limited MC, sampled ``N_gen`` times
  (one draw of the largest ``N_gen``; smaller ones are its first events): template (b);
- *validation*: ``qcd_a_002..003`` (100k, independent of everything else): the reference of
  the amplification factor ``A`` (:func:`gbi.metrics.amplification_factor`, on the fit
  variable and binning in the fitted region) that sets the generator floor
  ``n_equivalent = A * n_train`` (:mod:`gbi.workspace.amplification`);
- *signal*: the first half of the W' file (template, MC); the second half and ``qcd_a_001``
  train the classifier.

Fit variables, both in the signal region SR = 3300 < mjj < 3700 GeV (the fitted region,
where ``S/B = 5%``): ``mjj`` (8 bins of 50 GeV) and a classifier score: a supervised
gradient-boosting classifier (``gbi.classifiers``, hgb) of W' against QCD on the substructure
features ``mj1, delta_mj, tau21_j1, tau21_j2``, trained on separate events and applied to
every sample; bins at the 0, 50, 75, 90, 95, 98, 99, 100% quantiles of the truth QCD score
in the SR (so the signal-like bins are the low-statistics tails).

Scan: luminosity = truth background yield ``B`` in the SR (``--lumi-points``), ``N_gen``
(``--generated-points``) and the inclusive systematic ``beta`` (``--sys``, per bin, added in
quadrature to the template statistics as in ``pyhf.simplemodels.uncorrelated_background``).
For every point: the fit with the truth template ("MC"), with the limited MC and with the
flow; ``mu_hat`` with its profile-likelihood error and the 95% CLs upper limit.
Writes ``OUT/amplification_study.json`` and the plots ``OUT/amplification_mu_vs_lumi.png``,
``OUT/amplification_limit_difference.png``, ``OUT/amplification_templates.png``::

    python examples/amplification_study.py --out /tmp/amp_study            # full grid
    python examples/amplification_study.py --out /tmp/amp_quick --quick    # CI-sized
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")  # plots go to files; set before matplotlib loads

SR = (3300.0, 3700.0)
FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")
SCORE_FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")
SCORE_QUANTILES = (0.0, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 1.0)
MJJ_EDGES = np.linspace(SR[0], SR[1], 9)
SIGNAL_FILE = "wprime_3500_500_100_000"


def features(root_file: Path, out: Path) -> dict[str, np.ndarray]:
    """The dijet features of one ROOT file, cached as ``out/<stem>.parquet``."""
    from gbi.tables import read_table, write_table

    target = out / f"{root_file.stem}.parquet"
    if not target.is_file():
        import awkward as ak
        import uproot

        from gbi.features import JET_FIELDS, dijet_features

        with uproot.open(root_file) as handle:
            arrays = handle["Events"].arrays([f"FatJet_{f}" for f in JET_FIELDS])
        jets = ak.zip({f: arrays[f"FatJet_{f}"] for f in JET_FIELDS})
        _, columns = dijet_features(jets)
        write_table({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}, target)
    table = read_table(target)
    return {k: np.asarray(table[k], dtype=np.float64) for k in FEATURES}


def concat(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}


def head(table: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {k: v[:n] for k, v in table.items()}


def in_sr(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    keep = (table["mjj"] >= SR[0]) & (table["mjj"] < SR[1])
    return {k: v[keep] for k, v in table.items()}


def matrix(table: dict[str, np.ndarray], columns: tuple[str, ...]) -> np.ndarray:
    return np.stack([table[c] for c in columns], axis=1)


def train_classifier(qcd: dict, signal: dict, seed: int):
    """hgb W' vs QCD on the substructure features; returns (classifier, validation AUC)."""
    from sklearn.metrics import roc_auc_score

    from gbi.classifiers import ClassifierConfig, make_classifier

    x = np.concatenate([matrix(qcd, SCORE_FEATURES), matrix(signal, SCORE_FEATURES)])
    y = np.concatenate([np.zeros(len(qcd["mjj"])), np.ones(len(signal["mjj"]))])
    rng = np.random.default_rng(seed)
    val = rng.random(len(y)) < 0.2
    clf = make_classifier(ClassifierConfig(kind="hgb", seed=seed))
    clf.fit(x[~val], y[~val], np.ones((~val).sum()), x[val], y[val], np.ones(val.sum()))
    return clf, float(roc_auc_score(y[val], clf.score(x[val])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/lhco_like"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limited-mc", type=int, default=20_000, help="QCD events of qcd_a_000")
    parser.add_argument("--lumi-points", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    parser.add_argument("--generated-points", type=float, nargs="+", default=[1e4, 1e5, 1e6, 1e7])
    parser.add_argument("--sys", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--ensemble", type=int, default=1, help=">= 2: bootstrap flows, their spread is a histosys"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--reuse-flow", action="store_true", help="load OUT/flow when it holds a trained model"
    )
    parser.add_argument("--images", type=Path, default=None, help="also copy the plots here")
    parser.add_argument(
        "--quick", action="store_true", help="CI-sized: 5k limited MC, 2 epochs, small grid"
    )
    args = parser.parse_args()
    if args.quick:
        args.limited_mc, args.epochs = min(args.limited_mc, 5_000), 2
        args.lumi_points, args.generated_points = [1e4, 1e5], [1e4, 1e5]
        args.sys = [0.1]

    import torch

    from gbi.flows import FlowConfig, TrainConfig, train_model
    from gbi.io import write_json
    from gbi.metrics import amplification_factor
    from gbi.workspace.amplification import (
        ensemble_histosys,
        limit_difference,
        quantile_edges,
        study_point,
        unit_template,
    )

    torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    timing: dict[str, float] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    feature_dir = args.out / "features"
    feature_dir.mkdir(exist_ok=True)

    def load(stem: str) -> dict[str, np.ndarray]:
        return features(args.data / f"{stem}.root", feature_dir)

    start = time.perf_counter()
    truth = concat([load(f"qcd_b_00{k}") for k in range(4)])
    limited = head(load("qcd_a_000"), args.limited_mc)
    clf_qcd = load("qcd_a_001")
    validation = concat([load("qcd_a_002"), load("qcd_a_003")])
    wprime = load(SIGNAL_FILE)
    half = len(wprime["mjj"]) // 2
    signal = {k: v[:half] for k, v in wprime.items()}
    clf_signal = {k: v[half:] for k, v in wprime.items()}
    timing["features"] = time.perf_counter() - start

    start = time.perf_counter()
    clf, auc = train_classifier(clf_qcd, clf_signal, args.seed)
    timing["classifier"] = time.perf_counter() - start

    start = time.perf_counter()
    flow_config = FlowConfig(flow="nsf", features=FEATURES)
    if args.quick:
        flow_config = FlowConfig(flow="nsf", features=FEATURES, transforms=2, hidden_features=(32,))
    if args.reuse_flow and (args.out / "flow" / "model.json").is_file():
        from gbi.flows import load_model

        model = load_model(str(args.out / "flow"), device="cpu")
    else:
        model = train_model(
            limited,
            flow_config,
            TrainConfig(epochs=args.epochs, device="cpu", seed=args.seed),
            ensemble=args.ensemble,
            bootstrap=args.ensemble > 1,
            out_dir=args.out / "flow",
            source=f"qcd_a_000[:{args.limited_mc}]",
            progress=False,
        )
    timing["flow_training"] = time.perf_counter() - start

    # one draw per member of the largest N_gen; N_gen = the first N_gen / K events of each
    n_gen_max = int(max(args.generated_points))
    k = len(model)
    start = time.perf_counter()
    generated = []  # per member: SR events and their position in the generated stream
    for m in range(k):
        events = model.sample(n_gen_max // k, seed=args.seed + 1000 + m, member=m)
        keep = (events["mjj"] >= SR[0]) & (events["mjj"] < SR[1])
        sr = {c: events[c][keep] for c in FEATURES}
        sr["position"] = np.flatnonzero(keep)
        generated.append(sr)
        del events
    timing["flow_sampling"] = time.perf_counter() - start

    start = time.perf_counter()
    sources = {"truth": truth, "limited": limited, "validation": validation, "signal": signal}
    sr_tables = {name: in_sr(table) for name, table in sources.items()}
    for table in [*sr_tables.values(), *generated]:
        table["score"] = clf.score(matrix(table, SCORE_FEATURES))
    timing["scoring"] = time.perf_counter() - start
    edges = {
        "mjj": MJJ_EDGES,
        "score": quantile_edges(sr_tables["truth"]["score"], SCORE_QUANTILES),
    }
    n_all = {name: len(table["mjj"]) for name, table in sources.items()}
    n_train = n_all["limited"]

    summary: dict = {
        "config": {k_: (str(v) if isinstance(v, Path) else v) for k_, v in vars(args).items()},
        "samples": {
            name: {"events": n_all[name], "in_sr": len(sr_tables[name]["mjj"])} for name in n_all
        },
        "classifier_auc_validation": auc,
        "edges": {v: e.tolist() for v, e in edges.items()},
        "flow": {"config": flow_config.to_dict(), "members": model.metadata["members"]},
        "amplification": {},
        "points": [],
    }
    for member in summary["flow"]["members"]:
        member.pop("history", None)

    def flow_units(variable: str, n_gen: int, n_equivalent: float | None):
        per = n_gen // k
        units = [
            unit_template(
                g[variable][g["position"] < per],
                edges[variable],
                per,
                n_equivalent=n_equivalent,
                label=f"flow N_gen={n_gen}",
            )
            for g in generated
        ]
        if k == 1:
            return units[0], None
        pooled, histosys = ensemble_histosys(units, f"flow N_gen={n_gen}", bootstrap=True)
        return pooled, histosys

    start = time.perf_counter()
    for variable in ("mjj", "score"):
        e = edges[variable]
        truth_u = unit_template(sr_tables["truth"][variable], e, n_all["truth"], label="MC (200k)")
        signal_u = unit_template(sr_tables["signal"][variable], e, n_all["signal"], label="signal")
        limited_u = unit_template(
            sr_tables["limited"][variable], e, n_all["limited"], label=f"limited MC ({n_train})"
        )
        # generator floor from the largest generated sample against the validation sample
        pooled_x = np.concatenate([g[variable] for g in generated])
        amp = amplification_factor(
            pooled_x, sr_tables["validation"][variable], len(sr_tables["limited"]["mjj"]), edges=e
        )
        summary["amplification"][variable] = amp.to_dict()
        for n_gen in args.generated_points:
            flow_u, _ = flow_units(variable, int(n_gen), amp.n_equivalent)
            summary.setdefault("template_fractions", {}).setdefault(variable, {})[
                str(int(n_gen))
            ] = flow_u.values.tolist()
        summary["template_fractions"][variable]["truth"] = truth_u.values.tolist()
        summary["template_fractions"][variable]["limited"] = limited_u.values.tolist()
        summary["template_fractions"][variable]["signal"] = signal_u.values.tolist()
        for beta in args.sys:
            for lumi in args.lumi_points:
                common = {"variable": variable, "sys": beta, "background_yield": lumi}

                def fit(
                    unit,
                    histosys=None,
                    common=common,
                    beta=beta,
                    lumi=lumi,
                    t=truth_u,
                    s=signal_u,
                    **extra,
                ):
                    try:
                        point = study_point(
                            t,
                            s,
                            unit,
                            background_yield=lumi,
                            sys=beta,
                            histosys=histosys,
                            kind="mc" if extra["template"] != "flow" else "amplified",
                        )
                    except Exception as err:  # recorded, the scan goes on
                        point = {"error": f"{type(err).__name__}: {err}"}
                    point.update(common, **extra)
                    summary["points"].append(point)
                    return point

                mc = fit(truth_u, template="mc")
                lim = fit(limited_u, template="limited")
                lim["delta_ul"] = (
                    limit_difference(lim, mc) if "ul_obs" in lim and "ul_obs" in mc else None
                )
                for n_gen in args.generated_points:
                    flow_u, histosys = flow_units(variable, int(n_gen), amp.n_equivalent)
                    point = fit(flow_u, histosys, template="flow", n_gen=int(n_gen))
                    ok = "ul_obs" in point and "ul_obs" in mc
                    point["delta_ul"] = limit_difference(point, mc) if ok else None
                print(
                    f"{variable} beta={beta} B={lumi:.0e}: MC mu={mc.get('mu_hat', np.nan):.3f} "
                    f"limited mu={lim.get('mu_hat', np.nan):.3f} flow pull="
                    f"{point.get('pull', np.nan):+.2f} dUL={point.get('delta_ul') or np.nan:.3f}",
                    flush=True,
                )
    timing["fits"] = time.perf_counter() - start
    timing["total"] = time.perf_counter() - wall
    summary["timing_s"] = timing
    write_json(summary, args.out / "amplification_study.json")
    summary["acceptance"] = acceptance(summary, args)
    write_json(summary, args.out / "amplification_study.json")
    paths = plots(summary, args, sr_tables, generated, edges, n_all)
    if args.images is not None:
        import shutil

        args.images.mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy(path, args.images / path.name)
    print(json.dumps({"acceptance": summary["acceptance"], "timing_s": timing}, indent=1))


def acceptance(summary: dict, args: argparse.Namespace) -> dict:
    """|pull| of the flow (largest N_gen) at every luminosity; Delta UL vs N_gen trend."""
    n_max = int(max(args.generated_points))
    out: dict = {}
    for variable in ("mjj", "score"):
        for beta in args.sys:
            flow = [
                p
                for p in summary["points"]
                if p["variable"] == variable and p["sys"] == beta and p["template"] == "flow"
            ]
            at_max = [p for p in flow if p["n_gen"] == n_max]
            pulls = [p.get("pull", float("nan")) for p in at_max]
            trend = {}
            for lumi in args.lumi_points:
                curve = [
                    float("nan") if p.get("delta_ul") is None else p["delta_ul"]
                    for p in sorted(flow, key=lambda q: q["n_gen"])
                    if p["background_yield"] == lumi
                ]
                trend[f"{lumi:.0e}"] = {
                    "delta_ul": curve,
                    "shrinks": bool(abs(curve[-1]) < abs(curve[0])),
                    "monotonic": bool(np.all(np.diff(np.abs(curve)) <= 1e-3)),
                }
            out[f"{variable}_sys{beta}"] = {
                "flow_pulls_at_max_n_gen": pulls,
                "all_below_0.3": bool(np.all(np.abs(pulls) < 0.3)),
                "limit_difference": trend,
            }
    return out


def plots(summary, args, sr_tables, generated, edges, n_all) -> list[Path]:
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    points = [p for p in summary["points"] if "mu_hat" in p]
    n_max = int(max(args.generated_points))
    labels = {"mjj": r"$m_{jj}$ in SR", "score": "classifier score in SR"}
    beta_ref = 0.1 if 0.1 in args.sys else args.sys[0]
    paths = []

    fig, axes = plt.subplots(1, 2, figsize=(18, 7.5))
    for ax, variable in zip(axes, ("mjj", "score"), strict=True):
        for template, colour, shift, label in (
            ("mc", "black", 0.96, "MC (200k) template"),
            ("limited", "tab:orange", 1.0, f"limited MC ({args.limited_mc})"),
            ("flow", "tab:blue", 1.04, f"flow, $N_{{gen}}$ = {n_max:.0e}"),
        ):
            sel = sorted(
                (
                    p
                    for p in points
                    if p["variable"] == variable
                    and p["sys"] == beta_ref
                    and p["template"] == template
                    and p.get("n_gen", n_max) == n_max
                ),
                key=lambda p: p["background_yield"],
            )
            x = np.array([p["background_yield"] for p in sel]) * shift
            y = np.array([p["mu_hat"] for p in sel])
            err = np.array([[p["mu_err_down"] for p in sel], [p["mu_err_up"] for p in sel]])
            ax.errorbar(x, y, yerr=err, fmt="o-", color=colour, capsize=4, label=label)
            if template == "flow":
                ax.fill_between(x, y - err[0], y + err[1], color=colour, alpha=0.15)
        ax.axhline(1.0, color="grey", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("background yield B in the fitted region (luminosity)")
        ax.set_ylabel(r"fitted $\hat\mu$")
        ax.set_title(rf"{labels[variable]}, S/B = 5%, $\beta$ = {beta_ref:.0%}", fontsize=16)
        ax.legend(fontsize=13)
    fig.tight_layout()
    paths.append(args.out / "amplification_mu_vs_lumi.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)

    lumis = sorted(args.lumi_points)
    fig, axes = plt.subplots(1, 2, figsize=(18, 7.5))
    colours = dict(zip(args.sys, ("tab:green", "tab:blue", "tab:red", "tab:purple"), strict=False))
    styles = dict(zip(lumis, ("-", "--", ":", "-."), strict=False))
    for ax, variable in zip(axes, ("mjj", "score"), strict=True):
        for beta in args.sys:
            for lumi in lumis:
                sel = sorted(
                    (
                        p
                        for p in points
                        if p["variable"] == variable
                        and p["sys"] == beta
                        and p["template"] == "flow"
                        and p["background_yield"] == lumi
                    ),
                    key=lambda p: p["n_gen"],
                )
                ax.plot(
                    [p["n_gen"] for p in sel],
                    [p["delta_ul"] for p in sel],
                    marker="o",
                    ls=styles.get(lumi, "-"),
                    color=colours.get(beta),
                    label=rf"$\beta$ = {beta:.0%}, B = {lumi:.0e}",
                )
        ax.axhline(0.0, color="grey", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel(r"generated events $N_{gen}$")
        ax.set_ylabel(r"$\Delta\mu_{UL} = \mu_{UL}^{flow} - \mu_{UL}^{MC}$")
        ax.set_title(labels[variable], fontsize=16)
        ax.legend(fontsize=11, ncol=2)
    fig.tight_layout()
    paths.append(args.out / "amplification_limit_difference.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)

    # the templates at the largest luminosity (cf. fig. 2 of the paper)
    fig, axes = plt.subplots(1, 2, figsize=(18, 7.5))
    fractions = summary["template_fractions"]
    for ax, variable in zip(axes, ("mjj", "score"), strict=True):
        e = np.asarray(edges[variable])
        x = np.arange(len(e)) if variable == "score" else e
        truth = np.asarray(fractions[variable]["truth"])
        scale = 1.0 / truth.sum()
        sig = np.asarray(fractions[variable]["signal"])
        sig = sig / sig.sum() * 0.05
        mplhep.histplot(
            np.asarray(fractions[variable][str(n_max)]) * scale,
            x,
            ax=ax,
            label=f"flow ($N_{{gen}}$ = {n_max:.0e})",
            histtype="fill",
            alpha=0.5,
        )
        mplhep.histplot(
            np.asarray(fractions[variable]["limited"]) * scale,
            x,
            ax=ax,
            label=f"limited MC ({args.limited_mc})",
            color="tab:orange",
        )
        mplhep.histplot(sig, x, ax=ax, label="signal (S/B = 5%)", color="tab:red")
        mplhep.histplot(
            truth * scale + sig,
            x,
            ax=ax,
            histtype="errorbar",
            color="black",
            label="Asimov data (MC 200k + signal)",
        )
        ax.set_yscale("log")
        ax.set_ylabel("fraction of B per bin")
        ax.set_xlabel(r"$m_{jj}$ [GeV]" if variable == "mjj" else "score bin (quantiles of MC)")
        ax.legend(fontsize=12)
    fig.tight_layout()
    paths.append(args.out / "amplification_templates.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    return paths


if __name__ == "__main__":
    main()
