"""Streaming batch scoring: many batches, CSV and Parquet in and out, kept columns, errors."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from conftest import make_frame

import mlwf_core as mw
from mlwf_core.cli import main
from mlwf_core.deploy._batch import predict_batch
from mlwf_core.exceptions import ArtifactError, DataError, MlwfWarning, ParameterError, SchemaError


def _fit(frame: pl.DataFrame) -> mw.AutoModel:
    with warnings.catch_warnings():
        # on a busy machine two seconds may not cross-validate anything; the model is valid
        warnings.simplefilter("ignore", MlwfWarning)
        return mw.fit_auto(frame, "y", time_budget=2, n_jobs=1, verbose=0)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    out = {}
    for task in ("binary", "regression"):
        model = _fit(make_frame(n=300, task=task, seed=3))
        out[task] = (model, model.save(tmp / f"{task}.mlwf"))
    data = make_frame(n=5_000, seed=4).drop("y")
    return out, data


@pytest.mark.parametrize("src", ["csv", "parquet"])
@pytest.mark.parametrize("dst", ["csv", "parquet"])
def test_batches_match_the_model(fitted, tmp_path, src, dst):
    models, data = fitted
    model, path = models["binary"]
    source = tmp_path / f"in.{src}"
    getattr(data, f"write_{src}")(source)
    target = tmp_path / f"out.{dst}"
    done = predict_batch(path, source, target, keep=["id"], batch_rows=700, n_threads=2)
    assert done["rows"] == data.height and done["batches"] == 8
    assert done["rows_per_s"] > 0 and done["seconds"] > 0
    out = pl.read_csv(target) if dst == "csv" else pl.read_parquet(target)
    assert out.columns == ["id", "prediction", "proba_no", "proba_yes"]
    # input order is kept across batches scored concurrently
    assert out["id"].to_list() == data["id"].to_list()
    np.testing.assert_allclose(
        out.select("proba_no", "proba_yes").to_numpy(),
        model.predict_proba(data),
        rtol=1e-6,
        atol=1e-9,
    )
    assert out["prediction"].to_list() == model.predict(data).tolist()
    assert not list(tmp_path.glob(".out*"))  # no temporary file left behind


def test_regression_and_no_keep(fitted, tmp_path):
    models, data = fitted
    model, path = models["regression"]
    source = tmp_path / "in.parquet"
    data.write_parquet(source)
    done = predict_batch(path, source, tmp_path / "o.parquet", batch_rows=1_000)
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out.columns == ["prediction"] and done["rows"] == data.height
    np.testing.assert_allclose(
        out["prediction"].to_numpy(), model.predict(data), rtol=1e-6, atol=1e-6
    )


def test_late_rows_do_not_break_type_inference(fitted, tmp_path):
    models, _ = fitted
    model, path = models["binary"]
    # integers for longer than Polars infers types, then a decimal number
    n = 10_500
    frame = (
        make_frame(n=n, seed=5).drop("y").with_columns(pl.Series("x2", ["1"] * (n - 1) + ["0.5"]))
    )
    frame.write_csv(tmp_path / "late.csv")
    predict_batch(path, tmp_path / "late.csv", tmp_path / "late.parquet", batch_rows=4_000)
    out = pl.read_parquet(tmp_path / "late.parquet")
    expected = model.predict_proba(frame.with_columns(pl.col("x2").cast(pl.Float64)))
    np.testing.assert_allclose(
        out.select("proba_no", "proba_yes").to_numpy(), expected, rtol=1e-6, atol=1e-9
    )


def test_empty_input_writes_a_header(fitted, tmp_path):
    models, data = fitted
    _, path = models["binary"]
    source = tmp_path / "empty.parquet"
    data.head(0).write_parquet(source)
    done = predict_batch(path, source, tmp_path / "e.csv", keep=["id"])
    assert done["rows"] == 0
    assert (tmp_path / "e.csv").read_text().strip() == "id,prediction,proba_no,proba_yes"


def test_errors(fitted, tmp_path):
    models, data = fitted
    _, path = models["binary"]
    source = tmp_path / "in.csv"
    data.write_csv(source)
    with pytest.raises(DataError, match="--keep names column"):
        predict_batch(path, source, tmp_path / "o.csv", keep=["nope"])
    data.drop("x2").write_csv(tmp_path / "short.csv")
    with pytest.raises(SchemaError, match="x2"):
        predict_batch(path, tmp_path / "short.csv", tmp_path / "o.csv")
    with pytest.raises(ParameterError, match="output format"):
        predict_batch(path, source, tmp_path / "o.xlsx")
    with pytest.raises(ParameterError, match="batch_rows"):
        predict_batch(path, source, tmp_path / "o.csv", batch_rows=0)
    with pytest.raises(ArtifactError, match="does not exist"):
        predict_batch(tmp_path / "missing.mlwf", source, tmp_path / "o.csv")
    with pytest.raises(DataError, match="does not exist"):
        predict_batch(path, tmp_path / "missing.csv", tmp_path / "o.csv")
    bad = data.with_columns(pl.col("x1").cast(pl.String))
    bad = bad.with_columns(
        pl.when(pl.col("id") == 4_000).then(pl.lit("abc")).otherwise(pl.col("x1")).alias("x1")
    )
    bad.write_csv(tmp_path / "bad.csv")
    with pytest.raises(DataError, match="x1"):
        predict_batch(path, tmp_path / "bad.csv", tmp_path / "o.parquet", batch_rows=500)
    assert not (tmp_path / "o.parquet").exists()


def test_cli_predict_streams(fitted, tmp_path, capsys):
    models, data = fitted
    _, path = models["binary"]
    source = tmp_path / "in.csv"
    data.write_csv(source)
    target = tmp_path / "scored.parquet"
    assert main(["predict", str(path), str(source), "-o", str(target), "--keep", "id"]) == 0
    assert "rows/s" in capsys.readouterr().err
    assert pl.read_parquet(target).height == data.height
