"""Shared argument handling for the global-effect methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, is_categorical

__all__ = ["categorical_mask", "feature_position", "feature_positions", "output_names"]


def feature_position(names: Sequence[str], feature: Any) -> int:
    """Position of ``feature`` given by name or integer position."""
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        j = int(feature)
        if not 0 <= j < len(names):
            raise DataError(f"Feature position {j} is out of range for {len(names)} columns.")
        return j
    try:
        return list(names).index(str(feature))
    except ValueError:
        raise DataError(f"Unknown feature {feature!r}; columns are {list(names)}.") from None


def feature_positions(names: Sequence[str], features: Any, *, most: int = 2) -> list[int]:
    """One feature or a list of up to ``most`` features, as distinct positions."""
    if isinstance(features, (str, int, np.integer)):
        features = [features]
    positions = [feature_position(names, f) for f in features]
    if not 1 <= len(positions) <= most:
        raise ValueError(f"Pass one or {most} features; got {len(positions)}: {list(features)}.")
    if len(set(positions)) != len(positions):
        raise ValueError(f"Features must be distinct; got {list(features)}.")
    return positions


def _column_is_categorical(X: Any, j: int) -> bool:
    if isinstance(X, pd.DataFrame):
        return is_categorical(X.iloc[:, j])
    return np.asarray(X).dtype.kind in "OUSb"


def categorical_mask(X: Any, names: Sequence[str], categorical_features: Any) -> list[bool]:
    """Which columns are categorical: "auto" (from dtypes), None, names/positions or a mask."""
    d = len(names)
    if isinstance(categorical_features, str) and categorical_features == "auto":
        return [_column_is_categorical(X, j) for j in range(d)]
    if categorical_features is None:
        return [False] * d
    given = list(np.atleast_1d(np.asarray(categorical_features, dtype=object)))
    if given and all(isinstance(v, (bool, np.bool_)) for v in given):
        if len(given) != d:
            raise ValueError(
                f"A boolean categorical_features needs one entry per column ({d}); got {len(given)}."
            )
        return [bool(v) for v in given]
    positions = {feature_position(names, v) for v in given}
    return [j in positions for j in range(d)]


def output_names(model: Any) -> tuple[str, ...] | None:
    """The model's output names when it has several outputs, else None."""
    names = model.output_names
    return tuple(names) if names else None
