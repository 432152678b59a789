"""The reading guard: a tree model is explained only where its trees, as pellucid
reads them, give the model's own prediction.

Every explainer that reads a model's internals compares the raw output of the
trees it read with the library's own prediction in the library's own unit
(XGBoost ``output_margin=True``, LightGBM ``raw_score=True``, CatBoost
``RawFormulaVal``, scikit-learn's ``decision_function`` / ``predict`` /
``predict_proba``) on the rows it explains, and raises
:class:`~pellucid.ModelReadingError` naming the row, the size of the mismatch
and the model options that shape the prediction when they differ by more than
the library's arithmetic allows: an option the reader does not reproduce must
never give a silently different model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import ModelReadingError
from ._ensemble import TreeEnsemble

__all__ = ["GUARD_ROWS", "check_reading", "guard_rows", "library_model", "library_raw"]

# Rows checked where only a sample is affordable (TreeShap.predict, partial dependence).
GUARD_ROWS = 256
# Relative tolerance, of the sum of the largest leaf magnitudes along the trees (a bound on
# every partial sum the library forms): XGBoost sums leaves in float32, each addition
# rounding by up to half a float32 ulp (leaves below that vanish into a large sum), so
# n trees may drift by n 2^-24 of it; the others sum in float64.
FLOAT32_RTOL = 1e-5
FLOAT32_EPS = 2.0**-24
FLOAT64_RTOL = 1e-9

# Options that change a model's prediction, named in the error when they are set.
_OPTIONS = {
    "xgboost": ("missing", "booster", "enable_categorical", "max_cat_to_onehot",
                "num_parallel_tree", "multi_strategy", "objective", "base_score"),
    "lightgbm": ("linear_tree", "zero_as_missing", "use_missing", "boosting_type", "objective",
                 "categorical_feature", "max_cat_to_onehot"),
    "catboost": ("nan_mode", "loss_function", "cat_features", "grow_policy", "boost_from_average"),
    "sklearn": ("loss", "categorical_features", "init", "max_samples", "max_features"),
}  # fmt: skip


def library_model(model: Any) -> Any | None:
    """The library object whose own prediction is the reference; None for a bare
    :class:`TreeEnsemble` (nothing to compare with)."""
    if isinstance(model, TreeEnsemble):
        return None
    raw = getattr(model, "raw_model", None)
    if raw is not None and type(model).__name__ == "Model":
        return raw
    return model


def guard_rows(n: int, limit: int = GUARD_ROWS) -> np.ndarray:
    """All row positions when ``n <= limit``, else ``limit`` evenly spaced ones (first
    and last included): a fixed sample, so a repeated call checks the same rows."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _take(X: Any, rows: np.ndarray) -> Any:
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X if len(rows) == len(X) else X.iloc[rows]
    arr = np.asarray(X)
    return arr if len(rows) == len(arr) else arr[rows]


def _library(model: Any) -> str:
    return type(model).__module__.split(".")[0]


def library_raw(model: Any, X: Any, rounds: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The model's own raw output ``(n, k)`` in float64, as its library computes it.

    ``rounds``: XGBoost's ``iteration_range`` (as resolved by the reader).
    """
    lib = _library(model)
    if lib == "xgboost":
        out = _xgboost_raw(model, X, rounds)
    elif lib == "lightgbm":  # the Booster: what the wrapper's predict calls, minus its
        # feature-name check (an array for a model fitted on a frame is used as is)
        out = getattr(model, "booster_", model).predict(X, raw_score=True)
    elif lib == "catboost":
        out = model.predict(X, prediction_type="RawFormulaVal")
    elif lib == "sklearn":
        out = _sklearn_raw(model, X)
    else:
        raise ModelReadingError(f"No reference prediction for a {type(model).__name__} model.")
    out = np.asarray(out, dtype=np.float64)
    return out.reshape(out.shape[0], -1)


def _xgboost_raw(model: Any, X: Any, rounds: tuple[int, int]) -> np.ndarray:
    import pandas as pd
    import xgboost as xgb

    booster = model.get_booster() if hasattr(model, "get_booster") else model
    if isinstance(X, pd.DataFrame) and booster.feature_names is None:
        X = X.to_numpy()  # a model fitted on arrays: the frame's values, in order
    if hasattr(model, "get_booster"):
        return np.asarray(model.predict(X, output_margin=True, iteration_range=rounds))
    data = xgb.DMatrix(X, enable_categorical=True)
    return np.asarray(booster.predict(data, output_margin=True, iteration_range=rounds))


def _sklearn_raw(model: Any, X: Any) -> np.ndarray:
    """The output the sklearn reader reproduces (see ``_sklearn.py``), without the
    feature-name warnings of data in another form than the model was fitted on."""
    import pandas as pd
    from sklearn import ensemble

    names = getattr(model, "feature_names_in_", None)
    if isinstance(X, pd.DataFrame) and names is None:
        X = X.to_numpy()
    elif not isinstance(X, pd.DataFrame) and names is not None:
        X = pd.DataFrame(np.asarray(X), columns=names)
    if isinstance(model, ensemble.IsolationForest):
        from sklearn.ensemble._iforest import _average_path_length

        c = _average_path_length([model._max_samples])[0]
        return np.asarray(-np.log2(-model.score_samples(X)) * c)
    if hasattr(model, "decision_function") and not isinstance(
        model, ensemble.RandomForestClassifier | ensemble.ExtraTreesClassifier
    ):
        return np.asarray(model.decision_function(X))
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))
    out = np.asarray(model.predict(X), dtype=np.float64)
    if isinstance(model, ensemble.HistGradientBoostingRegressor) and model.loss in (
        "poisson",
        "gamma",
    ):
        return np.log(out)  # the trees give the log of the mean
    return out


def output_scale(ens: TreeEnsemble) -> np.ndarray:
    """Per output: |base| plus each tree's largest leaf magnitude, a bound on the
    magnitude of what the library adds up (its rounding scales with it)."""
    is_leaf = ens.left < 0
    mag = np.abs(ens.value) * is_leaf[:, None]
    per_tree = np.maximum.reduceat(mag, ens.tree_start[:-1], axis=0) if ens.n_trees else mag[:0]
    scale = np.abs(ens.base).astype(np.float64).copy()
    for j in range(ens.n_outputs):
        own = ens.tree_output == j
        every = ens.tree_output < 0
        scale[j] += per_tree[own, 0].sum() + (per_tree[every, j].sum() if every.any() else 0.0)
    return scale


def tolerance(ens: TreeEnsemble, *, float32: bool) -> np.ndarray:
    """Per output: how far the library's own sum may be from the float64 reading."""
    if not float32:
        return FLOAT64_RTOL * output_scale(ens)
    n_trees = np.array(
        [
            np.count_nonzero((ens.tree_output == j) | (ens.tree_output < 0))
            for j in range(ens.n_outputs)
        ]
    )
    return np.maximum(FLOAT32_RTOL, FLOAT32_EPS * (n_trees + 1)) * output_scale(ens)


def check_reading(
    model: Any,
    ens: TreeEnsemble,
    X: Any,
    ours: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    rounds: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """The model's own raw output on ``rows`` of ``X`` (all rows when None), after
    checking that ``ours`` (the trees' raw output on the same rows, ``(m, k)``) equals
    it; else :class:`~pellucid.ModelReadingError`."""
    subset = _take(X, np.arange(len(ours)) if rows is None else rows)
    try:
        theirs = library_raw(model, subset, rounds)
    except ModelReadingError:
        raise
    except Exception as exc:  # the library's own message says what it could not do
        raise ModelReadingError(
            f"Could not check TreeShap's reading against the model's own prediction: "
            f"{type(model).__name__}'s predict raised {type(exc).__name__}: {exc}"
        ) from exc
    if theirs.shape != ours.shape:
        raise ModelReadingError(
            f"The trees read from {type(model).__name__} give outputs of shape {ours.shape}; "
            f"the model's own prediction has shape {theirs.shape}{_options(model)}."
        )
    tol = tolerance(ens, float32=_library(model) == "xgboost")
    gap = np.abs(ours - theirs)
    bad = ~(gap <= tol)  # NaN on either side counts as a mismatch
    if bad.any():
        r, j = np.unravel_index(
            int(np.argmax(np.where(bad, np.nan_to_num(gap, nan=np.inf), -1))), gap.shape
        )
        row = int(r if rows is None else rows[r])
        raise ModelReadingError(
            f"TreeShap's reading of this {type(model).__name__} does not reproduce the model's "
            f"own prediction: row {row}, output {j}: the trees give {ours[r, j]:.9g}, the model "
            f"gives {theirs[r, j]:.9g} (difference {gap[r, j]:.3g}, tolerance {tol[j]:.3g}; "
            f"{int(bad.any(axis=1).sum())} of {gap.shape[0]} rows checked differ)"
            f"{_options(model)}. Explaining it would explain another model; use a "
            "model-agnostic explainer (KernelShap) for it."
        )
    return theirs


def _is_set(value: Any) -> bool:
    if value is None or value is False or (isinstance(value, str) and value == "auto"):
        return False
    return not (isinstance(value, float) and np.isnan(value))


def _options(model: Any) -> str:
    """The prediction-shaping options set on the model, for the error message."""
    get = getattr(model, "get_params", None)
    if get is None:
        return ""
    try:
        params = get(deep=False)
    except Exception:  # noqa: BLE001 - a wrapper without sklearn's params: name nothing
        return ""
    names = _OPTIONS.get(_library(model), ())
    set_ = [f"{k}={params[k]!r}" for k in names if _is_set(params.get(k))]
    if _library(model) == "xgboost" and getattr(model, "best_iteration", None) is not None:
        set_.append(f"best_iteration={model.best_iteration}")
    return f"; options that shape this model's prediction: {', '.join(set_)}" if set_ else ""
