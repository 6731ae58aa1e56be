"""HTTP plumbing of the service: bodies, errors, metrics, the monitor feed and protocols.

Everything here is independent of the web framework: :mod:`mlwf_core.deploy._server`
wires it into the FastAPI application and its ASGI fast path.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from mlwf_core.deploy._backend import Backend

log = logging.getLogger("mlwf.serve")

_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000)


_OIP_TYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}

try:  # orjson is optional: three times faster on the response path when present
    import orjson as _orjson

    def _dumps(obj: Any) -> bytes:
        return _orjson.dumps(obj, option=_orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS)

except ImportError:  # pragma: no cover - depends on the environment

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), default=_json_default).encode()


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class ApiError(Exception):
    """An error answered to the client: status code, message and the offending field."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


# ---------------------------------------------------------------------- metrics
class _Histogram:
    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out = []
        running = 0
        sep = "," if labels else ""
        for bound, n in zip(self.bounds, self.counts, strict=True):
            running += n
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        brace = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{brace} {self.sum:.9g}")
        out.append(f"{name}_count{brace} {self.count}")
        return out


class _Metrics:
    """Request counters and histograms, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.batch = _Histogram(_BATCH_BUCKETS)
        self.records = 0
        self.reloads = 0
        self.started = time.time()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self.lock:
            key = (route, method, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            hist = self.latency.get(route)
            if hist is None:
                hist = self.latency[route] = _Histogram(_LATENCY_BUCKETS)
            hist.observe(seconds)

    def observe_batch(self, n: int) -> None:
        with self.lock:
            self.batch.observe(n)
            self.records += n

    def render(
        self, backend: Backend, drift: list[dict[str, Any]], status: Mapping[str, Any] | None
    ) -> str:
        esc = _label
        lines = [
            "# HELP mlwf_requests_total HTTP requests by route, method and status code.",
            "# TYPE mlwf_requests_total counter",
        ]
        with self.lock:
            for (route, method, code), n in sorted(self.requests.items()):
                lines.append(
                    f'mlwf_requests_total{{route="{esc(route)}",method="{method}",status="{code}"}} {n}'
                )
            lines += [
                "# HELP mlwf_request_duration_seconds Time to answer a request, in seconds.",
                "# TYPE mlwf_request_duration_seconds histogram",
            ]
            for route, hist in sorted(self.latency.items()):
                lines += hist.lines("mlwf_request_duration_seconds", f'route="{esc(route)}"')
            lines += [
                "# HELP mlwf_batch_size Records per scoring request.",
                "# TYPE mlwf_batch_size histogram",
                *self.batch.lines("mlwf_batch_size", ""),
                "# HELP mlwf_records_scored_total Records scored.",
                "# TYPE mlwf_records_scored_total counter",
                f"mlwf_records_scored_total {self.records}",
                "# HELP mlwf_model_reloads_total Successful model swaps.",
                "# TYPE mlwf_model_reloads_total counter",
                f"mlwf_model_reloads_total {self.reloads}",
            ]
        lines += [
            "# HELP mlwf_model_info The model being served.",
            "# TYPE mlwf_model_info gauge",
            f'mlwf_model_info{{name="{esc(backend.name)}",version="{esc(backend.version)}",'
            f'engine="{backend.engine}",task="{backend.task}"}} 1',
            "# HELP mlwf_uptime_seconds Seconds since the service started.",
            "# TYPE mlwf_uptime_seconds gauge",
            f"mlwf_uptime_seconds {time.time() - self.started:.3f}",
        ]
        if drift:
            for metric, help_text in (
                ("psi", "Population stability index of the last checked window, per feature."),
                ("js", "Jensen-Shannon distance of the last checked window, per feature."),
            ):
                lines += [
                    f"# HELP mlwf_drift_{metric} {help_text}",
                    f"# TYPE mlwf_drift_{metric} gauge",
                ]
                for row in drift:
                    value = row.get(metric)
                    if isinstance(value, (int, float)) and value == value:
                        lines.append(
                            f'mlwf_drift_{metric}{{feature="{esc(str(row.get("feature")))}"}} {float(value):.9g}'
                        )
        if status is not None:
            verdict = {"ok": 0, "warning": 1, "drift": 2}.get(str(status.get("verdict")), 0)
            lines += [
                "# HELP mlwf_drift_verdict 0 ok, 1 warning, 2 drift.",
                "# TYPE mlwf_drift_verdict gauge",
                f"mlwf_drift_verdict {verdict}",
                "# HELP mlwf_feedback_total Labels received through /feedback.",
                "# TYPE mlwf_feedback_total counter",
                f"mlwf_feedback_total {int(status.get('n_feedback') or 0)}",
            ]
            error_rate = status.get("error_rate")
            if isinstance(error_rate, (int, float)):
                lines += [
                    "# HELP mlwf_feedback_error_rate Error rate of the labelled predictions.",
                    "# TYPE mlwf_feedback_error_rate gauge",
                    f"mlwf_feedback_error_rate {float(error_rate):.9g}",
                ]
        return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ---------------------------------------------------------------------- monitor feed
class _MonitorFeed:
    """Feeds scored records to the drift monitor from one background thread.

    Records are buffered and checked a window at a time (a PSI over one record means
    nothing); :meth:`sync` checks what is buffered so that ``/feedback`` finds its ids.
    """

    def __init__(self, monitor: Any, window: int) -> None:
        import numpy as np

        self._np = np
        self.monitor = monitor
        self.window = max(1, int(window))
        try:
            self.takes_ids = "ids" in inspect.signature(monitor.update).parameters
        except (TypeError, ValueError):
            self.takes_ids = False
        self.lock = threading.Lock()
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=10_000)
        self.frames: list[Any] = []
        self.scores: list[Any] = []
        self.ids: list[str] = []
        self.rows = 0
        self.dropped = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._run, name="mlwf-monitor", daemon=True)
        self.thread.start()

    def add(self, backend: Backend, records: list[Any], scores: Any, ids: list[str]) -> None:
        try:
            self.queue.put_nowait((backend, records, scores, ids))
        except queue.Full:
            # the monitor is behind: drop rather than slow down or grow without bound
            self.dropped += len(records)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if isinstance(item, threading.Event):
                    self._check()
                    item.set()
                elif item is None:
                    return
                else:
                    backend, records, scores, ids = item
                    self.frames.append(backend.frame(backend.validate(records)))
                    self.scores.append(self._np.asarray(scores, dtype=self._np.float64))
                    self.ids.extend(ids)
                    self.rows += len(records)
                    if self.rows >= self.window:
                        self._check()
            except Exception:  # never let a monitor bug take the service down
                self.errors += 1
                log.exception("drift monitor update failed")
            finally:
                self.queue.task_done()

    def _check(self) -> None:
        if not self.frames:
            return
        import polars as pl

        frame = pl.concat(self.frames, how="vertical_relaxed")
        scores = self._np.concatenate(self.scores, axis=0)
        ids = self.ids
        self.frames, self.scores, self.ids, self.rows = [], [], [], 0
        with self.lock:
            if self.takes_ids:
                self.monitor.update(frame, scores, ids=ids)
            else:
                self.monitor.update(frame, scores)

    def sync(self, timeout: float = 30.0) -> None:
        done = threading.Event()
        self.queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self.queue.put(None)


def _parse_json(body: bytes) -> Any:
    if not body:
        raise ApiError(400, "The request body is empty; send a JSON document.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"Malformed JSON body: {exc}.") from None


def _records_of(payload: Any) -> tuple[list[Any], bool]:
    if isinstance(payload, dict):
        return [payload], True
    if isinstance(payload, list):
        return payload, False
    raise ApiError(
        422,
        "The body must be a JSON object (one record) or an array of records. "
        f"Got {type(payload).__name__} instead.",
    )


def _scores(backend: Backend, predictions: list[Any], proba: np.ndarray | None) -> Any:
    import numpy as np

    if proba is None:
        return np.asarray(predictions, dtype=np.float64)
    return proba[:, 1] if backend.task == "binary" else proba


async def _receive_body(receive: Any, length: bytes | None, limit: int) -> bytes:
    if length is not None:
        if not length.isdigit():
            text = length.decode("latin-1")
            raise ApiError(400, f"The Content-Length header must be a number. Got {text!r}.")
        if int(length) > limit:
            raise ApiError(
                413, f"The request body has {int(length)} bytes; the limit is {limit} bytes."
            )
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "The client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _record_schema(backend: Backend) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for spec in backend.input_schema:
        kind = spec["kind"]
        if kind == "numeric":
            props[spec["name"]] = {"type": ["number", "null"]}
        elif kind == "categorical":
            props[spec["name"]] = {"type": ["string", "null"]}
            if spec.get("levels"):
                props[spec["name"]]["examples"] = spec["levels"][:5]
        elif kind == "boolean":
            props[spec["name"]] = {"type": ["boolean", "null"]}
        else:
            props[spec["name"]] = {}
    return {
        "type": "object",
        "properties": props,
        "required": [c for c, _ in backend.columns],
    }


def _body_doc(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _flatten(data: Any, depth: int = 0) -> list[Any]:
    if depth > 8:
        raise ApiError(422, "Tensor data is nested too deeply (more than 8 levels).", "data")
    if not isinstance(data, list):
        return [data]
    out: list[Any] = []
    for item in data:
        if isinstance(item, list):
            out.extend(_flatten(item, depth + 1))
        else:
            out.append(item)
    return out


def _oip_records(payload: Any, backend: Backend) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        raise ApiError(422, "The inference request must be a JSON object with 'inputs'.")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(422, "The 'inputs' field must be a non-empty array of tensors.", "inputs")
    tensors = []
    for k, tensor in enumerate(inputs):
        where = f"inputs[{k}]"
        if not isinstance(tensor, dict):
            raise ApiError(422, f"{where} must be an object (name, shape, datatype, data).", where)
        name, shape, dtype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(name, str):
            raise ApiError(422, f"{where}.name must be a string.", f"{where}.name")
        if (
            not isinstance(shape, list)
            or not shape
            or len(shape) > 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise ApiError(
                422,
                f"{where}.shape must be [n] or [n, k] of non-negative integers.",
                f"{where}.shape",
            )
        if dtype not in _OIP_TYPES:
            raise ApiError(
                422,
                f"{where}.datatype must be one of {sorted(_OIP_TYPES)}. Got {dtype!r}.",
                f"{where}.datatype",
            )
        if "data" not in tensor:
            raise ApiError(422, f"{where} lacks 'data'.", f"{where}.data")
        data = _flatten(tensor["data"])
        expected = shape[0] * (shape[1] if len(shape) == 2 else 1)
        if len(data) != expected:
            raise ApiError(
                422,
                f"{where} has shape {shape} ({expected} values) but {len(data)} values in 'data'.",
                f"{where}.data",
            )
        tensors.append((name, shape, data))
    names = [c for c, _ in backend.columns]
    # one [n, k] tensor holding every column, in the model's column order
    if len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][0] not in names:
        _, shape, data = tensors[0]
        if shape[1] != len(names):
            raise ApiError(
                422,
                f"inputs[0] has {shape[1]} columns; the model reads {len(names)}: {names}.",
                "inputs[0].shape",
            )
        return [
            dict(zip(names, data[i * shape[1] : (i + 1) * shape[1]], strict=True))
            for i in range(shape[0])
        ]
    # one tensor per column (the pandas codec of MLServer / KServe)
    n_rows = {shape[0] for _, shape, _ in tensors}
    if len(n_rows) != 1:
        raise ApiError(
            422,
            f"Every input tensor must have the same first dimension. Got {sorted(n_rows)}.",
            "inputs",
        )
    columns = {}
    for name, shape, data in tensors:
        if len(shape) == 2 and shape[1] != 1:
            raise ApiError(422, f"Input {name!r} must have shape [n] or [n, 1]. Got {shape}.", name)
        columns[name] = data
    missing = [c for c in names if c not in columns]
    if missing:
        raise ApiError(
            422, f"The request lacks input tensor(s) {missing} the model reads.", missing[0]
        )
    n = n_rows.pop()
    return [{c: columns[c][i] for c in names} for i in range(n)]


def _oip_datatype(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _mlflow_records(payload: Any) -> list[Any]:
    if not isinstance(payload, dict):
        raise ApiError(
            422,
            "The body must be an object with 'dataframe_split', 'dataframe_records' or 'instances'.",
        )
    keys = [
        k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in payload
    ]
    if len(keys) != 1:
        raise ApiError(
            422,
            "The body must hold exactly one of 'dataframe_split', 'dataframe_records', "
            f"'instances' or 'inputs'. Got {sorted(payload)}.",
        )
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        if not isinstance(value, dict):
            raise ApiError(
                422, "'dataframe_split' must be an object with 'columns' and 'data'.", key
            )
        columns, data = value.get("columns"), value.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ApiError(
                422, "'dataframe_split.columns' must be an array of column names.", f"{key}.columns"
            )
        if not isinstance(data, list):
            raise ApiError(422, "'dataframe_split.data' must be an array of rows.", f"{key}.data")
        records = []
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise ApiError(
                    422,
                    f"Row {i} of 'dataframe_split.data' must be an array of {len(columns)} values.",
                    f"{key}.data",
                )
            records.append(dict(zip(columns, row, strict=True)))
        return records
    if not isinstance(value, list):
        raise ApiError(422, f"'{key}' must be an array of records.", key)
    return value


def _mlflow_csv(body: bytes) -> list[dict[str, Any]]:
    import io

    import polars as pl

    from mlwf_core.io import NA_TOKENS

    try:
        frame = pl.read_csv(io.BytesIO(body), null_values=list(NA_TOKENS), infer_schema_length=None)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ApiError(400, f"Malformed CSV body: {exc}") from None
    return frame.to_dicts()


def _feedback_of(payload: Any) -> tuple[list[str], list[Any]]:
    if isinstance(payload, dict) and "request_id" in payload:
        rid = payload["request_id"]
        if not isinstance(rid, str):
            raise ApiError(422, f"'request_id' must be a string. Got {rid!r}.", "request_id")
        if "label" not in payload:
            raise ApiError(422, "The feedback lacks 'label'.", "label")
        label = payload["label"]
        if isinstance(label, (dict, list)):
            raise ApiError(422, "'label' must be a class label or a number.", "label")
        return [rid], [label]
    if isinstance(payload, dict) and "ids" in payload:
        ids, labels = payload.get("ids"), payload.get("labels")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(422, "'ids' must be an array of request ids (strings).", "ids")
        if not isinstance(labels, list) or len(labels) != len(ids):
            raise ApiError(422, "'labels' must be an array as long as 'ids'.", "labels")
        if any(isinstance(v, (dict, list)) for v in labels):
            raise ApiError(422, "Every label must be a class label or a number.", "labels")
        return ids, labels
    raise ApiError(
        422,
        'The feedback must be {"request_id": ..., "label": ...} or '
        '{"ids": [...], "labels": [...]}.',
    )


def _drift_snapshot(state: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    feed = state.feed
    assert feed is not None
    feed.sync()
    monitor = state.monitor
    with feed.lock:
        status = dict(monitor.status())
        table: list[dict[str, Any]] = []
        if hasattr(monitor, "feature_table"):
            frame = monitor.feature_table()
            table = frame.to_dicts() if hasattr(frame, "to_dicts") else list(frame)
    return status, table


def _plain(value: Any) -> Any:
    """JSON-safe copy: NumPy scalars to Python, NaN and infinities to null."""
    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _authorised(scope: Any, key: bytes) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key" and hmac.compare_digest(value, key):
            return True
        if (
            name == b"authorization"
            and value[:7].lower() == b"bearer "
            and hmac.compare_digest(value[7:].strip(), key)
        ):
            return True
    return False


async def _send_json(
    send: Any, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = _dumps(obj)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


#: OpenAPI schema of an Open Inference Protocol v2 inference request.
OIP_INFER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string", "enum": sorted(_OIP_TYPES)},
                    "data": {"type": "array"},
                },
                "required": ["name", "shape", "datatype", "data"],
            },
        },
        "outputs": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
    "required": ["inputs"],
}


def _mlflow_schema(record_schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI schema of an MLflow scoring request."""
    return {
        "type": "object",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {"type": "array"}},
                },
                "required": ["columns", "data"],
            },
            "dataframe_records": {"type": "array", "items": record_schema},
        },
    }
