"""Subgroup columns: the one meaning of ``subgroups=`` across evaluate, report, model_card
and recourse_audit, and its old name ``groups=`` (feature coalitions are ``feature_groups=``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError
from .._protocol import UNSET, renamed_argument

__all__ = ["UNSET", "subgroup_column", "subgroup_mask", "subgroups_argument"]


def subgroups_argument(owner: str, subgroups: Any, groups: Any) -> Any:
    """``subgroups``, or the value given under its old name ``groups`` (deprecated).

    ``groups`` meant a subgroup column here but feature coalitions in the explainers;
    the subgroup column is now ``subgroups=`` everywhere. Giving both is an error. The
    FutureWarning follows the library's one deprecation switch
    (:data:`pellucid._protocol.WARN_DEPRECATED`).
    """
    # stacklevel 4: the user's call of the function that asked for the argument
    return renamed_argument(owner, "groups", "subgroups", groups, subgroups, stacklevel=4)


def subgroup_column(
    subgroups: Any, X: Any, argument: str = "subgroups"
) -> tuple[np.ndarray | None, str | None]:
    """(one label per row, the column's name) of a column name of X or an array of labels.

    ``argument`` is the caller's name for it, quoted in errors.
    """
    if subgroups is None:
        return None, None
    if isinstance(subgroups, str):
        if not isinstance(X, pd.DataFrame) or subgroups not in X.columns:
            raise DataError(f"{argument}={subgroups!r} is not a column of X.")
        return X[subgroups].to_numpy(), subgroups
    values = np.asarray(subgroups)
    if values.shape != (X.shape[0],):
        raise DataError(
            f"{argument} has shape {values.shape}; expected one label per row ({X.shape[0]},)."
        )
    return values, getattr(subgroups, "name", None)


def subgroup_mask(values: np.ndarray, label: Any) -> np.ndarray:
    """Rows whose subgroup is ``label`` (NaN labels match NaN, which ``==`` never does)."""
    if pd.isna(label):
        return np.asarray(pd.isna(values))
    return np.asarray(values == label)
