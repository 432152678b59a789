"""TreeShap: exact SHAP values and interactions for tree ensembles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._data import DataError
from .._errors import UnsupportedModelError
from .._protocol import UNSET, ExplainerBase, renamed_argument
from .._results import Explanation
from ..scale import check_fan_out, scalable
from ._ensemble import TreeEnsemble

__all__ = ["TreeShap", "read_ensemble"]

OUTPUTS = ("raw", "probability")


def read_ensemble(model: Any, *, iteration_range: tuple[int, int] | None = None) -> TreeEnsemble:
    """The TreeEnsemble of a fitted tree model (sklearn, XGBoost, LightGBM, CatBoost):
    the trees its own ``predict`` uses (for XGBoost, ``iteration_range`` as ``predict``'s)."""
    if isinstance(model, TreeEnsemble):
        return model
    raw = getattr(model, "raw_model", None)
    if raw is not None and type(model).__name__ == "Model":
        model = raw
    root = type(model).__module__.split(".")[0]
    if iteration_range is not None and root != "xgboost":
        raise UnsupportedModelError(
            f"iteration_range applies to XGBoost models only; got a {type(model).__name__}."
        )
    if root == "sklearn":
        if type(model).__name__ == "Pipeline":
            raise UnsupportedModelError(
                "TreeShap explains a tree model directly, not a Pipeline: pass the Pipeline's "
                "final tree estimator with transformed data, or use a model-agnostic explainer."
            )
        from ._sklearn import read_sklearn

        return read_sklearn(model)
    if root == "xgboost":
        from ._xgboost import read_xgboost

        return read_xgboost(model, iteration_range)
    if root == "lightgbm":
        from ._lightgbm import read_lightgbm

        return read_lightgbm(model)
    if root == "catboost":
        from ._catboost import read_catboost

        return read_catboost(model)
    raise TypeError(
        f"TreeShap cannot read {type(model).__name__!r}: expected a scikit-learn tree model, "
        "an XGBoost, LightGBM or CatBoost model, or a pellucid.tree.TreeEnsemble."
    )


def to_matrix(X: Any, ens: TreeEnsemble, *, name: str = "X") -> tuple[np.ndarray, tuple[str, ...]]:
    """Rows as a float64 matrix in the model's column order, and the column names.

    Category columns become the codes the trees split on (NaN where missing or,
    as the model itself treats them, unknown); text columns of a model that does
    not encode them itself are an error naming the column.
    """
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        _check_columns(names, ens, name)
        labels = _label_categories(X, ens, name)
        cols = [
            _column(col, col.dtype, j, c, ens, name, labels.get(j))
            for j, (c, col) in enumerate(X.items())
        ]
        arr = np.column_stack(cols) if cols else np.empty((len(X), 0))
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise DataError(f"{name} must be 2-D (rows x features); got shape {arr.shape}.")
        names = ens.feature_names or tuple(f"x{i}" for i in range(arr.shape[1]))
        if ens.input_categories and arr.shape[1] == ens.n_features:
            arr = np.column_stack(
                [_column(arr[:, j], arr.dtype, j, names[j], ens, name) for j in range(arr.shape[1])]
            )
        elif arr.dtype.kind not in "biuf":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise DataError(f"{name} must be numeric; got dtype {arr.dtype}.") from None
    if arr.shape[1] != ens.n_features:
        raise DataError(f"{name} has {arr.shape[1]} columns but the model uses {ens.n_features}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} has no rows.")
    return ens.prepare_X(arr), names


# Below this many leaf-rows the kernels run on the calling thread alone, as their serial
# compilations (``_kernels.small_problem``): waking numba's worker threads costs more than
# the work (one-row requests in a service, say), and on a new install the first
# explanation of a small problem compiles the serial kernels only (a parallel compile
# takes several times longer).
SERIAL_WORK = 20_000


@contextmanager
def _threads_for(work: int) -> Iterator[None]:
    if work >= SERIAL_WORK:
        yield
        return
    import numba

    from ._kernels import small_problem

    before = numba.get_num_threads()
    numba.set_num_threads(1)  # thread-local: other threads keep theirs
    try:
        with small_problem():
            yield
    finally:
        numba.set_num_threads(before)


def _user_data(X: Any, Xa: np.ndarray) -> np.ndarray:
    """The rows as the user gave them when some are not numbers (category labels), else Xa."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        if all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in X.dtypes):
            return Xa
        return X.to_numpy()
    arr = np.asarray(X)
    return Xa if arr.dtype.kind in "biuf" else arr


def _label_categories(X: Any, ens: TreeEnsemble, name: str) -> dict[int, np.ndarray]:
    """Column -> the training categories the library re-codes that column's labels to."""
    import pandas as pd

    if ens.ordered_categories is None:
        return ens.label_categories
    # LightGBM pairs its stored categories with the frame's category columns in order
    cat_cols = [j for j, t in enumerate(X.dtypes) if isinstance(t, pd.CategoricalDtype)]
    if len(cat_cols) != len(ens.ordered_categories):
        raise DataError(
            f"{name} has {len(cat_cols)} category columns but the model was trained with "
            f"{len(ens.ordered_categories)}; give category columns as at training."
        )
    return dict(zip(cat_cols, ens.ordered_categories, strict=True))


def _check_columns(names: tuple[str, ...], ens: TreeEnsemble, name: str) -> None:
    if ens.feature_names is None or names == ens.feature_names:
        return
    stored = tuple(ens.stored_name(n) for n in names)
    if stored == ens.feature_names:  # e.g. LightGBM's underscores for spaces
        return
    names = stored
    if set(names) == set(ens.feature_names):
        raise DataError(
            f"{name}'s columns are in a different order than the model's "
            f"{list(ens.feature_names)}; reorder them."
        )
    missing = [c for c in ens.feature_names if c not in names]
    raise DataError(
        f"{name} lacks the model's columns {missing}"
        if missing
        else f"{name}'s columns {list(names)} differ from the model's {list(ens.feature_names)}."
    )


def _column(
    values: Any,
    dtype: Any,
    j: int,
    col_name: Any,
    ens: TreeEnsemble,
    name: str,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """One column as float64 codes or numbers (see :func:`to_matrix`)."""
    import pandas as pd

    if labels is not None and isinstance(dtype, pd.CategoricalDtype):
        # re-coded by label to the training categories, as the library does
        given = np.asarray(values, dtype=object)
        codes = pd.Index(labels).get_indexer(given).astype(np.float64)
        missing = np.asarray(pd.isna(given), dtype=bool)
        unseen = (codes < 0) & ~missing
        if unseen.any() and ens.unseen_labels == "error":
            raise DataError(
                f"Column {col_name!r} of {name} has labels the model did not see in training "
                f"({sorted({str(v) for v in given[unseen]})[:5]}, row {int(np.flatnonzero(unseen)[0])}); "
                f"it knows {list(labels)[:10]}. {ens.source.split(':')[0]} refuses such labels or "
                "predicts them as another category; map them to a known label or to missing."
            )
        codes[codes < 0] = np.nan
        return codes
    if j in ens.input_categories:
        codes = ens.category_index[j].get_indexer(np.asarray(values, dtype=object))
        return np.where(codes < 0, np.nan, codes.astype(np.float64))
    if isinstance(dtype, pd.CategoricalDtype):  # the codes, as XGBoost and LightGBM see them
        codes = pd.Categorical(values, dtype=dtype).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        return codes
    if isinstance(values, pd.Series) and (
        pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
    ):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"Column {col_name!r} of {name} is not numeric (dtype {dtype}); tree models "
            "need numbers or pandas categories."
        ) from None


class TreeShap(ExplainerBase):
    """Exact SHAP values of tree ensembles.

    What is explained is what the model's own ``predict`` computes, and this is
    checked: the raw output of the trees as read is compared with the library's
    own prediction (XGBoost ``output_margin=True``, LightGBM ``raw_score=True``,
    CatBoost ``RawFormulaVal``, scikit-learn's ``decision_function``,
    ``predict_proba`` or ``predict``) on every row explained (on a fixed sample
    of at most 256 rows in :meth:`predict`), and a difference beyond the
    library's rounding raises :class:`~pellucid.ModelReadingError`. The
    Explanation's ``output`` is the model's own output, so ``additivity_gap``
    measures the explanation against the model itself (float32 libraries:
    about 1e-7 of the output's scale).

    Reproduced as the library does: XGBoost's ``missing`` value (missing, like
    NaN); after early stopping, the rounds up to ``best_iteration`` (the sklearn
    wrappers of XGBoost and LightGBM predict with those; a bare XGBoost Booster
    with every round); pandas category columns re-coded by label to the
    categories the model stored at training (XGBoost 3, LightGBM; unknown labels
    are missing to LightGBM; XGBoost refuses some and predicts others as the next
    known label, so they are refused with a DataError naming the column and label);
    LightGBM column names stored with underscores for spaces.
    Refused by name (:class:`~pellucid.UnsupportedModelError`): LightGBM linear
    trees, CatBoost categorical/text features, Pipelines.

    Parameters
    ----------
    model:
        scikit-learn DecisionTree / RandomForest / ExtraTrees / GradientBoosting /
        HistGradientBoosting / IsolationForest, XGBoost, LightGBM or CatBoost
        (symmetric trees), a ``pellucid.Model`` wrapping one, or a
        :class:`~pellucid.tree.TreeEnsemble` (explained as given: nothing to check).
    data:
        None for path-dependent TreeSHAP (the trees' own cover statistics stand
        in for the data distribution); rows for interventional TreeSHAP, where
        absent features take background values and values are averaged over
        the background rows; or a ``pellucid.summarize(X, k)`` result, whose
        weights weight that average. ``background=`` is its deprecated name.
    output:
        "raw" (the margin: log-odds, log-count, regression value) or
        "probability" (interventional only, binary classifiers with a logistic
        link; values of ``sigmoid(margin)`` rescaled pair by pair as shap does).
        The Explanation's ``output_kind`` names the unit.
    iteration_range:
        XGBoost only: the rounds to explain, as ``predict(X, iteration_range=...)``
        takes them (default: what ``predict(X)`` uses).
    n_jobs, chunk_rows:
        Rows explained at once in worker processes, and rows per worker task
        (:func:`pellucid.scale.scalable`). None: one process (the compiled
        kernel already runs rows on every core).
    """

    _renamed = {"background": "data"}
    _call_settings = ("n_jobs", "chunk_rows")

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        output: str = "raw",
        feature_names: Sequence[str] | None = None,
        iteration_range: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        chunk_rows: int | None = None,
        background: Any = UNSET,
    ) -> None:
        from ._guard import library_model

        background = renamed_argument("TreeShap", "background", "data", background, data)
        self.n_jobs, self.chunk_rows = check_fan_out(n_jobs, chunk_rows)
        self.iteration_range = iteration_range

        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}.")
        self.ensemble = read_ensemble(model, iteration_range=iteration_range)
        self._model = library_model(model)
        self._rounds = (0, 0)
        if self._model is not None and self.ensemble.source.startswith("xgboost"):
            from ._xgboost import iteration_range as xgb_rounds

            self._rounds = xgb_rounds(self._model, iteration_range)
        if feature_names is not None:
            if len(feature_names) != self.ensemble.n_features:
                raise ValueError(
                    f"Got {len(feature_names)} feature_names for {self.ensemble.n_features} features."
                )
            self._names: tuple[str, ...] | None = tuple(str(f) for f in feature_names)
        else:
            self._names = None
        self.feature_names = feature_names
        self.output = output
        if output == "probability":
            if background is None:
                raise ValueError(
                    "output='probability' needs background data (interventional TreeSHAP): "
                    "path-dependent values explain the raw margin only."
                )
            if self.ensemble.link != "logistic":
                raise ValueError(
                    f"output='probability' needs a binary classifier with a logistic link; this "
                    f"model's link is {self.ensemble.link!r}. Use output='raw'."
                )
        self._tables: Any = None
        self._expected: np.ndarray | None = None
        self.background: np.ndarray | None = None
        self.background_weights: np.ndarray | None = None  # None: equal weights
        self._bg_dirs: np.ndarray | None = None
        self._agg: Any = None
        self._patterns: Any = None  # output="probability": the background's leaf patterns
        if background is not None:
            data, weights = _background_parts(background)
            self.background, _ = to_matrix(data, self.ensemble, name="background")
            self.background_weights = weights

    # ------------------------------------------------------------------ helpers
    @property
    def interventional(self) -> bool:
        return self.background is not None

    @property
    def output_kind(self) -> str:
        """The unit of what is explained (see ``pellucid.Explanation.output_kind``)."""
        return "probability" if self.output == "probability" else self.ensemble.raw_output_kind

    def _path_tables(self) -> Any:
        if self._tables is None:
            from ._compute import PathTables

            self._tables = PathTables(self.ensemble)
        return self._tables

    def _transform(self, raw: np.ndarray) -> np.ndarray:
        if self.output == "probability":
            from scipy.special import expit

            return np.asarray(expit(raw))
        return raw

    def _checked(self, X: Any, ours: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """The model's own raw output on ``rows`` of X (all when None), checked against
        ``ours`` (the trees' raw output there); ``ours`` itself for a bare TreeEnsemble."""
        if self._model is None:
            return ours
        from ._guard import check_reading

        return check_reading(self._model, self.ensemble, X, ours, rows=rows, rounds=self._rounds)

    @property
    def expected_value(self) -> np.ndarray:
        """The base value per output: cover-weighted mean (path-dependent) or background mean."""
        if self._expected is None:
            if self.background is not None:
                raw = self._transform(self.ensemble.predict_raw(self.background))
                self._expected = np.asarray(
                    np.average(raw, axis=0, weights=self.background_weights)
                )
            else:
                from ._compute import expected_value

                self._expected = expected_value(self.ensemble)
        return self._expected

    def _shape(self, values: np.ndarray, per_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.ensemble.n_outputs == 1:
            return values[..., 0], per_row[:, 0]
        return values, per_row

    def _names_for(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return self._names or names

    def _output_names(self) -> tuple[str, ...] | None:
        ens = self.ensemble
        if ens.n_outputs == 1:
            return None
        return ens.output_names or tuple(f"output_{j}" for j in range(ens.n_outputs))

    # ------------------------------------------------------------------ API
    def predict(self, X: Any) -> np.ndarray:
        """The output ``explain(X)`` explains, from the trees: the raw margin (its
        logistic for ``output="probability"``), ``(n,)`` or ``(n, k)``; checked
        against the model's own prediction on a fixed sample of at most 256 rows."""
        from ._guard import guard_rows

        Xa, _ = to_matrix(X, self.ensemble)
        with _threads_for(Xa.shape[0] * self.ensemble.n_trees):
            raw = self.ensemble.predict_raw(Xa)
        rows = guard_rows(Xa.shape[0])
        self._checked(X, raw[rows], rows)
        out = self._transform(raw)
        return out[:, 0] if self.ensemble.n_outputs == 1 else out

    @scalable(min_rows=2**62)  # the compiled kernel already runs rows on every core
    def explain(self, X: Any) -> Explanation:
        """SHAP values ``(n, d)`` (or ``(n, d, k)`` for k outputs) with base values and
        the model's own output (checked against the trees': see the class docstring)."""
        Xa, names = to_matrix(X, self.ensemble)
        with _threads_for(Xa.shape[0] * self.ensemble.n_leaves):
            return self._explain(X, Xa, names)

    def _explain(self, X: Any, Xa: np.ndarray, names: tuple[str, ...]) -> Explanation:
        from ._compute import (
            MAX_TABLE_SIZE,
            BackgroundPatterns,
            InterventionalTables,
            LeafPaths,
            interventional_shap,
            path_dependent_shap,
        )

        ens = self.ensemble
        raw = None  # the raw output, where the SHAP kernel computes it on the way
        if self.interventional:
            assert self.background is not None
            if self._bg_dirs is None:
                from ._compute import decisions

                self._bg_dirs = decisions(ens, self.background)
            if (
                self._agg is None
                and self.output == "raw"
                and InterventionalTables.size(ens) <= MAX_TABLE_SIZE
            ):
                self._agg = InterventionalTables(
                    ens, self._bg_dirs, self._path_tables(), self.background_weights
                )
            if self._agg is not None and self.output == "raw":
                raw = np.empty((Xa.shape[0], ens.n_outputs))
            if (
                self._patterns is None
                and self.output == "probability"
                and BackgroundPatterns.applies(ens)
            ):
                self._patterns = BackgroundPatterns(
                    ens, self._bg_dirs, LeafPaths(ens, self._path_tables())
                )
            values = interventional_shap(
                ens,
                Xa,
                self.background,
                transform=1 if self.output == "probability" else 0,
                background_weights=self.background_weights,
                background_dirs=self._bg_dirs,
                agg_tables=self._agg,
                raw_out=raw,
                patterns=self._patterns,
            )
            method_mode = "interventional"
        else:
            values = path_dependent_shap(ens, Xa, self._path_tables())
            method_mode = "path_dependent"
        output = self._transform(self._checked(X, ens.predict_raw(Xa) if raw is None else raw))
        base = np.broadcast_to(self.expected_value, output.shape)
        values, base = self._shape(values, np.ascontiguousarray(base))
        output = output[:, 0] if ens.n_outputs == 1 else output
        params: dict[str, Any] = {
            "feature_perturbation": method_mode,
            "output": self.output,
            "model": ens.source,
        }
        if self.background_weights is not None:
            params["background_weighted"] = True
        return Explanation(
            values=values,
            base_values=base,
            data=_user_data(X, Xa),
            feature_names=self._names_for(names),
            output_names=self._output_names(),
            method="tree_shap",
            params=params,
            output=output,
            output_kind=self.output_kind,
        )

    def explain_interactions(self, X: Any) -> Explanation:
        """SHAP interaction values ``(n, d, d)`` (or ``(n, d, d, k)``), path-dependent.

        Off-diagonal entries split each pairwise interaction evenly between
        ``[i, j]`` and ``[j, i]``; each row ``[i, :]`` sums to feature i's SHAP value.
        """
        if self.interventional:
            raise NotImplementedError(
                "Interaction values are computed path-dependently; create TreeShap without "
                "background to get them."
            )
        from ._compute import path_dependent_interactions

        Xa, names = to_matrix(X, self.ensemble)
        ens = self.ensemble
        with _threads_for(Xa.shape[0] * ens.n_leaves * ens.max_depth):
            values = path_dependent_interactions(ens, Xa, self._path_tables())
            output = self._checked(X, ens.predict_raw(Xa))
        base = np.ascontiguousarray(np.broadcast_to(self.expected_value, output.shape))
        values, base = self._shape(values, base)
        output = output[:, 0] if ens.n_outputs == 1 else output
        return Explanation(
            values=values,
            base_values=base,
            data=_user_data(X, Xa),
            feature_names=self._names_for(names),
            output_names=self._output_names(),
            method="tree_shap",
            params={
                "feature_perturbation": "path_dependent",
                "interactions": True,
                "features": list(self._names_for(names)),
                "model": ens.source,
            },
            output=output,
            output_kind=self.output_kind,
        )


def _background_parts(background: Any) -> tuple[Any, np.ndarray | None]:
    """Background rows and their weights (None: equal), from rows or a ``summarize`` result."""
    from ..shapley._game import Background

    if not isinstance(background, Background):
        return background, None
    w = np.asarray(background.weights, dtype=np.float64)
    if w.shape[0] == 0 or np.all(w == w[0]):
        return background.data, None
    return background.data, w / w.sum()
