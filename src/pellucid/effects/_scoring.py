"""Scoring from stacked predictions.

scikit-learn scorers call ``estimator.predict*(X)`` themselves, once per
permuted copy. To batch those calls, a scorer built by scikit-learn
(``get_scorer(name)`` or ``make_scorer``) is split into the response it needs
(``predict``, ``predict_proba``, ``decision_function``) and the metric applied
to it, following ``sklearn.utils._response._get_response_values``: binary
probabilities are reduced to the positive class, a binary decision function
is negated when the positive class is the first. Any other callable
``scorer(estimator, X, y)`` is called as it is, once per permuted copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._model import Model

__all__ = ["PredictionScorer", "resolve_scoring"]

_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


@dataclass(frozen=True)
class PredictionScorer:
    """A scikit-learn scorer split into response (batched) and metric."""

    score_func: Callable[..., float]
    sign: float
    kwargs: dict[str, Any]
    response_method: str
    pos_label: Any

    def score(self, y: np.ndarray, response: np.ndarray, sample_weight: Any = None) -> float:
        kwargs = dict(self.kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return float(self.sign * self.score_func(y, response, **kwargs))


def _has_margin(model: Model) -> bool:
    raw = model.raw_model
    if model.kind == "sklearn":
        return hasattr(raw, "decision_function")
    return model.kind in ("xgboost", "lightgbm", "catboost", "torch")


def _available(model: Model, method: str) -> bool:
    if method == "predict":
        return True
    if not model.is_classifier:
        return False
    if method == "decision_function":
        return _has_margin(model)
    return True


def _pick(model: Model, response_method: Any) -> str:
    candidates = [response_method] if isinstance(response_method, str) else list(response_method)
    for name in candidates:
        if name not in _METHODS:
            raise ValueError(f"Unsupported response method {name!r} in the scorer.")
        if _available(model, name):
            return name
    raise ValueError(
        f"The model offers none of the response methods {candidates} that the scorer needs."
    )


def _with_output(model: Model, output: str) -> Model:
    if model.output == output:
        return model
    return Model(
        model.raw_model,
        task=model.task,
        output=output,
        feature_names=model.feature_names,
        classes=None if model.classes is None else list(model.classes),
        batch_size=model.batch_size,
    )


def response(model: Model, method: str, pos_label: Any, X: Any) -> np.ndarray:
    """The response ``method`` of the model on X, as scikit-learn's scorers see it."""
    raw = model.raw_model
    if method == "predict":
        if not model.is_classifier:
            return model.predict_prepared(X)
        # The model's own labels where it has them (they may differ from argmax of the
        # probabilities, e.g. SVC); boosters and callables give only scores.
        own_labels = model.kind == "sklearn" or type(raw).__name__.endswith("Classifier")
        if own_labels and hasattr(raw, "predict"):
            return np.asarray(raw.predict(X)).reshape(X.shape[0])
        proba = _with_output(model, "probability").predict_prepared(X)
        assert model.classes is not None
        return np.asarray(model.classes)[np.argmax(proba, axis=1)]
    classes = np.asarray(model.classes)
    binary = model.task == "binary"
    if method in ("predict_proba", "predict_log_proba"):
        out = _with_output(model, "probability").predict_prepared(X)
        if method == "predict_log_proba":
            with np.errstate(divide="ignore"):
                out = np.log(out)
        if binary:
            out = out[:, int(np.flatnonzero(classes == pos_label)[0])]
        return out
    out = _with_output(model, "raw").predict_prepared(X)
    if binary and out.ndim == 1 and pos_label == classes[0]:
        out = -out
    return out


def _pos_label(model: Model, scorer: Any) -> Any:
    if not model.is_classifier:
        return None
    label = scorer._get_pos_label()
    classes = np.asarray(model.classes)
    if model.task == "binary":
        if label is None:
            return classes[-1]
        if label not in classes.tolist():
            raise ValueError(f"pos_label={label!r} is not one of the classes {classes.tolist()}.")
    return label


def resolve_scoring(scoring: Any, model: Model) -> PredictionScorer | Callable[..., float]:
    """A :class:`PredictionScorer` for scikit-learn scorers, else the callable itself.

    ``None`` means the estimator's default score: R^2 for regressors,
    accuracy for classifiers.
    """
    from sklearn.metrics import get_scorer

    if scoring is None:
        scoring = "accuracy" if model.is_classifier else "r2"
    if isinstance(scoring, str):
        try:
            scoring = get_scorer(scoring)
        except ValueError as exc:
            raise ValueError(f"Unknown scoring {scoring!r}: {exc}") from None
    if all(hasattr(scoring, a) for a in ("_score_func", "_sign", "_kwargs", "_response_method")):
        method = _pick(model, scoring._response_method)
        return PredictionScorer(
            score_func=scoring._score_func,
            sign=float(scoring._sign),
            kwargs=dict(scoring._kwargs or {}),
            response_method=method,
            pos_label=_pos_label(model, scoring),
        )
    if callable(scoring):
        return scoring
    raise TypeError(
        f"scoring must be None, a scikit-learn scorer name, or a callable; got {scoring!r}."
    )


# How scikit-learn scorer names read on an axis.
_SCORE_NAMES = {
    "roc_auc": "ROC AUC",
    "roc_auc_ovr": "ROC AUC (one vs rest)",
    "roc_auc_ovo": "ROC AUC (one vs one)",
    "average_precision": "average precision",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "f1": "F1",
    "r2": "R²",
    "log_loss": "log loss",
    "brier_score": "Brier score",
    "mean_squared_error": "mean squared error",
    "root_mean_squared_error": "RMSE",
    "mean_absolute_error": "mean absolute error",
}


def score_change(scoring: Any) -> str:
    """What a permutation importance measures, in words: "drop in ROC AUC".

    scikit-learn negates losses ("neg_log_loss") so bigger is better; a drop
    in a negated loss is a rise in the loss, and is said so.
    """
    if scoring is None:
        return "drop in the model's score (accuracy or R²)"
    name = str(scoring)
    if name.startswith("neg_"):
        base = name[4:]
        return f"rise in {_SCORE_NAMES.get(base, base.replace('_', ' '))}"
    return f"drop in {_SCORE_NAMES.get(name, name.replace('_', ' '))}"
