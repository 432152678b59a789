"""Plots of pellucid's result objects, drawn with matplotlib.

Every function takes a result object (``Explanation``, ``FeatureImportance``,
``PartialDependence``, ``Anchor``, ``ModelEvaluation`` or ``ModelComparison``), draws on ``ax=``
when given (else on a new pyplot Axes) and returns the Axes. None calls
``show()``: showing is the caller's business. matplotlib is imported only
when a function runs.

====================================  ==========================================
function                              draws
====================================  ==========================================
``importance(fi)``                    importance bars with 95% intervals
``bar(exp)``                          mean |attribution| (or one row's values)
``beeswarm(exp)``                     SHAP summary, coloured by feature value
``waterfall(exp, row)``               one prediction built from the base value
``dependence(exp, feature)``          value vs attribution, coloured by partner
``partial_dependence(pd)``            PD with ICE curves
``ale(pd)``                           accumulated local effects
``pd_heatmap(pd)``                    two-feature partial dependence
``force(exp, row)``                    one prediction as pushes up and down to f(x)
``decision(exp)``                     many rows' cumulative paths to their predictions
``heatmap(exp)``                      rows x features, ordered by output or clustering
``interactions(exp[, feature])``      mean |interaction| matrix, or dependence by partner
``cohorts(exp, groups)``              mean attribution per subgroup, side by side
``image(exp, row)``                   attribution overlay on an image
``text(exp, row)``                    highlighted tokens
``anchor(rule)``                      an anchor rule card
``counterfactual(cfs, row)``          one counterfactual's changes, before/after bars
``confusion_matrix(ev)``              counts per true/predicted class
``roc_curve(ev)``                     ROC with AUC
``precision_recall_curve(ev)``        PR with average precision
``calibration_curve(ev)``             reliability diagram
``residuals(ev)``                     regression residuals
``compare_metrics(cmp)``              metrics per model with intervals (forest plot)
``compare_differences(cmp)``          paired differences, tests and adjusted p-values
``compare_calibration(cmp)``          reliability curves of every model
``compare_importance(cmp)``           permutation or mean |SHAP| per model, side by side
====================================  ==========================================

``labelled(result, target="default", row_ids=X.index)`` names the target and the
rows once, so axes read "P(default)" and titles "row 1,245". Colours are
colour-blind safe (Okabe & Ito; ColorBrewer's RdBu for signed maps).
"""

from __future__ import annotations

from ._attribution import bar, beeswarm, dependence, importance, waterfall
from ._base import labelled
from ._compare import (
    compare_calibration,
    compare_differences,
    compare_importance,
    compare_metrics,
)
from ._counterfactual import counterfactual
from ._effects import ale, partial_dependence, pd_heatmap, shared_xlim
from ._evaluation import (
    calibration_bins,
    calibration_curve,
    confusion_matrix,
    precision_recall_curve,
    residuals,
    roc_curve,
)
from ._local import anchor, image, text
from ._overview import cohorts, decision, force, heatmap, interactions

__all__ = [
    "ale",
    "anchor",
    "bar",
    "beeswarm",
    "calibration_bins",
    "calibration_curve",
    "cohorts",
    "compare_calibration",
    "compare_differences",
    "compare_importance",
    "compare_metrics",
    "confusion_matrix",
    "counterfactual",
    "decision",
    "dependence",
    "force",
    "heatmap",
    "image",
    "importance",
    "interactions",
    "labelled",
    "partial_dependence",
    "pd_heatmap",
    "precision_recall_curve",
    "residuals",
    "roc_curve",
    "shared_xlim",
    "text",
    "waterfall",
]
