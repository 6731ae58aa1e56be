"""Batch scoring of tables larger than memory: Polars batches in, Parquet or CSV out.

:func:`predict_batch` scans the input lazily (only the model's columns and the kept
ones are read), scores batches on a small thread pool while the next batch is read,
and appends each scored batch to the output in input order. The compiled scorer and
the Parquet writer release the GIL, so reading, scoring and writing overlap. The output
is written to a temporary file and renamed into place when complete.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlwf_core.exceptions import DataError, ParameterError, SchemaError

__all__ = ["DEFAULT_BATCH_ROWS", "predict_batch"]

DEFAULT_BATCH_ROWS = 100_000
_PARQUET = {".parquet", ".pq"}
_CSV = {".csv", ".txt"}


def _scan(data_path: Path, backend: Any, keep: Sequence[str]) -> pl.LazyFrame:
    from mlwf_core.io import NA_TOKENS, scan

    suffix = data_path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt", ".tab", ".dat", ""} and data_path.is_file():
        import csv

        with data_path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            sample = handle.read(64 * 1024)
        if not sample.strip():
            raise DataError(f"File {str(data_path)!r} is empty.")
        try:
            sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            sep = "\t" if suffix in {".tsv", ".tab"} else ","
        header = next(csv.reader([sample.splitlines()[0]], delimiter=sep))
        # Types of the model's columns are known: reading them as such keeps a late
        # row from failing the inference Polars made on the first rows.
        overrides: dict[str, Any] = {}
        for name, kind in backend.columns:
            if name in header:
                overrides[name] = pl.Float64 if kind == "numeric" else pl.String
        return pl.scan_csv(
            data_path,
            separator=sep,
            null_values=list(NA_TOKENS),
            schema_overrides=overrides,
            infer_schema_length=10_000,
        )
    return scan(data_path)


def _batches(lazy: pl.LazyFrame, batch_rows: int) -> Iterator[pl.DataFrame]:
    yield from lazy.collect_batches(chunk_size=batch_rows)


def _score(backend: Any, frame: pl.DataFrame, keep: Sequence[str]) -> pl.DataFrame:
    model = backend.model
    columns: dict[str, Any] = {c: frame[c] for c in keep}
    if backend.task == "regression":
        columns["prediction"] = np.asarray(model.predict(frame), dtype=np.float64)
    else:
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        labels = backend._labels[proba.argmax(axis=1)]
        columns["prediction"] = labels
        for j, cls in enumerate(backend.classes):
            columns[f"proba_{cls}"] = proba[:, j]
    return pl.DataFrame(columns)


class _Writer:
    def __init__(self, path: Path, kind: str) -> None:
        self.kind = kind
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.target = path
        self._parquet: Any = None
        self._csv: Any = None
        self._header = True

    def write(self, frame: pl.DataFrame) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            table = frame.to_arrow()
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
            elif table.schema != self._parquet.schema:
                table = table.cast(self._parquet.schema)
            self._parquet.write_table(table)
        else:
            if self._csv is None:
                self._csv = self.tmp.open("wb")
            frame.write_csv(self._csv, include_header=self._header)
            self._header = False

    def commit(self, empty: pl.DataFrame) -> None:
        if self._parquet is None and self._csv is None:
            self.write(empty)
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.flush()
            os.fsync(self._csv.fileno())
            self._csv.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self._csv is not None:
                self._csv.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def predict_batch(
    model_path: str | os.PathLike[str],
    data_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    keep: Sequence[str] = (),
    batch_rows: int = DEFAULT_BATCH_ROWS,
    n_threads: int | None = None,
) -> dict[str, Any]:
    """Score a table of any size with a saved model, batch by batch.

    Parameters
    ----------
    model_path
        A ``.mlwf`` artifact (scored by the compiled scorer when available).
    data_path
        A CSV / TSV / Parquet / NDJSON / Arrow file, a directory or glob of Parquet files.
    output_path
        ``.parquet`` or ``.csv``; written atomically.
    keep
        Input columns copied to the output before the predictions (e.g. IDs).
    batch_rows
        Rows per batch: memory use is a few batches, whatever the input size.
    n_threads
        Threads scoring batches concurrently (default: the CPU count, at most 4).

    Returns
    -------
    dict
        ``rows``, ``seconds``, ``rows_per_s``, ``batches``, ``output`` and ``engine``.

    Raises
    ------
    DataError
        The input is missing, unreadable, or lacks a ``keep`` or model column.
    """
    from mlwf_core.deploy._backend import load_backend

    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ParameterError(
            f"The 'batch_rows' parameter of predict_batch must be a positive integer. Got {batch_rows!r} instead."
        )
    if n_threads is not None and (
        isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1
    ):
        raise ParameterError(
            f"The 'n_threads' parameter of predict_batch must be a positive integer or None. Got {n_threads!r} instead."
        )
    if isinstance(keep, str):
        keep = [keep]
    keep = list(keep)
    target = Path(output_path).expanduser()
    suffix = target.suffix.lower()
    if suffix in _PARQUET:
        kind = "parquet"
    elif suffix in _CSV:
        kind = "csv"
    else:
        raise ParameterError(
            f"Cannot tell the output format of {str(output_path)!r}; use .csv or .parquet."
        )
    if not target.parent.exists():
        raise DataError(f"The output directory {str(target.parent)!r} does not exist.")
    threads = n_threads or min(4, os.cpu_count() or 1)
    start = time.perf_counter()
    # the scorer's own threads split each batch; batches overlap on `threads` workers
    backend = load_backend(model_path, n_threads=max(1, (os.cpu_count() or 1) // threads))
    source = Path(data_path).expanduser()
    lazy = _scan(source, backend, keep)
    try:
        available = lazy.collect_schema().names()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"Cannot read {str(data_path)!r}: {exc}") from exc
    missing_keep = [c for c in keep if c not in available]
    if missing_keep:
        raise DataError(
            f"--keep names column(s) {missing_keep} that are not in {str(data_path)!r}."
        )
    needed = [c for c, _ in backend.columns]
    missing = [c for c in needed if c not in available]
    if missing:
        raise SchemaError(
            f"{str(data_path)!r} lacks column(s) {missing} that the model was trained on. "
            "Add them (missing values are allowed) and try again."
        )
    selected = list(dict.fromkeys(keep + needed))
    lazy = lazy.select(selected)

    writer = _Writer(target, kind)
    rows = 0
    n_batches = 0
    pending: deque[Future[pl.DataFrame]] = deque()
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mlwf-batch") as pool:
            try:
                for frame in _batches(lazy, batch_rows):
                    if frame.height == 0:
                        continue
                    pending.append(pool.submit(_score, backend, frame, keep))
                    n_batches += 1
                    # bounded read-ahead: memory stays a few batches
                    while len(pending) > threads:
                        out = pending.popleft().result()
                        writer.write(out)
                        rows += out.height
                while pending:
                    out = pending.popleft().result()
                    writer.write(out)
                    rows += out.height
            except pl.exceptions.PolarsError as exc:
                raise DataError(
                    f"Cannot read {str(data_path)!r}: {exc}. Fix or remove such values, or "
                    "convert the file to Parquet."
                ) from exc
        writer.commit(_score(backend, lazy.head(0).collect(), keep))
    except BaseException:
        for future in pending:
            future.cancel()
        writer.abort()
        raise
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "batches": n_batches,
        "seconds": seconds,
        "rows_per_s": rows / seconds if seconds > 0 else float("inf"),
        "output": str(target),
        "engine": backend.engine,
    }
