"""Every common tabular source in, one :class:`polars.DataFrame` out.

Files are read by Polars: CSV / TSV (delimiter sniffed), Parquet (a file, a
directory or a glob), NDJSON / JSON, Arrow IPC / Feather. In-memory objects
(Polars, pandas, Arrow, NumPy, dict of columns) are converted without copies
where the libraries allow. SQL sources go through Polars' database readers.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from mlwf_core.exceptions import DataError, ParameterError

__all__ = ["NA_TOKENS", "read", "scan"]

#: Strings read as missing in text sources.
NA_TOKENS: tuple[str, ...] = (
    "",
    "NA",
    "N/A",
    "n/a",
    "NaN",
    "nan",
    "null",
    "NULL",
    "None",
    "?",
    "-",
)

_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_IPC_SUFFIXES = {".arrow", ".ipc", ".feather"}
_JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
_SQL_SCHEMES = ("sqlite://", "postgresql://", "postgres://", "mysql://")
# Columns whose type is inferred from this many rows; later rows that do not fit
# would fail the read, so it is retried with every row inspected.
_INFER_ROWS = 10_000


def read(
    source: Any,
    *,
    query: str | None = None,
    columns: Sequence[str] | None = None,
    n_rows: int | None = None,
) -> pl.DataFrame:
    """Read any supported source into a Polars DataFrame.

    Parameters
    ----------
    source
        A path (``str`` or :class:`~pathlib.Path`) to a CSV, TSV, Parquet, JSON,
        NDJSON or Arrow IPC file, a directory or glob of Parquet files, a SQL URI
        (``"sqlite:///file.db"``, ``"postgresql://..."``) together with ``query``,
        or an in-memory table: Polars DataFrame / LazyFrame, pandas DataFrame,
        Arrow Table, 2-D NumPy array or a mapping of column name to values.
    query
        SQL query, required with a SQL URI.
    columns
        Read only these columns (file sources read nothing else).
    n_rows
        Read only the first ``n_rows`` rows (a quick look at a large file).

    Returns
    -------
    polars.DataFrame
        The table, never empty.

    Raises
    ------
    DataError
        The file does not exist, cannot be parsed, the query fails, or the
        table has no rows or no columns.
    """
    if n_rows is not None and (
        isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1
    ):
        raise ParameterError(
            f"The 'n_rows' parameter of read must be a positive integer or None. Got {n_rows!r} instead."
        )
    lazy = scan(source, query=query)
    if columns is not None:
        available = _column_names(lazy, source)
        missing = [c for c in columns if c not in available]
        if missing:
            raise DataError(f"Column(s) {missing} not found in {_describe(source)}.")
        # projection pushed into the scan: other columns are never parsed
        lazy = lazy.select(list(columns))
    if n_rows is not None:
        lazy = lazy.head(n_rows)
    frame = _collect(lazy, source, columns=columns, n_rows=n_rows)
    if frame.width == 0 or frame.height == 0:
        raise DataError(
            f"{_describe(source)} is empty: it has {frame.height} rows and {frame.width} columns."
        )
    return frame


def scan(source: Any, *, query: str | None = None) -> pl.LazyFrame:
    """Open a source lazily: files are scanned, not loaded, where Polars can.

    Parameters
    ----------
    source, query
        As in :func:`read`.

    Returns
    -------
    polars.LazyFrame
    """
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, (str, Path)):
        text = str(source)
        if text.startswith(_SQL_SCHEMES):
            return _read_sql(text, query).lazy()
        if query is not None:
            raise ParameterError(
                "The 'query' parameter of read is only used with a SQL URI "
                f"(sqlite:///..., postgresql://...). Got a file path {text!r} instead."
            )
        return _scan_path(text)
    return _from_object(source).lazy()


def _scan_path(text: str) -> pl.LazyFrame:
    if any(ch in text for ch in "*?["):
        matches = sorted(glob.glob(text))
        if not matches:
            raise DataError(
                f"No file matches {text!r}. Check the pattern and the working directory."
            )
        return pl.scan_parquet(matches)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(
            f"File {text!r} does not exist. Check the path (working directory: {Path.cwd()})."
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _PARQUET_SUFFIXES)
        if not files:
            raise DataError(f"Directory {text!r} holds no Parquet files (*.parquet).")
        return pl.scan_parquet(files)
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return pl.scan_parquet(path)
    if suffix in _IPC_SUFFIXES:
        return pl.scan_ipc(path)
    if suffix in {".ndjson", ".jsonl"}:
        return pl.scan_ndjson(path)
    if suffix == ".json":
        return _read_json(path).lazy()
    if suffix in {".xlsx", ".xls"}:
        raise DataError(
            f"{text!r} is an Excel file; export it to CSV or Parquet, or read it with "
            "polars.read_excel and pass the DataFrame."
        )
    if suffix in _CSV_SUFFIXES or suffix == "":
        return _scan_csv(path)
    raise DataError(
        f"Cannot tell the format of {text!r} from its extension {suffix!r}. "
        "Use .csv, .tsv, .parquet, .json, .ndjson or .arrow, or pass a DataFrame."
    )


def _sniff_delimiter(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
    if not sample.strip():
        raise DataError(f"File {str(path)!r} is empty.")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def _scan_csv(path: Path) -> pl.LazyFrame:
    sep = _sniff_delimiter(path)
    return pl.scan_csv(
        path,
        separator=sep,
        null_values=list(NA_TOKENS),
        infer_schema_length=_INFER_ROWS,
        try_parse_dates=False,
    )


def _read_json(path: Path) -> pl.DataFrame:
    try:
        return pl.read_json(path)
    except Exception:
        # Many ".json" files are newline-delimited records.
        try:
            return pl.read_ndjson(path)
        except Exception as exc:
            raise DataError(f"Cannot parse {str(path)!r} as JSON or NDJSON: {exc}") from exc


def _read_sql(uri: str, query: str | None) -> pl.DataFrame:
    if query is None:
        raise ParameterError(
            "The 'query' parameter of read is required with a SQL URI. "
            "Got None instead; pass e.g. query='SELECT * FROM my_table'."
        )
    if uri.startswith("sqlite://"):
        import sqlite3

        db = uri.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not Path(db).exists():
            raise DataError(f"SQLite database {db!r} does not exist.")
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return pl.read_database(query, connection, infer_schema_length=_INFER_ROWS)
        except Exception as exc:
            raise DataError(f"The query failed on {db!r}: {exc}") from exc
        finally:
            connection.close()
    try:
        return pl.read_database_uri(query, uri)
    except ImportError as exc:
        raise DataError(
            f"Reading {uri.split('://')[0]} needs the 'connectorx' package (or 'adbc-driver-postgresql'). "
            "Install it with: pip install connectorx"
        ) from exc
    except Exception as exc:
        raise DataError(f"The query failed on {uri.split('@')[-1]}: {exc}") from exc


def _from_object(source: Any) -> pl.DataFrame:
    module = type(source).__module__.split(".")[0]
    if module == "pandas":
        return pl.from_pandas(source)
    if module == "pyarrow":
        out = pl.from_arrow(source)
        if isinstance(out, pl.Series):
            return out.to_frame()
        return out
    if module == "numpy":
        if source.ndim != 2:
            raise DataError(
                f"A NumPy array must be 2-D (rows x columns). Got {source.ndim} dimension(s)."
            )
        return pl.from_numpy(source, schema=[f"x{i}" for i in range(source.shape[1])], orient="row")
    if isinstance(source, Mapping):
        return pl.DataFrame(dict(source))
    raise DataError(
        f"Cannot read data of type {type(source).__name__}. Pass a file path, a SQL URI, or a "
        "Polars, pandas or Arrow table."
    )


def _column_names(lazy: pl.LazyFrame, source: Any) -> list[str]:
    try:
        return lazy.collect_schema().names()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"Cannot read {_describe(source)}: {exc}") from exc


def _collect(
    lazy: pl.LazyFrame,
    source: Any,
    *,
    columns: Sequence[str] | None = None,
    n_rows: int | None = None,
) -> pl.DataFrame:
    try:
        return _contiguous(lazy.collect())
    except pl.exceptions.ComputeError as exc:
        # Type inference on the first rows can be contradicted later in the file.
        if isinstance(source, (str, Path)) and Path(str(source)).suffix.lower() in _CSV_SUFFIXES:
            path = Path(str(source))
            try:
                return _contiguous(
                    pl.read_csv(
                        path,
                        separator=_sniff_delimiter(path),
                        null_values=list(NA_TOKENS),
                        infer_schema_length=None,
                        columns=list(columns) if columns is not None else None,
                        n_rows=n_rows,
                    )
                )
            except Exception as exc2:
                raise DataError(f"Cannot parse {str(source)!r}: {exc2}") from exc2
        raise DataError(f"Cannot read {_describe(source)}: {exc}") from exc
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"Cannot read {_describe(source)}: {exc}") from exc


_MIN_CHUNK_ROWS = 1024


def _contiguous(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every column of short chunks (under 1,024 rows on average) in one.

    The parallel CSV reader splits columns into chunks of about 2 MB of text each:
    thousands of rows on typical tables, a few hundred on very wide ones, where the
    per-chunk cost of every later slice and conversion adds up. Columns are made
    contiguous a few at a time, so the extra memory is a few columns.
    """
    # Every later query pays a little per chunk, so columns of many short chunks are
    # joined. Chunks of thousands of rows (the CSV reader's on typical tables, Parquet
    # row groups) cost a few per cent later, less than the copy: joining them took
    # longer than it saved and held a second copy of the table in the allocator.
    n = max(frame.height, 1)
    names = [
        name for name in frame.columns if frame[name].n_chunks() > max(1, n // _MIN_CHUNK_ROWS)
    ]
    if not names:
        return frame
    from concurrent.futures import ThreadPoolExecutor

    # a few columns at a time on threads (Polars copies without the GIL)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i in range(0, len(names), workers):
            columns = [frame[name] for name in names[i : i + workers]]
            frame = frame.with_columns(list(pool.map(pl.Series.rechunk, columns)))
            del columns
    return frame


def _describe(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return f"{str(source)!r}"
    return f"the {type(source).__name__} passed"
