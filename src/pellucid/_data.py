"""Tabular input: DataFrames or arrays, feature names, validation with clear errors.

Validation happens once, at the boundary of each public function. Errors
name the column, row and value at fault; nothing is dropped, reordered or
coerced behind the user's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DataError",
    "Schema",
    "as_frame",
    "check_X",
    "check_X_y",
    "feature_names_of",
    "is_categorical",
]


class DataError(ValueError):
    """Bad tabular input. The message names the offending column, row or value."""


def feature_names_of(X: Any, feature_names: Sequence[str] | None = None) -> tuple[str, ...]:
    """Column names of a DataFrame, the given names for an array, or x0..x{d-1}."""
    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        if feature_names is not None and tuple(feature_names) != names:
            raise DataError(
                f"feature_names {list(feature_names)} do not match the DataFrame's columns {list(names)}."
            )
        return names
    arr = np.asarray(X)
    d = arr.shape[1] if arr.ndim == 2 else 1
    if feature_names is not None:
        names = tuple(str(n) for n in feature_names)
        if len(names) != d:
            raise DataError(f"Got {len(names)} feature_names for {d} columns.")
        return names
    return tuple(f"x{i}" for i in range(d))


def is_categorical(col: pd.Series) -> bool:
    """True for category, string, object and bool columns."""
    dtype = col.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    )


def _kind(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col.dtype):
        return "bool"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_numeric_dtype(col.dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return "datetime"
    return "string"


def as_frame(X: Any, feature_names: Sequence[str] | None = None) -> pd.DataFrame:
    """View X as a DataFrame without copying a DataFrame or changing its columns."""
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[:, None]
    return pd.DataFrame(arr, columns=list(feature_names_of(arr, feature_names)))


def _first_bad(mask: np.ndarray, index: pd.Index) -> Any:
    pos = int(np.flatnonzero(mask)[0])
    return index[pos]


def check_X(
    X: Any,
    *,
    name: str = "X",
    allow_nan: bool = True,
    allow_empty: bool = False,
    allow_all_missing: bool = False,
) -> pd.DataFrame | np.ndarray:
    """Validate a 2-D table; returns it unchanged (DataFrame) or as a 2-D array.

    Raises :class:`DataError` for empty data, a non-2-D array, an all-NaN
    column, or an infinite value, naming the column and row.
    """
    if X is None:
        raise DataError(f"{name} is None; expected a DataFrame or a 2-D array.")
    if isinstance(X, pd.Series):
        raise DataError(f"{name} is a Series; pass a DataFrame (e.g. X.to_frame()) or a 2-D array.")
    if not isinstance(X, pd.DataFrame):
        X = np.asarray(X)
        if X.ndim != 2:
            raise DataError(f"{name} must be 2-D (rows x features); got shape {X.shape}.")
    if not allow_empty and (X.shape[0] == 0 or X.shape[1] == 0):
        raise DataError(f"{name} is empty: {X.shape[0]} rows x {X.shape[1]} columns.")
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        # One pass over the whole array finds the columns worth a look (a column at a
        # time through pandas costs milliseconds for samplers that check small arrays).
        if X.dtype.kind == "f":
            for j in np.flatnonzero(~np.isfinite(X).all(axis=0)):
                _check_numeric_column(
                    X[:, j], f"x{j}", name, range(X.shape[0]), allow_nan, allow_all_missing
                )
        return X
    frame = as_frame(X)
    if isinstance(X, pd.DataFrame):
        dupes = frame.columns[frame.columns.duplicated()].tolist()
        if dupes:
            raise DataError(f"{name} has duplicated column names: {dupes}.")
    for col_name in frame.columns:
        col = frame[col_name]
        if _kind(col) != "numeric":
            if len(col) and col.isna().all() and not allow_all_missing:
                raise DataError(f"Column {col_name!r} of {name} is all missing (NaN).")
            continue
        values = col.to_numpy(dtype=float, na_value=np.nan)
        _check_numeric_column(values, col_name, name, frame.index, allow_nan, allow_all_missing)
    return X


def _check_numeric_column(
    values: np.ndarray,
    col_name: Any,
    name: str,
    index: Any,
    allow_nan: bool,
    allow_all_missing: bool,
) -> None:
    """check_X's checks of one numeric column (NaN for missing), naming the row by
    ``index``."""
    nan = np.isnan(values)
    if len(values) and nan.all() and not allow_all_missing:
        raise DataError(f"Column {col_name!r} of {name} is all missing (NaN).")
    if not allow_nan and nan.any():
        row = _first_bad(nan, index)
        raise DataError(f"Column {col_name!r} of {name} has a missing value (NaN) at row {row!r}.")
    inf = np.isinf(values)
    if inf.any():
        row = _first_bad(inf, index)
        raise DataError(
            f"Column {col_name!r} of {name} has an infinite value {values[inf][0]} at row {row!r}."
        )


def check_X_y(X: Any, y: Any, *, name: str = "X") -> tuple[Any, np.ndarray]:
    """Validate X and a target of the same length; y must not contain NaN."""
    X = check_X(X, name=name)
    if y is None:
        raise DataError("y is None; a target is needed here.")
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr.ravel()
    if y_arr.shape[0] != X.shape[0]:
        raise DataError(
            f"{name} has {X.shape[0]} rows but y has {y_arr.shape[0]}: row counts must match."
        )
    if y_arr.dtype.kind in "fc":
        bad = ~np.isfinite(y_arr)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"y has a non-finite value {y_arr[pos]} at row {pos}.")
    elif pd.isna(pd.Series(y_arr)).any():
        pos = int(np.flatnonzero(pd.isna(pd.Series(y_arr)).to_numpy())[0])
        raise DataError(f"y has a missing value at row {pos}.")
    return X, y_arr


@dataclass(frozen=True)
class Schema:
    """Column names and kinds of training data, to validate later inputs against."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]
    from_frame: bool = True

    @classmethod
    def from_data(cls, X: Any, feature_names: Sequence[str] | None = None) -> Schema:
        frame = as_frame(X, feature_names)
        kinds = tuple(_kind(frame[c]) for c in frame.columns)
        cats = {
            str(c): tuple(pd.unique(frame[c].dropna()).tolist())
            for c, k in zip(frame.columns, kinds, strict=True)
            if k in ("category", "string", "bool")
        }
        return cls(tuple(str(c) for c in frame.columns), kinds, cats, isinstance(X, pd.DataFrame))

    def validate(
        self,
        X: Any,
        *,
        name: str = "X",
        check_categories: bool = False,
        allow_all_missing: bool = False,
    ) -> Any:
        """Check X has exactly these columns, in order, with compatible kinds."""
        X = check_X(X, name=name, allow_all_missing=allow_all_missing)
        if isinstance(X, pd.DataFrame):
            got = [str(c) for c in X.columns]
            missing = [c for c in self.columns if c not in got]
            extra = [c for c in got if c not in self.columns]
            if missing:
                raise DataError(f"{name} is missing column(s) {missing}.")
            if extra:
                raise DataError(
                    f"{name} has unexpected column(s) {extra}; expected {list(self.columns)}."
                )
            if got != list(self.columns):
                raise DataError(
                    f"{name}'s columns are in a different order {got}; expected {list(self.columns)}. "
                    "Reorder them explicitly (X[expected_columns])."
                )
            for col, kind in zip(self.columns, self.kinds, strict=True):
                self._check_kind(X[col], col, kind, name)
                if check_categories and col in self.categories and kind != "bool":
                    self._check_known(X[col], col, name)
        elif X.shape[1] != len(self.columns):
            raise DataError(f"{name} has {X.shape[1]} columns; expected {len(self.columns)}.")
        return X

    @staticmethod
    def _check_kind(col: pd.Series, name: str, kind: str, what: str) -> None:
        got = _kind(col)
        if kind == "numeric" and got != "numeric":
            if got == "bool":
                return
            bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
            if bad.any():
                row = _first_bad(bad.to_numpy(), col.index)
                raise DataError(
                    f"Column {name!r} of {what} should be numeric but holds {col[row]!r} at row {row!r}."
                )
            raise DataError(f"Column {name!r} of {what} should be numeric; got dtype {col.dtype}.")
        if kind in ("category", "string") and got == "numeric" and len(col) and col.notna().any():
            raise DataError(
                f"Column {name!r} of {what} should be categorical/string; got numeric dtype {col.dtype}."
            )

    def _check_known(self, col: pd.Series, name: str, what: str) -> None:
        known = set(self.categories[name])
        unknown = ~col.isin(known) & col.notna()
        if unknown.any():
            row = _first_bad(unknown.to_numpy(), col.index)
            raise DataError(
                f"Column {name!r} of {what} has an unknown category {col[row]!r} at row {row!r}."
            )
