"""Preprocessing: learn the :class:`~mlwf_core.plan.Plan` that turns a raw Polars frame into the float32 matrix the learners see.

:class:`Preprocessor` looks at the training rows (and the target, for the
supervised steps) and records each fitted step as plain data in the Plan; the
Plan itself (:mod:`mlwf_core.plan`) applies it for training, batch scoring and,
replayed in C++, the compiled scorer.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from mlwf_core._typing import Float32Array
from mlwf_core.exceptions import NotFittedError, ParameterError
from mlwf_core.plan import (
    _MAX_LEVELS,
    _SCREEN_ROWS,
    ALL_OPS,
    DATE_PARTS,
    PLAN_VERSION,
    TEXT_OPS,
    Plan,
    _date_part,
    _is_text,
    _parse_number,
    replayable_ops,
)
from mlwf_core.schema import Schema, block_starts, clean_text_expr, parse_datetime

__all__ = ["PLAN_VERSION", "Plan", "Preprocessor", "replayable_ops"]


class Preprocessor:
    """Learn a :class:`Plan` from training data.

    Parameters
    ----------
    max_levels
        Most frequent category levels kept per column; rarer ones score as missing.
    seed
        Seed of the target-encoding folds and of feature generation.
    n_jobs
        Threads for the feature screens that use a learner.
    impute
        ``None`` (default) passes missing values to the learners, which handle
        them natively; ``"median"``, ``"mode"`` or ``"constant"`` fills them
        (categoricals: the most frequent level, or their own code with ``"constant"``).
    fill_value
        The value ``impute="constant"`` fills numeric and boolean columns with.
    rare_min_count
        Levels seen fewer times are rare: pooled into one level for native
        categoricals (when at least two are rare).
    max_native_levels
        Categoricals with more frequent levels than this get frequency and
        out-of-fold target encoding instead of native categorical splits.
    missing_indicators
        Add a 0 / 1 feature for columns whose missingness is associated with
        the target (G-test, p < 0.001).
    text_buckets
        Hashed token-count features per free-text column.
    features
        Generate features with :class:`mlwf_core.features.FeatureBuilder`:
        ``True`` (its defaults), ``False``, or a mapping of its parameters. Off
        by default: on the dev suite it did not improve the mean normalised score.
    n_folds
        Folds of the out-of-fold target encoding.
    op_kinds
        Plan op kinds the preprocessing may use: ``"auto"`` (those the compiled
        scorer of this build replays, see :func:`replayable_ops`), ``"all"``, or
        a collection of kinds. A step whose op is not allowed falls back to the
        plain column kinds (text numbers and high-cardinality columns become
        categoricals; dates, text and indicators are left out).
    """

    def __init__(
        self,
        max_levels: int = _MAX_LEVELS,
        *,
        seed: int = 0,
        n_jobs: int = 1,
        impute: str | None = None,
        fill_value: float = 0.0,
        rare_min_count: int = 10,
        max_native_levels: int = 64,
        missing_indicators: bool = True,
        text_buckets: int = 8,
        features: bool | Mapping[str, Any] = False,
        n_folds: int = 5,
        op_kinds: str | Collection[str] = "auto",
    ) -> None:
        self.max_levels = max_levels
        self.seed = seed
        self.n_jobs = n_jobs
        self.impute = impute
        self.fill_value = fill_value
        self.rare_min_count = rare_min_count
        self.max_native_levels = max_native_levels
        self.missing_indicators = missing_indicators
        self.text_buckets = text_buckets
        self.features = features
        self.n_folds = n_folds
        self.op_kinds = op_kinds

    def _validate(self) -> None:
        checks = [
            ("max_levels", self.max_levels, 1),
            ("rare_min_count", self.rare_min_count, 1),
            ("max_native_levels", self.max_native_levels, 1),
            ("text_buckets", self.text_buckets, 0),
            ("n_folds", self.n_folds, 2),
        ]
        for name, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(
                    f"The '{name}' parameter of Preprocessor must be an integer >= {low}. "
                    f"Got {value!r} instead."
                )
        if self.impute not in (None, "median", "mode", "constant"):
            raise ParameterError(
                "The 'impute' parameter of Preprocessor must be None, 'median', 'mode' or "
                f"'constant'. Got {self.impute!r} instead."
            )
        if not (
            self.op_kinds in ("auto", "all")
            or (not isinstance(self.op_kinds, str) and set(self.op_kinds) <= ALL_OPS)
        ):
            raise ParameterError(
                "The 'op_kinds' parameter of Preprocessor must be 'auto', 'all' or a collection "
                f"of op kinds among {sorted(ALL_OPS)}. Got {self.op_kinds!r} instead."
            )
        if not isinstance(self.features, (bool, Mapping)):
            raise ParameterError(
                "The 'features' parameter of Preprocessor must be True, False or a mapping of "
                f"FeatureBuilder parameters. Got {self.features!r} instead."
            )

    def fit(self, frame: pl.DataFrame, schema: Schema, y: np.ndarray | None = None) -> Preprocessor:
        """Learn the plan of the schema's feature columns.

        Parameters
        ----------
        frame
            Training rows (target rows already cleaned).
        schema
            Column roles; its ``task`` tells how ``y`` is encoded.
        y
            Encoded target (class codes or values) aligned with ``frame``, for
            supervised steps (target encoding, missing-indicator screening,
            feature generation); ``None`` fits the unsupervised steps only.

        Returns
        -------
        Preprocessor
            ``self``, with ``plan_`` set (and ``timings_``, seconds per step).
        """
        self._validate()
        start = time.monotonic()
        if y is not None:
            y = np.asarray(y, dtype=np.float64)
            if y.shape != (frame.height,):
                raise ParameterError(
                    f"The 'y' parameter of Preprocessor.fit must have one value per row "
                    f"({frame.height}). Got shape {y.shape} instead."
                )
        task = schema.task if y is not None else None
        if self.op_kinds == "auto":
            allowed = replayable_ops()
        else:
            allowed = ALL_OPS if self.op_kinds == "all" else frozenset(self.op_kinds)
        self._allowed = allowed
        self._imp = self.impute if "impute" in allowed else None
        self._taken: set[str] = set(schema.features)
        self._parsed: dict[tuple[str, str], pl.Series] = {}
        self._codes: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        columns: list[dict[str, Any]] = []
        ops: list[dict[str, Any]] = []
        oof: dict[str, np.ndarray] = {}
        # a stream of its own: folds drawn like the user's data would align with it
        folds = np.random.default_rng((self.seed, 0x7E)).integers(
            0, self.n_folds, size=frame.height
        )
        roles: dict[str, str] = {}
        for name in schema.features:
            role = schema.roles[name]
            if (
                role == "numeric"
                and _is_text(frame.schema[name])
                and not {"parse_number", "impute"} & allowed
            ):
                role = "categorical"
            roles[name] = role
        # The column scans that dominate fitting run in threads (Polars releases the
        # GIL): level counts of categoricals and parsed dates.
        self._scans = _run_threads(
            {name: (_level_counts, frame[name]) for name, r in roles.items() if r == "categorical"}
            | {
                name: (parse_datetime, frame[name], schema.formats.get(name) or "iso")
                for name, r in roles.items()
                if r == "datetime" and "date_part" in allowed
            }
        )
        for name, role in roles.items():
            dtype = frame.schema[name]
            fmt = schema.formats.get(name, "")
            if role == "numeric":
                self._numeric(frame[name], dtype, fmt, columns, ops)
            elif role == "boolean":
                self._boolean(frame, name, columns, ops)
            elif role == "categorical":
                self._categorical(frame[name], y, task, folds, columns, ops, oof)
            elif role == "datetime" and "date_part" in allowed:
                ops.extend(self._dates(frame[name], dtype, fmt))
            elif role == "text" and _is_text(dtype) and TEXT_OPS <= allowed:
                ops.extend(self._text(name))
        self._scans = {}
        if self.missing_indicators and task is not None and "missing_indicator" in allowed:
            y_codes, n_y = _target_codes(y, task)
            ops.extend(
                {
                    "op": "missing_indicator",
                    "inputs": [name],
                    "output": self._name(f"{name}__missing"),
                }
                for name in self._informative_missing(frame, schema, y_codes, n_y)
            )
        timings = {"preprocess": time.monotonic() - start}
        plan = Plan(columns=columns, ops=ops)
        if self.features is not False and y is not None and task is not None and plan.features:
            from mlwf_core.features import FeatureBuilder

            params = dict(self.features) if isinstance(self.features, Mapping) else {}
            params.setdefault("seed", self.seed)
            params.setdefault("n_jobs", self.n_jobs)
            params.setdefault("op_kinds", allowed)
            builder = FeatureBuilder(**params).fit(frame, plan, y, task)
            plan = Plan(columns=columns, ops=ops + builder.ops_)
            self.feature_builder_ = builder
            timings["features"] = time.monotonic() - start - timings["preprocess"]
        if oof or self._parsed:
            # The training matrix must carry out-of-fold encodings, or the learners
            # would see each row's own target through them; dates parsed here are reused.
            plan._train_matrix = plan._apply(frame, oof, self._parsed, self._codes)
            plan._train_ref = weakref.ref(frame)
        self._parsed, self._codes = {}, {}
        self.plan_ = plan
        self.timings_ = timings
        return self

    def fit_transform(
        self, frame: pl.DataFrame, schema: Schema, y: np.ndarray | None = None
    ) -> Float32Array:
        """Fit, then return the training matrix (target encodings out of fold)."""
        return self.fit(frame, schema, y).plan_.transform(frame)

    def transform(self, frame: pl.DataFrame) -> Float32Array:
        """Apply the learned plan (see :meth:`Plan.transform`)."""
        if not hasattr(self, "plan_"):
            raise NotFittedError("This Preprocessor is not fitted yet; call fit first.")
        return self.plan_.transform(frame)

    # ------------------------------------------------------------ per role
    def _name(self, base: str) -> str:
        name, i = base, 2
        while name in self._taken:
            name, i = f"{base}_{i}", i + 1
        self._taken.add(name)
        return name

    def _numeric(
        self,
        col: pl.Series,
        dtype: pl.DataType,
        fmt: str,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
    ) -> None:
        name = col.name
        text = _is_text(dtype)
        if self._imp is None:
            if text:
                ops.append(
                    {
                        "op": "parse_number",
                        "inputs": [name],
                        "output": name,
                        "format": fmt or "number",
                    }
                )
            else:
                columns.append({"name": name, "kind": "numeric"})
            return
        values = col.to_frame().select(_parse_number(pl.col(name), dtype, fmt or "number"))
        values = values.to_series().cast(pl.Float64).fill_nan(None).drop_nulls()
        fill = self._fill(values)
        op = {"op": "impute", "inputs": [name], "output": name, "value": fill}
        op |= {"base": "parse_number", "format": fmt or "number"} if text else {"base": "numeric"}
        ops.append(op)

    def _fill(self, values: pl.Series) -> float:
        if self.impute == "constant" or len(values) == 0:
            return float(self.fill_value) if self.impute == "constant" else 0.0
        if self.impute == "median":
            return float(values.median())  # type: ignore[arg-type]
        return float(values.mode().sort()[0])

    def _boolean(
        self,
        frame: pl.DataFrame,
        name: str,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
    ) -> None:
        if self._imp is None:
            columns.append({"name": name, "kind": "boolean"})
            return
        spec = {"name": name, "kind": "boolean"}
        values = frame.select(Plan()._expr(spec, frame.schema[name])).to_series().fill_nan(None)
        seen = values.drop_nulls()
        # the median of 0 / 1 flags is no flag: booleans take the mode
        if self.impute == "constant":
            fill = float(self.fill_value)
        else:
            fill = float(seen.mode().sort()[0]) if len(seen) else 0.0
        ops.append(
            {"op": "impute", "inputs": [name], "output": name, "base": "boolean", "value": fill}
        )

    def _categorical(
        self,
        col: pl.Series,
        y: np.ndarray | None,
        task: str | None,
        folds: np.ndarray,
        columns: list[dict[str, Any]],
        ops: list[dict[str, Any]],
        oof: dict[str, np.ndarray],
    ) -> None:
        name = col.name
        counts, raw = self._scans[name]
        frequent_rows = counts.filter(pl.col("count") >= self.rare_min_count)["count"]
        n_frequent = len(frequent_rows)
        # native codes when few levels, or when few frequent levels cover most rows
        native = counts.height <= self.max_native_levels or (
            n_frequent <= self.max_native_levels
            and frequent_rows.sum() >= 0.9 * counts["count"].sum()
        )
        if native or y is None or not {"frequency", "target_mean"} <= self._allowed:
            ranked = counts[name].to_list()
            frequent = counts.filter(pl.col("count") >= self.rare_min_count)[name].to_list()
            pooled = len(ranked) - len(frequent) >= 2 and len(frequent) >= 1
            pooled = pooled and "category_pooled" in self._allowed
            levels = sorted(frequent if pooled else ranked[: self.max_levels])
            if self._imp is None:
                if pooled:
                    ops.append(
                        {
                            "op": "category_pooled",
                            "inputs": [name],
                            "output": name,
                            "levels": levels,
                        }
                    )
                else:
                    columns.append({"name": name, "kind": "categorical", "levels": levels})
                return
            top = counts[name][0] if counts.height else None
            fill = float(len(levels) + (1 if pooled else 0))
            if self.impute != "constant" and top in levels:
                fill = float(levels.index(top))
            ops.append(
                {
                    "op": "impute",
                    "inputs": [name],
                    "output": name,
                    "base": "category_pooled" if pooled else "categorical",
                    "levels": levels,
                    "value": fill,
                }
            )
            return
        # High cardinality: frequency and out-of-fold target encoding instead of codes.
        from mlwf_core.features import _kernels as k

        n = len(col)
        kept = counts.head(20_000)
        levels = kept[name].to_list()
        n_missing = n - int(counts["count"].sum())
        ops.append(
            {
                "op": "frequency",
                "inputs": [name],
                "output": self._name(f"{name}__freq"),
                "levels": levels,
                "values": (kept["count"].cast(pl.Float64) / n).to_list(),
                "default": 0.0,
                "missing": n_missing / n,
            }
        )
        # Codes through the distinct raw values (no cleaned copy of the column), as the
        # plan's lookups read them: level index, len(levels) if absent, + 1 if missing.
        n_levels = len(levels)
        raw_codes = raw.select(
            pl.when(pl.col("clean").is_null())
            .then(pl.lit(n_levels + 1, pl.Int64))
            .otherwise(
                pl.col("clean").replace_strict(
                    levels, list(range(n_levels)), default=n_levels, return_dtype=pl.Int64
                )
            )
        ).to_series()
        plan_codes = (
            col.cast(pl.String)
            .replace_strict(raw["raw"], raw_codes, default=n_levels + 1, return_dtype=pl.Int64)
            .fill_null(n_levels + 1)
            .to_numpy()
        )
        self._codes[(name, tuple(levels))] = plan_codes
        codes_np = np.where(plan_codes >= n_levels, -1, plan_codes)
        if task == "regression":
            targets = y.reshape(-1, 1)
        elif task == "binary":
            targets = (y == 1).astype(np.float64).reshape(-1, 1)
        else:
            n_classes = int(y.max()) + 1
            targets = np.zeros((n, n_classes))
            targets[np.arange(n), y.astype(np.int64)] = 1.0
            targets = targets[:, :10]
        full, oof_values, prior = k.target_encode(
            codes_np, len(levels), np.ascontiguousarray(targets), folds, self.n_folds, 10.0
        )
        for j in range(targets.shape[1]):
            output = self._name(f"{name}__te" if targets.shape[1] == 1 else f"{name}__te{j}")
            ops.append(
                {
                    "op": "target_mean",
                    "inputs": [name],
                    "output": output,
                    "levels": levels,
                    "values": full[: len(levels), j].tolist(),
                    "default": float(prior[j]),
                    "missing": float(full[len(levels), j]),
                }
            )
            oof[output] = oof_values[:, j].astype(np.float32)

    def _dates(self, col: pl.Series, dtype: pl.DataType, fmt: str) -> list[dict[str, Any]]:
        name = col.name
        fmt = fmt or "iso"
        when = self._scans.get(name)
        if when is None:
            when = parse_datetime(col, fmt)
        if not _is_text(dtype):
            # the training matrix reuses a typed column's parse (text is re-read in C++,
            # parts and all, faster than converting the stamps; see Plan._apply)
            self._parsed[(name, fmt)] = when
        first = when.dt.epoch("us").min()
        if first is None:
            return []
        origin = float(math.floor(first / 86_400_000_000.0))  # type: ignore[operator]
        # A part is kept when it varies (max > min). A spread-out sample usually shows
        # that; only parts constant on the sample are checked on every row.
        probe = {"op": "date_part", "inputs": [name], "format": fmt, "origin": 0.0}
        varies: dict[str, bool] = {}
        for values in (when.gather_every(max(1, len(when) // 50_000)), when):
            pending = [part for part in DATE_PARTS if not varies.get(part)]
            if not pending:
                break
            exprs = {part: _date_part(pl.col("when"), probe | {"part": part}) for part in pending}
            row = values.to_frame("when").select(
                [(e.max() > e.min()).fill_null(False).alias(part) for part, e in exprs.items()]
            )
            varies |= row.row(0, named=True)
        return [
            {
                "op": "date_part",
                "inputs": [name],
                "output": self._name(f"{name}__{part}"),
                "format": fmt,
                "part": part,
                "origin": origin if part == "elapsed_days" else 0.0,
            }
            for part in DATE_PARTS
            if varies[part]
        ]

    def _text(self, name: str) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = [
            {"op": "text_length", "inputs": [name], "output": self._name(f"{name}__length")},
            {"op": "word_count", "inputs": [name], "output": self._name(f"{name}__words")},
        ]
        for b in range(self.text_buckets):
            ops.append(
                {
                    "op": "token_hash",
                    "inputs": [name],
                    "output": self._name(f"{name}__tok{b}"),
                    "bucket": b,
                    "n_buckets": self.text_buckets,
                }
            )
        return ops

    def _informative_missing(
        self, frame: pl.DataFrame, schema: Schema, y_codes: np.ndarray, n_y: int
    ) -> list[str]:
        """Feature columns whose missingness tells the target (G-test at p = 0.001)."""
        from mlwf_core.features import _kernels as k

        informative: list[str] = []
        frame = frame.select(schema.features)
        if frame.height > _SCREEN_ROWS:
            # The G-test keeps ample power on a sample; the full table would only cost
            # time. Windows of consecutive rows are slices, where gathering rows one by
            # one is slow on string columns and on the many chunks of a CSV read.
            starts, size = block_starts(frame.height, _SCREEN_ROWS, seed=(self.seed, 0x1D))
            frame = pl.concat([frame.slice(int(i), size) for i in starts], rechunk=True)
            y_codes = np.concatenate([y_codes[i : i + size] for i in starts])
        n = frame.height
        plan = Plan()
        specs = {
            name: {"op": "missing_indicator", "inputs": [name], "output": name}
            for name in schema.features
        }
        flags = frame.select(
            [plan._op_expr(op, frame.schema[name]).cast(pl.UInt8) for name, op in specs.items()]
        )
        del frame
        # flags only for the columns with enough missing and present values to test
        candidates = [
            name
            for name, n_missing in flags.sum().row(0, named=True).items()
            if 10 <= n_missing <= n - 10
        ]
        critical = _chi2_critical(max(n_y - 1, 1))
        for name in candidates:
            # G-test of independence between the flag and the target codes
            flag = flags[name].to_numpy().astype(np.int64)
            g = 2.0 * n * k.mutual_info(flag, 2, y_codes, n_y)
            if g > critical:
                informative.append(name)
        return informative


def _level_counts(col: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Counts of the cleaned levels of a column, most frequent first (ties by value),
    and its distinct raw values next to their cleaned form (``raw``, ``clean``).

    Raw values are counted first and only the distinct ones cleaned: far fewer
    strings to strip than rows.
    """
    name = col.name
    raw = (
        col.cast(pl.String)
        .to_frame("raw")
        .group_by("raw")
        .len("count")
        .drop_nulls("raw")
        .with_columns(clean_text_expr(pl.col("raw")).alias("clean"))
    )
    counts = (
        raw.drop_nulls("clean")
        .group_by("clean")
        .agg(pl.col("count").sum())
        .rename({"clean": name})
        .sort(["count", name], descending=[True, False])
    )
    return counts, raw.select("raw", "clean")


def _run_threads(tasks: Mapping[str, tuple[Any, ...]]) -> dict[str, Any]:
    """``{key: fn(*args)}`` for ``{key: (fn, *args)}``, on a few threads."""
    if len(tasks) <= 1:
        return {key: fn(*args) for key, (fn, *args) in tasks.items()}
    from concurrent.futures import ThreadPoolExecutor

    workers = min(len(tasks), max(1, os.cpu_count() or 1), 8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {key: pool.submit(fn, *args) for key, (fn, *args) in tasks.items()}
        return {key: future.result() for key, future in futures.items()}


def _target_codes(y: np.ndarray | None, task: str | None) -> tuple[np.ndarray | None, int]:
    """Target as small integer codes (classes, or 10 quantile bins for regression)."""
    if y is None or task is None:
        return None, 0
    from mlwf_core.features import _kernels as k

    if task == "regression":
        edges = k.quantile_edges(y, 10)
        return k.bin_values(y, edges), edges.size + 1
    codes = y.astype(np.int64)
    return codes, int(codes.max()) + 1


def _chi2_critical(df: int, z: float = 3.09) -> float:
    """Chi-square quantile at p = 0.001 (Wilson-Hilferty approximation)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


def feature_frame(matrix: np.ndarray, names: Sequence[str]) -> pl.DataFrame:
    """Wrap a feature matrix as a Polars frame (for reports and explanations)."""
    return pl.DataFrame({n: matrix[:, j] for j, n in enumerate(names)})
