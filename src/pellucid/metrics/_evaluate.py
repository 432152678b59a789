"""evaluate(): model performance overall and per subgroup, computed with sklearn.metrics."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from .._data import DataError, check_X_y
from .._model import Model, as_model
from .._results import _decode, _encode_scalar, _JsonMixin
from ._subgroups import UNSET, subgroup_column, subgroup_mask, subgroups_argument

__all__ = ["Calibration", "ModelEvaluation", "PrCurve", "RocCurve", "evaluate"]


@dataclass(frozen=True, eq=False)
class RocCurve(_JsonMixin):
    """Receiver operating characteristic of a binary classifier: one point per threshold."""

    fpr: np.ndarray
    tpr: np.ndarray


@dataclass(frozen=True, eq=False)
class PrCurve(_JsonMixin):
    """Precision against recall of a binary classifier: one point per threshold."""

    precision: np.ndarray
    recall: np.ndarray


@dataclass(frozen=True, eq=False)
class Calibration(_JsonMixin):
    """Reliability curve: per bin, the observed rate (``prob_true``, with its 95% Wilson
    interval ``low``/``high``) against the mean predicted probability, and the bin's rows
    (``counts``, ``low`` and ``high`` None when not known)."""

    prob_true: np.ndarray
    prob_pred: np.ndarray
    counts: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class ModelEvaluation(_JsonMixin):
    """Performance of a model on one data set.

    ``metrics`` maps each metric's name to its value. A metric that cannot be
    computed is NaN and ``notes`` says why (metric name -> reason). Curves
    (:class:`RocCurve`, :class:`PrCurve`, :class:`Calibration`) and the
    confusion matrix are arrays for the plotting layer. ``by_group`` maps
    each subgroup's value to its own ModelEvaluation; ``group_name`` names the
    subgroup column.
    """

    task: str
    metrics: dict[str, float]
    n_rows: int
    classes: tuple[Any, ...] | None = None
    confusion_matrix: np.ndarray | None = None
    calibration: Calibration | None = None
    roc_curve: RocCurve | None = None
    pr_curve: PrCurve | None = None
    residuals: np.ndarray | None = None
    by_group: dict[Any, ModelEvaluation] = field(default_factory=dict)
    group_name: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    # binary: the probability of classes[1] at or above which a row is predicted positive
    threshold: float | None = None

    _CURVES = {"calibration": Calibration, "roc_curve": RocCurve, "pr_curve": PrCurve}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``by_group`` is keyed by the group's text, and each entry keeps
        the group's own value under ``"group_value"`` so that :meth:`from_dict` gives
        back the same keys."""
        out = super().to_dict()
        for name in self._CURVES:
            curve = getattr(self, name)
            out[name] = None if curve is None else curve.to_dict()
        out["metrics"] = {k: _encode_scalar(v) for k, v in self.metrics.items()}
        out["by_group"] = {
            str(g): {**ev.to_dict(), "group_value": _encode_scalar(g)}
            for g, ev in self.by_group.items()
        }
        return out

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelEvaluation:
        cls._check_header(payload)
        curves = {
            name: None if payload.get(name) is None else kind.from_dict(payload[name])  # type: ignore[attr-defined]
            for name, kind in cls._CURVES.items()
        }
        classes = payload.get("classes")
        return cls(
            task=payload["task"],
            metrics={k: float("nan") if v is None else v for k, v in payload["metrics"].items()},
            n_rows=int(payload["n_rows"]),
            classes=None if classes is None else tuple(classes),
            confusion_matrix=_decode(payload.get("confusion_matrix")),
            residuals=_decode(payload.get("residuals")),
            by_group={
                entry["group_value"]: cls.from_dict(entry)
                for entry in payload.get("by_group", {}).values()
            },
            group_name=payload.get("group_name"),
            notes=dict(payload.get("notes", {})),
            threshold=payload.get("threshold"),
            **curves,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per group ('all' first), one column per metric."""
        rows = {"all": self.metrics}
        rows.update({g: ev.metrics for g, ev in self.by_group.items()})
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.insert(0, "n_rows", [self.n_rows] + [ev.n_rows for ev in self.by_group.values()])
        frame.index.name = self.group_name or "group"
        return frame

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(float_format=lambda v: f"{v:.4g}"))

    def __repr__(self) -> str:
        # The generated repr printed every curve and subgroup (68,807 characters on credit()).
        shown = [k for k in _HEADLINE if k in self.metrics] or list(self.metrics)[:4]
        metrics = ", ".join(f"{k}={self.metrics[k]:.4g}" for k in shown)
        more = len(self.metrics) - len(shown)
        groups = (
            f", by {self.group_name or 'group'}: {len(self.by_group)} groups"
            if self.by_group
            else ""
        )
        text = (
            f"ModelEvaluation(task={self.task!r}, n_rows={self.n_rows}, {metrics}"
            f"{f', +{more} more metrics' if more > 0 else ''}{groups})"
        )
        return text if len(text) <= 400 else text[:396] + " ..."


# The metrics a repr shows first, when present.
_HEADLINE = ("roc_auc", "accuracy", "log_loss", "brier", "r2", "rmse", "mae")


def evaluate(
    model: Any,
    X: Any,
    y: Any,
    *,
    subgroups: Any = None,
    sample_weight: Any = None,
    n_bins: int = 10,
    threshold: float | None = None,
    groups: Any = UNSET,
) -> ModelEvaluation:
    """Evaluate ``model`` on ``(X, y)``, overall and per subgroup.

    ``y`` is the target, or the name of a column of the DataFrame ``X`` that
    holds it: that column is taken as the target and dropped from ``X``
    before the model predicts (``evaluate(model, test_frame, "default")``).
    Class probabilities are renormalised in float64 before the log loss
    (float32 models such as XGBoost sum to 1 only to about 1e-7, which
    scikit-learn refuses). A metric that cannot be computed is NaN, with the
    reason in ``notes``.
    ``subgroups`` is a column name of X or an array with one label per row
    (``groups=``, its old name, still works for one release with a FutureWarning).
    Classification: accuracy, balanced_accuracy, precision, recall, f1
    (binary: the positive class, ``classes[1]``; multiclass: macro, plus
    ``_weighted`` and per-class ``_class_<c>`` values), roc_auc, pr_auc,
    log_loss, brier; the confusion matrix and calibration curve data.
    Regression: r2, mae, rmse, mape, median_ae.

    ``threshold`` (binary only): predict ``classes[1]`` when its probability
    is at least this. The default, None, predicts the most probable class,
    as ``predict`` does (0.5, ties to ``classes[0]``); the result's
    ``threshold`` states the one used. :func:`pellucid.compare.choose_threshold`
    picks one by a stated rule.
    """
    subgroups = subgroups_argument("evaluate", subgroups, groups)
    m = as_model(model)
    group_values, group_name = subgroup_column(subgroups, X)
    X, y = _target_column(X, y)
    X, y_arr = check_X_y(X, y)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if weights is not None and weights.shape != (len(y_arr),):
        raise DataError(f"sample_weight has shape {weights.shape}; expected ({len(y_arr)},).")
    if m.is_classifier:
        pm = m if m.output == "probability" else Model(m.raw_model, task=m.task)
        proba = pm.predict(X)
        classes = np.asarray(pm.classes)
        unknown = ~np.isin(y_arr, classes)
        if unknown.any():
            pos = int(np.flatnonzero(unknown)[0])
            raise DataError(
                f"y has label {np.asarray(y_arr[pos]).tolist()!r} at row {pos}, which the model "
                f"does not know (classes: {classes.tolist()})."
            )
        if threshold is not None and len(classes) != 2:
            raise ValueError(f"threshold= needs a binary classifier; classes: {classes.tolist()}.")
        result = _classification(y_arr, proba, classes, weights, n_bins, threshold)
        compute: Callable[..., ModelEvaluation] = lambda idx: _classification(  # noqa: E731
            y_arr[idx],
            proba[idx],
            np.asarray(pm.classes),
            None if weights is None else weights[idx],
            n_bins,
            threshold,
        )
    else:
        pred = m.predict(X)
        if pred.ndim != 1:
            raise ValueError("evaluate() supports single-output regressors.")
        result = _regression(y_arr.astype(float), pred, weights)
        compute = lambda idx: _regression(  # noqa: E731
            y_arr[idx].astype(float), pred[idx], None if weights is None else weights[idx]
        )
    if group_values is None:
        return result
    by_group = {}
    for g in pd.unique(group_values):
        idx = np.flatnonzero(subgroup_mask(group_values, g))
        by_group[g] = compute(idx)
    return replace(result, by_group=by_group, group_name=group_name)


def _target_column(X: Any, y: Any) -> tuple[Any, Any]:
    """``y`` given as a column name: that column of X is the target, and leaves X."""
    if not isinstance(y, str):
        return X, y
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"y={y!r} names a target column, but X is a {type(X).__name__}, not a DataFrame; "
            "pass the target values instead."
        )
    if y not in X.columns:
        raise DataError(f"y={y!r} is not a column of X; columns: {[str(c) for c in X.columns]}.")
    return X.drop(columns=[y]), X[y]


def _safe(fn: Callable[[], float], notes: dict[str, str], name: str) -> float:
    """A metric that is undefined on this subset (one class only) is NaN, with the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return float(fn())
    except (ValueError, Warning) as exc:
        notes[name] = str(exc).strip() or type(exc).__name__
        return float("nan")


# Probabilities off 1 by more than this are not a rounding matter: log loss refuses them.
_SUM_TOLERANCE = 1e-4


def _log_loss(
    y: np.ndarray, proba: np.ndarray, labels: list[Any], w: np.ndarray | None, notes: dict[str, str]
) -> float:
    """Log loss on probabilities renormalised in float64 (float32 rows sum to 1 +- 1e-7)."""
    p = np.asarray(proba, dtype=np.float64)
    sums = p.sum(axis=1)
    bad = ~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1) | (np.abs(sums - 1) > _SUM_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        notes["log_loss"] = (
            f"the model's class probabilities at row {row} are not probabilities "
            f"({p[row].tolist()}, sum {float(sums[row])!r})."
        )
        return float("nan")
    return _safe(
        lambda: skm.log_loss(y, p / sums[:, None], labels=labels, sample_weight=w),
        notes,
        "log_loss",
    )


#: Below this many rows the reliability curve uses quantile bins: evenly cut bins are
#: left nearly empty and the curve zig-zags.
QUANTILE_BINS_BELOW = 1000


def reliability(yb: np.ndarray, p: np.ndarray, n_bins: int) -> Calibration:
    """scikit-learn's calibration curve (quantile bins below QUANTILE_BINS_BELOW rows,
    uniform above) with each bin's row count and 95% Wilson interval of prob_true."""
    strategy = "quantile" if p.size < QUANTILE_BINS_BELOW else "uniform"
    prob_true, prob_pred = calibration_curve(yb, p, n_bins=n_bins, strategy=strategy)
    # The same bins as scikit-learn's, to count the rows behind each point.
    edges = (
        np.percentile(p, np.linspace(0, 100, n_bins + 1))
        if strategy == "quantile"
        else np.linspace(0.0, 1.0, n_bins + 1)
    )
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    counts = counts[counts != 0]
    low, high = wilson_interval(prob_true * counts, counts)
    return Calibration(prob_true, prob_pred, counts, low, high)


def wilson_interval(
    hits: np.ndarray, n: np.ndarray, z: float = 1.959963984540054
) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of a proportion (sound for small bins and for 0 or 1)."""
    phat = hits / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _classification(
    y: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    w: np.ndarray | None,
    n_bins: int,
    threshold: float | None = None,
) -> ModelEvaluation:
    if threshold is None:
        pred = classes[np.argmax(proba, axis=1)]
    else:
        pred = classes[(proba[:, 1] >= threshold).astype(int)]
    labels = list(classes)
    notes: dict[str, str] = {}
    out: dict[str, float] = {
        "accuracy": float(skm.accuracy_score(y, pred, sample_weight=w)),
        "balanced_accuracy": _safe(
            lambda: skm.balanced_accuracy_score(y, pred, sample_weight=w),
            notes,
            "balanced_accuracy",
        ),
    }
    prf = dict(labels=labels, sample_weight=w, zero_division=0)
    curves: dict[str, Any] = {}
    if len(classes) == 2:
        pos = classes[1]
        p1 = proba[:, 1]
        yb = (y == pos).astype(int)
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            out[name] = float(fn(y, pred, pos_label=pos, average="binary", **prf))
        out["roc_auc"] = _safe(lambda: skm.roc_auc_score(yb, p1, sample_weight=w), notes, "roc_auc")
        out["pr_auc"] = _safe(
            lambda: skm.average_precision_score(yb, p1, sample_weight=w), notes, "pr_auc"
        )
        out["brier"] = float(skm.brier_score_loss(yb, p1, sample_weight=w))
        if yb.min() != yb.max():
            fpr, tpr, _ = skm.roc_curve(yb, p1, sample_weight=w)
            prec, rec, _ = skm.precision_recall_curve(yb, p1, sample_weight=w)
            curves["roc_curve"] = RocCurve(fpr, tpr)
            curves["pr_curve"] = PrCurve(prec, rec)
        calibration = reliability(yb, p1, n_bins)
    else:
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            out[name] = float(fn(y, pred, average="macro", **prf))
            out[f"{name}_weighted"] = float(fn(y, pred, average="weighted", **prf))
            per = fn(y, pred, average=None, **prf)
            for c, v in zip(classes, per, strict=True):
                out[f"{name}_class_{c}"] = float(v)
        onehot = (y[:, None] == classes[None, :]).astype(int)
        out["roc_auc"] = _safe(
            lambda: skm.roc_auc_score(
                y, proba, multi_class="ovr", average="macro", labels=labels, sample_weight=w
            ),
            notes,
            "roc_auc",
        )
        out["pr_auc"] = _safe(
            lambda: skm.average_precision_score(onehot, proba, average="macro", sample_weight=w),
            notes,
            "pr_auc",
        )
        out["brier"] = float(np.average(((proba - onehot) ** 2).sum(axis=1), weights=w))
        # Top-label calibration: confidence of the predicted class against its accuracy.
        calibration = reliability((pred == y).astype(int), proba.max(axis=1), n_bins)
    out["log_loss"] = _log_loss(y, proba, labels, w, notes)
    cm = skm.confusion_matrix(y, pred, labels=labels, sample_weight=w)
    return ModelEvaluation(
        task="binary" if len(classes) == 2 else "multiclass",
        metrics=out,
        n_rows=len(y),
        classes=tuple(classes.tolist()),
        confusion_matrix=cm,
        calibration=calibration,
        roc_curve=curves.get("roc_curve"),
        pr_curve=curves.get("pr_curve"),
        notes=notes,
        threshold=(0.5 if threshold is None else float(threshold)) if len(classes) == 2 else None,
    )


def _regression(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> ModelEvaluation:
    notes: dict[str, str] = {}
    out = {
        "r2": _safe(lambda: skm.r2_score(y, pred, sample_weight=w), notes, "r2"),
        "mae": float(skm.mean_absolute_error(y, pred, sample_weight=w)),
        "rmse": float(skm.root_mean_squared_error(y, pred, sample_weight=w)),
        "mape": float(skm.mean_absolute_percentage_error(y, pred, sample_weight=w)),
        "median_ae": float(skm.median_absolute_error(y, pred, sample_weight=w)),
    }
    return ModelEvaluation(
        task="regression", metrics=out, n_rows=len(y), residuals=y - pred, notes=notes
    )
