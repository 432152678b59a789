"""Shared tabular machinery for LIME and Anchors.

Training data are kept as a DataFrame in the user's own units and dtypes.
Every column gets integer *codes*: the quantile bin of a numeric value or
the category of a categorical one, with one code for "missing" and one for
"not seen in training". Sampling means picking, per column, which source
row to copy the value from (``take``), so samples keep the training dtypes
(string categories, ``Categorical``, integers, NaN) and pass through
Pipelines unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, Schema, check_X, feature_names_of, is_categorical
from .._random import root_seed, row_seed
from .._results import exact_number

DISCRETIZERS = {
    "quartile": (0.25, 0.5, 0.75),
    "decile": tuple(np.round(np.arange(0.1, 1.0, 0.1), 10)),
}


def seed_sequences(random_state: Any, n: int, first: int = 0) -> list[np.random.SeedSequence]:
    """One independent seed per row, fixed by (random_state, row position) only.

    Row ``i`` of ``X`` always gets the same child seed, so results do not
    depend on how rows are grouped into batches or chunks; ``first`` is the
    position of the first row when X is one chunk of a larger table
    (the rule of :mod:`pellucid._random`).
    """
    root = root_seed(random_state)
    return [row_seed(root, first + i) for i in range(n)]


def _format_number(v: float) -> str:
    """Exactly the number compared against (a bin edge printed as 1,080 must be 1080)."""
    return exact_number(float(v))


def _short_edge(edge: float, sorted_vals: np.ndarray) -> float:
    """The shortest decimal near ``edge`` that splits the training values as ``edge`` does.

    A quantile edge such as 13.280000000000001 or 1080.5 cuts the sorted
    training values between ``below`` (the largest value <= edge) and
    ``above`` (the smallest value > edge). Any cut in [below, above) puts every
    training value in the same bin, so codes, samples, precision and coverage
    are unchanged; the rule printed with the short cut is the rule applied.
    """
    k = int(np.searchsorted(sorted_vals, edge, side="right"))
    below = sorted_vals[k - 1] if k > 0 else -np.inf
    above = sorted_vals[k] if k < len(sorted_vals) else np.inf
    for digits in range(1, 18):
        cut = float(f"{edge:.{digits}g}")
        if below <= cut < above:
            return cut
    return float(edge)


@dataclass
class _Column:
    name: str
    categorical: bool
    edges: np.ndarray  # numeric bin edges (empty for categoricals)
    categories: pd.Index  # categorical values seen in training (empty for numerics)
    n_codes: int  # bins or categories, + missing, + unseen
    is_int: bool
    mean: float
    std: float
    nan_rate: float

    @property
    def missing_code(self) -> int:
        return self.n_codes - 2

    @property
    def unseen_code(self) -> int:
        return self.n_codes - 1

    def encode(self, col: pd.Series) -> np.ndarray:
        """Integer code of each value: bin / category, missing, or unseen."""
        missing = col.isna().to_numpy()
        if self.categorical:
            codes = self.categories.get_indexer(col.astype(object).where(~missing, None))
            codes = np.where(codes < 0, self.unseen_code, codes)
        else:
            vals = col.to_numpy(dtype=float, na_value=np.nan)
            codes = np.searchsorted(self.edges, vals, side="left")
        return np.where(missing, self.missing_code, codes).astype(np.intp)

    def describe(self, code: int, value: Any) -> str:
        """Readable condition of a code, in the user's units (LIME feature labels)."""
        if code == self.missing_code:
            return f"{self.name} is missing"
        if self.categorical or code == self.unseen_code:
            return f"{self.name} = {value!r}"
        e = self.edges
        if len(e) == 0:
            return f"{self.name} = {_format_number(float(value))}"
        if code == 0:
            return f"{self.name} <= {_format_number(e[0])}"
        if code == len(e):
            return f"{self.name} > {_format_number(e[-1])}"
        return f"{_format_number(e[code - 1])} < {self.name} <= {_format_number(e[code])}"


class TabularDomain:
    """Training data, their per-column codes, and sampling by source-row index."""

    def __init__(
        self,
        data: Any,
        *,
        categorical_features: Any = "auto",
        quantiles: Sequence[float] = DISCRETIZERS["quartile"],
        name: str = "training_data",
    ) -> None:
        data = check_X(data, name=name)
        self.is_frame = isinstance(data, pd.DataFrame)
        self.feature_names = feature_names_of(data)
        frame = data if self.is_frame else pd.DataFrame(data, columns=list(self.feature_names))
        self.frame = frame.reset_index(drop=True)
        self.schema = Schema.from_data(self.frame)
        self.n_train = len(self.frame)
        cats = self._categorical_set(categorical_features)
        self.columns = [
            self._fit_column(str(c), self.frame[c], str(c) in cats, quantiles)
            for c in self.frame.columns
        ]
        self.codes = np.column_stack(
            [col.encode(self.frame[col.name]) for col in self.columns]
        ).astype(np.intp)

    @property
    def n_features(self) -> int:
        return len(self.columns)

    def _categorical_set(self, spec: Any) -> set[str]:
        names = self.feature_names
        if isinstance(spec, str) and spec == "auto":
            return {n for n in names if is_categorical(self.frame[n])}
        if spec is None:
            spec = []
        out: set[str] = set()
        for item in spec:
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not 0 <= int(item) < len(names):
                    raise DataError(
                        f"categorical_features index {item} is out of range for {len(names)} columns."
                    )
                out.add(names[int(item)])
            elif str(item) in names:
                out.add(str(item))
            else:
                raise DataError(f"categorical_features names unknown column {item!r}.")
        for n in names:
            if n not in out and is_categorical(self.frame[n]):
                raise DataError(
                    f"Column {n!r} is not numeric (dtype {self.frame[n].dtype}); "
                    "list it in categorical_features."
                )
        return out

    @staticmethod
    def _fit_column(
        name: str, col: pd.Series, categorical: bool, quantiles: Sequence[float]
    ) -> _Column:
        missing = col.isna().to_numpy()
        nan_rate = float(missing.mean())
        if categorical:
            seen = col[~missing]
            if isinstance(col.dtype, pd.CategoricalDtype):
                cats = pd.Index(list(col.cat.categories), dtype=object)
            else:
                cats = pd.Index(pd.unique(seen.astype(object)), dtype=object)
            return _Column(name, True, np.empty(0), cats, len(cats) + 2, False, 0.0, 1.0, nan_rate)
        vals = col.to_numpy(dtype=float, na_value=np.nan)[~missing]
        edges = np.empty(0)
        if len(quantiles):
            ordered = np.sort(vals)
            cuts = np.quantile(ordered, list(quantiles))
            edges = np.unique([_short_edge(float(q), ordered) for q in cuts])
        # A bin edge at the maximum would leave an empty top bin: drop it.
        edges = edges[edges < vals.max()]
        std = float(vals.std())
        return _Column(
            name,
            False,
            edges,
            pd.Index([], dtype=object),
            len(edges) + 3,
            pd.api.types.is_integer_dtype(col.dtype),
            float(vals.mean()),
            std if std > 0 else 1.0,
            nan_rate,
        )

    # ------------------------------------------------------------ rows to explain
    def check_rows(self, X: Any, name: str = "X") -> pd.DataFrame:
        """Validate rows against the training schema; return them as a DataFrame."""
        if isinstance(X, pd.Series):
            X = X.to_frame().T.infer_objects()
            X = X.astype({c: self.frame[c].dtype for c in X.columns if c in self.frame})
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=object if not self.is_frame else None)
            if arr.ndim == 1:
                arr = arr[None, :]
            if self.is_frame:
                raise DataError(
                    f"{name} must be a DataFrame with columns {list(self.feature_names)}, "
                    "like the training data."
                )
            X = pd.DataFrame(
                np.asarray(arr, dtype=self.frame.to_numpy().dtype),
                columns=list(self.feature_names),
            )
        self.schema.validate(X, name=name, allow_all_missing=True)
        X = X.reset_index(drop=True)
        for col in self.columns:
            if isinstance(self.frame[col.name].dtype, pd.CategoricalDtype):
                dtype = self.frame[col.name].dtype
                unknown = ~X[col.name].isin(dtype.categories) & X[col.name].notna()
                if unknown.any():
                    row = int(np.flatnonzero(unknown.to_numpy())[0])
                    raise DataError(
                        f"Column {col.name!r} of {name} has category {X[col.name][row]!r} at row "
                        f"{row} that is not among the training categories."
                    )
                if X[col.name].dtype != dtype:
                    X[col.name] = X[col.name].astype(dtype)
        return X

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([col.encode(X[col.name]) for col in self.columns]).astype(np.intp)

    # ------------------------------------------------------------ building samples
    def store_with(self, X: pd.DataFrame) -> pd.DataFrame:
        """Training rows followed by the rows being explained: the source of every sample."""
        return pd.concat([self.frame, X[list(self.frame.columns)]], ignore_index=True)

    def build(
        self,
        store: pd.DataFrame,
        source: np.ndarray,
        overrides: dict[int, np.ndarray] | None = None,
    ) -> Any:
        """Samples whose column j copies ``store[j][source[:, j]]`` (or an override array)."""
        block = _uniform_block(store)
        if block is not None:
            # One numeric dtype: gather a 2-D array at once; a frame of many
            # separate columns costs more to build than the gather itself.
            arr = block[source, np.arange(block.shape[1])]
            for j, values in (overrides or {}).items():
                arr[:, j] = values
            return pd.DataFrame(arr, columns=store.columns, copy=False) if self.is_frame else arr
        cols: dict[str, Any] = {}
        for j, name in enumerate(store.columns):
            if overrides is not None and j in overrides:
                cols[name] = overrides[j]
            else:
                col = store[name]
                taken = col.array.take(source[:, j])
                # Keep object columns object (pandas would infer a string dtype).
                cols[name] = pd.Series(taken, dtype=object) if col.dtype == object else taken
        frame = pd.DataFrame(cols, copy=False)
        if self.is_frame:
            return frame
        return frame.to_numpy()


def _uniform_block(store: pd.DataFrame) -> np.ndarray | None:
    """The store as one 2-D numpy array when all its columns share a numeric numpy dtype."""
    cached = store.attrs.get("_pellucid_block")
    if cached is not None:
        return cached if isinstance(cached, np.ndarray) else None
    dtypes = set(store.dtypes)
    block: np.ndarray | bool = False
    if len(dtypes) == 1:
        dtype = next(iter(dtypes))
        if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
            block = store.to_numpy()
    store.attrs["_pellucid_block"] = block
    return block if isinstance(block, np.ndarray) else None
