"""Model evaluation (via sklearn.metrics) and, later, explanation-quality metrics."""

from ._evaluate import ModelEvaluation, evaluate, wilson_interval

__all__ = ["ModelEvaluation", "evaluate", "wilson_interval"]
