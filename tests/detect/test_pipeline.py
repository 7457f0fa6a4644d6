"""End-to-end detection on toys with known truth; bad inputs give messages, not crashes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from detect_toys import concat, tiny_config, toy_background, toy_signal

from gbi.detect import load_classifier, run_detection, write_outputs
from gbi.schema import validate
from gbi.tables import subset


def test_supervised_and_cathode_find_injected_signal(toy_samples, tmp_path) -> None:
    sig = toy_samples["signal_pool"]
    data = concat(toy_samples["background"], subset(sig, np.arange(600)))
    result = run_detection(
        data,
        config=tiny_config(("cathode", "latent", "idealized", "supervised")),
        reference=toy_samples["reference"],
        signal=subset(sig, np.arange(600, 4000)),
        flow_dir=tmp_path / "flow",
    )
    methods = result.summary.methods
    assert methods["supervised"].evaluation["max_sic"] > 5
    assert methods["idealized"].evaluation["max_sic"] > 3
    assert methods["cathode"].evaluation["max_sic"] > 2
    assert methods["latent"].status in ("ok", "not_learned")
    # the cut keeping 1% of the background selects far more data than the estimate
    cut = next(c for c in methods["cathode"].cuts if c["label"] == "1%")
    assert cut["observed_sr"] > cut["estimate"] + 5 * cut["estimate_err"]
    written = write_outputs(result, tmp_path / "out")
    doc = json.loads(written["result"].read_text())
    validate(doc, "detect-result", "test")
    assert (tmp_path / "out" / "sic.png").stat().st_size > 1000
    saved = load_classifier(written["classifier_cathode"])
    assert set(saved.cuts) == {"10%", "1%", "0.1%"}
    scores = saved.score({k: v[:10] for k, v in data.items()})
    assert scores.shape == (10,)
    assert np.all((scores >= 0) & (scores <= 1))
    # SR data carries out-of-fold scores in the score column
    sr = result.scores["region"] == 1
    assert np.isfinite(result.scores["score_cathode"][sr]).all()
    h = result.hists["cathode/observed"]
    assert h["all", :].sum().value == pytest.approx(
        ((data["mjj"] >= h.axes[1].edges[0]) & (data["mjj"] < h.axes[1].edges[-1])).sum()
    )


def test_no_signal_no_bump(toy_samples) -> None:
    """N = 0: the selected mjj spectrum (SR + sidebands) matches the true background."""
    result = run_detection(
        toy_samples["background"],
        config=tiny_config(("cathode", "idealized")),
        reference=toy_samples["reference"],
    )
    for name in ("cathode", "idealized"):
        for cut in result.summary.methods[name].cuts[:2]:
            chi2 = cut["mjj_chi2"]
            assert chi2["p_value"] > 1e-3, (name, cut["label"], chi2)
            assert chi2["chi2_ndf"] < 2.0


def test_flow_ensemble_adds_generator_error(toy_samples) -> None:
    config = dataclasses.replace(tiny_config(("cathode",)), flow_ensemble=2)
    result = run_detection(toy_samples["background"], config=config)
    cuts = result.summary.methods["cathode"].cuts
    for cut in cuts:
        assert len(cut["estimate_members"]) == 2
        assert cut["estimate_err_generator"] > 0  # two bootstrap flows never agree exactly
        assert cut["estimate_err"] >= cut["estimate_err_generator"]
    # the members' estimates average to the mixture's (the weights average to 1)
    loose = cuts[0]
    assert np.mean(loose["estimate_members"]) == pytest.approx(loose["estimate"], rel=0.1)
    validate(json.loads(json.dumps(result.to_dict(), default=float)), "detect-result", "test")


def test_signal_region_with_too_few_events(toy_samples, tmp_path) -> None:
    data = toy_samples["background"]
    few = subset(
        data, ~((data["mjj"] >= 3300) & (data["mjj"] < 3700)) | (np.arange(len(data["mjj"])) < 200)
    )
    sr = (few["mjj"] >= 3300) & (few["mjj"] < 3700)
    assert 0 < sr.sum() < 100
    result = run_detection(
        few, config=tiny_config(("cathode", "idealized")), reference=toy_samples["reference"]
    )
    assert all(r.status == "skipped" for r in result.runs.values())
    assert any("too few to train" in m for m in result.summary.messages)
    assert np.isnan(result.scores["score_cathode"]).all()
    written = write_outputs(result, tmp_path)
    validate(json.loads(written["result"].read_text()), "detect-result", "test")


def test_no_sideband_events(toy_samples, tmp_path) -> None:
    data = toy_samples["background"]
    sr_only = subset(data, (data["mjj"] >= 3300) & (data["mjj"] < 3700))
    result = run_detection(
        sr_only, config=tiny_config(("cathode", "idealized")), reference=toy_samples["reference"]
    )
    assert result.runs["cathode"].status == "skipped"
    assert "sidebands hold 0" in result.runs["cathode"].message
    assert result.runs["idealized"].status in ("ok", "not_learned")
    write_outputs(result, tmp_path)


def test_classifier_that_cannot_learn() -> None:
    """The reference is a copy of the data: AUC ~ 0.5, reported, output still valid."""
    data = toy_background(12000, 11)
    ref = concat(data, data)  # both halves of the reference hold the data events
    result = run_detection(data, config=tiny_config(("idealized",)), reference=ref)
    run = result.runs["idealized"]
    assert run.status == "not_learned"
    assert "did not learn" in run.message
    assert any("did not learn" in m for m in result.summary.messages)


def test_missing_column_is_a_clear_error(toy_samples) -> None:
    from gbi.errors import GbiInputError

    data = {k: v for k, v in toy_samples["background"].items() if k != "tau21_j2"}
    with pytest.raises(GbiInputError, match="tau21_j2"):
        run_detection(data, config=tiny_config(("idealized",)))


def test_signal_toy_is_localized() -> None:
    s = toy_signal(1000, 0)
    assert ((s["mjj"] >= 3300) & (s["mjj"] < 3700)).mean() > 0.9


def test_mlp_classifier_family(toy_samples) -> None:
    """The torch MLP behind the same pipeline: the supervised toy detector separates well."""
    from gbi.classifiers import ClassifierConfig

    sig = toy_samples["signal_pool"]
    config = tiny_config(("supervised",))
    config = type(config)(
        methods=("supervised",),
        classifier=ClassifierConfig(
            kind="mlp", epochs=30, hidden=(32, 32), batch_size=128, lr=3e-3
        ),
        n_folds=2,
    )
    result = run_detection(
        toy_samples["background"],
        config=config,
        reference=subset(toy_samples["reference"], np.arange(8000)),
        signal=subset(sig, np.arange(2000)),
    )
    assert result.summary.methods["supervised"].evaluation["max_sic"] > 4
