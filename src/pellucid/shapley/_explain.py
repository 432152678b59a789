"""pellucid.explain: pick a Shapley method for the model and run it, in one unit.

The unit rule (``output="auto"``): a classifier is explained as class
probabilities, ``(n, d, n_classes)`` with the classes as ``output_names``, binary
classifiers too (``(n, d, 2)``; column 1 is the positive class, column 0 its
mirror image), whatever the model: a bare estimator, a Pipeline, a tree
ensemble or any other; a regressor as its prediction. ``output="log_odds"``
asks for log-odds (``(n, d)`` for a binary classifier, one column per class
against the rest for several), ``output="raw"`` for the model's own margin
(decision function, boosted raw score). Every Explanation records the unit in
``output_kind``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _registry
from .._data import check_X, feature_names_of
from .._dispatch import EXACT_MAX_PLAYERS as EXACT_MAX_PLAYERS
from .._dispatch import agnostic_method, build, choose, is_linear_model
from .._dispatch import is_tree_model as is_tree_model
from .._errors import UnsupportedModelError
from .._model import Model, as_model
from .._results import Explanation
from ._game import Background, as_background

__all__ = ["CostWarning", "choose_method", "explain", "is_tree_model", "run_method"]

#: A background (given, or X itself) is summarised to this many weighted rows ...
DEFAULT_BACKGROUND_ROWS = 100
#: ... when it has more than this many: a background's cost is linear in its rows
#: (every coalition is valued against each of them) while 100 k-means medoids already
#: hold the mean of a smooth model to about 1% of its spread; at twice that, smaller
#: backgrounds are used whole, so exact methods give exactly their answer.
MAX_BACKGROUND_ROWS = 2 * DEFAULT_BACKGROUND_ROWS
#: Without a background, X is its own background only with at least this many rows:
#: a row against itself (or a handful of rows) explains nothing (every value 0).
MIN_OWN_BACKGROUND_ROWS = 20
#: What ``output=`` may ask for.
OUTPUTS = ("auto", "probability", "log_odds", "raw")


class CostWarning(UserWarning):
    """explain falls back to a slower method than the one it would choose."""


def choose_method(model: Any, n_players: int, *, groups: Any = None) -> str:
    """The registry name ``method="auto"`` uses (:func:`pellucid._dispatch.choose`)."""
    return choose(model, n_players, feature_groups=groups).method


def run_method(
    name: str,
    model: Any,
    X: Any,
    background: Any = None,
    *,
    explain_options: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Explanation:
    """The registered attribution method ``name`` built by the dispatcher, explaining X.

    ``explain_options`` holds the generic settings callers pass to any method:
    ``random_state`` (used by sampled methods only), ``budget`` (by the sampled
    Shapley estimators only: sampled and additive in the registry), ``n_jobs`` and
    ``chunk_rows`` (rows at once: every tabular attribution method's protocol).
    None means "the method's default". Every other setting is the method's own.
    """
    spec = _registry.spec(name)
    if spec.kind != "attribution":
        raise ValueError(f"Method {name!r} is a {spec.kind} method, not an attribution method.")
    generic = {k: v for k, v in (explain_options or {}).items() if v is not None}
    random_state = generic.pop("random_state", None)
    budget = generic.pop("budget", None)
    if budget is not None and spec.sampled and spec.additive:
        settings["budget"] = budget
    rows_at_once = {k: generic.pop(k) for k in ("n_jobs", "chunk_rows") if k in generic}
    if generic:
        raise TypeError(f"run_method got unknown explain_options {sorted(generic)}.")
    explainer = build(name, model, background, random_state=random_state, **settings)
    # Set after building: n_jobs given to a Shapley constructor still warns that it
    # meant model threads before this release, and here it means rows at once.
    if rows_at_once:
        explainer = explainer.with_settings(**rows_at_once)
    return explainer.explain(X)


def explain(
    model: Any,
    X: Any,
    background: Any = None,
    *,
    method: str = "auto",
    output: str = "auto",
    groups: Mapping[str, Sequence[Any]] | None = None,
    budget: Any = "auto",
    random_state: Any = None,
    **options: Any,
) -> Explanation:
    """Shapley values of the rows of X with a method suited to the model, in one unit.

    ``method="auto"``: TreeShap for tree models, ExactShap for up to 10
    features or groups, KernelShap beyond; or any registered attribution
    method's name. ``output="auto"`` explains a classifier's class
    probabilities, ``(n, d, n_classes)`` (binary classifiers too), and a
    regressor's prediction, the same for a bare model, a Pipeline or a tree
    ensemble; ``"log_odds"`` or ``"raw"`` (the model's margin) ask for the
    other units. ``output_kind`` of the result names the unit.

    ``background``: rows (or :func:`pellucid.summarize`'s weighted rows) that
    absent features take their values from. One with more than 200 rows is
    summarised to 100 weighted medoids (``params["background_summarized"]``
    says so). Without one, X itself (summarised) is used when it has at least
    20 rows, and TreeShap uses the trees' own cover where it can; otherwise
    ``explain`` asks for ``background=``.

    Examples
    --------
    >>> exp = pellucid.explain(model, X_test[:20], background=X_train)
    >>> exp.method, exp.values.shape, exp.output_kind
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}.")
    if method != "auto":
        # An unknown name: "did you mean"; an alias (treeshap): its registered name.
        method = _registry.spec(method).name
    X = check_X(X, allow_all_missing=True)
    unit = _unit(model, output)
    n_players = _n_players(X, groups)
    if method == "auto":
        additive = _additive_unit(model, unit)
        method = choose(model, n_players, feature_groups=groups, additive=additive).method
    notes: dict[str, Any] = {}
    if method == "tree_shap":
        try:
            tree_output, needs_background, two_classes = _tree_settings(model, unit)
            bg = _background(background, X, needs_background, random_state, notes)
            explainer = build("tree_shap", model, bg, output=tree_output, **options)
        except UnsupportedModelError as exc:
            method = _fall_back(str(exc), X, n_players, background, budget)
            notes["method_choice"] = f"tree_shap could not explain this model ({exc}); {method}"
        else:
            exp = explainer.explain(X)
            if two_classes:
                exp = _two_classes(exp, as_model(model))
            return _noted(exp, notes)
    bg = _background(background, X, True, random_state, notes)
    if groups:
        options["feature_groups"] = groups
    exp = run_method(
        method,
        _model_in(model, unit, output),
        X,
        bg,
        explain_options={"budget": budget, "random_state": random_state},
        **options,
    )
    return _noted(exp, notes)


def _n_players(X: Any, groups: Mapping[str, Sequence[Any]] | None) -> int:
    names = feature_names_of(X)
    if not groups:
        return len(names)
    grouped = {str(c) for cols in groups.values() for c in cols}
    return len(groups) + sum(1 for c in names if c not in grouped)


def _unit(model: Any, output: str) -> str:
    """The Model output explained: "probability" / "log_odds" / "raw" ("raw" is a
    regressor's prediction)."""
    m = as_model(model)
    if output == "auto":
        if isinstance(model, Model):
            return m.output
        return "probability" if m.is_classifier else "raw"
    if output in ("probability", "log_odds") and not m.is_classifier:
        raise ValueError(f"output={output!r} needs a classifier; this model is a regressor.")
    if isinstance(model, Model) and model.output != output:
        raise ValueError(
            f"output={output!r} differs from the pellucid.Model's own output {model.output!r}; "
            "pass the raw model, or a Model with that output."
        )
    return output


def _model_in(model: Any, unit: str, output: str) -> Any:
    if isinstance(model, Model):
        return model
    m = as_model(model)
    return Model(model, output=unit) if m.is_classifier else model


def _additive_unit(model: Any, unit: str) -> bool:
    """Whether a linear model is additive in the explained unit: a regressor's
    prediction, a binary classifier's margin (log-odds)."""
    if not is_linear_model(model):
        return False
    m = as_model(model)
    if not m.is_classifier:
        return unit == "raw"
    return m.task == "binary" and unit in ("raw", "log_odds")


def _tree_settings(model: Any, unit: str) -> tuple[str, bool, bool]:
    """(TreeShap output, whether it needs a background, whether to give both classes) for
    the unit; UnsupportedModelError saying why TreeShap cannot explain it."""
    from ..tree import read_ensemble

    if not is_tree_model(model):
        raise UnsupportedModelError(
            f"TreeShap explains tree ensembles; got a {type(as_model(model).raw_model).__name__}"
        )
    link = read_ensemble(model).link  # UnsupportedModelError names an option it cannot read
    m = as_model(model)
    if unit == "raw":
        if not m.is_classifier and link != "identity":
            # A regressor's "raw" is its prediction, which is not the trees' raw sum here.
            raise UnsupportedModelError(
                f"TreeShap explains the trees' raw sum, not {link}(raw sum), the prediction"
            )
        return ("raw", False, False)
    if link == "logistic":  # binary boosting: raw sum = log-odds
        if unit == "log_odds":
            return ("raw", False, False)
        return ("probability", True, True)
    if link == "identity" and unit == "probability" and m.is_classifier:
        return ("raw", False, False)  # forests and single trees average probabilities
    raise UnsupportedModelError(
        f"TreeShap cannot explain the {unit.replace('_', '-')} of a tree model with a {link} link"
    )


def _fall_back(reason: str, X: Any, n_players: int, background: Any, budget: Any) -> str:
    """The model-agnostic method used instead of TreeShap, announced with its cost."""
    method = agnostic_method(n_players).method
    n_bg = DEFAULT_BACKGROUND_ROWS
    if background is not None:
        n_bg = min(len(as_background(background)), MAX_BACKGROUND_ROWS)
    if method == "exact_shap":
        per_row = 2**n_players - 2
    else:
        per_row = budget if isinstance(budget, (int, np.integer)) else 2048 + 2 * n_players
    cost = X.shape[0] * per_row * n_bg
    warnings.warn(
        f"{reason}; explaining with {method} instead: about {cost:,} model evaluations "
        f"({X.shape[0]} rows x {per_row} coalitions x {n_bg} background rows).",
        CostWarning,
        stacklevel=3,
    )
    return method


def _background(
    background: Any, X: Any, needed: bool, random_state: Any, notes: dict[str, Any]
) -> Background | None:
    """The background to use: the given one (summarised when large), X's, or None."""
    from ._summarize import summarize

    if background is None:
        if not needed:
            return None
        n = X.shape[0]
        if n < MIN_OWN_BACKGROUND_ROWS:
            raise ValueError(
                f"explain needs background=: X has {n} row{'s' if n != 1 else ''}, too few to "
                f"be its own background (at least {MIN_OWN_BACKGROUND_ROWS}; a row against "
                "itself explains nothing). Pass background=X_train or "
                "pellucid.summarize(X_train, 100)."
            )
        bg = summarize(X, DEFAULT_BACKGROUND_ROWS, random_state=random_state)
        notes["background"] = f"X itself ({n} rows -> {len(bg)} weighted rows)"
        return bg
    bg = as_background(background)
    if len(bg) <= MAX_BACKGROUND_ROWS:
        return bg
    small = summarize(
        bg.data, DEFAULT_BACKGROUND_ROWS, weights=bg.weights, random_state=random_state
    )
    notes["background_summarized"] = f"{len(bg)} rows -> {len(small)} weighted medoids"
    return small


def _two_classes(exp: Explanation, model: Model) -> Explanation:
    """A binary classifier's positive-class probability explanation as both classes."""

    def both(a: np.ndarray | None, first: Any) -> np.ndarray | None:
        return None if a is None else np.stack([first(a), a], axis=-1)

    assert model.classes is not None
    return dataclasses.replace(
        exp,
        values=np.stack([-exp.values, exp.values], axis=-1),
        base_values=both(exp.base_values, lambda a: 1.0 - a),
        output=both(exp.output, lambda a: 1.0 - a),
        std_errors=both(exp.std_errors, lambda a: a),
        output_names=tuple(str(c) for c in model.classes),
        output_kind="probability",
    )


def _noted(exp: Explanation, notes: dict[str, Any]) -> Explanation:
    if not notes:
        return exp
    return dataclasses.replace(exp, params={**exp.params, **notes})
