from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import mlwf_core as mw
from mlwf_core.exceptions import DataError, ParameterError
from mlwf_core.io import scan


@pytest.fixture
def table() -> pl.DataFrame:
    return pl.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, 1.5, None]})


def test_csv_tsv_parquet_json_ipc_roundtrip(tmp_path, table):
    table.write_csv(tmp_path / "t.csv")
    table.write_csv(tmp_path / "t.tsv", separator="\t")
    table.write_parquet(tmp_path / "t.parquet")
    table.write_ndjson(tmp_path / "t.ndjson")
    table.write_ipc(tmp_path / "t.arrow")
    for name in ["t.csv", "t.tsv", "t.parquet", "t.ndjson", "t.arrow"]:
        out = mw.read(tmp_path / name)
        assert out.columns == ["a", "b", "c"], name
        assert out["a"].to_list() == [1, 2, 3], name
        assert out["b"].null_count() == 1, name


def test_na_tokens_become_missing(tmp_path):
    (tmp_path / "na.csv").write_text("x,y\n1,NA\n2,?\n3,b\n")
    out = mw.read(tmp_path / "na.csv")
    assert out["y"].to_list() == [None, None, "b"]


def test_semicolon_delimiter_sniffed(tmp_path):
    (tmp_path / "semi.csv").write_text("x;y\n1;2\n3;4\n")
    assert mw.read(tmp_path / "semi.csv").columns == ["x", "y"]


def test_in_memory_objects(table):
    assert mw.read(table).equals(table)
    assert mw.read(table.lazy()).equals(table)
    assert mw.read(table.to_pandas())["a"].to_list() == [1, 2, 3]
    assert mw.read(table.to_arrow()).shape == (3, 3)
    assert mw.read(pa.table({"q": [1.0, 2.0]})).columns == ["q"]
    assert mw.read(np.ones((4, 2))).shape == (4, 2)
    assert mw.read({"k": [1, 2]}).shape == (2, 1)
    assert mw.read(pd.DataFrame({"k": [1, 2]})).shape == (2, 1)


def test_parquet_directory_and_glob(tmp_path, table):
    (tmp_path / "parts").mkdir()
    table.write_parquet(tmp_path / "parts" / "a.parquet")
    table.write_parquet(tmp_path / "parts" / "b.parquet")
    assert mw.read(tmp_path / "parts").height == 6
    assert mw.read(str(tmp_path / "parts" / "*.parquet")).height == 6


def test_sqlite(tmp_path):
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as con:
        con.execute("create table t (a integer, b text)")
        con.executemany("insert into t values (?, ?)", [(1, "x"), (2, "y")])
    out = mw.read(f"sqlite:///{db}", query="select * from t order by a")
    assert out["b"].to_list() == ["x", "y"]
    with pytest.raises(DataError, match="query failed"):
        mw.read(f"sqlite:///{db}", query="select * from missing_table")
    with pytest.raises(ParameterError, match="query"):
        mw.read(f"sqlite:///{db}")


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        mw.read(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        mw.read(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="0 rows"):
        mw.read(tmp_path / "header.csv")
    with pytest.raises(DataError, match="extension"):
        (tmp_path / "x.weird").write_text("a\n1\n")
        mw.read(tmp_path / "x.weird")
    with pytest.raises(DataError, match="Cannot read data of type"):
        mw.read(42)
    with pytest.raises(DataError, match="not found"):
        mw.read(pl.DataFrame({"a": [1]}), columns=["b"])


def test_json_array_and_ipc_and_feather(tmp_path, table):
    table.write_json(tmp_path / "t.json")
    table.write_ipc(tmp_path / "t.feather")
    for name in ["t.json", "t.feather"]:
        out = mw.read(tmp_path / name)
        assert out["a"].to_list() == [1, 2, 3], name
    (tmp_path / "lines.json").write_text('{"a": 1}\n{"a": 2}\n')
    assert mw.read(tmp_path / "lines.json")["a"].to_list() == [1, 2]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="Cannot parse"):
        mw.read(tmp_path / "bad.json")


def test_only_needed_columns_and_rows_are_read(tmp_path):
    frame = pl.DataFrame({"a": list(range(1000)), "b": ["x"] * 1000, "c": [0.5] * 1000})
    frame.write_parquet(tmp_path / "t.parquet")
    frame.write_csv(tmp_path / "t.csv")
    for name in ["t.parquet", "t.csv"]:
        # the projection reaches the file scan: column "b" is never parsed
        assert "PROJECT 2/3 COLUMNS" in scan(tmp_path / name).select(["c", "a"]).explain()
        out = mw.read(tmp_path / name, columns=["c", "a"], n_rows=10)
        assert out.columns == ["c", "a"] and out.height == 10
    with pytest.raises(ParameterError, match="'n_rows'"):
        mw.read(tmp_path / "t.csv", n_rows=0)


def test_csv_types_contradicted_late_in_the_file(tmp_path):
    rows = ["x,y"] + [f"{i},{i}" for i in range(20_000)] + ["abc,1"]
    (tmp_path / "late.csv").write_text("\n".join(rows) + "\n")
    out = mw.read(tmp_path / "late.csv")
    assert out.height == 20_001 and out["x"].dtype == pl.String
    assert mw.read(tmp_path / "late.csv", columns=["x"]).columns == ["x"]


def test_excel_and_missing_sql_driver_messages(tmp_path, monkeypatch):
    (tmp_path / "book.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match="Excel"):
        mw.read(tmp_path / "book.xlsx")

    def no_driver(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'connectorx'")

    monkeypatch.setattr(pl, "read_database_uri", no_driver)
    with pytest.raises(DataError, match="pip install connectorx"):
        mw.read("postgresql://user@localhost:5432/db", query="select 1")


@pytest.mark.integration
def test_postgresql_when_a_server_is_available():
    import os

    uri = os.environ.get("MLWF_TEST_POSTGRES_URI")
    if not uri:
        pytest.skip("set MLWF_TEST_POSTGRES_URI=postgresql://... to test against a server")
    out = mw.read(uri, query="select 1 as one, 'x' as two")
    assert out.to_dicts() == [{"one": 1, "two": "x"}]
    with pytest.raises(DataError, match="query failed"):
        mw.read(uri, query="select * from mlwf_no_such_table")


def test_sqlite_types_and_empty_results(tmp_path):
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as con:
        con.execute("create table t (a integer, b real, c text)")
        con.executemany("insert into t values (?, ?, ?)", [(1, 0.5, "x"), (2, None, None)])
    out = mw.read(f"sqlite:///{db}", query="select * from t")
    assert out.schema == {"a": pl.Int64, "b": pl.Float64, "c": pl.String}
    with pytest.raises(DataError, match="0 rows"):
        mw.read(f"sqlite:///{db}", query="select * from t where a > 5")
    with pytest.raises(DataError, match="does not exist"):
        mw.read(f"sqlite:///{tmp_path / 'nope.db'}", query="select 1")


def test_columns_of_many_chunks_come_back_contiguous(tmp_path):
    # the parallel CSV reader splits columns into chunks; columns of short chunks
    # (under _MIN_CHUNK_ROWS rows on average) are joined, longer chunks kept
    from mlwf_core.io import _MIN_CHUNK_ROWS, _contiguous

    rng = np.random.default_rng(0)
    n = 100_000
    frame = pl.DataFrame(
        {"a": rng.normal(size=n), "b": rng.integers(0, 9, n).astype(str), "c": ["x"] * n}
    )
    path = tmp_path / "t.csv"
    frame.write_csv(path)
    out = mw.read(path)
    assert max(out[c].n_chunks() for c in out.columns) <= n // _MIN_CHUNK_ROWS
    assert out.equals(frame.with_columns(pl.col("b").cast(pl.Int64)))

    short = pl.concat([frame.slice(i, 500) for i in range(0, n, 500)], rechunk=False)
    long = pl.concat([frame.slice(i, 5000) for i in range(0, n, 5000)], rechunk=False)
    mixed = short.with_columns(long["c"])
    assert [mixed[c].n_chunks() for c in mixed.columns] == [200, 200, 20]
    joined = _contiguous(mixed)
    assert [joined[c].n_chunks() for c in joined.columns] == [1, 1, 20]
    assert joined.equals(frame)

    # Parquet row groups are kept as they are
    pq = tmp_path / "t.parquet"
    frame.write_parquet(pq, row_group_size=25_000)
    back = mw.read(pq)
    assert back["a"].n_chunks() == 4 and back.equals(frame)
