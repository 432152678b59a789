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
    "build_best",
    "build_explainer",
    "fallback_method",
    "choose_method",
    "explain_rows",
    "is_tree_model",
]


def attribution_methods() -> list[str]:
    """Registered attribution methods for tabular data."""
    return available(kind="attribution", inputs="tabular")


def is_tree_model(model: Any) -> bool:
    from ..shapley._explain import is_tree_model as is_tree

    return bool(is_tree(as_model(model)))


def choose_method(model: Any, n_features: int) -> str:
    """The method ``pellucid.explain(method="auto")`` would use, if it is registered:
    TreeShap for tree ensembles, exact Shapley values for up to 10 features,
    Kernel SHAP beyond."""
    from ..shapley._explain import choose_method as choose

    name = str(choose(as_model(model), n_features))
    names = attribution_methods()
    if name not in names:
        raise LookupError(
            f"No attribution method fits this model ({name!r} is not registered); "
            f"registered attribution methods: {names}."
        )
    return name


def background_sample(data: pd.DataFrame, n: int, random_state: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``data`` drawn without replacement (all of them when fewer)."""
    if len(data) <= n:
        return data
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(len(data), size=n, replace=False))
    return data.iloc[idx]


def build_explainer(method: str, model: Model, background: pd.DataFrame) -> Any:
    """``get(method)(model, background)``: an explainer object with ``.explain(X)``.

    TreeShap gets no background, as in ``pellucid.explain``: it then uses the
    trees' own cover (path-dependent), the fast exact algorithm.
    """
    names = attribution_methods()
    if method not in names:
        raise LookupError(f"Unknown attribution method {method!r}; available: {names}.")
    return get(method)(model, None if method == "treeshap" else background)


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


def fallback_method(n_features: int) -> str:
    """The model-agnostic choice of ``pellucid.explain``: exact up to 10 features, Kernel SHAP beyond."""
    from ..shapley._explain import EXACT_MAX_PLAYERS

    return "exact_shap" if n_features <= EXACT_MAX_PLAYERS else "kernel_shap"


def build_best(model: Model, background: pd.DataFrame) -> tuple[str, Any]:
    """The best method that can actually read this model, built: ``(name, explainer)``.

    The first choice may refuse a model it nominally covers (TreeShap and a
    HistGradientBoosting with string categories, say); then the model-agnostic
    choice is used instead of failing every request.
    """
    name = choose_method(model, background.shape[1])
    try:
        return name, build_explainer(name, model, background)
    except (TypeError, ValueError, NotImplementedError):
        other = fallback_method(background.shape[1])
        if other == name or other not in attribution_methods():
            raise
        return other, build_explainer(other, model, background)
