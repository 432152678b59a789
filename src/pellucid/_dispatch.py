"""Which method explains a model, built with its settings: the one place that knows.

``choose`` picks a registered attribution method for a model from its kind
(tree ensemble, linear model, torch module, anything else) and the size of
the problem; ``build`` looks the method up in the registry and builds it as
the protocol says, ``Explainer(model, data, **settings)``; ``build_best``
builds the choice and, when the method refuses the model
(:class:`~pellucid.UnsupportedModelError`), the model-agnostic choice
instead, recording why. No other module catches an error to decide that a
method does not fit; a method that cannot explain a model says so by raising
``UnsupportedModelError``.

What a method takes is read from the registry's capability fields, never
from its signature: ``models`` (the model kinds it explains), ``data``
(whether the constructor takes reference data), ``sampled`` (only sampled
methods take ``random_state``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _registry
from ._errors import UnsupportedModelError

__all__ = [
    "EXACT_MAX_PLAYERS",
    "KERNEL_MAX_PLAYERS",
    "Choice",
    "agnostic_method",
    "build",
    "build_best",
    "choose",
    "is_linear_model",
    "is_torch_model",
    "is_tree_model",
    "model_kind",
]

#: Up to this many players every coalition is enumerated (ExactShap): 2**10 coalitions.
EXACT_MAX_PLAYERS = 10
#: Beyond this many players, permutation sampling replaces Kernel SHAP: Kernel SHAP's
#: regression per row grows with the square of the players (and its default budget
#: with the players), permutation sampling's cost only linearly.
KERNEL_MAX_PLAYERS = 100

_SKLEARN_TREE_MODULES = (
    "sklearn.tree",
    "sklearn.ensemble._forest",
    "sklearn.ensemble._gb",
    "sklearn.ensemble._hist_gradient_boosting",
    "sklearn.ensemble._iforest",
)


def _raw(model: Any) -> Any:
    """The library model inside a ``pellucid.Model`` (or the model itself)."""
    from ._model import Model

    return model.raw_model if isinstance(model, Model) else model


def is_tree_model(model: Any) -> bool:
    """True for XGBoost, LightGBM, CatBoost and scikit-learn tree models (not Pipelines)."""
    module = type(_raw(model)).__module__
    if module.split(".")[0] in ("xgboost", "lightgbm", "catboost"):
        return True
    return module.startswith(_SKLEARN_TREE_MODULES)


def is_linear_model(model: Any) -> bool:
    """True for a bare scikit-learn linear model (``sklearn.linear_model``, not a Pipeline)."""
    return type(_raw(model)).__module__.startswith("sklearn.linear_model")


def is_torch_model(model: Any) -> bool:
    """True for a ``torch.nn.Module`` (torch is not imported to find out)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(_raw(model), torch.nn.Module)


def model_kind(model: Any) -> str:
    """ "tree", "linear", "torch" or "other": what the choice of method depends on."""
    if is_tree_model(model):
        return "tree"
    if is_torch_model(model):
        return "torch"
    if is_linear_model(model):
        return "linear"
    return "other"


@dataclass(frozen=True)
class Choice:
    """The method chosen for a model, why, and the methods tried before it that refused
    the model (``(method, reason)`` pairs, in order)."""

    method: str
    reason: str
    refused: tuple[tuple[str, str], ...] = ()

    @property
    def fell_back(self) -> bool:
        return bool(self.refused)

    def note(self) -> str:
        """One line for a report or a log: the method and, after a fallback, why."""
        if not self.refused:
            return f"{self.method}: {self.reason}"
        why = "; ".join(
            f"{name} could not explain this model ({reason})" for name, reason in self.refused
        )
        return f"{self.method} ({self.reason}) because {why}"


def agnostic_method(n_players: int) -> Choice:
    """The model-agnostic choice by the size of the problem."""
    if n_players <= EXACT_MAX_PLAYERS:
        return Choice("exact_shap", f"{n_players} players: every coalition enumerated")
    if n_players <= KERNEL_MAX_PLAYERS:
        return Choice("kernel_shap", f"{n_players} players: sampled coalitions (Kernel SHAP)")
    return Choice(
        "permutation_shap", f"{n_players} players: permutation sampling (cost linear in players)"
    )


def choose(
    model: Any,
    n_players: int,
    *,
    inputs: str = "tabular",
    feature_groups: Any = None,
    additive: bool = False,
) -> Choice:
    """The attribution method for ``model`` with ``n_players`` features (or groups).

    Tree ensembles: TreeShap (exact, fast), unless features are grouped (TreeShap
    attributes single features). Torch modules given tensors (``inputs="torch"``):
    integrated gradients; given tables, a torch module is called like any other
    model. A linear
    model explained in its own (additive) unit, ``additive=True``: exact Shapley
    values up to :data:`EXACT_MAX_PLAYERS` players, permutation sampling beyond,
    which is exact for an additive model (every permutation gives each feature the
    same marginal contribution). Anything else: :func:`agnostic_method`.
    Only registered methods are chosen.
    """
    kind = model_kind(model)
    registered = set(_registry.available(kind="attribution"))
    if kind == "tree" and not feature_groups and "tree_shap" in registered:
        return Choice("tree_shap", "a tree ensemble: exact TreeShap")
    if kind == "torch" and inputs == "torch" and "integrated_gradients" in registered:
        return Choice("integrated_gradients", "a torch module: integrated gradients")
    if kind == "linear" and additive and n_players > EXACT_MAX_PLAYERS:
        return Choice(
            "permutation_shap",
            f"a linear model in its additive unit, {n_players} players: permutation sampling "
            "is exact for it",
        )
    return agnostic_method(n_players)


def _check_fits(name: str, spec: _registry.MethodSpec, model: Any) -> None:
    """UnsupportedModelError when the registry says the method cannot explain the model."""
    if "any" in spec.models:
        return
    kind = model_kind(model)
    if kind not in spec.models:
        raise UnsupportedModelError(
            f"{name} explains {' or '.join(spec.models)} models only; got a "
            f"{type(_raw(model)).__name__} ({kind})."
        )


def build(
    method: str, model: Any, data: Any = None, *, random_state: Any = None, **settings: Any
) -> Any:
    """``registry[method](model, data, **settings)``: an explainer with ``explain(X)``.

    ``data`` goes to methods built with reference data (the registry's ``data``
    field; one that takes none refuses it), ``random_state`` to sampled methods
    only (exact ones have no seed), every other setting as given (the
    constructor rejects one it does not take). Raises UnsupportedModelError when
    the registry says the method does not explain this kind of model, and passes
    on the one the method raises when it reads the model and cannot.
    """
    spec = _registry.spec(method)
    name = spec.name
    _check_fits(name, spec, model)
    if spec.sampled and random_state is not None:
        settings["random_state"] = random_state
    cls = spec.load()
    if spec.data == "none":
        if data is not None:
            raise ValueError(f"{name} takes no reference data; got data= {type(data).__name__}.")
        return cls(model, **settings)
    if spec.data == "required" and data is None:
        raise ValueError(f"{name} needs reference data (background rows): pass data=.")
    return cls(model, data, **settings)


def _by_registered_name(
    settings: Mapping[str, Mapping[str, Any]],
) -> dict[str, Mapping[str, Any]]:
    """Per-method settings keyed by registered names (an alias such as ``treeshap``
    read as its method); one method given under two names is refused."""
    keyed: dict[str, Mapping[str, Any]] = {}
    for name, value in settings.items():
        registered = _registry.canonical(name)
        if registered in keyed:
            raise ValueError(f"Settings for {registered!r} given twice (as {name!r} too).")
        keyed[registered] = value
    return keyed


def build_best(
    model: Any,
    data: Any,
    n_players: int,
    *,
    first: str | None = None,
    random_state: Any = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    reference: Callable[[str], Any] | None = None,
    fallback: bool = True,
) -> tuple[Choice, Any]:
    """The chosen method built, or the model-agnostic one when the first refuses the model.

    ``first``: the method to try first (default :func:`choose`'s); ``settings``
    per method name; ``reference(name)``, when given, the reference data of the
    method about to be built (computed only for it: e.g. None for TreeShap, so it
    uses the trees' own cover, and a summarised background for the others), else
    ``data``. ``fallback=False`` raises the refusal instead. Only
    UnsupportedModelError counts as "does not fit"; any other error is a real one
    and propagates.
    """
    first = _registry.canonical(first)
    choice = choose(model, n_players) if first is None else Choice(first, "asked for")
    settings = _by_registered_name(settings or {})

    def make(name: str) -> Any:
        data_ = reference(name) if reference is not None else data
        return build(name, model, data_, random_state=random_state, **settings.get(name, {}))

    try:
        return choice, make(choice.method)
    except UnsupportedModelError as exc:
        other = agnostic_method(n_players)
        if not fallback or other.method == choice.method:
            raise
        fallback_choice = Choice(other.method, other.reason, ((choice.method, str(exc)),))
        return fallback_choice, make(other.method)
