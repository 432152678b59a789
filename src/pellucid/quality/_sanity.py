"""Sanity checks (Adebayo et al., 2018): an explanation must depend on what the model learned.

Model randomisation: explain a model of the same kind fitted to random
labels (for refittable scikit-learn-style estimators) or, for other models,
a random additive function of the same inputs. Data randomisation: explain
the model refitted on permuted labels. In both, attributions that stay
similar to the real model's show the method is not reading the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._model import Model
from ._agreement import rank_correlation
from ._common import as_rng, build_explainer, check_rows, explain, numeric_scales, select_output
from ._results import SanityCheckResult

__all__ = ["random_function", "sanity_check"]


def sanity_check(
    method: Any,
    model: Any,
    X: Any,
    *,
    data: Any = None,
    y: Any = None,
    output: int | str | None = None,
    random_model: Any = None,
    n_random_models: int = 3,
    threshold: float = 0.6,
    random_state: Any = 0,
    **options: Any,
) -> SanityCheckResult:
    """Compare a method's attributions for the real model with those for randomised ones.

    ``method``: a registered name, an explainer class or a factory
    ``f(model, data, **options)``. ``data``: the background / training rows
    (default X), also used to refit. ``y``: labels of ``data`` for the
    label-permutation test (skipped when None or when the model cannot be
    refitted). ``random_model`` replaces the default randomised models.
    Similarity is the per-row Spearman correlation of signed attributions,
    averaged over ``n_random_models`` randomised models (and as many label
    permutations); the check passes when its mean is below ``threshold`` for
    every test run. A method that ignores the model scores 1.
    """
    X = check_rows(X)
    rng = as_rng(random_state)
    fit_data = X if data is None else data
    seed = int(rng.integers(0, 2**31 - 1))
    real = explain(build_explainer(method, model, data, seed, options), X, seed)
    cols, phi = select_output(real, output)

    if int(n_random_models) < 1:
        raise ValueError(f"n_random_models must be a positive integer; got {n_random_models!r}.")
    # One random model is a single draw: average several so chance agreement evens out.
    model_sims = []
    for _ in range(1 if random_model is not None else int(n_random_models)):
        randomized = random_model
        if randomized is None:
            randomized = _random_labels_model(model, fit_data, rng)
        if randomized is None:
            randomized = random_function(fit_data, random_state=rng)
        rand = explain(build_explainer(method, randomized, data, seed, options), X, seed)
        model_sims.append(rank_correlation(phi, _values_like(rand, cols)))
    model_sim = np.mean(model_sims, axis=0)

    label_sim = None
    if y is not None:
        y_arr = np.asarray(y)
        if len(y_arr) != fit_data.shape[0]:
            raise ValueError(
                f"y has {len(y_arr)} labels but data has {fit_data.shape[0]} rows: "
                "y must label the rows of data (or of X when data is None)."
            )
        label_sims = []
        for _ in range(int(n_random_models)):
            permuted = _refit(model, fit_data, rng.permutation(y_arr))
            if permuted is None:
                break
            perm = explain(build_explainer(method, permuted, data, seed, options), X, seed)
            label_sims.append(rank_correlation(phi, _values_like(perm, cols)))
        if label_sims:
            label_sim = np.mean(label_sims, axis=0)
    params = {
        "threshold": threshold,
        "n_random_models": int(n_random_models),
        "random_state": random_state,
    }
    return SanityCheckResult(
        model_randomization=model_sim,
        label_permutation=label_sim,
        threshold=float(threshold),
        params=params,
    )


def _values_like(explanation: Any, cols: np.ndarray | None) -> np.ndarray:
    values = np.asarray(explanation.values, dtype=float)
    if values.ndim == 3:
        if cols is None:
            cols = np.full(values.shape[0], values.shape[2] - 1)
        return values[np.arange(values.shape[0]), :, np.minimum(cols, values.shape[2] - 1)]
    return values


def _refit(model: Any, data: Any, y: np.ndarray) -> Any:
    """A clone of a scikit-learn-style estimator fitted to (data, y); None when not refittable."""
    raw = model.raw_model if isinstance(model, Model) else model
    if not (hasattr(raw, "fit") and hasattr(raw, "get_params")):
        return None
    from sklearn.base import clone

    try:
        fitted = clone(raw).fit(data, y)
    except TypeError:
        return None
    if isinstance(model, Model):
        return Model(fitted, output=model.output)
    return fitted


def _random_labels_model(model: Any, data: Any, rng: np.random.Generator) -> Any:
    """The same kind of model fitted to labels drawn at random, independent of the inputs."""
    wrapped = model if isinstance(model, Model) else None
    raw = wrapped.raw_model if wrapped is not None else model
    classes = getattr(raw, "classes_", None)
    n = data.shape[0]
    if classes is not None:
        labels = np.resize(np.asarray(classes), n)  # every class present
        y = rng.permutation(labels)
    else:
        y = rng.normal(size=n)
    return _refit(model, data, y)


def random_function(data: Any, random_state: Any = 0) -> Any:
    """A random additive function of the columns of ``data``: a stand-in "randomised model".

    Numeric columns enter standardised with weights drawn from N(0, 1)
    (missing values count as the mean); each category of other columns gets
    its own N(0, 1) effect. Returns ``f(X) -> (n,)``.
    """
    rng = as_rng(random_state)
    numeric, std = numeric_scales(data)
    if isinstance(data, pd.DataFrame):
        columns = list(data.columns)
        means = {
            c: float(np.nanmean(data[c].to_numpy(dtype=float, na_value=np.nan)))
            for c, num in zip(columns, numeric, strict=True)
            if num
        }
        effects = {
            c: {v: float(rng.normal()) for v in pd.unique(data[c].dropna())}
            for c, num in zip(columns, numeric, strict=True)
            if not num
        }
    else:
        columns = list(range(np.asarray(data).shape[1]))
        arr = np.asarray(data, dtype=float)
        means = {j: float(np.nanmean(arr[:, j])) for j in columns}
        effects = {}
    weights = rng.normal(size=len(columns))

    def f(X: Any) -> np.ndarray:
        frame = X if isinstance(X, pd.DataFrame) else None
        arr = None if frame is not None else np.asarray(X, dtype=float)
        total = np.zeros(X.shape[0])
        for j, c in enumerate(columns):
            if c in effects:
                col = frame[c] if frame is not None else pd.Series(arr[:, j])  # type: ignore[index]
                total += col.map(effects[c]).to_numpy(dtype=float, na_value=0.0)
                continue
            raw = (
                frame[c].to_numpy(dtype=float, na_value=np.nan) if frame is not None else arr[:, j]  # type: ignore[index]
            )
            z = np.nan_to_num((raw - means[c]) / std[j])
            total += weights[j] * z
        return total

    return f
