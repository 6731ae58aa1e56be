from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import make_frame

import mlwf_core as mw
from mlwf_core.cli import main
from mlwf_core.monitor import DriftMonitor, ReferenceProfile


def _same(a, b) -> bool:
    # NaN-aware equality of JSON-able states
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.fixture(scope="module")
def model():
    return mw.fit_auto(
        make_frame(n=2000, seed=1), "y", n_trials=4, time_budget=120, verbose=0, n_jobs=1
    )


@pytest.fixture(scope="module")
def fresh():
    # same distribution as training, new draw
    return make_frame(n=1000, seed=2)


def test_reference_profile_is_stored(model, tmp_path):
    ref = model.reference_
    x1 = next(f for f in ref.features if f.name == "x1")
    assert x1.kind == "numeric" and len(x1.probs) >= 90
    assert x1.missing_rate == pytest.approx(0.1, abs=0.03)
    color = next(f for f in ref.features if f.name == "color")
    assert sorted(color.levels) == ["blue", "green", "red"] and len(color.probs) == 4
    assert ref.score is not None and ref.pca is not None
    loaded = mw.load(model.save(tmp_path / "m.mlwf"))
    assert _same(loaded.reference_.to_dict(), ref.to_dict())
    assert _same(ReferenceProfile.from_dict(ref.to_dict()).to_dict(), ref.to_dict())


def test_no_drift_on_same_distribution(model, fresh):
    monitor = model.monitor()
    monitor.update(fresh.drop("y"), model.predict_proba(fresh))
    status = monitor.status()
    assert status["verdict"] == "ok", status
    assert status["drifted"] == []


def test_shift_is_detected_and_ranked(model, fresh):
    monitor = model.monitor()
    shifted = fresh.with_columns(pl.col("x1") + 1.5, pl.col("x2") * 0.9)
    report = monitor.update(shifted.drop("y"), model.predict_proba(shifted))
    status = monitor.status()
    assert status["verdict"] == "drift"
    assert status["drifted"][0]["feature"] == "x1"
    x1 = next(r for r in report["features"] if r["feature"] == "x1")
    assert x1["psi"] > x1["threshold_drift"] and x1["wasserstein"] > 0.5
    assert report["prediction"]["verdict"] in ("warning", "drift")
    assert report["multivariate"]["verdict"] == "drift"


def test_data_quality_alerts_and_cooldown(model, fresh):
    monitor = model.monitor(cooldown=3600)
    bad = fresh.with_columns(
        pl.when(pl.col("id") % 2 == 0).then(None).otherwise(pl.col("x2")).alias("x2"),
        pl.when(pl.col("id") % 3 == 0)
        .then(pl.lit("purple"))
        .otherwise(pl.col("color"))
        .alias("color"),
        (pl.col("x1") * 100).alias("x1"),
    )
    report = monitor.update(bad.drop("y"))
    kinds = {(a["kind"], a["feature"]) for a in report["alerts"]}
    assert ("missing_rate", "x2") in kinds
    assert ("unseen_categories", "color") in kinds
    assert ("out_of_range", "x1") in kinds
    again = monitor.update(bad.drop("y"))
    assert all(a["repeated"] for a in again["alerts"])
    assert monitor.status()["alerts"] == []
    schema = monitor.update(fresh.drop("y", "x2"))
    assert any(a["kind"] == "schema" and a["feature"] == "x2" for a in schema["alerts"])
    assert monitor.status()["verdict"] == "drift"


def test_streaming_update_one_and_feedback_concept_drift(model, fresh):
    monitor = model.monitor(window=200)
    rows = fresh.drop("y").to_dicts()
    proba = model.predict_proba(fresh)
    reports = [monitor.update_one(r, proba[i].tolist(), id=i) for i, r in enumerate(rows)]
    assert sum(r is not None for r in reports) == 5
    truth = fresh["y"].to_list()
    # labels that agree with the model first, then labels flipped: the error stream jumps
    n = len(truth)
    flipped = [("no" if t == "yes" else "yes") if i > n // 2 else t for i, t in enumerate(truth)]
    out = monitor.feedback(range(n), flipped)
    assert out["matched"] == n and out["unknown"] == 0
    status = monitor.status()
    assert status["concept_drift"] is True and status["verdict"] == "drift"
    assert monitor.accuracy_history[-1]["n"] == n


def test_state_roundtrip_resumes(model, fresh, tmp_path):
    monitor = model.monitor()
    monitor.update(fresh.drop("y"), model.predict_proba(fresh), ids=range(fresh.height))
    monitor.feedback(range(100), fresh["y"].head(100).to_list())
    path = monitor.save(tmp_path / "monitor.json")
    restored = DriftMonitor.load(path)
    assert _same(restored.to_dict(), monitor.to_dict())
    a = monitor.feedback(range(100, 300), fresh["y"][100:300].to_list())
    b = restored.feedback(range(100, 300), fresh["y"][100:300].to_list())
    assert a == b
    assert restored.status()["error_rate"] == monitor.status()["error_rate"]


def test_thresholds_are_calibrated_not_raw(model):
    monitor = model.monitor()
    ref = next(f for f in model.reference_.features if f.name == "x1")
    small = monitor._threshold(ref, 100)
    large = monitor._threshold(ref, 100_000)
    # sampling noise shrinks with batch size, and so do the thresholds
    assert small[0] > 10 * large[0]
    assert small[1] > small[0]


def test_monitor_cli_exit_codes(model, fresh, tmp_path, capsys):
    path = model.save(tmp_path / "m.mlwf")
    same = tmp_path / "same.csv"
    fresh.write_csv(same)
    shifted = tmp_path / "shifted.csv"
    fresh.with_columns(pl.col("x1") + 3).write_csv(shifted)
    assert main(["monitor", str(path), str(same), "--labels", "y"]) == 0
    assert "verdict: OK" in capsys.readouterr().out
    state = tmp_path / "state.json"
    assert main(["monitor", str(path), str(shifted), "--state", str(state)]) == 1
    assert "verdict: DRIFT" in capsys.readouterr().out
    assert state.exists()


def test_retrain_keeps_the_better_model(tmp_path):
    old = make_frame(n=600, seed=11)
    champion = mw.fit_auto(old, "y", n_trials=4, time_budget=30, verbose=0, n_jobs=1)
    # the world changed: the colour effect flipped sign
    rng = np.random.default_rng(12)
    new = make_frame(n=800, seed=12)
    signal = (
        new["x1"].fill_null(0).to_numpy()
        - 2.0 * (new["color"] == "red").to_numpy()
        + 0.2 * rng.normal(size=800)
    )
    new = new.with_columns(pl.Series("y", np.where(signal > 0.0, "yes", "no")))
    winner = mw.retrain(champion, new, n_trials=4, time_budget=120, n_jobs=1)
    record = winner.lineage_["retrains"][-1]
    assert record["decision"] == "challenger" and winner is not champion
    assert record["challenger_score"] > record["champion_score"]
    assert winner.lineage_["parent"]["data_fingerprint"] == champion.fingerprint_
    loaded = mw.load(winner.save(tmp_path / "w.mlwf"))
    assert loaded.lineage_["retrains"][-1]["decision"] == "challenger"
    # warm start: the champion's best configurations are evaluated before any other
    first = winner.leaderboard.filter(pl.col("trial").is_between(0, 3))["params"].to_list()
    done = champion.leaderboard.filter((pl.col("trial") >= 0) & (pl.col("state") == "complete"))
    best = done.sort("cv_score", descending=True)["params"][0]
    assert best in first
