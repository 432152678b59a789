"""Methods registered by name.

The CLI, the report and the conformance tests enumerate this one table.
Entries name their implementation by import path, so listing methods
imports nothing heavy; :func:`get` imports on demand.

Naming rule: snake_case, the method's usual name (``kernel_shap``,
``lime_text``, ``tree_shap``); results, reports, the service and the command
line record and list the registered name.

Aliases: ``treeshap`` (TreeShap's name before the naming rule) is accepted
wherever a method name is read: ``pellucid.explain(method=)``, ``get_method``,
the command line's ``--method``, the service's ``method`` field and its default,
the report's ``methods=``, and the ``method`` of a saved result loaded with
``from_json``. It is read as ``tree_shap`` without a warning, so results saved
and clients written before the rename keep working; :func:`canonical` does the
mapping.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALIASES",
    "DATA_NEEDS",
    "OUTPUT_KINDS",
    "MethodSpec",
    "UnknownMethodError",
    "available",
    "canonical",
    "get",
    "register",
    "spec",
]

KINDS = ("attribution", "global", "effect", "interaction", "rule", "counterfactual")
INPUTS = ("tabular", "text", "image", "torch")
# What a method can explain: any model it can call, or only models it reads inside.
MODEL_KINDS = ("any", "tree", "torch")
# Whether the constructor (or function) takes reference data after the model:
# ``Explainer(model, data, **settings)``, ``Explainer(model, **settings)`` or either.
DATA_NEEDS = ("required", "optional", "none")
# The units of model output a method explains (Explanation.output_kind's values, and
# "class": the predicted class, for rules and counterfactuals).
OUTPUT_KINDS = ("probability", "log_odds", "raw_margin", "regression", "class")
NUMERIC_OUTPUTS = ("probability", "log_odds", "raw_margin", "regression")
# The result type of each kind.
RETURNS = {
    "attribution": "Explanation",
    "global": "FeatureImportance",
    "effect": "PartialDependence",
    "interaction": "HStatistic",
    "rule": "Anchor",
    "counterfactual": "CounterfactualSet",
}
NAME_RULE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
# Other accepted names -> the registered name (silent: see the module docstring).
ALIASES = {"treeshap": "tree_shap"}


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    ``target`` is "module:attribute"; ``kind`` what it returns (see :data:`RETURNS`:
    attribution -> Explanation, global -> FeatureImportance,
    effect -> PartialDependence, interaction -> HStatistic, rule -> Anchor,
    counterfactual -> CounterfactualSet);
    ``inputs`` the data it takes;
    ``exact`` whether its numbers are exact (no sampling); ``additive``
    whether base_values + sum(values) reproduces the model output;
    ``models`` the model kinds it explains (:data:`MODEL_KINDS`: "any" for
    every model it can call, "tree" for ensembles it reads, "torch" for
    ``torch.nn.Module``); ``data`` whether it is built with reference data
    (:data:`DATA_NEEDS`); ``outputs`` the units of model output it explains
    (:data:`OUTPUT_KINDS`); ``per_call`` what ``explain`` takes besides the data
    (every setting is a constructor argument: :mod:`pellucid._protocol`).
    """

    name: str
    target: str
    kind: str
    inputs: str = "tabular"
    exact: bool = False
    additive: bool = False
    summary: str = ""
    models: tuple[str, ...] = ("any",)
    data: str = "required"
    outputs: tuple[str, ...] = NUMERIC_OUTPUTS
    per_call: tuple[str, ...] = ()

    @property
    def sampled(self) -> bool:
        """True when the numbers come from random samples (a seed matters)."""
        return not self.exact

    @property
    def returns(self) -> str:
        """The name of the result type this method returns."""
        return RETURNS[self.kind]

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


_METHODS: dict[str, MethodSpec] = {}


def register(spec_: MethodSpec) -> MethodSpec:
    if spec_.kind not in KINDS:
        raise ValueError(f"Unknown kind {spec_.kind!r}; expected one of {KINDS}.")
    if spec_.inputs not in INPUTS:
        raise ValueError(f"Unknown inputs {spec_.inputs!r}; expected one of {INPUTS}.")
    if not NAME_RULE.fullmatch(spec_.name):
        raise ValueError(f"Method names are snake_case (e.g. 'kernel_shap'); got {spec_.name!r}.")
    unknown_models = set(spec_.models) - set(MODEL_KINDS)
    if not spec_.models or unknown_models:
        raise ValueError(f"Unknown models {spec_.models!r}; expected some of {MODEL_KINDS}.")
    if spec_.data not in DATA_NEEDS:
        raise ValueError(f"Unknown data {spec_.data!r}; expected one of {DATA_NEEDS}.")
    unknown_outputs = set(spec_.outputs) - set(OUTPUT_KINDS)
    if not spec_.outputs or unknown_outputs:
        raise ValueError(f"Unknown outputs {spec_.outputs!r}; expected some of {OUTPUT_KINDS}.")
    if spec_.name in _METHODS or spec_.name in ALIASES:
        raise ValueError(f"A method named {spec_.name!r} is already registered.")
    _METHODS[spec_.name] = spec_
    return spec_


def available(kind: str | None = None, inputs: str | None = None) -> list[str]:
    """Names of registered methods, optionally of one kind and input type."""
    return [
        name
        for name, s in _METHODS.items()
        if (kind is None or s.kind == kind) and (inputs is None or s.inputs == inputs)
    ]


class UnknownMethodError(KeyError, ValueError):
    """No method is registered under this name (a KeyError, and a ValueError as a bad
    argument value); the message suggests the nearest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def canonical(name: Any) -> Any:
    """The registered name of an alias (``"treeshap"`` -> ``"tree_shap"``); any other
    value as given, unchecked (``"auto"``, an unknown name for :func:`spec` to refuse)."""
    return ALIASES.get(name, name) if isinstance(name, str) else name


def spec(name: str) -> MethodSpec:
    """The entry of ``name`` (or of an alias such as ``treeshap``)."""
    try:
        return _METHODS[canonical(name)]
    except (KeyError, TypeError):
        raise UnknownMethodError(unknown_method_message(name, sorted(_METHODS))) from None


def unknown_method_message(name: Any, names: list[str]) -> str:
    """'Unknown method ...; did you mean ...?' with the closest registered names."""
    import difflib

    key = str(name).lower().replace("-", "_").replace(" ", "_")
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown method {name!r}.{hint} Available: {names}."


def get(name: str) -> Any:
    """The class or function registered under ``name``."""
    return spec(name).load()


# --- the table ------------------------------------------------------------
# One line per method. Keep it sorted by area.
_TABLE: list[MethodSpec] = [
    # MethodSpec("name", "pellucid.module:Attr", "attribution", exact=..., additive=..., summary=...),
    # model-agnostic Shapley values
    MethodSpec(
        "exact_shap",
        "pellucid.shapley:ExactShap",
        "attribution",
        exact=True,
        additive=True,
        summary="Exact interventional Shapley values (all coalitions, <= 16 players)",
    ),
    MethodSpec(
        "kernel_shap",
        "pellucid.shapley:KernelShap",
        "attribution",
        additive=True,
        summary="Kernel SHAP: paired leverage-score sampling, exact efficiency, standard errors",
    ),
    MethodSpec(
        "permutation_shap",
        "pellucid.shapley:PermutationShap",
        "attribution",
        additive=True,
        summary="Antithetic permutation sampling of Shapley values, standard errors",
    ),
    # local surrogates and rules
    MethodSpec(
        "lime",
        "pellucid.local:Lime",
        "attribution",
        summary="LIME: local weighted-ridge surrogate weights",
    ),
    MethodSpec(
        "anchors",
        "pellucid.local:Anchors",
        "rule",
        summary="Anchors: high-precision if-then rule for one row",
        outputs=("class",),
    ),
    MethodSpec(
        "lime_text",
        "pellucid.local:LimeText",
        "attribution",
        inputs="text",
        summary="LIME for text: weights of the words the prediction rests on",
        data="none",
    ),
    MethodSpec(
        "lime_image",
        "pellucid.local:LimeImage",
        "attribution",
        inputs="image",
        summary="LIME for images: weights of the superpixels the prediction rests on",
        data="none",
    ),
    MethodSpec(
        "anchors_text",
        "pellucid.local:AnchorsText",
        "rule",
        inputs="text",
        summary="Anchors for text: words that hold the prediction when others are masked",
        data="none",
        outputs=("class",),
    ),
    # global effects (src/pellucid/effects/)
    MethodSpec(
        "permutation_importance",
        "pellucid.effects:permutation_importance",
        "global",
        summary="Score drop when a feature (or group) is shuffled; repeats give a 95% interval.",
        outputs=(*NUMERIC_OUTPUTS, "class"),
    ),
    MethodSpec(
        "partial_dependence",
        "pellucid.effects:partial_dependence",
        "effect",
        exact=True,
        summary="Partial dependence and ICE curves on scikit-learn's grid, one or two features.",
    ),
    MethodSpec(
        "ale",
        "pellucid.effects:ale",
        "effect",
        exact=True,
        summary="Accumulated local effects on quantile bins; categorical and second order.",
    ),
    MethodSpec(
        "h_statistic",
        "pellucid.effects:h_statistic",
        "interaction",
        exact=True,
        summary="Friedman's H-squared: a pair's interaction strength, or one feature's overall.",
    ),
    MethodSpec(
        "tree_shap",
        "pellucid.tree:TreeShap",
        "attribution",
        exact=True,
        additive=True,
        models=("tree",),
        summary="Exact SHAP values of tree ensembles (path-dependent or interventional).",
        data="optional",
    ),
    # counterfactuals with certificates
    MethodSpec(
        "counterfactuals",
        "pellucid.counterfactual:Counterfactuals",
        "counterfactual",
        exact=True,
        summary="Cheapest allowed changes that flip the decision; certified optimal for trees "
        "and linear models (HiGHS), searched otherwise.",
        outputs=("class", "regression"),
        per_call=("desired", "k"),
    ),
    # --- PyTorch gradient family and LRP (inputs="torch": a torch.nn.Module and tensors)
    MethodSpec(
        "saliency",
        "pellucid.torch:Saliency",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Absolute (or raw) input gradient of the target output.",
        data="none",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "smoothgrad",
        "pellucid.torch:SmoothGrad",
        "attribution",
        inputs="torch",
        models=("torch",),
        summary="Gradients averaged over noisy copies (SmoothGrad, -squared, VarGrad).",
        data="none",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "integrated_gradients",
        "pellucid.torch:IntegratedGradients",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Path integral of gradients from a baseline; completeness delta reported.",
        data="optional",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target", "baselines"),
    ),
    MethodSpec(
        "gradient_shap",
        "pellucid.torch:GradientShap",
        "attribution",
        inputs="torch",
        models=("torch",),
        summary="Expected gradients over a baseline distribution.",
        data="required",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "guided_backprop",
        "pellucid.torch:GuidedBackprop",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Gradient with ReLUs passing only positive gradients.",
        data="none",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "grad_cam",
        "pellucid.torch:GradCam",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Grad-CAM class activation map (and Guided Grad-CAM), upsampled to the input.",
        data="none",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "occlusion",
        "pellucid.torch:Occlusion",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Output drop when sliding patches are set to a baseline.",
        data="optional",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
    MethodSpec(
        "lrp",
        "pellucid.torch:Lrp",
        "attribution",
        inputs="torch",
        models=("torch",),
        exact=True,
        summary="Layer-wise relevance propagation: rules, composites, canonizers.",
        data="none",
        outputs=("raw_margin", "probability", "log_odds", "regression"),
        per_call=("target",),
    ),
]
for _spec in _TABLE:
    register(_spec)
