"""Picking and building an attribution explainer by registry name (for the CLI and the service).

Explainers follow the common protocol: ``Cls(model, background, **options)``
then ``.explain(X) -> Explanation``. The service builds one per method and
reuses it for every request, so per-request cost is only ``explain``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._model import Model, as_model
from .._registry import available, get

__all__ = [
    "attribution_methods",
    "build_explainer",
    "choose_method",
    "explain_rows",
    "is_tree_model",
]

# Exact Shapley values cost 2^d model calls per row; beyond this many features use a sampler.
EXACT_MAX_FEATURES = 10
_TREE_WORDS = ("Tree", "Forest", "Boosting", "XGB", "LGBM", "CatBoost", "Booster")


def attribution_methods() -> list[str]:
    """Registered attribution methods for tabular data."""
    return available(kind="attribution", inputs="tabular")


def is_tree_model(model: Any) -> bool:
    m = as_model(model)
    if m.kind in ("xgboost", "lightgbm", "catboost"):
        return True
    raw = m.raw_model
    final = raw.steps[-1][1] if hasattr(raw, "steps") else raw
    return any(w in type(final).__name__ for w in _TREE_WORDS)


def choose_method(model: Any, n_features: int) -> str:
    """The best registered attribution method for this model.

    Exact tree SHAP for tree ensembles; exact Shapley values for few
    features; otherwise the Kernel and then the permutation estimator.
    """
    names = attribution_methods()
    preferences = []
    if is_tree_model(model):
        preferences.append("treeshap")
    if n_features <= EXACT_MAX_FEATURES:
        preferences.append("exact_shap")
    preferences += ["kernel_shap", "permutation_shap", "exact_shap"]
    for name in preferences:
        if name in names:
            return name
    raise LookupError(
        f"No attribution method fits this model; registered attribution methods: {names}."
    )


def background_sample(data: pd.DataFrame, n: int, random_state: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``data`` drawn without replacement (all of them when fewer)."""
    if len(data) <= n:
        return data
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(len(data), size=n, replace=False))
    return data.iloc[idx]


def build_explainer(method: str, model: Model, background: pd.DataFrame) -> Any:
    """``get(method)(model, background)``: an explainer object with ``.explain(X)``."""
    names = attribution_methods()
    if method not in names:
        raise LookupError(f"Unknown attribution method {method!r}; available: {names}.")
    return get(method)(model, background)


def explain_rows(explainer: Any, X: Any, random_state: int = 0) -> Any:
    """``explainer.explain(X)``, with a fixed ``random_state`` for sampled methods, so that
    the same rows always get the same (reproducible) explanation."""
    import inspect

    try:
        takes_seed = "random_state" in inspect.signature(explainer.explain).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_seed = False
    if takes_seed:
        return explainer.explain(X, random_state=random_state)
    return explainer.explain(X)
