from __future__ import annotations

import datetime
import re

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlwf_core.exceptions import DataError, ParameterError
from mlwf_core.io import NA_TOKENS
from mlwf_core.schema import Schema, detect_task, infer_schema, parse_datetime


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([True, False, True], "binary"),
        ([0, 1, 1], "binary"),
        ([1, 2, 3, 1], "multiclass"),
        (list(range(100)), "regression"),
        ([0.5, 1.5, 2.5], "regression"),
        ([0.0, 1.0, 0.0], "binary"),
    ],
)
def test_detect_task(values, task):
    assert detect_task(pl.Series("y", values)) == task


def test_single_value_target_is_an_error():
    with pytest.raises(DataError, match="single value"):
        detect_task(pl.Series("y", ["a", "a"]))


def test_roles():
    n = 50
    frame = pl.DataFrame(
        {
            "row": list(range(n)),
            "num": [float(i % 7) for i in range(n)],
            "cat": ["a", "b"] * (n // 2),
            "flag": ["yes", "no"] * (n // 2),
            "const": [1] * n,
            "code": [f"u{i}" for i in range(n)],
            "y": [int(i % 3 == 0) for i in range(n)],
        }
    )
    schema = infer_schema(frame, "y")
    assert schema.roles == {
        "row": "id",
        "num": "numeric",
        "cat": "categorical",
        "flag": "boolean",
        "const": "constant",
        "code": "id",
        "y": "target",
    }
    assert schema.task == "binary"
    assert schema.features == ["num", "cat", "flag"]
    assert Schema.from_dict(schema.to_dict()) == schema


def test_role_overrides_and_errors():
    frame = pl.DataFrame({"a": [1, 2, 3, 4], "y": [1.0, 2.0, 3.5, 4.0]})
    assert infer_schema(frame, "y", roles={"a": "categorical"}).roles["a"] == "categorical"
    with pytest.raises(ParameterError, match="not in the data"):
        infer_schema(frame, "y", roles={"zz": "numeric"})
    with pytest.raises(ParameterError, match="role of column"):
        infer_schema(frame, "y", roles={"a": "weird"})
    with pytest.raises(DataError, match="not in the data"):
        infer_schema(frame, "target")
    with pytest.raises(DataError, match="every row is missing"):
        infer_schema(frame.with_columns(pl.lit(None, pl.Float64).alias("y")), "y")


def _y(n: int) -> list[int]:
    # labels unrelated to the feature values, so no column looks like leakage
    import numpy as np

    return np.random.default_rng(n).integers(0, 2, n).tolist()


def _numbers_frame(values: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"v": values, "y": _y(len(values))}, schema_overrides={"v": pl.String})


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["$1,200.50", "$35.00", "$980", None, "N/A", "$12,000"], "number"),
        (["12%", "5.5 %", "100%", "0%", "?", "33%"], "number"),
        (["1.234,5", "3,25", "10,0", "7,75", "", "2.000,125"], "number_comma"),
        (["€ 3", "£4.5", "¥100", "1 000", "-", "12"], "number"),
    ],
)
def test_numbers_stored_as_text(values, fmt):
    schema = infer_schema(_numbers_frame(values * 10), "y")
    assert schema.roles["v"] == "numeric"
    assert schema.formats["v"] == fmt
    assert schema.reasons["v"] == "numbers stored as text"


def test_number_parse_values():
    from mlwf_core.schema import parse_number_expr

    frame = pl.DataFrame({"v": ["$1,234.50", " 12 % ", "abc", "NA", None, "-7", "1e3"]})
    out = frame.select(parse_number_expr(pl.col("v"))).to_series().to_list()
    assert out == [1234.5, 12.0, None, None, None, -7.0, 1000.0]
    comma = frame.select(parse_number_expr(pl.lit("1.234,5"), "number_comma")).item()
    assert comma == 1234.5


def test_mostly_text_is_not_numeric():
    schema = infer_schema(_numbers_frame(["12", "abc", "x", "7", "y", "z"] * 10), "y")
    assert schema.roles["v"] == "categorical"


def test_na_tokens_in_memory_count_as_missing():
    frame = pl.DataFrame({"v": ["a", "?", "NA", "a", "", "null"] * 10, "y": _y(60)})
    schema = infer_schema(frame, "y")
    assert schema.roles["v"] == "constant"  # "a" is the only value that is not missing


@pytest.mark.parametrize("pair", [("Yes", "No"), ("TRUE", "false"), ("y", "n"), ("T", "F")])
def test_boolean_tokens(pair):
    frame = pl.DataFrame({"b": [pair[0], pair[1], None] * 10, "y": _y(30)})
    assert infer_schema(frame, "y").roles["b"] == "boolean"


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2021-03-04", "2021-12-31", "2020-02-29 13:45:00", "2022-01-01T08:00:00Z"], "iso"),
        (["31/12/2021", "01/02/2020", "15/06/2019", "3/4/2018"], "dmy"),
        (["12/31/2021", "01/02/2020", "06/15/2019", "3/4/2018 10:30"], "mdy"),
        (["01/02/2020", "03/04/2021", "05/06/2019", "07/08/2018"], "mdy"),  # ambiguous
    ],
)
def test_dates_stored_as_text(values, fmt):
    frame = pl.DataFrame({"d": values * 10, "y": _y(40)})
    schema = infer_schema(frame, "y")
    assert schema.roles["d"] == "datetime"
    assert schema.formats["d"] == fmt


def test_inconsistent_day_month_order_is_not_a_date():
    frame = pl.DataFrame({"d": ["31/12/2021", "12/31/2021", "01/02/2020"] * 10, "y": _y(30)})
    assert infer_schema(frame, "y").roles["d"] == "categorical"


def test_typed_datetimes_and_high_cardinality():
    from datetime import date

    n = 400
    frame = pl.DataFrame(
        {
            "when": [date(2020, 1, 1 + i % 28) for i in range(n)],
            "city": [f"c{i % 150}" for i in range(n)],
            "y": _y(n),
        }
    )
    schema = infer_schema(frame, "y")
    assert schema.roles["when"] == "datetime"
    assert schema.roles["city"] == "categorical"
    assert "high cardinality" in schema.reasons["city"]


def test_free_text_and_string_ids():
    n = 60
    frame = pl.DataFrame(
        {
            "note": [f"customer {i} called about the late delivery" for i in range(n)],
            "key": [f"K-{i:05d}" for i in range(n)],
            "y": _y(n),
        }
    )
    roles = infer_schema(frame, "y").roles
    assert roles["note"] == "text"
    assert roles["key"] == "id"


def test_duplicate_columns_and_rows():
    frame = pl.DataFrame(
        {
            "a": [1.0, 2.0, 3.0, 4.0] * 10,
            "b": [1.0, 2.0, 3.0, 4.0] * 10,
            "c": ["x", "y", "x", "z"] * 10,
            "y": [0, 1, 1, 1] * 10,
        }
    )
    schema = infer_schema(frame, "y")
    assert schema.roles["b"] == "ignored"
    assert schema.reasons["b"] == "duplicate of column 'a'"
    assert schema.duplicate_rows == 36
    kept = infer_schema(frame, "y", roles={"b": "numeric"})
    assert kept.roles["b"] == "numeric"


def test_target_leakage_is_flagged_and_dropped():
    import numpy as np

    from mlwf_core.exceptions import MlwfWarning

    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    frame = pl.DataFrame(
        {"leak": np.exp(y), "ok": y + rng.normal(size=500), "noise": rng.normal(size=500), "y": y}
    )
    with pytest.warns(MlwfWarning, match="'leak'.*leakage"):
        schema = infer_schema(frame, "y")
    assert schema.roles["leak"] == "ignored"
    assert schema.reasons["leak"].startswith("target leakage")
    assert schema.roles["ok"] == "numeric"
    labels = pl.DataFrame(
        {"copy": ["p" if v > 0 else "q" for v in y], "y": ["A" if v > 0 else "B" for v in y]}
    )
    with pytest.warns(MlwfWarning, match="'copy'"):
        assert infer_schema(labels, "y").roles["copy"] == "ignored"
    # a role set by the user is trusted
    assert infer_schema(frame, "y", roles={"leak": "numeric"}).roles["leak"] == "numeric"


def test_schema_serialises_formats():
    schema = infer_schema(_numbers_frame(["$1", "$2", "$3"] * 10), "y")
    again = Schema.from_dict(schema.to_dict())
    assert again == schema and again.formats == {"v": "number"}


def test_real_leak_caught_and_no_false_alarm_on_shared_data():
    import warnings

    from conftest import shared_task

    import mlwf_core as mw
    from mlwf_core.exceptions import MlwfWarning

    task = shared_task("wage.csv")
    frame = mw.read(task["path"]).drop("rownames")
    with pytest.warns(MlwfWarning, match="'logwage'"):
        schema = infer_schema(frame, "wage")  # logwage = log(wage): the manifest drops it
    assert schema.roles["logwage"] == "ignored"
    with warnings.catch_warnings():
        warnings.simplefilter("error", MlwfWarning)
        clean = infer_schema(frame.drop("logwage"), "wage")
    assert clean.dropped == ["region"] and clean.duplicate_rows == 3


# Reference for parse_datetime: the documented grammar as Python regular expressions,
# one value at a time. White space is Unicode's White_Space, what Polars strips.
_WS = (
    " \t\n\v\f\r\u0085\u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_TIME = r"(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?)?"
_REF = {
    "iso": re.compile(
        r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})" + _TIME + r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
    ),
    "dmy": re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})" + _TIME),
}
_REF["mdy"] = _REF["dmy"]


def _reference_datetime(value: str | None, fmt: str) -> datetime.datetime | None:
    if value is None:
        return None
    match = _REF[fmt].fullmatch(value.strip(_WS))
    if match is None:
        return None
    a, b, c = (int(g) for g in match.groups()[:3])
    year, month, day = {"iso": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b)}[fmt]
    hour, minute, second = (int(g) if g else 0 for g in match.groups()[3:6])
    try:
        return datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:  # no such date or time
        return None


def _date_texts() -> st.SearchStrategy[str]:
    def two(lo: int, hi: int) -> st.SearchStrategy[str]:
        return st.integers(lo, hi).flatmap(lambda v: st.sampled_from([str(v), f"{v:02d}"]))

    year = st.integers(1, 9999).map(lambda v: f"{v:04d}")
    sep = st.sampled_from(["-", "/", ".", ":"])
    time = st.one_of(
        st.just(""),
        st.tuples(
            st.sampled_from(["T", " ", "t"]),
            two(0, 25),
            st.integers(0, 61).map(lambda v: f":{v:02d}"),
            st.sampled_from(["", ":00", ":59", ":60", ":7"]),
            st.sampled_from(["", ".5", ".123456", "."]),
        ).map("".join),
    )
    zone = st.sampled_from(["", "", "Z", "+01:00", "-0530", "+1", "z"])
    pad = st.text(alphabet=_WS[:4] + "\u00a0\u2003\u3000", max_size=2)
    iso = st.tuples(pad, year, sep, two(0, 13), sep, two(0, 32), time, zone, pad)
    slash = st.tuples(pad, two(0, 32), sep, two(0, 13), sep, year, time, zone, pad)
    noise = st.text(alphabet="0123456789-/:T .Z+", max_size=22)
    return st.one_of(iso.map("".join), slash.map("".join), noise, st.sampled_from(list(NA_TOKENS)))


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _date_texts()), min_size=1, max_size=40))
def test_text_dates_parse_like_the_reference_grammar(values):
    for fmt in ("iso", "dmy", "mdy"):
        got = parse_datetime(pl.Series("d", values, dtype=pl.String), fmt)
        assert got.dtype == pl.Datetime("us") and got.name == "d"
        assert got.to_list() == [_reference_datetime(v, fmt) for v in values], fmt


def test_text_dates_of_every_layout_and_chunking():
    rng = np.random.default_rng(4)
    stamps = np.datetime64("1990-01-01T00:00:00") + rng.integers(0, 10**9, 500).astype(
        "timedelta64[s]"
    )
    text = [str(s) for s in stamps]
    for values in (
        text,  # 1990-05-06T07:08:09
        [t.replace("T", " ") for t in text],
        [t[:16] for t in text],
        [t[:10] + "\u00a0" for t in text],
        [t[:10] for t in text[:-1]] + ["2021-02-30", "NA", "2020-02-29"],
    ):
        col = pl.concat([pl.Series("d", values[:200]), pl.Series("d", values[200:] + [None])])
        assert col.n_chunks() == 2
        got = parse_datetime(col, "iso").to_list()
        assert got == [_reference_datetime(v, "iso") for v in values + [None]]
        # a slice starts its offsets inside the Arrow buffer
        assert parse_datetime(col.slice(150, 100), "iso").to_list() == got[150:250]
    assert parse_datetime(pl.Series("d", [], dtype=pl.String), "iso").len() == 0
    categorical = pl.Series("d", ["2020-01-02", None, "x"], dtype=pl.Categorical)
    assert parse_datetime(categorical, "iso").to_list() == [
        datetime.datetime(2020, 1, 2),
        None,
        None,
    ]
    with pytest.raises(ValueError, match="format must be"):
        parse_datetime(pl.Series("d", ["2020-01-02"]), "ymd")


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(60, 600),
    m=st.integers(1, 40),
    kind=st.sampled_from(["regression", "binary", "multiclass"]),
    seed=st.integers(0, 2**16),
)
def test_leakage_score_matches_per_row_predictions(n, m, kind, seed):
    # the screen scores one feature from per-cell sums; the reference predicts every
    # row from the other folds' rows with its code, and scores with scikit-learn
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    from mlwf_core.schema import _oof_score

    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, m, n).astype(np.int64)
    folds = rng.integers(0, 5, n).astype(np.int64)
    if kind == "regression":
        y, n_classes = rng.normal(size=n) + (codes % 3), 0
    elif kind == "binary":
        y, n_classes = (rng.random(n) < 0.2 + 0.6 * (codes % 2)).astype(np.float64), 2
    else:
        y, n_classes = rng.integers(0, 3, n).astype(np.float64), 3
    pred = np.empty(n)
    for i in range(n):
        rest = (folds != folds[i]) & (codes == codes[i])
        if not rest.any():
            pred[i] = np.bincount(y.astype(int)).argmax() if n_classes > 2 else y.mean()
        elif n_classes > 2:
            pred[i] = np.bincount(y[rest].astype(int), minlength=3).argmax()
        else:
            pred[i] = y[rest].mean()
    got = _oof_score(codes, y, folds, n_classes)
    if kind == "regression":
        assert got == pytest.approx(r2_score(y, pred), abs=1e-9)
    elif kind == "binary":
        want = roc_auc_score(y, pred) if 0 < y.sum() < n else 0.5
        assert got == pytest.approx(want, abs=1e-12)
    else:
        assert got == pytest.approx(accuracy_score(y, pred), abs=1e-12)
