"""The HTTP service, in-process: endpoints, protocols, errors, auth, metrics, hot swap."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import numpy as np
import polars as pl
import pytest
from conftest import make_frame

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

with warnings.catch_warnings():
    # Starlette asks for its next HTTP client; the one installed works the same
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient  # noqa: E402

import mlwf_core as mw  # noqa: E402
from mlwf_core.deploy import _server  # noqa: E402
from mlwf_core.deploy._backend import Backend, load_backend  # noqa: E402
from mlwf_core.deploy._server import make_app  # noqa: E402
from mlwf_core.exceptions import MlwfWarning, ParameterError  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Using `httpx` with `starlette.testclient` is deprecated"
)

RECORD = {"x1": 0.3, "x2": -0.2, "color": "red"}


def fit_tiny(frame: pl.DataFrame) -> mw.AutoModel:
    # on a busy machine two seconds may not cross-validate anything; the model is valid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MlwfWarning)
        return mw.fit_auto(frame, "y", time_budget=2, n_jobs=1, verbose=0)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    out = {}
    for task in ("binary", "regression"):
        frame = make_frame(n=300, task=task, seed=1)
        model = fit_tiny(frame)
        path = model.save(tmp / f"{task}.mlwf")
        out[task] = (model, path, frame)
    return out


@pytest.fixture(scope="module")
def client(models):
    _, path, _ = models["binary"]
    with TestClient(make_app(path)) as c:
        yield c


def _records(frame: pl.DataFrame, n: int) -> list[dict]:
    rows = frame.select("x1", "x2", "color").head(n).to_dicts()
    # JSON has no NaN: a missing value is null
    return [{k: None if v != v else v for k, v in r.items()} for r in rows]


# ---------------------------------------------------------------------- /predict
def test_predict_one_and_many_match_the_model(models, client):
    model, _, frame = models["binary"]
    one = client.post("/predict", json=RECORD)
    assert one.status_code == 200
    body = one.json()
    assert body["classes"] == ["no", "yes"]
    assert body["model_version"].startswith("sha256:") and body["request_id"]
    expected = model.predict_proba(pl.DataFrame([RECORD]))
    np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-6, atol=1e-9)
    assert body["predictions"] == list(model.predict(pl.DataFrame([RECORD])))

    records = _records(frame, 40)
    # missing values (null) and numbers sent as text are accepted, as in training data
    records[0]["x1"] = None
    records[1]["x2"] = str(records[1]["x2"])
    many = client.post("/predict", json=records).json()
    data = pl.DataFrame(
        {
            "x1": [r["x1"] for r in records],
            "x2": [float(r["x2"]) for r in records],
            "color": [r["color"] for r in records],
        }
    )
    np.testing.assert_allclose(
        many["probabilities"], model.predict_proba(data), rtol=1e-6, atol=1e-9
    )
    assert many["predictions"] == model.predict(data).tolist()
    assert len(set(many["ids"])) == 40 and many["ids"][0].startswith(many["request_id"])


def test_regression_and_automodel_engine(models):
    model, path, frame = models["regression"]
    records = _records(frame, 25)
    expected = model.predict(frame.head(25))
    for served in (path, model):  # the compiled scorer (when it loads) and the AutoModel
        c = TestClient(make_app(served))
        body = c.post("/predict", json=records).json()
        assert "probabilities" not in body
        np.testing.assert_allclose(body["predictions"], expected, rtol=1e-6, atol=1e-6)
    assert as_engine(model) == "automodel"


def as_engine(model) -> str:
    return TestClient(make_app(model)).get("/ready").json()["engine"]


class FakeScorer:
    """The compiled Scorer's interface over an AutoModel (exercises the scorer engine)."""

    def __init__(self, model: mw.AutoModel) -> None:
        self.model = model
        self.task = model.task_
        self.classes_ = model.classes_
        self.feature_names_ = model.features_
        self.calls = {"record": 0, "frame": 0}

    def predict(self, frame):
        self.calls["frame"] += 1
        return self.model.predict(frame)

    def predict_proba(self, data):
        if isinstance(data, dict):
            self.calls["record"] += 1
            return self.model.predict_proba(pl.DataFrame([data]))[0]
        self.calls["frame"] += 1
        return self.model.predict_proba(data)

    def predict_record(self, record):
        self.calls["record"] += 1
        return self.model.predict(pl.DataFrame([record]))[0]


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_scorer_engine(models, task):
    from mlwf_core.deploy._artifact import read_artifact

    model, path, frame = models[task]
    scorer = FakeScorer(model)
    backend = Backend(scorer, read_artifact(path).manifest, "v7", "m")
    assert backend.engine == "scorer"
    c = TestClient(make_app(backend))
    one = c.post("/predict", json=RECORD).json()
    many = c.post("/predict", json=_records(frame, 9)).json()
    assert scorer.calls == {"record": 1, "frame": 1}  # one record: the record path
    assert one["model_version"] == "v7"
    if task == "binary":
        np.testing.assert_allclose(
            one["probabilities"], model.predict_proba(pl.DataFrame([RECORD]))
        )
        np.testing.assert_allclose(many["probabilities"], model.predict_proba(frame.head(9)))
    else:
        np.testing.assert_allclose(one["predictions"], model.predict(pl.DataFrame([RECORD])))
        np.testing.assert_allclose(many["predictions"], model.predict(frame.head(9)))
    assert c.post("/predict", json={**RECORD, "x1": "abc"}).json()["field"] == "x1"
    # a scorer without a manifest: its feature names, values checked as JSON scalars
    bare = TestClient(make_app(scorer))
    assert bare.post("/predict", json=RECORD).status_code == 200
    r = bare.post("/predict", json={**RECORD, "color": {"a": 1}})
    assert r.status_code == 422 and r.json()["field"] == "color"


def test_fast_path_and_route_answer_the_same(models):
    _, path, frame = models["binary"]
    records = _records(frame, 5)
    bodies = [
        json.dumps(RECORD),
        json.dumps(records),
        '{"x1": "abc", "x2": 1, "color": "red"}',
        "{bad json",
        "[1, 2]",
        "",
    ]
    fast = TestClient(make_app(path, fast_path=True))
    slow = TestClient(make_app(path, fast_path=False))
    for body in bodies:
        a = fast.post("/predict", content=body, headers={"x-request-id": "r1"})
        b = slow.post("/predict", content=body, headers={"x-request-id": "r1"})
        assert a.status_code == b.status_code
        assert a.json() == b.json()


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        (b'{"x1": 1, "x2": ', 400, None, "Malformed JSON"),
        (b"", 400, None, "empty"),
        (b'"text"', 422, None, "JSON object"),
        (b"[1, 2]", 422, None, "Record 0"),
        (b'{"x1": "abc", "x2": 1, "color": "red"}', 422, "x1", "number"),
        (b'{"x1": 1, "x2": {"a": 1}, "color": "red"}', 422, "x2", "number"),
        (b'{"x1": 1, "x2": 2, "color": [1]}', 422, "color", "string"),
        (b'{"x2": 1, "color": "red"}', 422, "x1", "lacks the required field"),
        (b'[{"x1": 1, "x2": 2, "color": "red"}, {"x1": 1, "color": "red"}]', 422, "x2", "Record 1"),
    ],
)
def test_bad_requests_name_the_field(client, body, status, field, words):
    r = client.post("/predict", content=body)
    assert r.status_code == status
    detail = r.json()
    assert detail["field"] == field
    assert words in detail["detail"]


def test_body_size_limit(models):
    _, path, frame = models["binary"]
    c = TestClient(make_app(path, max_body_bytes=400, max_records=3))
    big = json.dumps(_records(frame, 10))
    r = c.post("/predict", content=big)
    assert r.status_code == 413 and "limit is 400 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(10):
            yield b" " * 50  # 500 bytes
        yield b"{}"

    assert c.post("/predict", content=chunks()).status_code == 413
    small = json.dumps(_records(frame, 4)).replace(" ", "")
    assert len(small) < 400
    r = c.post("/predict", content=small)
    assert r.status_code == 413 and "limit is 3" in r.json()["detail"]
    with pytest.raises(ParameterError, match="max_body_bytes"):
        make_app(path, max_body_bytes=0)


def test_explain(models):
    model, path, frame = models["binary"]
    c = TestClient(make_app(model))
    r = c.post("/explain", json=_records(frame, 6))
    assert r.status_code == 200
    body = r.json()
    proba = np.asarray(body["probabilities"])[:, 1]
    for contrib, p in zip(body["contributions"], proba, strict=True):
        assert set(contrib) == {*model.plan_.features, "base_value"}
        # TreeSHAP is additive: the contributions sum to the raw margin
        assert math.isclose(
            sum(contrib.values()), math.log(p / (1 - p)), rel_tol=1e-6, abs_tol=1e-6
        )
    served = load_backend(path)
    if served.engine == "scorer":
        # the compiled TreeSHAP, or the artifact's boosters when the scorer has none
        r = TestClient(make_app(path)).post("/explain", json=_records(frame, 6))
        for got, want in zip(r.json()["contributions"], body["contributions"], strict=True):
            assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    # a scorer without explanations and no artifact to fall back to says so: 501, not 500
    bare = Backend(FakeScorer(model), {}, "v1", "m")
    r = TestClient(make_app(bare)).post("/explain", json=RECORD)
    assert r.status_code == 501 and "explanations" in r.json()["detail"]

    class Explaining(FakeScorer):
        def explain_record(self, record):
            return {"x1": np.float32(record["x1"]), "base_value": 0.5}

    r = TestClient(make_app(Backend(Explaining(model), {}, "v1", "m"))).post(
        "/explain", json=[RECORD] * 2
    )
    assert r.json()["contributions"] == [{"x1": pytest.approx(0.3), "base_value": 0.5}] * 2


# ---------------------------------------------------------------------- information
def test_health_ready_metadata(models, client):
    model, _, _ = models["binary"]
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["ready"] is True
    meta = client.get("/metadata").json()
    assert meta["task"] == "binary" and meta["classes"] == ["no", "yes"]
    assert [c["name"] for c in meta["input_schema"]] == model.features_
    color = next(c for c in meta["input_schema"] if c["name"] == "color")
    assert color["kind"] == "categorical" and set(color["levels"]) == {"red", "green", "blue"}
    assert meta["metrics"]["cv_scores"] == pytest.approx(model.cv_scores_, nan_ok=True)
    assert meta["model_card"]["data_fingerprint"] == model.fingerprint_


def test_metrics_prometheus_text(models):
    _, path, frame = models["binary"]
    c = TestClient(make_app(path))
    for _ in range(3):
        c.post("/predict", json=RECORD)
    c.post("/predict", json=_records(frame, 30))
    c.post("/predict", content=b"{")
    text = c.get("/metrics").text
    assert 'mlwf_requests_total{route="/predict",method="POST",status="200"} 4' in text
    assert 'mlwf_requests_total{route="/predict",method="POST",status="400"} 1' in text
    assert 'mlwf_request_duration_seconds_bucket{route="/predict",le="+Inf"} 5' in text
    assert 'mlwf_request_duration_seconds_count{route="/predict"} 5' in text
    assert (
        'mlwf_batch_size_bucket{le="1"} 3' in text and 'mlwf_batch_size_bucket{le="50"} 4' in text
    )
    assert "mlwf_records_scored_total 33" in text
    # buckets are cumulative
    counts = [
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('mlwf_request_duration_seconds_bucket{route="/predict"')
    ]
    assert counts == sorted(counts)


# ---------------------------------------------------------------------- monitor
class FakeMonitor:
    window = 10

    def __init__(self) -> None:
        self.updates: list[tuple[pl.DataFrame, np.ndarray, list]] = []
        self.labels: list[tuple[list, list]] = []

    def update(self, frame, predictions=None, *, ids=None):
        self.updates.append((frame, np.asarray(predictions), list(ids)))
        return {}

    def feedback(self, ids, labels):
        self.labels.append((list(ids), list(labels)))
        return {"n": len(ids)}

    def status(self):
        n = sum(f.height for f, _, _ in self.updates)
        return {
            "verdict": "warning",
            "n_rows": n,
            "n_feedback": len(self.labels),
            "error_rate": 0.25,
        }

    def feature_table(self):
        return pl.DataFrame({"feature": ["x1", "color"], "psi": [0.31, 0.02], "js": [0.1, 0.01]})


def test_feedback_drift_and_metrics_through_the_monitor(models):
    model, path, frame = models["binary"]
    monitor = FakeMonitor()
    c = TestClient(make_app(path, monitor))
    first = c.post("/predict", json=RECORD).json()
    batch = c.post("/predict", json=_records(frame, 12)).json()
    r = c.post("/feedback", json={"request_id": first["request_id"], "label": "yes"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = c.post("/feedback", json={"ids": batch["ids"][:3], "labels": ["no", "yes", "no"]})
    assert r.status_code == 200
    # every scored row reached the monitor, with its id and positive-class score, before feedback
    frames = pl.concat([f for f, _, _ in monitor.updates])
    assert frames.height == 13 and frames.columns == ["x1", "x2", "color"]
    ids = [i for _, _, batch_ids in monitor.updates for i in batch_ids]
    assert ids == [first["request_id"], *batch["ids"]]
    scores = np.concatenate([s for _, s, _ in monitor.updates])
    np.testing.assert_allclose(scores[1:], np.asarray(batch["probabilities"])[:, 1])
    assert monitor.labels == [
        ([first["request_id"]], ["yes"]),
        (batch["ids"][:3], ["no", "yes", "no"]),
    ]
    drift = c.get("/drift").json()
    assert drift["verdict"] == "warning" and drift["features"][0]["feature"] == "x1"
    text = c.get("/metrics").text
    assert 'mlwf_drift_psi{feature="x1"} 0.31' in text
    assert "mlwf_drift_verdict 1" in text and "mlwf_feedback_error_rate 0.25" in text
    for bad in ({"request_id": 3, "label": 1}, {"ids": ["a"], "labels": []}, [1]):
        r = c.post("/feedback", json=bad)
        assert r.status_code == 422
    no_monitor = TestClient(make_app(path))
    assert no_monitor.get("/drift").status_code == 404
    assert no_monitor.post("/feedback", json={"request_id": "a", "label": 1}).status_code == 404


def test_real_drift_monitor(models):
    monitor_mod = pytest.importorskip("mlwf_core.monitor")
    model, path, frame = models["binary"]
    try:
        monitor = monitor_mod.DriftMonitor.from_model(model, window=50)
    except Exception as exc:  # the monitor is built by a peer; its API may still move
        pytest.skip(f"DriftMonitor.from_model unavailable: {exc}")
    c = TestClient(make_app(path, monitor))
    shifted = frame.with_columns(pl.col("x1") + 3.0)
    body = c.post("/predict", json=_records(shifted, 60)).json()
    labels = frame["y"].head(60).to_list()
    assert c.post("/feedback", json={"ids": body["ids"], "labels": labels}).status_code == 200
    drift = c.get("/drift")
    assert drift.status_code == 200
    assert drift.json()["n_rows"] >= 50
    assert 'mlwf_drift_psi{feature="x1"}' in c.get("/metrics").text


# ---------------------------------------------------------------------- auth
def test_api_key(models):
    _, path, _ = models["binary"]
    c = TestClient(make_app(path, api_key="s3cret"))
    assert c.post("/predict", json=RECORD).status_code == 401
    assert c.post("/predict", json=RECORD, headers={"x-api-key": "wrong"}).status_code == 401
    assert c.post("/predict", json=RECORD, headers={"x-api-key": "s3cret"}).status_code == 200
    assert (
        c.post("/predict", json=RECORD, headers={"authorization": "Bearer s3cret"}).status_code
        == 200
    )
    assert c.get("/metadata").status_code == 401
    assert c.get("/health").status_code == 200 and c.get("/v2/health/ready").status_code == 200


# ---------------------------------------------------------------------- protocols
def test_open_inference_protocol_v2(models):
    model, path, frame = models["binary"]
    c = TestClient(make_app(path))
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").json() == {"ready": True}
    meta = c.get(f"/v2/models/{path.stem}").json()
    assert meta["name"] == path.stem and [i["name"] for i in meta["inputs"]] == [
        "x1",
        "x2",
        "color",
    ]
    assert c.get("/v2/models/nope").status_code == 404
    version = meta["versions"][0]
    assert c.get(f"/v2/models/{path.stem}/versions/{version}").json() == meta
    assert c.get(f"/v2/models/{path.stem}/versions/0").json()["field"] == "version"
    rows = frame.head(4)
    inputs = [
        {
            "name": "x1",
            "shape": [4],
            "datatype": "FP64",
            "data": [None if v != v else v for v in rows["x1"].to_list()],
        },
        {
            "name": "x2",
            "shape": [4, 1],
            "datatype": "FP64",
            "data": [[v] for v in rows["x2"].to_list()],
        },
        {"name": "color", "shape": [4], "datatype": "BYTES", "data": rows["color"].to_list()},
    ]
    r = c.post(f"/v2/models/{path.stem}/infer", json={"id": "q1", "inputs": inputs})
    assert r.status_code == 200
    versioned = c.post(
        f"/v2/models/{path.stem}/versions/{version}/infer", json={"id": "q1", "inputs": inputs}
    )
    assert versioned.json() == r.json()
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert r.json()["id"] == "q1"
    assert out["predict"]["data"] == model.predict(rows).tolist()
    proba = np.asarray(out["predict_proba"]["data"]).reshape(out["predict_proba"]["shape"])
    np.testing.assert_allclose(proba, model.predict_proba(rows), rtol=1e-6, atol=1e-9)
    # one [n, k] tensor of every column in model order
    matrix = {"name": "input-0", "shape": [1, 3], "datatype": "BYTES", "data": [[0.3, -0.2, "red"]]}
    r = c.post(
        f"/v2/models/{path.stem}/infer",
        json={"inputs": [matrix], "outputs": [{"name": "predict_proba"}]},
    )
    assert [o["name"] for o in r.json()["outputs"]] == ["predict_proba"]
    bad = [
        ({"inputs": []}, "inputs"),
        ({"inputs": [{**inputs[0], "shape": [5]}]}, "inputs[0].data"),
        ({"inputs": [{**inputs[0], "datatype": "FP128"}]}, "inputs[0].datatype"),
        ({"inputs": inputs[:2]}, "color"),
        ({"inputs": [{**matrix, "shape": [1, 2], "data": [1, 2]}]}, "inputs[0].shape"),
    ]
    for payload, field in bad:
        r = c.post(f"/v2/models/{path.stem}/infer", json=payload)
        assert r.status_code == 422 and r.json()["field"] == field


def test_mlflow_invocations(models):
    model, path, frame = models["binary"]
    c = TestClient(make_app(path))
    assert c.get("/ping").status_code == 200
    rows = frame.head(3).select("x1", "x2", "color")
    expected = model.predict(rows).tolist()
    split = {"columns": rows.columns, "data": [list(r) for r in rows.iter_rows()]}
    split["data"] = [
        [None if isinstance(v, float) and v != v else v for v in r] for r in split["data"]
    ]
    assert c.post("/invocations", json={"dataframe_split": split}).json() == {
        "predictions": expected
    }
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in rows.to_dicts()
    ]
    assert (
        c.post("/invocations", json={"dataframe_records": records}).json()["predictions"]
        == expected
    )
    csv = rows.write_csv().encode()
    r = c.post("/invocations", content=csv, headers={"content-type": "text/csv"})
    assert r.json()["predictions"] == expected
    assert (
        c.post(
            "/invocations", json={"dataframe_split": {"columns": ["x1"], "data": [[1, 2]]}}
        ).status_code
        == 422
    )
    assert c.post("/invocations", json={"nothing": 1}).status_code == 422
    assert (
        c.post("/invocations", content=b"x", headers={"content-type": "image/png"}).status_code
        == 415
    )


# ---------------------------------------------------------------------- hot swap
class SlowBackend(Backend):
    """A real backend whose scoring takes a while, to hold requests in flight."""

    delay = 0.3

    def predict_records(self, records):
        time.sleep(self.delay)
        return super().predict_records(records)


def _variant(path, tmp_path, seed):
    """A different (content-hashed) artifact of the same model."""
    from mlwf_core.deploy._artifact import read_artifact, write_artifact

    art = read_artifact(path)
    manifest = {
        k: v for k, v in art.manifest.items() if k not in ("format", "format_version", "checksums")
    }
    manifest["seed"] = seed
    files = dict(art.files)
    return write_artifact(tmp_path / f"variant{seed}.mlwf", manifest, files, art.arrays)


def test_reload_swaps_without_dropping_requests(models, tmp_path, monkeypatch):
    from mlwf_core.registry import Registry

    _, path, _ = models["binary"]
    reg = Registry(tmp_path / "reg.db")
    v1 = reg.register(path, "churn")
    v2 = reg.register(_variant(path, tmp_path, 7), "churn")
    reg.set_alias("churn", "champion", v1)
    app = make_app("churn@champion", registry=reg)
    state = app.state.mlwf
    assert state.backend.version == "churn@1"
    old = state.backend
    state.backend = SlowBackend(old.model, old.manifest, old.version, old.name)
    monkeypatch.setattr(_server, "_INLINE_ROWS", 0)  # score in a worker thread

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            in_flight = [
                asyncio.create_task(client.post("/predict", json=[RECORD])) for _ in range(5)
            ]
            await asyncio.sleep(0.1)
            reg.set_alias("churn", "champion", v2)
            swap = await client.post("/admin/reload", json={})
            after = await client.post("/predict", json=RECORD)
            return await asyncio.gather(*in_flight), swap, after

    done, swap, after = asyncio.run(scenario())
    assert all(r.status_code == 200 for r in done)
    # requests that started before the swap finish on the model they started with
    assert {r.json()["model_version"] for r in done} == {"churn@1"}
    assert swap.json() == {
        "previous_version": "churn@1",
        "version": "churn@2",
        "name": "churn",
        "engine": old.engine,
    }
    assert after.json()["model_version"] == "churn@2"
    c = TestClient(app)
    assert c.post("/admin/reload", json={"model": "churn@9"}).status_code == 404
    assert c.post("/admin/reload", json={"model": "churn@1"}).json()["version"] == "churn@1"
    assert (
        TestClient(make_app(path)).post("/admin/reload", json={"model": "x@1"}).status_code == 409
    )


def test_registry_alias_watch(models, tmp_path):
    from mlwf_core.registry import Registry

    _, path, _ = models["binary"]
    reg = Registry(tmp_path / "reg.db")
    v1 = reg.register(path, "m")
    v2 = reg.register(_variant(path, tmp_path, 3), "m")
    reg.set_alias("m", "champion", v1)
    with TestClient(make_app("m@champion", registry=reg, watch_seconds=0.05)) as c:
        assert c.get("/ready").json()["model_version"] == "m@1"
        reg.set_alias("m", "champion", v2)
        deadline = time.monotonic() + 10
        while c.get("/ready").json()["model_version"] != "m@2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/ready").json()["model_version"] == "m@2"
        assert "mlwf_model_reloads_total 1" in c.get("/metrics").text


# ---------------------------------------------------------------------- fuzz
def test_generated_json_never_gets_a_server_error(client):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )
    records = st.fixed_dictionaries({"x1": values, "x2": values, "color": values})
    bodies = records | st.lists(records, max_size=3) | values

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        body=bodies,
        path=st.sampled_from(
            ["/predict", "/invocations", "/explain", "/feedback", "/v2/models/binary/infer"]
        ),
    )
    def check(body, path):
        r = client.post(path, content=json.dumps(body))
        # 501: the compiled scorer has no explanations (asked for, not a failure)
        assert r.status_code < 500 or (r.status_code == 501 and path == "/explain"), (
            path,
            body,
            r.text,
        )

    check()


def test_schemathesis_finds_no_server_error(models):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, settings

    _, path, _ = models["binary"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(path))
    deadline = time.monotonic() + 15
    seen = []
    operations = [operation.ok() for operation in schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:

        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @_given_case(op)
        def check(case):
            if time.monotonic() > deadline:
                return
            response = case.call()
            seen.append(response.status_code)
            ok = response.status_code < 500 or (
                response.status_code == 501 and case.path == "/explain"
            )
            assert ok, (case.method, case.path, case.body, response.text)

        check()
    # bounded in time: on a busy machine fewer examples run, but every operation is hit
    assert len(seen) >= len(operations)


def _given_case(op):
    from hypothesis import given

    return given(case=op.as_strategy())


# ---------------------------------------------------------------------- runner
def test_serve_command_errors(tmp_path, capsys):
    from mlwf_core.cli import main

    assert main(["serve", str(tmp_path / "missing.mlwf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    with pytest.raises(ParameterError, match="workers"):
        _server.serve(tmp_path / "m.mlwf", workers=0)


def test_app_from_config_and_env(models, tmp_path, monkeypatch):
    _, path, _ = models["binary"]
    from mlwf_core.registry import Registry

    reg = Registry(tmp_path / "r.db")
    reg.set_alias("m", "champion", reg.register(path, "m"))
    config = {
        "model": "m@champion",
        "registry": str(tmp_path / "r.db"),
        "api_key": "k",
        "monitor": False,
    }
    # what each uvicorn worker process builds when serving with --workers > 1
    monkeypatch.setenv(_server._CONFIG_ENV, json.dumps(config))
    c = TestClient(_server._app_from_env())
    r = c.post("/predict", json=RECORD, headers={"x-api-key": "k"})
    assert r.status_code == 200 and r.json()["model_version"] == "m@1"
    monitor_mod = pytest.importorskip("mlwf_core.monitor")
    state = _server._app_from_config({"model": str(path), "monitor": True}).state.mlwf
    # the runner attaches a drift monitor built from the artifact's training profile
    assert isinstance(state.monitor, monitor_mod.DriftMonitor)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_mlwf_serve_process(models, tmp_path):
    pytest.importorskip("uvicorn")
    _, path, _ = models["binary"]
    port = _free_port()
    env = {"MLWF_API_KEY": "k", "PATH": "/usr/bin:/bin"}
    import os

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlwf_core.cli",
            "serve",
            str(path),
            "--port",
            str(port),
            "--no-monitor",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 45
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        req = urllib.request.Request(
            f"{url}/predict", data=json.dumps(RECORD).encode(), headers={"X-API-Key": "k"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["predictions"] in (["yes"], ["no"])
        req = urllib.request.Request(f"{url}/predict", data=json.dumps(RECORD).encode())
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req, timeout=5)
        assert exc.value.code == 401
        exc.value.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_cli_parser_stays_light():
    code = (
        "import sys\n"
        "from mlwf_core.cli import _build_parser\n"
        "_build_parser()\n"
        "heavy = {'fastapi', 'uvicorn', 'numpy', 'polars', 'lightgbm'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
