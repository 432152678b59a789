"""Request rows -> a DataFrame shaped exactly like the training data, or an error naming the cell.

Framework-free on purpose: the service's validation is plain Python that the
tests (and other front ends) can call without FastAPI.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._data import Schema, check_X

__all__ = ["JSONObject", "RequestError", "RowSchema", "json_object", "safe_text", "show"]

MAX_REPORTED_ERRORS = 20
#: Characters of a refused value quoted back in an error (a 1 MB string is not echoed).
MAX_SHOWN = 80


def safe_text(text: Any) -> str:
    """``str(text)`` that always encodes: lone surrogates (legal in JSON escapes,
    illegal in UTF-8) become visible ``\\udfff`` escapes."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def show(v: Any) -> str:
    """A value as quoted in an error: repr (which escapes surrogates), cut short."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 256:
        return f"an integer of {len(str(abs(v)))} digits"
    text = repr(v)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


class JSONObject(dict):  # type: ignore[type-arg]
    """A parsed JSON object that remembers the keys it held more than once."""

    duplicates: tuple[str, ...] = ()


def json_object(pairs: list[tuple[str, Any]]) -> JSONObject:
    """``object_pairs_hook`` for :func:`json.loads`: later duplicates must not silently win."""
    obj = JSONObject(pairs)
    if len(obj) != len(pairs):
        obj.duplicates = tuple(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    return obj


class RequestError(Exception):
    """A request the service refuses, with its HTTP status and what was wrong where."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "detail": self.errors}


def _cell_error(row: int, field: str, msg: str) -> dict[str, Any]:
    field = safe_text(field)
    return {"loc": ["rows", row, field], "row": row, "field": field, "msg": msg}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # numeric | integer | category | bool | datetime
    dtype: Any
    nullable: bool
    categories: tuple[Any, ...] = ()
    #: Largest magnitude the model reads in this numeric column (its dtype's, or
    #: the model's own when smaller: XGBoost reads 32-bit floats).
    float_max: float = float(np.finfo(np.float64).max)
    float_owner: str = "this column"

    codes: dict[Any, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", {c: i for i, c in enumerate(self.categories)})

    def _int_range(self) -> tuple[int, int]:
        dtype = getattr(self.dtype, "numpy_dtype", self.dtype)  # pandas' nullable Int64
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.iinfo(np.int64)
        return int(info.min), int(info.max)

    def _check_number(self, v: float) -> str | None:
        if isinstance(v, float) and not math.isfinite(v):
            return f"should be a finite number; got {show(v)}"
        if self.kind == "integer":
            if isinstance(v, float) and not v.is_integer():
                return f"should be an integer; got {show(v)}"
            lo, hi = self._int_range()
            if not lo <= v <= hi:
                dtype = getattr(self.dtype, "numpy_dtype", self.dtype)
                return f"is out of range: this column holds {dtype} ({lo} to {hi}); got {show(v)}"
            return None
        try:
            magnitude = abs(float(v))
        except OverflowError:  # an integer beyond every float
            magnitude = math.inf
        if magnitude > self.float_max:
            return (
                f"is out of range: {self.float_owner} reads numbers up to "
                f"{self.float_max:.6g} in magnitude; got {show(v)}"
            )
        return None

    def check(self, v: Any) -> str | None:
        """None when ``v`` is acceptable for this column, else what is wrong."""
        if v is None:
            return (
                None
                if self.nullable
                else "is missing (null) but this column has no missing values in the training data"
            )
        if self.kind in ("numeric", "integer"):
            if not _is_number(v):
                return f"should be a number; got {type(v).__name__} {show(v)}"
            return self._check_number(v)
        if self.kind == "bool":
            return None if isinstance(v, bool) else f"should be true or false; got {show(v)}"
        if self.kind == "datetime":
            if not isinstance(v, str):
                return f"should be an ISO date-time string; got {show(v)}"
            try:  # in this column's own dtype: its unit and time zone bound what fits
                pd.Series([v], dtype=self.dtype)
            except (ValueError, TypeError, OverflowError):
                return f"is not a date-time this column holds ({self.dtype}): {show(v)}"
            return None
        # category / string
        textual = all(isinstance(c, str) for c in self.categories)
        booleans = all(isinstance(c, (bool, np.bool_)) for c in self.categories)
        if (
            isinstance(v, (list, dict))
            or (textual and not isinstance(v, str))
            or (isinstance(v, bool) and not booleans)  # True == 1 must not pick category 1
        ):
            return f"should be one of the categories; got {type(v).__name__} {show(v)}"
        if v not in self.categories:
            shown = list(self.categories[:10]) + (["..."] if len(self.categories) > 10 else [])
            return f"has an unknown category {show(v)}; known: {shown}"
        return None

    def json_schema(self) -> dict[str, Any]:
        if self.kind == "numeric":
            s: dict[str, Any] = {"type": "number"}
        elif self.kind == "integer":
            s = {"type": "integer"}
        elif self.kind == "bool":
            s = {"type": "boolean"}
        elif self.kind == "datetime":
            s = {"type": "string", "format": "date-time"}
        else:
            s = {"type": "string", "enum": [str(c) for c in self.categories]}
        if self.nullable:
            s = {"anyOf": [s, {"type": "null"}]}
        return s

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "dtype": str(self.dtype),
            "nullable": self.nullable,
        }
        if self.categories:
            out["categories"] = [str(c) for c in self.categories]
        return out


class RowSchema:
    """The columns, kinds and categories of the training (background) data."""

    def __init__(
        self,
        background: pd.DataFrame,
        *,
        model_float_max: float | None = None,
        model_reads: str = "the model",
    ) -> None:
        if not isinstance(background, pd.DataFrame):
            raise TypeError("The background data must be a DataFrame with the model's columns.")
        check_X(background, name="background")
        self.schema = Schema.from_data(background)
        self.columns: dict[str, Column] = {}
        for name, kind in zip(self.schema.columns, self.schema.kinds, strict=True):
            col = background[name]
            if kind == "numeric" and pd.api.types.is_integer_dtype(col.dtype):
                kind = "integer"
            elif kind == "string":
                kind = "category"
            cats: tuple[Any, ...] = ()
            if isinstance(col.dtype, pd.CategoricalDtype):
                cats = tuple(col.dtype.categories.tolist())
            elif kind == "category":
                cats = tuple(self.schema.categories.get(name, ()))
            limit, owner = float(np.finfo(np.float64).max), "this column"
            if kind == "numeric" and isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
                limit = float(np.finfo(col.dtype).max)
            if model_float_max is not None and model_float_max < limit:
                limit, owner = float(model_float_max), model_reads
            self.columns[name] = Column(
                name, kind, col.dtype, bool(col.isna().any()), cats, limit, owner
            )

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {n: c.json_schema() for n, c in self.columns.items()},
            "required": list(self.columns),
            "additionalProperties": False,
        }

    def describe(self) -> list[dict[str, Any]]:
        return [c.describe() for c in self.columns.values()]

    def parse(self, rows: Any, *, max_rows: int) -> pd.DataFrame:
        """Validate ``rows`` (a list of {column: value}) and build the DataFrame.

        Raises RequestError: 413 for more than ``max_rows`` rows, 422 naming
        the row and field of every bad cell (up to 20).
        """
        self.check(rows, max_rows=max_rows)
        return self.frame(rows)

    def check(self, rows: Any, *, max_rows: int) -> None:
        """:meth:`parse` without building the frame: the service builds one for many requests."""
        if not isinstance(rows, list):
            raise RequestError(
                422,
                "'rows' must be a list of objects {column: value}.",
                [{"loc": ["rows"], "msg": f"expected a list; got {type(rows).__name__}"}],
            )
        if not rows:
            raise RequestError(422, "'rows' is empty.", [{"loc": ["rows"], "msg": "empty"}])
        if len(rows) > max_rows:
            raise RequestError(
                413,
                f"Too many rows: {len(rows)}; this service takes at most {max_rows} per request.",
            )
        errors: list[dict[str, Any]] = []
        names = list(self.columns)
        for i, row in enumerate(rows):
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            if not isinstance(row, Mapping):
                errors.append(
                    {
                        "loc": ["rows", i],
                        "row": i,
                        "msg": f"should be an object; got {type(row).__name__}",
                    }
                )
                continue
            for name in getattr(row, "duplicates", ()):
                errors.append(_cell_error(i, name, "appears more than once in this row"))
            for name in names:
                if name not in row:
                    errors.append(_cell_error(i, name, "is missing"))
                    continue
                problem = self.columns[name].check(row[name])
                if problem:
                    errors.append(_cell_error(i, name, problem))
            for extra in row:
                if extra not in self.columns:
                    shown = names if len(names) <= 50 else [*names[:50], "..."]
                    errors.append(
                        _cell_error(i, extra, f"is not a column of this model; columns: {shown}")
                    )
        if errors:
            first = errors[0]
            where = (
                f"row {first['row']}, field {first.get('field', '')!r}"
                if "row" in first
                else "rows"
            )
            raise RequestError(
                422, f"Invalid input at {where}: {first['msg']}.", errors[:MAX_REPORTED_ERRORS]
            )

    def frame(self, rows: list[Mapping[str, Any]]) -> pd.DataFrame:
        """The DataFrame of rows that passed :meth:`check`."""
        # Build arrays directly: pandas' generic constructors cost milliseconds per
        # categorical column, which is most of a one-row request's budget.
        data: dict[str, Any] = {}
        for name, col in self.columns.items():
            values = [r[name] for r in rows]
            if col.kind == "numeric" and isinstance(col.dtype, np.dtype):
                data[name] = np.array([np.nan if v is None else v for v in values], dtype=col.dtype)
            elif col.kind == "integer" and isinstance(col.dtype, np.dtype):
                data[name] = np.array(values, dtype=col.dtype)
            elif isinstance(col.dtype, pd.CategoricalDtype):
                codes = np.array(
                    [-1 if v is None else col.codes[v] for v in values], dtype=np.int64
                )
                data[name] = pd.Categorical.from_codes(codes, dtype=col.dtype)
            else:
                data[name] = pd.Series(values, dtype=col.dtype)
        return pd.DataFrame(data, copy=False)
