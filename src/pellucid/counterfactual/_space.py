"""The space counterfactuals live in: columns, their scales and what may happen to each.

Built once from the reference data and the user's settings; every engine reads
the same :class:`FeatureSpace`, so immutables, actions and costs mean the same
thing whichever engine answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, as_frame, is_categorical

__all__ = ["COSTS", "Action", "Feature", "FeatureSpace"]

COSTS = ("mad_l1", "l1", "l0")
DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class Feature:
    """One input column: its kind, scale (for the MAD-L1 cost) and observed values."""

    name: str
    index: int
    categorical: bool
    integer: bool
    scale: float  # median absolute deviation (fallbacks in _scale)
    observed_low: float
    observed_high: float
    categories: tuple[Any, ...] = ()  # categorical: every category the column may take


@dataclass(frozen=True)
class Action:
    """What may happen to one column. ``fixed``: nothing; ``direction`` +1/-1/0;
    ``low``/``high``: absolute bounds; ``step``: changes in multiples of it;
    ``allowed``: the categories a categorical column may take (None: any)."""

    fixed: bool = False
    direction: int = 0
    low: float = -np.inf
    high: float = np.inf
    step: float | None = None
    allowed: frozenset[Any] | None = None


def _scale(values: np.ndarray) -> float:
    """Median absolute deviation; IQR/1.349, then the standard deviation, then 1 when it is 0."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    mad = float(np.median(np.abs(v - np.median(v))))
    if mad > 0:
        return mad
    q75, q25 = np.percentile(v, [75, 25])
    if q75 > q25:
        return float((q75 - q25) / 1.349)
    std = float(np.std(v))
    return std if std > 0 else 1.0


def _categories(col: pd.Series) -> tuple[Any, ...]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return tuple(col.cat.categories)
    return tuple(sorted(pd.unique(col.dropna()), key=str))


class FeatureSpace:
    """Columns of the reference data, with immutables, actions and the cost settings."""

    def __init__(
        self,
        data: Any,
        *,
        immutable: Sequence[str] = (),
        actions: Mapping[str, Any] | None = None,
        cost: str | Mapping[str, float] | Callable[..., Any] = "mad_l1",
        plausibility: str | None = None,
    ) -> None:
        frame = as_frame(data)
        if len(frame) == 0:
            raise DataError("data has no rows; counterfactuals need reference data for scales.")
        self.frame = frame
        self.names: tuple[str, ...] = tuple(str(c) for c in frame.columns)
        self.dtypes = frame.dtypes
        self.features = tuple(self._feature(j, frame.iloc[:, j]) for j in range(frame.shape[1]))
        self.immutable = self._check_names(immutable, "immutable")
        if plausibility not in (None, "range", "knn"):
            raise ValueError(
                "plausibility must be None, 'range' (stay inside the observed values) or "
                f"'knn' (stay as near the data as its own rows are); got {plausibility!r}."
            )
        self.plausibility = plausibility
        self.actions = {f.name: self._action(f, (actions or {}).get(f.name)) for f in self.features}
        for name in self._check_names(tuple(actions or ()), "actions"):
            if name in self.immutable:
                raise ValueError(f"Column {name!r} is both immutable and given an action.")
        self.cost_name, self.weights, self.cost_fn = self._cost(cost)
        self.knn = None
        if plausibility == "knn":
            from ._plausibility import KnnLimit

            self.knn = KnnLimit(self)

    # ------------------------------------------------------------------ building
    def _feature(self, j: int, col: pd.Series) -> Feature:
        name = str(col.name)
        if is_categorical(col):
            return Feature(name, j, True, False, 1.0, np.nan, np.nan, _categories(col))
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        low = float(finite.min()) if finite.size else -np.inf
        high = float(finite.max()) if finite.size else np.inf
        integer = pd.api.types.is_integer_dtype(col.dtype)
        return Feature(name, j, False, integer, _scale(values), low, high)

    def _check_names(self, names: Sequence[str], what: str) -> tuple[str, ...]:
        if isinstance(names, str):
            names = (names,)
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise DataError(
                f"{what} names columns {unknown} that the data lacks: {list(self.names)}."
            )
        return tuple(str(n) for n in names)

    def _action(self, f: Feature, spec: Any) -> Action:
        if f.name in self.immutable:
            return Action(fixed=True)
        fields = self._parts(f, spec)
        if "step" in fields and f.integer and float(fields["step"]) != int(fields["step"]):
            raise ValueError(f"Column {f.name!r} holds integers; its step must be whole.")
        action = Action(
            fixed=bool(fields.get("fixed", False)),
            direction=int(fields.get("direction", 0)),
            low=float(fields.get("low", -np.inf)),
            high=float(fields.get("high", np.inf)),
            step=float(fields["step"]) if "step" in fields else (1.0 if f.integer else None),
            allowed=frozenset(fields["allowed"]) if "allowed" in fields else None,
        )
        if self.plausibility == "range" and not f.categorical:
            action = Action(
                action.fixed,
                action.direction,
                max(action.low, f.observed_low),
                min(action.high, f.observed_high),
                action.step,
                action.allowed,
            )
        if action.low > action.high:
            raise ValueError(f"Column {f.name!r}: the allowed range is empty.")
        return action

    def _parts(self, f: Feature, spec: Any) -> dict[str, Any]:
        """One action spec (a string, (low, high), a list of categories, a step, or a dict
        of those) as Action fields."""
        if spec is None:
            return {}
        if isinstance(spec, Mapping):
            out: dict[str, Any] = {}
            for key, value in spec.items():
                if key not in ("direction", "range", "step", "categories"):
                    raise ValueError(
                        f"Unknown action key {key!r} for column {f.name!r}; use direction, "
                        "range, step or categories."
                    )
                out.update(self._parts(f, tuple(value) if key == "range" else value))
            return out
        if isinstance(spec, str):
            if spec == "fixed":
                return {"fixed": True}
            if spec not in DIRECTIONS:
                raise ValueError(
                    f"Action {spec!r} for column {f.name!r}: expected 'increase', 'decrease', "
                    "'fixed', (low, high), a list of categories, a step or a dict of those."
                )
            if f.categorical:
                raise ValueError(f"Column {f.name!r} is categorical; {spec!r} needs an order.")
            return {"direction": 1 if spec == "increase" else -1}
        if isinstance(spec, tuple):
            if len(spec) != 2 or f.categorical:
                raise ValueError(
                    f"Action {spec!r} for column {f.name!r}: a range is (low, high) on a "
                    "numeric column."
                )
            low = -np.inf if spec[0] is None else float(spec[0])
            high = np.inf if spec[1] is None else float(spec[1])
            return {"low": low, "high": high}
        if isinstance(spec, (list, set, frozenset)):
            if not f.categorical:
                raise ValueError(
                    f"Column {f.name!r} is numeric; a list of allowed values is for categories."
                )
            unknown = [c for c in spec if c not in f.categories]
            if unknown:
                raise ValueError(
                    f"Action for column {f.name!r} allows {unknown}, which are not among its "
                    f"categories {list(f.categories)}."
                )
            return {"allowed": tuple(spec)}
        if isinstance(spec, (int, float, np.integer, np.floating)) and not isinstance(spec, bool):
            if f.categorical or not float(spec) > 0:
                raise ValueError(
                    f"Step {spec!r} for column {f.name!r}: a step is a positive number on a "
                    "numeric column."
                )
            return {"step": float(spec)}
        raise ValueError(f"Cannot read action {spec!r} for column {f.name!r}.")

    def _cost(self, cost: Any) -> tuple[str, np.ndarray, Callable[..., Any] | None]:
        weights = np.ones(len(self.features))
        if callable(cost):
            return "callable", weights, cost
        if isinstance(cost, Mapping):
            for name in self._check_names(tuple(cost), "cost"):
                w = float(cost[name])
                if not w >= 0:
                    raise ValueError(f"Cost weight for {name!r} must be >= 0; got {cost[name]!r}.")
                weights[self.names.index(name)] = w
            return "mad_l1", weights, None
        if cost not in COSTS:
            raise ValueError(
                f"cost must be one of {COSTS}, a mapping column -> weight (weighted MAD-L1) or "
                f"a callable; got {cost!r}."
            )
        return str(cost), weights, None

    # ------------------------------------------------------------------ reading
    def unit_cost(self, j: int) -> float:
        """Cost of moving numeric column j by one unit (MAD-L1 / L1); 0 for L0."""
        f = self.features[j]
        if self.cost_name == "l0":
            return 0.0
        base = 1.0 / f.scale if self.cost_name in ("mad_l1", "callable") else 1.0
        return float(self.weights[j] * base)

    def change_cost(self, j: int) -> float:
        """Fixed cost of changing column j at all: a category switch, or a change under L0."""
        if self.cost_name == "l0" or self.features[j].categorical:
            return float(self.weights[j])
        return 0.0

    def value_cost(self, j: int, before: float, after: float) -> float:
        """Cost of moving numeric column j from ``before`` to ``after``."""
        if after == before:
            return 0.0
        return self.unit_cost(j) * abs(after - before) + self.change_cost(j)

    def check_rows(self, X: Any) -> pd.DataFrame:
        """Rows to explain as a DataFrame with the data's columns and dtypes."""
        frame = as_frame(X, feature_names=None if isinstance(X, pd.DataFrame) else self.names)
        names = tuple(str(c) for c in frame.columns)
        if names != self.names:
            raise DataError(
                f"X's columns {list(names)} differ from the data's {list(self.names)} "
                "(same names, same order)."
            )
        if len(frame) == 0:
            raise DataError("X has no rows.")
        for f in self.features:
            if f.categorical:
                col = frame.iloc[:, f.index]
                bad = ~col.isna() & ~col.isin(f.categories)
                if bad.any():
                    pos = int(np.flatnonzero(bad.to_numpy())[0])
                    raise DataError(
                        f"Column {f.name!r}, row {frame.index[pos]!r}: value {col.iloc[pos]!r} is "
                        f"not one of the data's categories {list(f.categories)}."
                    )
        return frame

    def bounds(self, j: int, value: float) -> tuple[float, float]:
        """The interval column j may take from ``value``: the action's range, cut by its
        direction, always containing ``value`` itself (staying is always allowed)."""
        a = self.actions[self.names[j]]
        low, high = a.low, a.high
        if a.direction > 0:
            low = max(low, value)
        elif a.direction < 0:
            high = min(high, value)
        return min(low, value), max(high, value)

    def allowed_categories(self, j: int, value: Any) -> list[Any]:
        """Categories column j may take from ``value`` (``value`` first)."""
        f = self.features[j]
        allowed = self.actions[f.name].allowed
        out = [value]
        out += [c for c in f.categories if c != value and (allowed is None or c in allowed)]
        return out

    def is_fixed(self, j: int, value: Any) -> bool:
        """Column j cannot change for this row: immutable, fixed, or missing (NaN stays NaN)."""
        if self.actions[self.names[j]].fixed:
            return True
        return bool(pd.isna(value))
