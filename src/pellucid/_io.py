"""Loading and saving models and data files for the CLI and the service.

Loading a model file must never run code from it. Pickle files always can, so
joblib/pickle files load only when the caller says they trust the file. A
skops file names the types it holds; pellucid loads it only when each one is on
a named allowlist (:func:`allowed_skops_types`): skops' own defaults, every
scikit-learn estimator, and the few helper types and functions fitted
scikit-learn models hold. ``builtins`` callables (``eval``, ``exec``...),
``os``/``subprocess`` functions and ``functools.partial`` around anything but
scikit-learn's ``check_array`` are refused, by name, before anything in the
file is constructed.

Trusting a type is not trusting its content: a tree whose child indices point
outside its node array makes scikit-learn read out of bounds at prediction
time (skops leaves such types untrusted for that reason). pellucid trusts the
tree types it needs and checks their node arrays right after loading.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DataFileError",
    "ModelFileError",
    "UntrustedModelError",
    "allowed_skops_types",
    "load_data",
    "load_model",
    "restore_categories",
    "save_model",
]

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
MODEL_SUFFIXES = {
    ".skops": "skops",
    ".json": "XGBoost",
    ".ubj": "XGBoost",
    ".txt": "LightGBM",
    ".cbm": "CatBoost",
}

# Types a fitted scikit-learn model holds that are not estimators themselves.
# Module paths are where the types are defined (how skops names them); a test
# imports each, so a type that moves in a new scikit-learn fails loudly there.
SKLEARN_HELPER_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",  # node arrays checked after loading
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # likewise
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.utils._bunch.Bunch",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)
# Functions stored by reference in fitted models (SelectKBest's score_func...).
SKLEARN_FUNCTIONS = (
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.feature_selection._univariate_selection.r_regression",
    "sklearn.feature_selection._univariate_selection.chi2",
    "sklearn.feature_selection._mutual_info.mutual_info_classif",
    "sklearn.feature_selection._mutual_info.mutual_info_regression",
    # SplineTransformer keeps SciPy B-splines, which hold a reference to asarray.
    "scipy.interpolate._bsplines.BSpline",
    "scipy._lib.array_api_compat.numpy._aliases.asarray",
)
# functools.partial is allowed only around these: HistGradientBoosting with
# categorical_features="from_dtype" stores partial(check_array, ...).
PARTIAL_FUNCTIONS = ("sklearn.utils.validation.check_array",)


class UntrustedModelError(ValueError):
    """A model file would run code when loaded and was not marked as trusted."""


class ModelFileError(ValueError):
    """A model file cannot be read: missing, a folder, corrupt, or not the kind its suffix says."""


class DataFileError(ValueError):
    """A data file cannot be read: missing, a folder, empty or malformed."""


@functools.cache
def allowed_skops_types() -> frozenset[str]:
    """Every type name pellucid lets a skops file hold (beyond skops' own defaults)."""
    from sklearn.utils import all_estimators
    from skops.io._utils import get_type_name

    estimators = {get_type_name(cls) for _, cls in all_estimators()}
    return frozenset(
        {e for e in estimators if e.startswith("sklearn.")}
        | set(SKLEARN_HELPER_TYPES)
        | set(SKLEARN_FUNCTIONS)
        | set(PARTIAL_FUNCTIONS)
        | {"functools.partial"}
    )


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """A library error's first line, without native stack traces or load addresses."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist.")
    if not path.is_file():
        raise (ModelFileError if what == "Model" else DataFileError)(
            f"{what} file {str(path)!r} is a folder, not a file."
        )


def load_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    """Load a model file: skops, XGBoost JSON/UBJ, LightGBM text, CatBoost .cbm,
    or joblib/pickle when ``trust_pickle`` is set.

    ``trust_pickle`` also lets a skops file hold types outside the allowlist.
    Raises :class:`UntrustedModelError` for a file that needs trust it was not
    given, :class:`ModelFileError` for one that cannot be read, both with one
    line naming the file.
    """
    path = Path(path)
    _check_file(path, "Model")
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return _load_pickle(path, trust_pickle)
    if suffix not in MODEL_SUFFIXES:
        raise ModelFileError(
            f"Unknown model file type {suffix!r} for {path.name}; expected .skops, "
            ".json/.ubj (XGBoost), .txt (LightGBM), .cbm (CatBoost), or .joblib/.pkl "
            "with --trust-pickle."
        )
    if suffix == ".skops":
        return _load_skops(path, trust_pickle)
    try:
        return _load_native(path, suffix)
    except ImportError:
        raise
    except Exception as exc:  # each library has its own error types; all mean "unreadable"
        raise ModelFileError(
            f"{path.name} is not a readable {MODEL_SUFFIXES[suffix]} model file: {_first_line(exc)}"
        ) from None


def _load_native(path: Path, suffix: str) -> Any:
    if suffix in (".json", ".ubj"):
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster
    if suffix == ".txt":
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))
    import catboost

    model = catboost.CatBoost()
    model.load_model(str(path))
    return model


def _load_pickle(path: Path, trust_pickle: bool) -> Any:
    if not trust_pickle:
        raise UntrustedModelError(
            f"Refusing to load {path.name}: unpickling a file runs code from it. "
            "Pass --trust-pickle (trust_pickle=True) if you trust where it came from, "
            "or save the model with pellucid.save_model (.skops) instead."
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # unpickling raises anything at all on a bad file
        raise ModelFileError(
            f"{path.name} is not a readable pickle file: {_first_line(exc)}"
        ) from None


def _skops_schema(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(
            f"{path.name} is not a readable skops file (a zip holding schema.json): "
            f"{_first_line(exc)}"
        ) from None


def _nodes(state: Any) -> Iterator[dict[str, Any]]:
    """Every node of a skops schema (dicts carrying ``__loader__``), depth first."""
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _refused_partials(schema: Any) -> list[str]:
    """``functools.partial(f)`` for each partial whose ``f`` is not an allowed function."""
    refused = []
    for node in _nodes(schema):
        if node.get("__loader__") != "PartialNode":
            continue
        func = node.get("content", {}).get("func", {})
        name = f"{func.get('__module__')}.{func.get('__class__')}"
        if func.get("__loader__") != "FunctionNode" or name not in PARTIAL_FUNCTIONS:
            refused.append(f"functools.partial({name})")
    return refused


def _load_skops(path: Path, trust_pickle: bool) -> Any:
    import skops.io as sio

    schema = _skops_schema(path)
    try:
        # Reads the schema into skops' node tree; constructs nothing from the file.
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a malformed schema fails anywhere in skops
        raise ModelFileError(
            f"{path.name} is not a readable skops file: {_first_line(exc)}"
        ) from None
    allowed = allowed_skops_types()
    refused = sorted({t for t in untrusted if t not in allowed} | set(_refused_partials(schema)))
    if refused and not trust_pickle:
        raise UntrustedModelError(
            f"{path.name} holds types pellucid does not load without trust: "
            f"{', '.join(refused)}. Pass --trust-pickle (trust_pickle=True) only if you "
            "trust where the file came from."
        )
    trusted = list(untrusted) if trust_pickle else [t for t in untrusted if t in allowed]
    try:
        model = sio.load(path, trusted=trusted)
    except Exception as exc:  # corrupt arrays, states that do not fit their type, ...
        raise ModelFileError(
            f"{path.name} is not a readable skops file: {_first_line(exc)}"
        ) from None
    check_tree_arrays(model, path.name)
    return model


# ------------------------------------------------------------ content checks


def _objects(root: Any) -> Iterator[Any]:
    """Every object reachable from ``root`` through attributes, containers and object arrays."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
        elif hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())


def check_tree_arrays(model: Any, name: str = "the model") -> None:
    """Refuse scikit-learn trees whose node arrays would make prediction read out of bounds
    or loop: every child index must point to a later node inside the array, every split
    to an existing feature."""
    from sklearn.tree._tree import Tree

    for obj in _objects(model):
        if isinstance(obj, Tree):
            _check_tree(obj, name)
        elif hasattr(obj, "_predictors") and hasattr(obj, "_bin_mapper"):
            _check_hist_gradient_boosting(obj, name)


def _bad_children(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> bool:
    idx = np.arange(len(left))
    n = len(left)
    return bool(np.any(internal & ((left <= idx) | (left >= n) | (right <= idx) | (right >= n))))


def _check_tree(tree: Any, name: str) -> None:
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    feature = np.asarray(tree.feature, dtype=np.int64)
    internal = left != -1
    if (
        len(left) == 0
        or np.any(internal != (right != -1))
        or _bad_children(left, right, internal)
        or np.any(internal & ((feature < 0) | (feature >= tree.n_features)))
    ):
        raise ModelFileError(
            f"{name} holds a decision tree whose node arrays are inconsistent "
            "(children or features out of range): refusing to use it."
        )


def _check_hist_gradient_boosting(model: Any, name: str) -> None:
    n_features = int(getattr(model, "n_features_in_", 0))
    categorical = getattr(model._bin_mapper, "is_categorical_", None)
    categorical = (
        np.zeros(n_features, bool) if categorical is None else np.asarray(categorical, bool)
    )
    for per_iteration in model._predictors:
        for predictor in per_iteration:
            nodes = predictor.nodes
            internal = nodes["is_leaf"] == 0
            feature = nodes["feature_idx"].astype(np.int64)
            on_category = internal & (nodes["is_categorical"] != 0)
            n_bitsets = len(predictor.raw_left_cat_bitsets)
            if (
                len(nodes) == 0
                or _bad_children(
                    nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), internal
                )
                or np.any(internal & ((feature < 0) | (feature >= n_features)))
                or len(categorical) != n_features
                or np.any(on_category & ~categorical[np.clip(feature, 0, n_features - 1)])
                or np.any(on_category & (nodes["bitset_idx"].astype(np.int64) >= n_bitsets))
                or len(predictor.binned_left_cat_bitsets) != n_bitsets
            ):
                raise ModelFileError(
                    f"{name} holds a histogram gradient-boosting tree whose node arrays are "
                    "inconsistent (children, features or category sets out of range): "
                    "refusing to use it."
                )


# ------------------------------------------------------------ saving


def _model_kind(model: Any) -> str:
    root = type(model).__module__.split(".")[0]
    if root in ("xgboost", "lightgbm", "catboost"):
        return root
    from sklearn.base import BaseEstimator

    if isinstance(model, BaseEstimator):
        return "sklearn"
    raise TypeError(
        f"save_model saves scikit-learn, XGBoost, LightGBM and CatBoost models; "
        f"got {type(model).__module__}.{type(model).__name__}."
    )


_SUFFIX_FOR_KIND = {
    "sklearn": (".skops",),
    "xgboost": (".json", ".ubj"),
    "lightgbm": (".txt",),
    "catboost": (".cbm",),
}


def save_model(model: Any, path: str | Path) -> Path:
    """Save ``model`` in a format that loads without running code, chosen by its kind.

    scikit-learn estimators and pipelines go to ``.skops``; XGBoost to
    ``.json`` (or ``.ubj``); LightGBM to ``.txt``; CatBoost to ``.cbm``. The
    path's suffix must fit the kind. A scikit-learn model holding a type
    :func:`load_model` would refuse (a custom transformer, a lambda) is not
    written: it could not be loaded back without ``trust_pickle``.
    Returns the path written.
    """
    path = Path(path)
    from ._model import Model

    inner = model.raw_model if isinstance(model, Model) else model
    kind = _model_kind(inner)
    suffixes = _SUFFIX_FOR_KIND[kind]
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"A {kind} model is saved as {' or '.join(suffixes)}; got {path.name!r}.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Folder {str(path.parent)!r} does not exist.")
    if kind == "sklearn":
        _save_skops(inner, path)
    elif kind == "xgboost":
        booster = inner.get_booster() if hasattr(inner, "get_booster") else inner
        booster.save_model(str(path))
    elif kind == "lightgbm":
        booster = inner.booster_ if hasattr(inner, "booster_") else inner
        booster.save_model(str(path))
    else:
        inner.save_model(str(path))
    return path


def _save_skops(model: Any, path: Path) -> None:
    import skops.io as sio

    data = sio.dumps(model)
    refused = [t for t in sio.get_untrusted_types(data=data) if t not in allowed_skops_types()]
    if refused:
        raise ValueError(
            f"{type(model).__name__} holds types pellucid would not load back without "
            f"trust_pickle: {', '.join(refused)}. Use scikit-learn's own transformers "
            "(FunctionTransformer with a named NumPy function, not a lambda)."
        )
    path.write_bytes(data)


# ------------------------------------------------------------ data


def load_data(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame; one clear error for a file that cannot be."""
    path = Path(path)
    _check_file(path, "Data")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataFileError(
            f"Unknown data file type {suffix!r} for {path.name}; expected .csv or .parquet."
        )
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types for a malformed file
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise DataFileError(
            f"{path.name} is not a readable {kind} file: {_first_line(exc)}"
        ) from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataFileError(
            f"{path.name} holds no data ({len(frame)} rows, {frame.shape[1]} columns)."
        )
    return frame


def _stored_categories(model: Any) -> dict[str, list[Any]]:
    """``{column: categories}`` for a native XGBoost/LightGBM model trained on pandas categories."""
    root = type(model).__module__.split(".")[0]
    if root == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        types = booster.feature_types or []
        if "c" not in types:
            return {}
        try:
            stored = booster.get_categories(export_to_arrow=True).to_arrow()
        except (AttributeError, TypeError, ValueError):
            stored = None
        found = {str(n): a.to_pylist() for n, a in stored or [] if a is not None}
        names = booster.feature_names or [f"f{i}" for i in range(len(types))]
        missing = [n for n, t in zip(names, types, strict=False) if t == "c" and n not in found]
        if missing:
            raise ValueError(
                f"The model treats {missing} as categorical but its file holds no categories "
                "for them (saved by XGBoost < 3.1?): pass the data as Parquet, which keeps "
                "the category dtype."
            )
        return found
    if root == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        cats = getattr(booster, "pandas_categorical", None) or []
        if not cats:
            return {}
        names = booster.feature_name()
        idx = booster.params.get("categorical_feature") if hasattr(booster, "params") else None
        columns = _lightgbm_categorical_columns(booster, names, idx)
        if len(columns) != len(cats):
            return {}
        return {c: list(v) for c, v in zip(columns, cats, strict=True)}
    return {}


def _lightgbm_categorical_columns(booster: Any, names: list[str], idx: Any) -> list[str]:
    """The categorical columns, in the order LightGBM stores their pandas categories."""
    dump = booster.dump_model(num_iteration=0)
    info = dump.get("feature_infos", {})
    # LightGBM writes categorical features' infos as "a:b:c" (category codes).
    return [n for n in names if isinstance(info.get(n), str) and ":" in info[n]] or (
        [names[int(i)] for i in idx] if isinstance(idx, (list, tuple)) else []
    )


def restore_categories(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Give columns the category dtype (and categories, in order) the model was trained with.

    A CSV file cannot say that a column is categorical; a native XGBoost or
    LightGBM model trained on pandas categories refuses (or misreads) its
    strings. The model stores its categories, so they are restored from there.
    A value the model never saw is an error naming column and values, never a
    silent missing value.
    """
    stored = _stored_categories(model)
    out = frame
    for column, categories in stored.items():
        if column not in frame.columns or isinstance(frame[column].dtype, pd.CategoricalDtype):
            continue
        values = _comparable(frame[column], categories)
        unknown = values[values.notna() & ~values.isin(categories)].unique().tolist()
        if unknown:
            raise ValueError(
                f"Column {column!r} holds values the model never saw: {unknown[:10]}; "
                f"its categories are {categories[:20]}."
            )
        out = out.assign(**{column: values.astype(pd.CategoricalDtype(categories))})
    return out


def _comparable(values: pd.Series, categories: list[Any]) -> pd.Series:
    """``values`` as text when the categories are text (a CSV reads "1" as the number 1)."""
    if categories and all(isinstance(c, str) for c in categories):
        return values.where(values.isna(), values.astype(str))
    return values
