"""Picking and building an attribution explainer by registry name (for the CLI and the service).

Explainers follow the common protocol: ``Cls(model, data, **settings)`` then
``.explain(X) -> Explanation``, built by :mod:`pellucid._dispatch` (which also
chooses the method and knows the fallbacks). The service builds one per method
and reuses it for every request, so per-request cost is only ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .. import _dispatch
from .._model import Model, as_model
from .._protocol import ExplainerBase
from .._registry import available, get, spec
from .._results import Explanation

__all__ = [
    "attribution_methods",
    "build_best",
    "build_explainer",
    "fallback_method",
    "choose_method",
    "explain_each_row",
    "explain_rows",
    "is_sampled_method",
    "is_tree_model",
    "row_seeds",
]


def attribution_methods() -> list[str]:
    """Registered attribution methods for tabular data."""
    return available(kind="attribution", inputs="tabular")


def is_tree_model(model: Any) -> bool:
    return _dispatch.is_tree_model(as_model(model))


def choose_method(model: Any, n_features: int) -> str:
    """The method ``pellucid.explain(method="auto")`` would use, if it is registered:
    TreeShap for tree ensembles, exact Shapley values for up to 10 features,
    Kernel SHAP beyond."""
    name = _dispatch.choose(as_model(model), n_features).method
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
    """The registered ``method`` built by the dispatcher: an explainer with ``.explain(X)``.

    A method that works without reference data (the registry's ``data="optional"``:
    TreeShap) gets none, as in ``pellucid.explain``: TreeShap then uses the trees'
    own cover (path-dependent), the fast exact algorithm.
    """
    names = attribution_methods()
    if method not in names:
        raise LookupError(f"Unknown attribution method {method!r}; available: {names}.")
    return _dispatch.build(method, model, _reference(method, background))


def _reference(method: str, background: Any) -> Any:
    return None if spec(method).data == "optional" else background


def row_seeds(X: Any, random_state: int = 0) -> list[int]:
    """One seed per row, fixed by ``random_state`` and the row's content alone.

    The content hash (pandas' stable hash of the row's values) makes a row's
    seed the same alone, first or tenth in a batch, and in any process.
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=object))
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    root = int(random_state)
    return [
        int(np.random.SeedSequence((root, int(h))).generate_state(1, np.uint64)[0] >> np.uint64(1))
        for h in hashes
    ]


def explain_each_row(
    explain: Callable[[Any, int], Explanation], X: Any, random_state: int = 0
) -> Explanation:
    """``explain(rows, seed)`` one row at a time, each seeded by :func:`row_seeds`, stacked.

    A sampled method seeds a batch's rows by their positions, so the same
    person got other reasons alone than second in a batch. A person's
    explanation (and reasons) must depend on the person only; rows with the
    same content are explained once.
    """
    from ..scale import concat

    seeds = row_seeds(X, random_state)
    done: dict[int, Explanation] = {}
    parts = []
    for i, seed in enumerate(seeds):
        if seed not in done:
            done[seed] = explain(X.iloc[[i]] if hasattr(X, "iloc") else X[i : i + 1], seed)
        parts.append(done[seed])
    stacked = concat(parts)
    params = {**stacked.params, "random_state": random_state, "row_seeds": "random_state+row"}
    return replace(stacked, params=params)


def is_sampled_method(name: str) -> bool:
    """Whether the registered method ``name`` samples (its numbers depend on a seed)."""
    return not spec(name).exact


def _method_name(explainer: Any) -> str | None:
    for name in attribution_methods():
        if type(explainer) is get(name):
            return name
    return None


def _is_seeded(explainer: Any) -> bool:
    """Whether the explainer samples: a registered method the registry calls sampled, or
    one of the caller's built on the protocol with a ``random_state`` setting."""
    name = _method_name(explainer)
    if name is not None:
        return not spec(name).exact
    return isinstance(explainer, ExplainerBase) and "random_state" in explainer.setting_names()


def explain_rows(explainer: Any, X: Any, random_state: int = 0) -> Any:
    """``explainer.explain(X)``, reproducible per row: a sampled method explains each row
    with a seed from ``random_state`` and the row's content (:func:`explain_each_row`),
    so a row gets the same explanation however it is batched."""
    if not _is_seeded(explainer):
        return explainer.explain(X)
    return explain_each_row(
        lambda rows, seed: explainer.with_settings(random_state=seed).explain(rows),
        X,
        random_state,
    )


def fallback_method(n_features: int) -> str:
    """The model-agnostic choice of the dispatcher (by the size of the problem)."""
    return _dispatch.agnostic_method(n_features).method


def build_best(model: Model, background: pd.DataFrame) -> tuple[str, Any]:
    """The best method that can actually read this model, built: ``(name, explainer)``.

    The first choice may refuse a model it nominally covers (TreeShap and a
    HistGradientBoosting with string categories, say: UnsupportedModelError); the
    dispatcher then builds the model-agnostic choice instead of failing every request.
    """
    first = choose_method(model, background.shape[1])
    choice, explainer = _dispatch.build_best(
        model,
        background,
        background.shape[1],
        first=first,
        reference=lambda name: _reference(name, background),
    )
    return choice.method, explainer
