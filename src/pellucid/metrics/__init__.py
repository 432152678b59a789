"""Model evaluation (via sklearn.metrics) and fairness across subgroups."""

from ._evaluate import Calibration, ModelEvaluation, PrCurve, RocCurve, evaluate, wilson_interval
from ._fairness import FairnessGaps, fairness_table

__all__ = [
    "Calibration",
    "FairnessGaps",
    "ModelEvaluation",
    "PrCurve",
    "RocCurve",
    "evaluate",
    "fairness_table",
    "wilson_interval",
]
