"""Partial dependence and individual conditional expectation (ICE).

For each point of a grid over one or two features, every row of X gets the
grid value and the model's predictions are averaged (PD) or kept per row
(ICE). The grid is scikit-learn's: unique values for categorical or
low-cardinality features, else ``grid_resolution`` equally spaced points
between two percentiles (``scipy.stats.mstats.mquantiles``), so results can be
held against ``sklearn.inspection.partial_dependence``.

Outputs follow :class:`pellucid.Model`: a binary classifier gives the
probability of both classes (two outputs), where scikit-learn reports only
the positive class; ``ours.average[1] == sklearn.average[0]``. Regressors and
multiclass classifiers have the same outputs in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X, feature_names_of
from .._model import Model, as_model
from .._results import PartialDependence
from ._batching import column, predict_replicas
from ._common import categorical_mask, feature_positions, output_names

__all__ = ["partial_dependence"]

KINDS = ("average", "individual", "both")
METHODS = ("auto", "brute", "recursion")


def _numeric_values(col: Any) -> np.ndarray:
    if isinstance(col, pd.Series):
        return col.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(col, dtype=float)


def _is_integer(col: Any) -> bool:
    dtype = col.dtype
    return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def categories(col: Any) -> np.ndarray:
    """Observed non-missing values of a categorical column, in a stable order.

    Category order for pandas categoricals, sorted order where values sort,
    first-seen order otherwise (mixed types).
    """
    series = col if isinstance(col, pd.Series) else pd.Series(col)
    present = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        seen = set(present.unique().tolist())
        return np.asarray([c for c in series.dtype.categories if c in seen], dtype=object)
    uniques = pd.unique(present)
    try:
        return np.asarray(sorted(uniques.tolist()), dtype=object)
    except TypeError:
        return np.asarray(uniques, dtype=object)


def grid_for(
    col: Any, name: str, is_cat: bool, grid_resolution: int, percentiles: tuple[float, float]
) -> np.ndarray:
    """scikit-learn's grid for one column.

    A missing value is never a grid point (numeric or categorical); rows with
    missing values still take part in the average.
    """
    if is_cat:
        values = categories(col)
        if len(values) == 0:
            raise DataError(f"Column {name!r} has no non-missing values to build a grid from.")
        return values
    x = _numeric_values(col)
    x = x[~np.isnan(x)]
    if x.size == 0:
        raise DataError(f"Column {name!r} has no non-missing values to build a grid from.")
    uniques = np.unique(x)
    if uniques.shape[0] < grid_resolution:
        grid = uniques
    else:
        from scipy.stats.mstats import mquantiles

        low, high = mquantiles(x, prob=percentiles, axis=0)
        if np.allclose(low, high):
            raise DataError(
                f"The percentiles {percentiles} of column {name!r} are too close to each other "
                f"({low!r}, {high!r}) to build a grid; choose percentiles further apart."
            )
        grid = np.linspace(low, high, num=grid_resolution, endpoint=True)
    if _is_integer(col):
        # An integer column keeps its dtype: the grid is rounded, not the model's input.
        grid = np.unique(np.round(grid)).astype(np.int64)
    return grid


def _check_options(grid_resolution: int, percentiles: Any) -> tuple[float, float]:
    if int(grid_resolution) <= 1:
        raise ValueError(f"grid_resolution must be greater than 1; got {grid_resolution!r}.")
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise ValueError(f"percentiles must be two numbers; got {percentiles!r}.") from None
    if not (0 <= low < high <= 1):
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 1; got {percentiles!r}.")
    return low, high


def _recursion_partial_dependence(
    model: Model, X: Any, features: list[int], grid: list[np.ndarray]
) -> np.ndarray:
    """Partial dependence read off the trees (cover-weighted traversal), ``(n_outputs, *grid)``.

    The trees give the model's raw output (margin), so a classifier must be
    wrapped with ``output="raw"``; the model's constant is included, so the
    curve is the model's own average output (scikit-learn's recursion leaves
    the constant out and differs from ours by it).
    """
    from ..shapley._explain import is_tree_model

    if not is_tree_model(model):
        raise ValueError(
            f"method='recursion' needs a tree model supported by pellucid.tree; "
            f"{type(model.raw_model).__name__} is not one. Use method='brute'."
        )
    if model.is_classifier and model.output != "raw":
        raise ValueError(
            "method='recursion' gives the trees' raw output; wrap the classifier as "
            "pellucid.Model(model, output='raw') or use method='brute' for probabilities."
        )
    from ..tree._pdp import partial_dependence_recursion

    points = np.stack([g.ravel() for g in np.meshgrid(*grid, indexing="ij")], axis=1)
    # rows=X: the trees' reading is checked against the model's own prediction on them
    values = partial_dependence_recursion(model, points.astype(float), features, rows=X)
    values = values.reshape(len(points), -1).T
    return values.reshape((values.shape[0], *(len(g) for g in grid)))


def tree_path_disabled() -> bool:
    """Set ``PELLUCID_PD_TREES=0`` to always evaluate the model (benchmarks compare both)."""
    import os

    return os.environ.get("PELLUCID_PD_TREES", "1") == "0"


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float).ravel()
    if w.shape[0] != n:
        raise DataError(f"sample_weight has {w.shape[0]} entries for {n} rows of X.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise DataError("sample_weight must be finite, non-negative and not all zero.")
    return w


def brute_predictions(
    model: Model,
    X: Any,
    positions: list[int],
    grids: list[np.ndarray],
    *,
    average: bool,
    weights: np.ndarray | None = None,
    n_jobs: int | None = None,
    batch_rows: int | None = None,
) -> np.ndarray:
    """Predictions over the cartesian grid: ``(n_points, n[, k])`` or, averaged, ``(n_points[, k])``."""
    mesh = np.meshgrid(*[np.arange(len(g)) for g in grids], indexing="ij")
    codes = [m.ravel() for m in mesh]
    n = X.shape[0]
    n_points = codes[0].shape[0]

    def overrides(a: int, b: int) -> tuple[dict, dict]:
        values = {
            j: np.repeat(g[c[a:b]], n) for j, g, c in zip(positions, grids, codes, strict=True)
        }
        return {}, values

    reduce = (lambda out: np.average(out, axis=1, weights=weights)) if average else None
    return predict_replicas(
        model.predict_prepared,
        X,
        n_points,
        overrides,
        reduce=reduce,
        n_jobs=n_jobs,
        batch_rows=batch_rows,
    )


# Rows of ICE the tree path holds at once when only the average is wanted.
_TREE_BLOCK_VALUES = 2**22
# Rows checked against the model itself before the tree path's numbers are used.
_TREE_CHECK_ROWS = 8


def tree_ice(
    model: Model, X: Any, position: int, grid: np.ndarray, *, average: bool, weights: Any = None
) -> np.ndarray | None:
    """Brute PD/ICE of one numeric feature read off a tree model's own trees, or None.

    Exactly the brute method's numbers (every row's prediction at every grid
    value), but the trees are walked once per row with x's own branch at other
    features' splits and both branches at the target's, so the cost is rows x
    reachable leaves instead of rows x grid x depth (see
    :func:`pellucid.tree._pdp.ice_from_trees`). None where the model is not a
    tree model pellucid.tree reads, its output is not a known link of the
    trees' sum, or the trees disagree with the model on a few check rows: the
    caller then evaluates the model.

    Returns ``(n_points, n[, k])`` (ICE) or ``(n_points[, k])`` (average), as
    :func:`brute_predictions`.
    """
    from ..shapley._explain import is_tree_model

    if not is_tree_model(model):
        return None
    try:
        from ..tree import read_ensemble
        from ..tree._ensemble import model_link
        from ..tree._explainer import to_matrix
        from ..tree._pdp import ice_from_trees

        ens = read_ensemble(model)
        link = model_link(model, ens.link)
        if link is None:
            return None
        Xm, _ = to_matrix(X, ens)
    except (TypeError, ValueError, ImportError):
        return None

    def ice(rows: slice) -> np.ndarray | None:
        return ice_from_trees(ens, Xm[rows], position, grid, link)

    # Guard: the trees must give the model's own predictions (reader, link, dtype).
    m = min(_TREE_CHECK_ROWS, X.shape[0])
    head = ice(slice(0, m))
    if head is None:
        return None
    X_head = X.iloc[:m] if isinstance(X, pd.DataFrame) else X[:m]
    expected = brute_predictions(model, X_head, [position], [grid], average=False)
    got = head.transpose(1, 0, 2)
    if expected.ndim == 2:
        expected = expected[..., None]
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-9, atol=1e-12):
        return None

    n = X.shape[0]
    k = got.shape[2]
    if not average:
        full = ice(slice(0, n))
        assert full is not None
        out = full.transpose(1, 0, 2)
    else:
        block = max(1, _TREE_BLOCK_VALUES // (len(grid) * k))
        total = np.zeros((len(grid), k))
        for a in range(0, n, block):
            part = ice(slice(a, a + block))
            assert part is not None
            if weights is None:
                total += part.sum(axis=0)
            else:
                total += np.tensordot(weights[a : a + block], part, axes=(0, 0))
        out = total / (n if weights is None else weights.sum())
    single = k == 1 and not (model.is_classifier and model.output == "probability")
    return out[..., 0] if single else out


def partial_dependence(
    model: Any,
    X: Any,
    features: Any,
    *,
    kind: str = "average",
    grid_resolution: int = 100,
    percentiles: tuple[float, float] = (0.05, 0.95),
    categorical_features: Any = "auto",
    method: str = "auto",
    sample_weight: Any = None,
    n_jobs: int | None = None,
    batch_rows: int | None = None,
) -> PartialDependence:
    """Partial dependence (and ICE) of one feature or a pair of features.

    Parameters
    ----------
    model:
        Any fitted model or :class:`pellucid.Model`; Pipelines get X's raw columns.
    X:
        DataFrame or 2-D array whose rows are averaged over.
    features:
        A column name or position, or a list of two for a two-way dependence.
    kind:
        "average" (PD), "individual" (ICE) or "both".
    grid_resolution, percentiles:
        The grid, as in scikit-learn.
    categorical_features:
        "auto" (category/string/object/bool columns), None, names/positions, or a boolean mask.
    method:
        "brute" evaluates the model; "recursion" reads tree models (needs
        :mod:`pellucid.tree`, raw output only); "auto" is "brute", which
        is exact for the rows given, so results never depend on the model kind.
        For one numeric feature of a tree model pellucid.tree reads, brute
        reads the trees instead of calling the model (same numbers, checked
        on a few rows first); ``params["engine"]`` says which was used.
    sample_weight:
        Weights of X's rows in the average (ICE curves are unweighted).
    n_jobs, batch_rows:
        Parallel workers (joblib) and rows per model call; results do not depend on either.

    Returns
    -------
    PartialDependence
        ``average``: ``(n_outputs, *grid_shape)``; ``individual``: ``(n_outputs, n_rows, *grid_shape)``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    low, high = _check_options(grid_resolution, percentiles)
    m = as_model(model)
    X = m.prepare(check_X(X))
    names = feature_names_of(X)
    positions = feature_positions(names, features)
    is_cat = categorical_mask(X, names, categorical_features)
    weights = _weights(sample_weight, X.shape[0])
    grids = [
        grid_for(column(X, j), names[j], is_cat[j], int(grid_resolution), (low, high))
        for j in positions
    ]
    shape = tuple(len(g) for g in grids)

    avg: np.ndarray | None
    ice: np.ndarray | None
    if method == "recursion":
        if kind != "average":
            raise ValueError("method='recursion' gives only kind='average'; use method='brute'.")
        if weights is not None:
            raise ValueError("method='recursion' cannot use sample_weight; use method='brute'.")
        avg = _recursion_partial_dependence(m, X, positions, grids)
        ice = None
        used = engine = "recursion"
    else:
        used = "brute"
        preds = None
        if len(positions) == 1 and not is_cat[positions[0]] and not tree_path_disabled():
            preds = tree_ice(
                m, X, positions[0], grids[0], average=kind == "average", weights=weights
            )
        engine = "model" if preds is None else "trees"
        if preds is None:
            preds = brute_predictions(
                m,
                X,
                positions,
                grids,
                average=kind == "average",
                weights=weights,
                n_jobs=n_jobs,
                batch_rows=batch_rows,
            )
        if preds.ndim == (1 if kind == "average" else 2):
            preds = preds[..., None]
        if kind == "average":
            avg, ice = preds.T.reshape(-1, *shape), None
        else:
            # (n_points, n, k) -> (k, n, n_points) -> (k, n, *shape)
            ice = preds.transpose(2, 1, 0).reshape(preds.shape[2], preds.shape[1], *shape)
            avg = np.average(ice, axis=1, weights=weights) if kind == "both" else None
    return PartialDependence(
        features=tuple(names[j] for j in positions),
        grid_values=tuple(grids),
        average=avg,
        individual=ice,
        kind=kind,
        output_names=output_names(m),
        method=f"partial_dependence:{used}",
        params={
            "grid_resolution": int(grid_resolution),
            "percentiles": [low, high],
            "method": used,
            "engine": engine,
        },
        categorical=tuple(is_cat[j] for j in positions),
    )
