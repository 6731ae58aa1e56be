"""The HTTP service: a pure :func:`make_app` factory and the blocking :func:`serve` runner.

Endpoints (JSON unless said otherwise):

- ``POST /predict``: one record (object) or a list of records; predictions, class
  probabilities, the model version and a request id. ``POST /explain``: the same plus
  per-feature contributions. ``POST /feedback``: labels by request id for the drift monitor.
- ``GET /health``, ``GET /ready``, ``GET /metadata``, ``GET /drift``, ``GET /metrics``
  (Prometheus text format).
- Open Inference Protocol v2 (KServe, Seldon, Triton clients): ``GET /v2``,
  ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2/models/{name}``,
  ``GET /v2/models/{name}/ready``, ``POST /v2/models/{name}/infer``.
- MLflow scoring protocol: ``POST /invocations`` (``dataframe_split``,
  ``dataframe_records``, ``instances``, or ``text/csv``).
- ``POST /admin/reload``: swap to another model version (from the registry) without
  dropping in-flight requests; the model reference is swapped in one assignment and a
  request keeps the model it started with.

Bodies are parsed by the service itself, so that every bad request gets a 4xx that
names the field: malformed JSON (400), a body over ``max_body_bytes`` (413), a wrong
type or a missing column (422). FastAPI and uvicorn are imported by :func:`make_app`
and :func:`serve`, never at ``import mlwf_core``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlwf_core._compat import import_optional
from mlwf_core.deploy._http import (
    OIP_INFER_SCHEMA,
    ApiError,
    _authorised,
    _body_doc,
    _drift_snapshot,
    _dumps,
    _feedback_of,
    _Metrics,
    _mlflow_csv,
    _mlflow_records,
    _mlflow_schema,
    _MonitorFeed,
    _oip_datatype,
    _oip_records,
    _parse_json,
    _plain,
    _receive_body,
    _record_schema,
    _records_of,
    _scores,
    _send_json,
)
from mlwf_core.exceptions import MlwfError, ParameterError

if TYPE_CHECKING:
    from mlwf_core.deploy._backend import Backend

# numpy, Polars and the backends load with the app, not with the CLI parser

__all__ = ["DEFAULT_MAX_BODY_BYTES", "add_serve_command", "make_app", "serve"]

log = logging.getLogger("mlwf.serve")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Requests with at most this many records are scored on the event loop by the compiled
#: scorer (microseconds); larger ones, and every request to the slower AutoModel engine,
#: in a worker thread, so the loop keeps serving.
_INLINE_ROWS = 64
# liveness and readiness probes stay open when an API key is set
_PUBLIC_PATHS = frozenset({"/health", "/ready", "/ping", "/v2/health/live", "/v2/health/ready"})


# ---------------------------------------------------------------------- state
class _State:
    def __init__(
        self,
        backend: Backend,
        monitor: Any,
        *,
        api_key: str | None,
        max_body_bytes: int,
        max_records: int,
        registry: Any,
        model_name: str | None,
        source: str | None,
    ) -> None:
        self.backend = backend
        self.monitor = monitor
        self.feed = (
            _MonitorFeed(monitor, getattr(monitor, "window", 500)) if monitor is not None else None
        )
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records
        self.registry = registry
        self.model_name = model_name
        self.source = source
        self.metrics = _Metrics()
        self.reload_lock = threading.Lock()

    def reload(self, ref: str | None) -> dict[str, Any]:
        """Load another version and swap it in; requests in flight keep the old one."""
        with self.reload_lock:
            previous = self.backend
            if self.registry is not None:
                target = ref or self.model_name
                if not target:
                    raise ApiError(422, 'Name the model to load: {"model": "name@alias"}.', "model")
                backend = _registry_backend(self.registry, target)
                self.model_name = target
            elif ref is not None:
                raise ApiError(
                    409,
                    "This service has no registry; it can only reload its own artifact "
                    "(send an empty body).",
                    "model",
                )
            elif self.source is not None:
                from mlwf_core.deploy._backend import load_backend

                backend = load_backend(self.source)
            else:
                raise ApiError(
                    409, "This service was built from an in-memory model and has nothing to reload."
                )
            self.backend = backend  # one assignment: atomic for the requests that follow
            self.metrics.reloads += 1
            return {
                "previous_version": previous.version,
                "version": backend.version,
                "name": backend.name,
                "engine": backend.engine,
            }


def _registry_backend(registry: Any, ref: str) -> Backend:
    from mlwf_core.deploy._backend import load_backend
    from mlwf_core.exceptions import DataError

    try:
        name, version = registry.resolve(ref)
        path = registry.fetch(ref)
    except DataError as exc:
        raise ApiError(404, str(exc), "model") from exc
    return load_backend(path, version=f"{name}@{version}", name=name)


# ---------------------------------------------------------------------- helpers
async def _body(request: Any, state: _State) -> bytes:
    length = request.headers.get("content-length")
    raw = length.encode("latin-1") if length is not None else None
    return await _receive_body(request.receive, raw, state.max_body_bytes)


async def _score(state: _State, records: list[Any], backend: Backend) -> tuple[list[Any], Any]:
    if len(records) > state.max_records:
        raise ApiError(
            413, f"The request holds {len(records)} records; the limit is {state.max_records}."
        )
    if len(records) <= _INLINE_ROWS and backend.engine == "scorer":
        result = _predict(backend, records)
    else:
        import anyio

        result = await anyio.to_thread.run_sync(_predict, backend, records)
    state.metrics.observe_batch(len(records))
    return result


def _predict(backend: Backend, records: list[Any]) -> tuple[list[Any], Any]:
    from mlwf_core.deploy._backend import RecordError

    try:
        return backend.predict_records(records)
    except RecordError as exc:
        raise ApiError(422, str(exc), exc.field) from exc
    except MlwfError as exc:
        raise ApiError(422, str(exc)) from exc


# request ids: a random per-process prefix and a counter (unique, and cheaper than uuid4)
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def _request_id(given: str | None) -> str:
    if given and len(given) <= 128 and given.isprintable():
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


async def _predict_payload(state: _State, body: bytes, given_id: str | None) -> dict[str, Any]:
    """The answer of ``POST /predict`` (shared by the route and the fast path)."""
    records, _ = _records_of(_parse_json(body))
    current = state.backend  # the model this request is answered with, even across a swap
    predictions, proba = await _score(state, records, current)
    rid = _request_id(given_id)
    ids = [rid] if len(records) == 1 else [f"{rid}:{i}" for i in range(len(records))]
    out: dict[str, Any] = {
        "request_id": rid,
        "model_version": current.version,
        "predictions": predictions,
    }
    if proba is not None:
        out["classes"] = current.classes
        out["probabilities"] = proba
    if len(records) > 1:
        out["ids"] = ids
    if state.feed is not None and records:
        state.feed.add(current, records, _scores(current, predictions, proba), ids)
    return out


# ---------------------------------------------------------------------- app
def make_app(
    scorer: Any,
    monitor: Any = None,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_records: int = 100_000,
    registry: Any = None,
    model_name: str | None = None,
    watch_seconds: float | None = None,
    fast_path: bool = True,
) -> Any:
    """Build the FastAPI application serving a model (no server is started).

    Parameters
    ----------
    scorer
        What to serve: a :class:`~mlwf_core.deploy.Scorer`, an
        :class:`~mlwf_core.automl.AutoModel`, the path of a ``.mlwf`` artifact, or a
        registry reference ``"name@alias"`` when ``registry`` is given.
    monitor
        A :class:`~mlwf_core.monitor.DriftMonitor` (anything with ``update``,
        ``feedback`` and ``status``); enables ``/feedback``, ``/drift`` and the drift
        gauges of ``/metrics``.
    api_key
        When set, every endpoint but the health probes needs the header
        ``X-API-Key: <key>`` (or ``Authorization: Bearer <key>``).
    max_body_bytes
        Larger request bodies are refused with 413.
    max_records
        Largest number of records in one request.
    registry
        A :class:`~mlwf_core.registry.Registry`, for ``/admin/reload`` and ``watch_seconds``.
    model_name
        The registry reference served, e.g. ``"churn@champion"`` (reloaded by default).
    watch_seconds
        With a registry, check every this many seconds whether ``model_name``'s alias
        moved and swap to the new version when it did.
    fast_path
        Answer ``POST /predict`` in the ASGI middleware, bypassing the framework's
        routing (same code and responses, lower latency).

    Returns
    -------
    fastapi.FastAPI
        The application; serve it with any ASGI server or test it in-process.
    """
    fastapi = import_optional("fastapi", "serve")
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    from mlwf_core.deploy._backend import RecordError, as_backend

    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 1
    ):
        raise ParameterError(
            "The 'max_body_bytes' parameter of make_app must be a positive integer. "
            f"Got {max_body_bytes!r} instead."
        )
    if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
        raise ParameterError(
            "The 'max_records' parameter of make_app must be a positive integer. "
            f"Got {max_records!r} instead."
        )
    if api_key is not None and (not isinstance(api_key, str) or not api_key):
        raise ParameterError(
            f"The 'api_key' parameter of make_app must be a non-empty string or None. Got {api_key!r} instead."
        )
    source = None
    if registry is not None and isinstance(scorer, str) and not Path(scorer).is_file():
        model_name = model_name or scorer
        backend = _registry_backend_or_raise(registry, scorer)
    else:
        if isinstance(scorer, (str, os.PathLike)):
            source = str(scorer)
        backend = as_backend(scorer, name=model_name.split("@")[0] if model_name else None)
    state = _State(
        backend,
        monitor,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        max_records=max_records,
        registry=registry,
        model_name=model_name,
        source=source,
    )

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        import asyncio

        task = None
        if watch_seconds and registry is not None and state.model_name:
            task = asyncio.create_task(_watch(state, float(watch_seconds)))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    from mlwf_core import __version__

    app = fastapi.FastAPI(
        title="mlwf model service",
        version=__version__,
        description="Predictions, explanations, monitoring and the Open Inference Protocol v2 "
        "for an mlwf model.",
        lifespan=lifespan,
    )
    app.state.mlwf = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Any:
        return JSONResponse({"detail": exc.detail, "field": exc.field}, status_code=exc.status)

    @app.exception_handler(MlwfError)
    async def _mlwf_error(request: Request, exc: MlwfError) -> Any:
        return JSONResponse({"detail": str(exc), "field": None}, status_code=422)

    def typed(endpoint: Any) -> Any:
        # annotations are strings here (PEP 563) and Request is not a module global
        endpoint.__annotations__["request"] = Request
        return endpoint

    def ok(obj: Any, status: int = 200) -> Any:
        return Response(content=_dumps(obj), media_type="application/json", status_code=status)

    record_schema = _record_schema(backend)
    records_schema = {"oneOf": [record_schema, {"type": "array", "items": record_schema}]}

    # ------------------------------------------------------------ scoring
    @app.post(
        "/predict",
        summary="Predict one record or a list of records",
        openapi_extra=_body_doc(records_schema, "One record (object) or an array of records."),
        responses={400: {}, 401: {}, 413: {}, 422: {}},
    )
    @typed
    async def predict(request: Request) -> Any:
        body = await _body(request, state)
        return ok(await _predict_payload(state, body, request.headers.get("x-request-id")))

    @app.post(
        "/explain",
        summary="Predictions with per-feature contributions (TreeSHAP)",
        openapi_extra=_body_doc(records_schema, "One record (object) or an array of records."),
        responses={400: {}, 413: {}, 422: {}, 501: {}},
    )
    @typed
    async def explain(request: Request) -> Any:
        records, _ = _records_of(_parse_json(await _body(request, state)))
        current = state.backend
        if not current.can_explain:
            raise ApiError(
                501,
                f"The {current.engine} engine serving this model has no explanations yet; "
                "serve it with the AutoModel engine or a newer mlwf for /explain.",
            )
        if len(records) > min(state.max_records, 10_000):
            raise ApiError(413, "Explain at most 10000 records per request.")
        import anyio

        def run() -> tuple[Any, Any, Any]:
            try:
                predictions, proba = current.predict_records(records)
                return predictions, proba, current.explain_records(records)
            except RecordError as exc:
                raise ApiError(422, str(exc), exc.field) from exc
            except MlwfError as exc:
                raise ApiError(422, str(exc)) from exc

        predictions, proba, contributions = await anyio.to_thread.run_sync(run)
        out = {
            "request_id": _request_id(request.headers.get("x-request-id")),
            "model_version": current.version,
            "predictions": predictions,
            "contributions": contributions,
        }
        if proba is not None:
            out["classes"] = current.classes
            out["probabilities"] = proba
        return ok(out)

    @app.post(
        "/feedback",
        summary="True labels of earlier predictions, by request id",
        openapi_extra=_body_doc(
            {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"request_id": {"type": "string"}, "label": {}},
                        "required": ["request_id", "label"],
                    },
                    {
                        "type": "object",
                        "properties": {
                            "ids": {"type": "array", "items": {"type": "string"}},
                            "labels": {"type": "array"},
                        },
                        "required": ["ids", "labels"],
                    },
                ]
            },
            "{request_id, label} or {ids: [...], labels: [...]}.",
        ),
        responses={400: {}, 422: {}, 501: {}},
    )
    @typed
    async def feedback(request: Request) -> Any:
        payload = _parse_json(await _body(request, state))
        if state.feed is None:
            raise ApiError(
                404, "No drift monitor is attached to this service; feedback is not recorded."
            )
        ids, labels = _feedback_of(payload)
        import anyio

        def run() -> Any:
            state.feed.sync()  # type: ignore[union-attr]
            with state.feed.lock:  # type: ignore[union-attr]
                try:
                    return state.monitor.feedback(ids, labels)
                except MlwfError as exc:
                    raise ApiError(422, str(exc), "labels") from exc

        result = await anyio.to_thread.run_sync(run)
        return ok({"accepted": len(ids), "result": _plain(result)})

    @app.post(
        "/admin/reload",
        summary="Swap to another model version without dropping requests",
        openapi_extra=_body_doc(
            {"type": "object", "properties": {"model": {"type": "string"}}},
            '{"model": "name@alias"} (registry) or an empty object.',
        ),
        responses={404: {}, 409: {}, 422: {}},
    )
    @typed
    async def reload(request: Request) -> Any:
        body = await _body(request, state)
        payload = _parse_json(body) if body.strip() else {}
        if not isinstance(payload, dict):
            raise ApiError(
                422, 'The body must be a JSON object such as {"model": "name@champion"}.'
            )
        ref = payload.get("model")
        if ref is not None and not isinstance(ref, str):
            raise ApiError(
                422, f"'model' must be a string such as 'name@champion'. Got {ref!r}.", "model"
            )
        import anyio

        def run() -> Any:
            try:
                return state.reload(ref)
            except ApiError:
                raise
            except MlwfError as exc:
                raise ApiError(422, str(exc), "model") from exc

        return ok(await anyio.to_thread.run_sync(run))

    # ------------------------------------------------------------ information
    @app.get("/health", summary="Liveness")
    async def health() -> Any:
        return ok({"status": "ok"})

    @app.get("/ping", summary="MLflow scoring server liveness")
    async def ping() -> Any:
        return Response("\n", media_type="text/plain")

    @app.get("/ready", summary="Readiness: a model is loaded")
    async def ready() -> Any:
        current = state.backend
        return ok({"ready": True, "model_version": current.version, "engine": current.engine})

    @app.get("/metadata", summary="Input schema, classes, metrics and model card")
    async def metadata() -> Any:
        return ok(_plain(state.backend.metadata()))

    @app.get("/drift", summary="Drift verdict and per-feature drift scores", responses={501: {}})
    async def drift() -> Any:
        if state.feed is None:
            raise ApiError(404, "No drift monitor is attached to this service.")
        import anyio

        status, table = await anyio.to_thread.run_sync(_drift_snapshot, state)
        feed = state.feed
        return ok(
            _plain(
                {
                    **status,
                    "features": table,
                    "service": {"dropped_rows": feed.dropped, "monitor_errors": feed.errors},
                }
            )
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Any:
        table: list[dict[str, Any]] = []
        status = None
        if state.feed is not None:
            import anyio

            status, table = await anyio.to_thread.run_sync(_drift_snapshot, state)
        text = state.metrics.render(state.backend, table, status)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    # ------------------------------------------------------------ Open Inference Protocol v2
    @app.get("/v2", summary="OIP v2 server metadata")
    async def v2_server() -> Any:
        return ok({"name": "mlwf", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", summary="OIP v2 liveness")
    async def v2_live() -> Any:
        return ok({"live": True})

    @app.get("/v2/health/ready", summary="OIP v2 readiness")
    async def v2_ready() -> Any:
        return ok({"ready": True})

    def model_or_404(name: str, version: str | None = None) -> Backend:
        current = state.backend
        if name != current.name:
            raise ApiError(
                404, f"Unknown model {name!r}; this service serves {current.name!r}.", "name"
            )
        if version is not None and version != current.version:
            raise ApiError(
                404,
                f"Model {name!r} has no version {version!r} here; it serves {current.version!r}.",
                "version",
            )
        return current

    @app.get("/v2/models/{name}", summary="OIP v2 model metadata", responses={404: {}})
    @app.get(
        "/v2/models/{name}/versions/{version}",
        summary="OIP v2 model metadata",
        responses={404: {}},
    )
    async def v2_model(name: str, version: str | None = None) -> Any:
        current = model_or_404(name, version)
        dtypes = {"numeric": "FP64", "categorical": "BYTES", "boolean": "BOOL"}
        outputs = [
            {
                "name": "predict",
                "datatype": "FP64"
                if current.task == "regression"
                else _oip_datatype(current.classes),
                "shape": [-1],
            }
        ]
        if current.task != "regression":
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(current.classes)]}
            )
        return ok(
            {
                "name": current.name,
                "versions": [current.version],
                "platform": "mlwf",
                "inputs": [
                    {"name": c, "datatype": dtypes.get(k, "BYTES"), "shape": [-1]}
                    for c, k in current.columns
                ],
                "outputs": outputs,
            }
        )

    @app.get("/v2/models/{name}/ready", summary="OIP v2 model readiness", responses={404: {}})
    async def v2_model_ready(name: str) -> Any:
        model_or_404(name)
        return ok({"name": name, "ready": True})

    infer_doc = {
        "summary": "OIP v2 inference",
        "openapi_extra": _body_doc(
            OIP_INFER_SCHEMA,
            "One tensor per input column, or one [n, k] tensor of all columns in order.",
        ),
        "responses": {400: {}, 404: {}, 413: {}, 422: {}},
    }

    @app.post("/v2/models/{name}/infer", **infer_doc)
    @app.post("/v2/models/{name}/versions/{version}/infer", **infer_doc)
    @typed
    async def v2_infer(name: str, request: Request, version: str | None = None) -> Any:
        current = model_or_404(name, version)
        payload = _parse_json(await _body(request, state))
        records = _oip_records(payload, current)
        predictions, proba = await _score(state, records, current)
        wanted = None
        if isinstance(payload.get("outputs"), list):
            wanted = [o.get("name") for o in payload["outputs"] if isinstance(o, dict)]
            known = {"predict", "predict_proba"}
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise ApiError(
                    400, f"Unknown output(s) {unknown}; this model has {sorted(known)}.", "outputs"
                )
        outputs = []
        if wanted is None or "predict" in wanted:
            outputs.append(
                {
                    "name": "predict",
                    "shape": [len(predictions)],
                    "datatype": _oip_datatype(predictions),
                    "data": [p if not isinstance(p, (list, dict)) else str(p) for p in predictions],
                }
            )
        if proba is not None and (wanted is None or "predict_proba" in wanted):
            outputs.append(
                {
                    "name": "predict_proba",
                    "shape": list(proba.shape),
                    "datatype": "FP64",
                    "data": proba.ravel(),
                    "parameters": {"classes": [str(c) for c in current.classes]},
                }
            )
        out: dict[str, Any] = {
            "model_name": current.name,
            "model_version": current.version,
            "outputs": outputs,
        }
        if isinstance(payload.get("id"), str):
            out["id"] = payload["id"]
        return ok(out)

    # ------------------------------------------------------------ MLflow
    @app.post(
        "/invocations",
        summary="MLflow scoring protocol",
        openapi_extra=_body_doc(
            _mlflow_schema(record_schema),
            "dataframe_split, dataframe_records or instances (JSON), or a CSV body (text/csv).",
        ),
        responses={400: {}, 413: {}, 415: {}, 422: {}},
    )
    @typed
    async def invocations(request: Request) -> Any:
        body = await _body(request, state)
        ctype = (
            request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        )
        if ctype == "text/csv":
            records: list[Any] = _mlflow_csv(body)
        elif ctype in ("application/json", "", "*/*"):
            records = _mlflow_records(_parse_json(body))
        else:
            raise ApiError(
                415, f"Content type {ctype!r} is not supported; use application/json or text/csv."
            )
        current = state.backend
        predictions, proba = await _score(state, records, current)
        return ok({"predictions": predictions})

    app.add_middleware(_Guard, state=state, fast=fast_path)
    return app


def _registry_backend_or_raise(registry: Any, ref: str) -> Backend:
    try:
        return _registry_backend(registry, ref)
    except ApiError as exc:
        raise MlwfError(exc.detail) from exc


async def _watch(state: _State, seconds: float) -> None:
    import asyncio

    import anyio

    while True:
        await asyncio.sleep(seconds)
        try:
            name, version = await anyio.to_thread.run_sync(state.registry.resolve, state.model_name)
            if f"{name}@{version}" != state.backend.version:
                result = await anyio.to_thread.run_sync(state.reload, None)
                log.info("alias %s moved: now serving %s", state.model_name, result["version"])
        except asyncio.CancelledError:
            raise
        except Exception:  # a registry hiccup must not stop the watch
            log.exception("registry watch failed")


class _Guard:
    """ASGI middleware: API key check, request counts and latency per route.

    With ``fast`` set it also answers ``POST /predict`` itself, with the same code as
    the route but without the framework's routing and dependency machinery (about a
    hundred microseconds per request): the single-record path is what latency targets
    are about.
    """

    def __init__(self, app: Any, state: _State, fast: bool = True) -> None:
        self.app = app
        self.state = state
        self.fast = fast

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code = [500]
        label = None

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                code[0] = message["status"]
            await send(message)

        try:
            key = self.state.api_key
            if (
                key is not None
                and scope["path"] not in _PUBLIC_PATHS
                and not _authorised(scope, key)
            ):
                await _send_json(
                    send_status,
                    401,
                    {
                        "detail": "Missing or wrong API key: send the header X-API-Key.",
                        "field": "X-API-Key",
                    },
                    extra=[(b"www-authenticate", b"ApiKey")],
                )
                return
            if self.fast and scope["path"] == "/predict" and scope["method"] == "POST":
                label = "/predict"
                await self._predict(scope, receive, send_status)
                return
            await self.app(scope, receive, send_status)
        finally:
            if label is None:
                route = scope.get("route")
                label = getattr(route, "path", None) or "unmatched"
            self.state.metrics.observe(
                label, scope.get("method", ""), code[0], time.perf_counter() - start
            )

    async def _predict(self, scope: Any, receive: Any, send: Any) -> None:
        length = given = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"x-request-id":
                given = value.decode("latin-1")
        try:
            body = await _receive_body(receive, length, self.state.max_body_bytes)
            out = await _predict_payload(self.state, body, given)
        except ApiError as exc:
            await _send_json(send, exc.status, {"detail": exc.detail, "field": exc.field})
            return
        except MlwfError as exc:
            await _send_json(send, 422, {"detail": str(exc), "field": None})
            return
        await _send_json(send, 200, out)


# ---------------------------------------------------------------------- runner
_CONFIG_ENV = "MLWF_SERVE_CONFIG"


def _app_from_env() -> Any:
    """App factory for uvicorn worker processes (``--workers`` > 1)."""
    config = json.loads(os.environ[_CONFIG_ENV])
    return _app_from_config(config)


def _app_from_config(config: Mapping[str, Any]) -> Any:
    registry = None
    if config.get("registry"):
        from mlwf_core.registry import Registry

        registry = Registry(config["registry"])
    monitor = None
    if config.get("monitor"):
        monitor = _default_monitor(config["model"], registry)
    return make_app(
        config["model"],
        monitor,
        api_key=config.get("api_key"),
        max_body_bytes=int(config.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES),
        registry=registry,
        model_name=config["model"] if registry is not None else None,
        watch_seconds=config.get("watch_seconds"),
    )


def _default_monitor(model: str, registry: Any) -> Any:
    try:
        from mlwf_core.monitor import DriftMonitor

        path = (
            registry.fetch(model) if registry is not None and not Path(model).is_file() else model
        )
        return DriftMonitor.load(path)
    except (ImportError, AttributeError, MlwfError) as exc:
        log.warning("serving without a drift monitor: %s", exc)
        return None


def serve(
    model: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    api_key: str | None = None,
    *,
    registry: str | None = None,
    monitor: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    watch_seconds: float | None = None,
    log_level: str = "warning",
) -> None:
    """Serve a model over HTTP until interrupted (blocking).

    Parameters
    ----------
    model
        A ``.mlwf`` path, or ``"name@alias"`` with ``registry``; an in-memory model or
        scorer is served by a single worker.
    host, port
        Where to listen; the default binds to the local machine only.
    workers
        Worker processes (each loads the model).
    api_key
        Required key; defaults to the environment variable ``MLWF_API_KEY``.
    registry
        Registry path or URI to load ``model`` from and to reload from.
    monitor
        Attach a drift monitor built from the model's training profile.
    max_body_bytes
        Largest accepted request body.
    watch_seconds
        Poll the registry alias this often and swap when it moved.
    log_level
        uvicorn's log level.
    """
    uvicorn = import_optional("uvicorn", "serve")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(
            f"The 'workers' parameter of serve must be a positive integer. Got {workers!r} instead."
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ParameterError(
            f"The 'port' parameter of serve must be an integer in [0, 65535]. Got {port!r} instead."
        )
    api_key = api_key or os.environ.get("MLWF_API_KEY") or None
    if isinstance(model, (str, os.PathLike)):
        config = {
            "model": str(model),
            "api_key": api_key,
            "registry": str(registry) if registry else None,
            "monitor": monitor,
            "max_body_bytes": max_body_bytes,
            "watch_seconds": watch_seconds,
        }
        if workers > 1:
            os.environ[_CONFIG_ENV] = json.dumps(config)
            uvicorn.run(
                "mlwf_core.deploy._server:_app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                access_log=False,
            )
            return
        app = _app_from_config(config)
    else:
        if workers > 1:
            raise ParameterError(
                "The 'workers' parameter of serve must be 1 for an in-memory model; pass the "
                ".mlwf path to run several workers."
            )
        app = make_app(model, api_key=api_key, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


# ---------------------------------------------------------------------- CLI
def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mlwf serve MODEL [--host] [--port] [--workers] ...`` to the CLI."""
    parser = subparsers.add_parser("serve", help="serve a model over HTTP")
    parser.add_argument("model", help=".mlwf artifact, or name@alias with --registry")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--api-key", default=None, help="required X-API-Key (default: $MLWF_API_KEY, or none)"
    )
    parser.add_argument("--registry", default=None, help="registry database path or URI")
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest request body"
    )
    parser.add_argument(
        "--watch", type=float, default=None, metavar="SECONDS", help="swap when the alias moves"
    )
    parser.add_argument("--no-monitor", action="store_true", help="no drift monitor")
    parser.set_defaults(handler=_cmd_serve)
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.registry is None and not Path(args.model).is_file():
        raise MlwfError(
            f"Model file {args.model!r} does not exist (give --registry to serve name@alias)."
        )
    print(f"mlwf serve: http://{args.host}:{args.port} (Ctrl+C to stop)")
    serve(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        api_key=args.api_key,
        registry=args.registry,
        monitor=not args.no_monitor,
        max_body_bytes=args.max_body_bytes,
        watch_seconds=args.watch,
    )
    return 0
