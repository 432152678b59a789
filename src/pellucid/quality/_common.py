"""Shared machinery: which output is explained, removing features, building explainers.

Removing a feature means replacing it by background values and averaging
the model's output over the background rows: ``E_b f(x_S, b_rest)``, the
same value function interventional SHAP explains. Replacement works on the
raw columns (a DataFrame stays a DataFrame with its own dtypes), so
pipelines with encoders and categorical columns see ordinary inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X, feature_names_of
from .._model import OUTPUTS, Model, as_model
from .._protocol import with_seed
from .._results import Explanation

# Rows per model call when averaging over background rows; keeps memory bounded.
_CHUNK_ROWS = 200_000


# ---------------------------------------------------------------- inputs


def check_rows(X: Any, explanation: Explanation | None = None, name: str = "X") -> Any:
    """Validate X (DataFrame or 2-D array) against the explanation's rows and features."""
    X = check_X(X, name=name)
    if explanation is None:
        return X
    if len(explanation.feature_shape) != 1:
        raise ValueError(
            "pellucid.quality measures tabular explanations (values of shape (n, d[, k])); "
            f"got values of shape {explanation.values.shape}."
        )
    n, d = explanation.values.shape[:2]
    if X.shape[0] != n:
        raise DataError(
            f"{name} has {X.shape[0]} rows but the explanation has {n}: pass the rows it explains."
        )
    if X.shape[1] != d:
        raise DataError(f"{name} has {X.shape[1]} columns but the explanation has {d} features.")
    if isinstance(X, pd.DataFrame) and explanation.feature_names:
        got = feature_names_of(X)
        if got != tuple(explanation.feature_names):
            raise DataError(
                f"{name}'s columns {list(got)} differ from the explanation's features "
                f"{list(explanation.feature_names)}."
            )
    return X


def take_rows(X: Any, idx: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True)
    return np.asarray(X)[idx]


def n_features(X: Any) -> int:
    return int(X.shape[1])


def background(data: Any, X: Any, n_background: int, rng: np.random.Generator) -> Any:
    """Background rows for replacement: ``data`` (or X itself), subsampled to ``n_background``."""
    if int(n_background) < 1:
        raise ValueError(f"n_background must be a positive integer; got {n_background!r}.")
    bg = X if data is None else check_X(data, name="data")
    if isinstance(X, pd.DataFrame) != isinstance(bg, pd.DataFrame):
        raise DataError("data and X must both be DataFrames or both be arrays.")
    if bg.shape[1] != X.shape[1]:
        raise DataError(f"data has {bg.shape[1]} columns; X has {X.shape[1]}.")
    if isinstance(X, pd.DataFrame) and feature_names_of(bg) != feature_names_of(X):
        raise DataError(
            f"data's columns {list(feature_names_of(bg))} differ from X's {list(X.columns)} "
            "(same names, same order needed)."
        )
    if bg.shape[0] > n_background:
        idx = np.sort(rng.choice(bg.shape[0], size=int(n_background), replace=False))
        bg = take_rows(bg, idx)
    elif isinstance(bg, pd.DataFrame):
        bg = bg.reset_index(drop=True)
    return bg


def as_rng(random_state: Any) -> np.random.Generator:
    return np.random.default_rng(random_state)


# ---------------------------------------------------------------- outputs


class Target:
    """The explained model output, one number per row.

    Resolves which output of a multi-output explanation is measured and
    checks, when the explanation records the output it explained, that the
    model reproduces it (trying the model's "raw"/"log_odds" outputs for a
    classifier whose explanation was of a margin).
    """

    def __init__(
        self, model: Any, X: Any, explanation: Explanation, output: int | str | None
    ) -> None:
        self.model = as_model(model)
        pred = self.model.predict(X)
        if explanation.output is not None and not isinstance(model, Model):
            pred = self._match_output_kind(model, X, explanation, pred)
        self.out_cols, self.phi = select_output(explanation, output, pred)
        self.pred = pick(pred, self.out_cols)
        if explanation.output is not None:
            recorded = explanation.output
            if recorded.ndim == 2:
                recorded = recorded[np.arange(len(recorded)), self.out_cols]
            if not _close(recorded, self.pred):
                raise ValueError(
                    "The explanation's recorded model output differs from what the model predicts "
                    f"for these rows (max difference {np.max(np.abs(recorded - self.pred)):.3g}): "
                    "pass the rows it explains and the model with the output it explained, e.g. "
                    "pellucid.Model(model, output='log_odds')."
                )

    def _match_output_kind(
        self, model: Any, X: Any, explanation: Explanation, pred: np.ndarray
    ) -> np.ndarray:
        if not self.model.is_classifier or _matches(explanation, pred):
            return pred
        for kind in OUTPUTS:
            try:
                candidate = Model(model, output=kind)
                other = candidate.predict(X)
            except (ValueError, TypeError, AttributeError):
                continue
            if _matches(explanation, other):
                self.model = candidate
                return other
        return pred

    def __call__(self, X: Any, cols: np.ndarray | None) -> np.ndarray:
        """The explained output for rows of X; ``cols`` gives each row's output column."""
        return pick(self.model.predict(X), cols)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = float(np.nanmax(np.abs(b))) if b.size else 0.0
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-7 * max(scale, 1.0), equal_nan=True))


def _matches(explanation: Explanation, pred: np.ndarray) -> bool:
    rec = explanation.output
    assert rec is not None
    if rec.shape == pred.shape:
        return _close(rec, pred)
    if rec.ndim == 1 and pred.ndim == 2:
        return any(_close(rec, pred[:, j]) for j in range(pred.shape[1]))
    return False


def pick(pred: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    if pred.ndim == 1:
        return pred
    if cols is None:
        raise ValueError("The model has several outputs; pick one with output=.")
    return pred[np.arange(pred.shape[0]), cols]


def select_output(
    explanation: Explanation, output: int | str | None, pred: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Return (per-row output column of the model or None, attributions (n, d)).

    ``output``: an output name or position, "predicted" (each row's largest
    output), or None: the only output, the positive class of two, else the
    predicted one.
    """
    values = np.asarray(explanation.values, dtype=float)
    n = values.shape[0]
    if values.ndim == 3:
        key = "predicted" if output is None and values.shape[2] > 2 else output
        if isinstance(key, str) and key == "predicted" and explained_totals(explanation) is None:
            # The explanation does not record its totals: the model's own largest output.
            if pred is None or pred.ndim != 2:
                raise ValueError("output='predicted' needs model predictions or base_values.")
            cols = np.argmax(pred, axis=1)
        else:
            cols = explanation.output_index(key).astype(int)  # names the outputs if unknown
        return cols, values[np.arange(n), :, cols]
    # One explained output: find the model's column it belongs to.
    if pred is None or pred.ndim == 1:
        if output not in (None, 0, "predicted") and pred is not None:
            raise ValueError(f"The model has one output; output={output!r} does not apply.")
        return None, values
    k = pred.shape[1]
    if output is not None:
        names = _model_output_names(k)
        idx = _output_index(output, names, k, explanation, pred)
    elif explanation.output is not None and explanation.output.ndim == 1:
        hits = [j for j in range(k) if _close(explanation.output, pred[:, j])]
        if not hits:
            raise ValueError(
                "Cannot tell which of the model's outputs the explanation explains; pass output=."
            )
        idx = np.asarray(hits[-1])
    elif k == 2:
        idx = np.asarray(1)
    else:
        raise ValueError(
            f"The model has {k} outputs and the explanation one; pass output= to say which."
        )
    return np.broadcast_to(idx, (n,)).astype(int).copy(), values


def _model_output_names(k: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(k))


def _output_index(
    output: int | str | None,
    names: Sequence[str],
    k: int,
    explanation: Explanation,
    pred: np.ndarray | None,
) -> np.ndarray:
    if output is None:
        if k == 1:
            return np.asarray(0)
        if k == 2:
            return np.asarray(1)
        output = "predicted"
    if isinstance(output, str) and output == "predicted":
        totals = explained_totals(explanation)
        if totals is None:
            if pred is None or pred.ndim != 2:
                raise ValueError("output='predicted' needs model predictions or base_values.")
            totals = pred
        return np.argmax(totals, axis=1)
    if isinstance(output, str):
        if output not in names:
            raise KeyError(f"Unknown output {output!r}; known: {list(names)}")
        return np.asarray(list(names).index(output))
    if isinstance(output, (int, np.integer)) and -k <= int(output) < k:
        return np.asarray(int(output) % k)
    raise ValueError(f"output must be a name, a position below {k} or 'predicted'; got {output!r}.")


def explained_totals(explanation: Explanation) -> np.ndarray | None:
    """Per-row, per-output model output as the explanation records it (n, k), when known."""
    if explanation.output is not None and explanation.output.ndim == 2:
        return np.asarray(explanation.output)
    if explanation.base_values is not None and explanation.base_values.ndim == 2:
        return explanation.base_values + np.asarray(explanation.values).sum(axis=1)
    return None


# ---------------------------------------------------------------- removal


class Composer:
    """Builds inputs mixing explained rows and background rows, feature by feature."""

    def __init__(self, X: Any, bg: Any) -> None:
        self.n_x = X.shape[0]
        self.n_bg = bg.shape[0]
        self.frame = isinstance(X, pd.DataFrame)
        if self.frame:
            self.columns = list(X.columns)
            self.combined = {}
            for col in self.columns:
                both = pd.concat([X[col], bg[col]], ignore_index=True)
                if both.dtype != X[col].dtype:  # e.g. categories differ: keep X's dtype
                    both = both.astype(X[col].dtype)
                self.combined[col] = both
        else:
            self.array = np.concatenate([np.asarray(X), np.asarray(bg)], axis=0)

    def __call__(self, rows: np.ndarray, bg_rows: np.ndarray, keep: np.ndarray) -> Any:
        """Row r: feature j from X[rows[r]] where keep[r, j], else from bg[bg_rows[r]]."""
        src = np.where(keep, rows[:, None], self.n_x + bg_rows[:, None])
        if self.frame:
            data = {
                col: self.combined[col].take(src[:, j]).reset_index(drop=True)
                for j, col in enumerate(self.columns)
            }
            return pd.DataFrame(data, columns=self.columns)
        return self.array[src, np.arange(src.shape[1])[None, :]]


def removal_values(
    target: Target,
    composer: Composer,
    rows: np.ndarray,
    keep: np.ndarray,
) -> np.ndarray:
    """``E_b f(x_rows[S], b[not S])`` for each (row, kept-feature mask), averaged over the background."""
    m = composer.n_bg
    out = np.empty(len(rows))
    per_chunk = max(1, _CHUNK_ROWS // m)
    for start in range(0, len(rows), per_chunk):
        r = rows[start : start + per_chunk]
        k = keep[start : start + per_chunk]
        big_rows = np.repeat(r, m)
        big_keep = np.repeat(k, m, axis=0)
        big_bg = np.tile(np.arange(m), len(r))
        cols = None if target.out_cols is None else target.out_cols[big_rows]
        pred = target(composer(big_rows, big_bg, big_keep), cols)
        out[start : start + len(r)] = pred.reshape(len(r), m).mean(axis=1)
    return out


# ---------------------------------------------------------------- perturbation


def numeric_scales(X: Any, data: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(is_numeric mask, standard deviation) per column, from data (or X); data may be a
    ``pellucid.summarize`` result (its rows are used)."""
    from ..shapley._game import Background

    ref = X if data is None else data.data if isinstance(data, Background) else data
    if isinstance(ref, pd.DataFrame):
        numeric = np.array(
            [
                pd.api.types.is_numeric_dtype(ref[c].dtype)
                and not pd.api.types.is_bool_dtype(ref[c].dtype)
                for c in ref.columns
            ]
        )
        std = np.array(
            [
                float(np.nanstd(ref[c].to_numpy(dtype=float, na_value=np.nan))) if num else 0.0
                for c, num in zip(ref.columns, numeric, strict=True)
            ]
        )
    else:
        arr = np.asarray(ref)
        numeric = np.full(arr.shape[1], arr.dtype.kind in "fiu")
        std = np.nanstd(arr.astype(float), axis=0) if numeric.all() else np.zeros(arr.shape[1])
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return numeric, std


def perturb(
    X: Any,
    radius: float,
    n_samples: int,
    rng: np.random.Generator,
    numeric: np.ndarray,
    std: np.ndarray,
) -> tuple[Any, np.ndarray]:
    """``n_samples`` noisy copies of each row (row-major), and the noise in standard units.

    Numeric columns move by up to ``radius`` standard deviations (uniform in
    the L-infinity ball); integer columns are rounded back to integers;
    categorical columns, and missing values, are left as they are.
    """
    n, d = X.shape
    rows = np.repeat(np.arange(n), n_samples)
    noise = rng.uniform(-radius, radius, size=(len(rows), d)) * numeric[None, :]
    if isinstance(X, pd.DataFrame):
        base = X.iloc[rows].reset_index(drop=True)
        out = {}
        for j, col in enumerate(X.columns):
            series = base[col]
            if numeric[j]:
                vals = series.to_numpy(dtype=float, na_value=np.nan) + noise[:, j] * std[j]
                if pd.api.types.is_integer_dtype(series.dtype):
                    vals = np.round(vals)
                series = pd.Series(vals).astype(series.dtype)
            out[col] = series
        moved = pd.DataFrame(out, columns=list(X.columns))
        actual = _actual_noise(base, moved, numeric, std)
        return moved, actual
    arr = np.asarray(X)[rows]
    moved_arr = arr + noise * std[None, :]
    if arr.dtype.kind in "iu":
        moved_arr = np.round(moved_arr).astype(arr.dtype)
    with np.errstate(invalid="ignore"):
        actual = np.nan_to_num((moved_arr - arr) / std[None, :])
    return moved_arr, actual


def _actual_noise(base: pd.DataFrame, moved: pd.DataFrame, numeric: np.ndarray, std: np.ndarray):
    diff = np.zeros(base.shape)
    for j, col in enumerate(base.columns):
        if numeric[j]:
            a = base[col].to_numpy(dtype=float, na_value=np.nan)
            b = moved[col].to_numpy(dtype=float, na_value=np.nan)
            diff[:, j] = np.nan_to_num((b - a) / std[j])
    return diff


# ---------------------------------------------------------------- explainers


def build_explainer(
    method: Any, model: Any, data: Any, random_state: Any, options: dict[str, Any]
) -> Bound:
    """An explainer from a registry name, a registered class, or a class or factory
    ``f(model, data, **options)`` of the caller's, seeded with ``random_state``.

    A registered method is built by the dispatcher: ``options`` are its settings and
    the seed goes to it when the registry calls it sampled. A caller's class built on
    the explainer protocol (:class:`pellucid._protocol.ExplainerBase`) declares its
    settings, so it gets the seed when ``random_state`` is one of them; any other
    class or factory is built with ``options`` alone and treated as deterministic.
    """
    name = registered_name(method)
    if name is not None:
        from .. import _registry
        from .._dispatch import build

        explainer = build(name, model, data, random_state=random_state, **options)
        return Bound(explainer, seeded=_registry.spec(name).sampled)
    factory = _factory(method)
    settings = dict(options)
    seeded = _declares_seed(factory)
    if seeded and random_state is not None:
        settings["random_state"] = random_state
    return Bound(factory(model, data, **settings), seeded=seeded)


def registered_name(method: Any) -> str | None:
    """The registry name of ``method`` (a name, an alias or a registered class), else None."""
    from .. import _registry

    if isinstance(method, str):
        return _registry.spec(method).name
    if not isinstance(method, type):
        return None
    for name in _registry.available():
        spec = _registry.spec(name)
        # Compare names first: loading every entry would import torch and the rest.
        if spec.target.rpartition(":")[2] == method.__name__ and spec.load() is method:
            return name
    return None


def _declares_seed(factory: Any) -> bool:
    from .._protocol import ExplainerBase

    return (
        isinstance(factory, type)
        and issubclass(factory, ExplainerBase)
        and "random_state" in factory.setting_names()
    )


class Bound:
    """An explainer built with its settings and seed; ``takes_seed`` says whether another
    seed would give other numbers (the metrics then build one per seed)."""

    def __init__(self, explainer: Any, seeded: bool = False) -> None:
        self.explainer = explainer
        self.takes_seed = seeded

    def explain(self, X: Any) -> Any:
        fn = self.explainer.explain if hasattr(self.explainer, "explain") else self.explainer
        return fn(X)


def _factory(method: Any) -> Callable[..., Any]:
    if isinstance(method, str):
        from .._registry import get

        return get(method)
    if isinstance(method, type) or (callable(method) and not hasattr(method, "explain")):
        return method
    raise TypeError(
        "method must be a registered name, an explainer class or a factory f(model, data); "
        f"got {type(method).__name__!r}. Use max_sensitivity() for a ready explainer."
    )


def method_name(method: Any) -> str:
    """A result's name for ``method``: a registered name as given, an alias (treeshap) as
    its registered name, a class or factory by its ``__name__``."""
    if isinstance(method, str):
        from .._registry import canonical

        return str(canonical(method))
    return str(getattr(method, "__name__", type(method).__name__))


def explain(explainer: Any, X: Any, random_state: Any = None) -> Explanation:
    """Call ``explainer.explain(X)`` (or ``explainer(X)``) and insist on an Explanation.

    A :class:`Bound` explainer was seeded when built. A ready explainer holding its
    seed as a setting (the protocol's sampled explainers) is re-seeded with
    ``random_state`` (a copy, :func:`pellucid._protocol.with_seed`); any other runs
    as it is.
    """
    if isinstance(explainer, Bound):
        result = explainer.explain(X)
    else:
        seeded = with_seed(explainer, random_state)  # the seed is a setting
        ready = explainer if seeded is None else seeded
        result = ready.explain(X) if hasattr(ready, "explain") else ready(X)
    if isinstance(result, Explanation):
        return result
    values = np.asarray(result, dtype=float)
    if values.ndim not in (2, 3):
        raise TypeError(
            "The explainer must return an Explanation or an (n, d[, k]) array; "
            f"got {type(result).__name__}."
        )
    names = tuple(f"y{i}" for i in range(values.shape[2])) if values.ndim == 3 else None
    return Explanation(values=values, feature_names=feature_names_of(X), output_names=names)


def row_norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(a * a, axis=1))
