"""Subgroup columns: the one meaning of ``subgroups=`` across evaluate, report, model_card
and recourse_audit, and its old name ``groups=`` (feature coalitions are ``feature_groups=``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError

__all__ = ["UNSET", "subgroup_column", "subgroup_mask", "subgroups_argument"]


class _Unset:
    """The default of the deprecated ``groups=``: tells "not given" from None."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


def subgroups_argument(owner: str, subgroups: Any, groups: Any) -> Any:
    """``subgroups``, or the value given under its old name ``groups`` (with a FutureWarning).

    ``groups`` meant a subgroup column here but feature coalitions in the explainers;
    the subgroup column is now ``subgroups=`` everywhere. Giving both is an error.
    """
    if groups is UNSET:
        return subgroups
    if subgroups is not None:
        raise TypeError(f"{owner}() got both subgroups= and its old name groups=; pass subgroups=.")
    warnings.warn(
        f"{owner}(groups=...) is deprecated: the subgroup column is now subgroups=. "
        "groups= will stop working in the next release.",
        FutureWarning,
        stacklevel=3,
    )
    return groups


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
