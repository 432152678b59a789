"""pellucid.explain: pick a Shapley method for the model and run it."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _registry
from .._data import check_X, feature_names_of
from .._model import Model
from .._results import Explanation

__all__ = ["choose_method", "explain", "is_tree_model", "run_method"]

#: Up to this many players ``method="auto"`` enumerates every coalition.
EXACT_MAX_PLAYERS = 10
#: Without a background, ``explain`` summarises X to this many weighted rows.
DEFAULT_BACKGROUND_ROWS = 100

_SKLEARN_TREE_MODULES = (
    "sklearn.tree",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.ensemble._iforest",
)


def is_tree_model(model: Any) -> bool:
    """True for XGBoost, LightGBM, CatBoost and scikit-learn tree models (not Pipelines)."""
    raw = model.raw_model if isinstance(model, Model) else model
    module = type(raw).__module__
    if module.split(".")[0] in ("xgboost", "lightgbm", "catboost"):
        return True
    return module.startswith(_SKLEARN_TREE_MODULES)


def choose_method(model: Any, n_players: int, *, groups: Any = None) -> str:
    """The registry name ``method="auto"`` uses.

    TreeShap (when registered) for tree models without groups; else
    ExactShap up to ``EXACT_MAX_PLAYERS`` players, KernelShap beyond.
    """
    if not groups and "treeshap" in _registry.available() and is_tree_model(model):
        supports = getattr(_registry.get("treeshap"), "supports", None)
        if supports is None or supports(model):
            return "treeshap"
    return "exact_shap" if n_players <= EXACT_MAX_PLAYERS else "kernel_shap"


def _accepts(func: Any, name: str) -> bool:
    params = inspect.signature(func).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def run_method(
    name: str,
    model: Any,
    X: Any,
    background: Any = None,
    *,
    explain_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> Explanation:
    """``registry[name](model, background, **options).explain(X, **explain_options)``.

    Explain options the method does not take (e.g. ``budget`` for an exact
    method) are left out rather than rejected, so callers can be generic.
    """
    spec = _registry.spec(name)
    if spec.kind != "attribution":
        raise ValueError(f"Method {name!r} is a {spec.kind} method, not an attribution method.")
    cls = spec.load()
    explainer = cls(model, background, **options)
    kwargs = {
        k: v
        for k, v in (explain_options or {}).items()
        if v is not None and _accepts(explainer.explain, k)
    }
    return explainer.explain(X, **kwargs)


def explain(
    model: Any,
    X: Any,
    background: Any = None,
    *,
    method: str = "auto",
    groups: Mapping[str, Sequence[Any]] | None = None,
    budget: Any = "auto",
    random_state: Any = None,
    **options: Any,
) -> Explanation:
    """Shapley values of the rows of X with a method suited to the model.

    ``method="auto"``: TreeShap for tree models (once available), ExactShap
    for up to 10 features or groups, KernelShap beyond; or any registered
    attribution method's name. Without a ``background``, X itself,
    summarised to 100 weighted rows (:func:`pellucid.summarize`), is used
    (TreeShap then uses the trees' own cover instead).

    Examples
    --------
    >>> exp = pellucid.explain(model, X_test[:20], background=X_train)
    >>> exp.method, exp.values.shape
    """
    X = check_X(X, allow_all_missing=True)
    if method == "auto":
        n_players = len(groups) if groups else len(feature_names_of(X))
        if groups:
            grouped = {c for cols in groups.values() for c in cols}
            n_players += sum(1 for c in feature_names_of(X) if c not in grouped)
        method = choose_method(model, n_players, groups=groups)
    if background is None and method != "treeshap":
        from ._summarize import summarize

        background = summarize(X, DEFAULT_BACKGROUND_ROWS, random_state=random_state)
    if groups:
        options["groups"] = groups
    return run_method(
        method,
        model,
        X,
        background,
        explain_options={"budget": budget, "random_state": random_state},
        **options,
    )
