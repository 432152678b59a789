"""pellucid: explain any machine-learning model.

The public namespace is curated (``__all__``) and loaded lazily, so that
``import pellucid`` stays fast and imports neither pandas' heavy users nor
torch, matplotlib, numba or dask until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # foundation
    "Model": "pellucid._model",
    "as_model": "pellucid._model",
    "Explanation": "pellucid._results",
    "FeatureImportance": "pellucid._results",
    "PartialDependence": "pellucid._results",
    "HStatistic": "pellucid._results",
    "Anchor": "pellucid._results",
    "Predicate": "pellucid._results",
    "DataError": "pellucid._data",
    "ModelOutputError": "pellucid._errors",
    "ModelReadingError": "pellucid._errors",
    "UnsupportedModelError": "pellucid._errors",
    "evaluate": "pellucid.metrics",
    "ModelEvaluation": "pellucid.metrics",
    "available_methods": "pellucid._registry",
    "save_model": "pellucid._io",
    "load_model": "pellucid._io",
    "get_method": "pellucid._registry",
    # regulatory artefacts
    "reason_codes": "pellucid.regulatory",
    "model_card": "pellucid.regulatory",
    "ModelCard": "pellucid.regulatory",
    # model-agnostic Shapley values
    "ExactShap": "pellucid.shapley",
    "KernelShap": "pellucid.shapley",
    "PermutationShap": "pellucid.shapley",
    "summarize": "pellucid.shapley",
    "explain": "pellucid.shapley",
    # local explanations
    "Lime": "pellucid.local",
    "LimeText": "pellucid.local",
    "LimeImage": "pellucid.local",
    "Anchors": "pellucid.local",
    "AnchorsText": "pellucid.local",
    # global effects
    "permutation_importance": "pellucid.effects",
    "partial_dependence": "pellucid.effects",
    "ale": "pellucid.effects",
    "h_statistic": "pellucid.effects",
    # trees
    "TreeShap": "pellucid.tree",
    # PyTorch (importing these imports torch)
    "Saliency": "pellucid.torch",
    "SmoothGrad": "pellucid.torch",
    "IntegratedGradients": "pellucid.torch",
    "GradientShap": "pellucid.torch",
    "GuidedBackprop": "pellucid.torch",
    "GradCam": "pellucid.torch",
    "Occlusion": "pellucid.torch",
    "Lrp": "pellucid.torch",
    # counterfactuals
    "Counterfactuals": "pellucid.counterfactual",
    "CounterfactualSet": "pellucid.counterfactual",
    "recourse_audit": "pellucid.counterfactual",
    # the report
    "report": "pellucid.reporting",
    "Report": "pellucid.reporting",
    # model comparison
    "compare": "pellucid.comparison",
    "select": "pellucid.comparison",
    "ModelComparison": "pellucid.comparison",
}
_ALIASES = {"available_methods": "available", "get_method": "get"}
_SUBMODULES = ("datasets", "metrics", "plots", "quality", "scale", "tree")

# Kept literal so tools can read it; tests/test_public_api.py checks it against _EXPORTS.
__all__ = [
    "Anchor",
    "Anchors",
    "AnchorsText",
    "DataError",
    "ExactShap",
    "Explanation",
    "FeatureImportance",
    "HStatistic",
    "KernelShap",
    "Lime",
    "LimeImage",
    "LimeText",
    "Model",
    "ModelCard",
    "ModelComparison",
    "ModelEvaluation",
    "ModelOutputError",
    "ModelReadingError",
    "UnsupportedModelError",
    "PartialDependence",
    "PermutationShap",
    "Predicate",
    "Report",
    "TreeShap",
    "__version__",
    # PyTorch
    "GradCam",
    "GradientShap",
    "GuidedBackprop",
    "IntegratedGradients",
    "Lrp",
    "Occlusion",
    "Saliency",
    "SmoothGrad",
    "as_model",
    "available_methods",
    "compare",
    "datasets",
    "evaluate",
    "explain",
    "get_method",
    "load_model",
    "save_model",
    "metrics",
    "quality",
    "scale",
    "model_card",
    "reason_codes",
    "plots",
    "report",
    "select",
    "summarize",
    # global effects
    "ale",
    "h_statistic",
    # counterfactuals
    "Counterfactuals",
    "CounterfactualSet",
    "recourse_audit",
    "partial_dependence",
    "permutation_importance",
    "tree",
]

if TYPE_CHECKING:  # pragma: no cover
    from . import datasets, metrics, plots, quality, scale, tree
    from ._data import DataError
    from ._errors import ModelOutputError, ModelReadingError, UnsupportedModelError
    from ._io import load_model, save_model
    from ._model import Model, as_model
    from ._registry import available as available_methods
    from ._registry import get as get_method
    from ._results import (
        Anchor,
        Explanation,
        FeatureImportance,
        HStatistic,
        PartialDependence,
        Predicate,
    )
    from .comparison import ModelComparison, compare, select
    from .counterfactual import Counterfactuals, CounterfactualSet, recourse_audit
    from .effects import ale, h_statistic, partial_dependence, permutation_importance
    from .local import Anchors, AnchorsText, Lime, LimeImage, LimeText
    from .metrics import ModelEvaluation, evaluate
    from .regulatory import ModelCard, model_card, reason_codes
    from .reporting import Report, report
    from .shapley import ExactShap, KernelShap, PermutationShap, explain, summarize
    from .torch import (
        GradCam,
        GradientShap,
        GuidedBackprop,
        IntegratedGradients,
        Lrp,
        Occlusion,
        Saliency,
        SmoothGrad,
    )
    from .tree import TreeShap


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        value = getattr(module, _ALIASES.get(name, name))
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"pellucid.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'pellucid' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
