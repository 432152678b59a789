"""Plots of model performance (ModelEvaluation): confusion matrix, ROC, PR, calibration, residuals."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import NEGATIVE, NEUTRAL, get_ax, wrap


def _evaluation(result: Any, what: str) -> Any:
    from ..metrics import ModelEvaluation

    if not isinstance(result, ModelEvaluation):
        raise TypeError(f"{what} takes a ModelEvaluation; got {type(result).__name__}.")
    return result


def confusion_matrix(
    result: Any,
    *,
    ax: Any = None,
    normalize: str | None = None,
    title: str | None = None,
) -> Any:
    """The confusion matrix (rows: true class, columns: predicted) with the count in each cell.

    ``normalize="true"`` shows each row as shares of the true class.
    """
    ev = _evaluation(result, "confusion_matrix()")
    if ev.confusion_matrix is None:
        raise ValueError("This evaluation has no confusion matrix (it is a regression).")
    if normalize not in (None, "true"):
        raise ValueError(f"normalize must be None or 'true'; got {normalize!r}.")
    cm = np.asarray(ev.confusion_matrix, dtype=float)
    if normalize == "true":
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    k = cm.shape[0]
    ax = get_ax(ax, (1.6 + 0.6 * k, 1.4 + 0.6 * k))
    image = ax.imshow(cm, cmap="Blues", vmin=0)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{cm[i, j]:.2f}" if normalize else f"{int(round(cm[i, j])):,}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if cm[i, j] > threshold else "black",
            )
    labels = [wrap(str(c), 12) for c in (ev.classes or range(k))]
    ax.set_xticks(np.arange(k), labels)
    ax.set_yticks(np.arange(k), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title or ("Confusion matrix" + (" (row shares)" if normalize else "")))
    return ax


def roc_curve(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """ROC curve of a binary classifier with its AUC, against the chance diagonal."""
    ev = _evaluation(result, "roc_curve()")
    if ev.roc_curve is None:
        raise ValueError("This evaluation has no ROC curve (binary classifiers with both classes).")
    ax = get_ax(ax, (4.2, 4.0))
    auc = ev.metrics.get("roc_auc", float("nan"))
    ax.plot(ev.roc_curve["fpr"], ev.roc_curve["tpr"], color=NEGATIVE, label=f"AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    ax.set_title(title or "ROC curve")
    return ax


def precision_recall_curve(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Precision against recall with the average precision, and the base rate as chance."""
    ev = _evaluation(result, "precision_recall_curve()")
    if ev.pr_curve is None:
        raise ValueError("This evaluation has no precision-recall curve.")
    ax = get_ax(ax, (4.2, 4.0))
    ap = ev.metrics.get("pr_auc", float("nan"))
    recall, precision = ev.pr_curve["recall"], ev.pr_curve["precision"]
    ax.step(recall, precision, where="post", color=NEGATIVE, label=f"AP {ap:.3f}")
    # precision at recall 1 is the positive rate: what guessing achieves
    base_rate = float(np.asarray(precision)[np.argmax(recall)])
    ax.axhline(base_rate, color=NEUTRAL, linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="lower left")
    ax.set_title(title or "Precision-recall curve")
    return ax


def calibration_curve(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Reliability diagram: observed frequency against mean predicted probability per bin."""
    ev = _evaluation(result, "calibration_curve()")
    if ev.calibration is None:
        raise ValueError("This evaluation has no calibration data (it is a regression).")
    ax = get_ax(ax, (4.2, 4.0))
    ax.plot(
        ev.calibration["prob_pred"],
        ev.calibration["prob_true"],
        color=NEGATIVE,
        marker="o",
        label="model",
    )
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=0.8, label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    top_label = ev.task == "multiclass"
    ax.set_xlabel("mean predicted probability" + (" (top class)" if top_label else ""))
    ax.set_ylabel("observed frequency" + (" (top class correct)" if top_label else ""))
    ax.legend(loc="upper left")
    ax.set_title(title or "Calibration")
    return ax


def residuals(result: Any, *, ax: Any = None, bins: int = 40, title: str | None = None) -> Any:
    """Histogram of a regression's residuals (observed minus predicted)."""
    ev = _evaluation(result, "residuals()")
    if ev.residuals is None:
        raise ValueError("This evaluation has no residuals (it is a classification).")
    ax = get_ax(ax, (5.0, 3.6))
    ax.hist(ev.residuals, bins=bins, color=NEGATIVE)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("residual (observed − predicted)")
    ax.set_ylabel("rows")
    ax.set_title(title or "Residuals")
    return ax
