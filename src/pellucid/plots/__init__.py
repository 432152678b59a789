"""Plots of pellucid's result objects, drawn with matplotlib.

Every function takes a result object (``Explanation``, ``FeatureImportance``,
``PartialDependence``, ``Anchor`` or ``ModelEvaluation``), draws on ``ax=``
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
``image(exp, row)``                   attribution overlay on an image
``text(exp, row)``                    highlighted tokens
``anchor(rule)``                      an anchor rule card
``confusion_matrix(ev)``              counts per true/predicted class
``roc_curve(ev)``                     ROC with AUC
``precision_recall_curve(ev)``        PR with average precision
``calibration_curve(ev)``             reliability diagram
``residuals(ev)``                     regression residuals
====================================  ==========================================
"""

from __future__ import annotations

from ._attribution import bar, beeswarm, dependence, importance, waterfall
from ._effects import ale, partial_dependence, pd_heatmap
from ._evaluation import (
    calibration_curve,
    confusion_matrix,
    precision_recall_curve,
    residuals,
    roc_curve,
)
from ._local import anchor, image, text

__all__ = [
    "ale",
    "anchor",
    "bar",
    "beeswarm",
    "calibration_curve",
    "confusion_matrix",
    "dependence",
    "image",
    "importance",
    "partial_dependence",
    "pd_heatmap",
    "precision_recall_curve",
    "residuals",
    "roc_curve",
    "text",
    "waterfall",
]
