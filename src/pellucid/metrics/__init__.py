"""Model evaluation (via sklearn.metrics) and, later, explanation-quality metrics."""

from ._evaluate import ModelEvaluation, evaluate

__all__ = ["ModelEvaluation", "evaluate"]
