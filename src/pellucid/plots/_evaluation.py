"""Plots of model performance (ModelEvaluation): confusion matrix, ROC, PR, calibration, residuals."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..metrics import wilson_interval
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
    cbar = ax.figure.colorbar(image, ax=ax, shrink=0.8)
    cbar.set_label("share of the true class" if normalize else "rows")
    ax.set_title(title or ("Confusion matrix" + (" (row shares)" if normalize else "")))
    return ax


def roc_curve(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """ROC curve of a binary classifier with its AUC, against the chance diagonal."""
    ev = _evaluation(result, "roc_curve()")
    if ev.roc_curve is None:
        raise ValueError("This evaluation has no ROC curve (binary classifiers with both classes).")
    ax = get_ax(ax, (4.2, 4.0))
    auc = ev.metrics.get("roc_auc", float("nan"))
    ax.plot(ev.roc_curve.fpr, ev.roc_curve.tpr, color=NEGATIVE, label=f"AUC {auc:.3f}")
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
    recall, precision = ev.pr_curve.recall, ev.pr_curve.precision
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


def calibration_bins(
    y: Any, proba: Any, n_bins: int | None = None, strategy: str = "auto"
) -> dict[str, np.ndarray]:
    """Reliability-diagram data from labels (0/1) and predicted probabilities.

    ``strategy="quantile"`` puts equally many rows in each bin; ``"uniform"``
    cuts [0, 1] evenly; ``"auto"`` takes quantile bins below 1,000 rows, where
    evenly cut bins are left nearly empty and the curve zig-zags. ``n_bins``
    defaults to about one bin per 50 rows (5 to 10). Returns ``prob_pred``,
    ``prob_true``, ``counts`` and a 95% Wilson interval ``low``/``high`` per bin.
    """
    yb = np.asarray(y, dtype=float).ravel()
    p = np.asarray(proba, dtype=float).ravel()
    if yb.shape != p.shape:
        raise ValueError(f"y has {yb.size} values but proba has {p.size}.")
    if not np.isin(yb, (0.0, 1.0)).all():
        raise ValueError("calibration_bins(): y must hold 0/1 labels of the positive class.")
    n = p.size
    if n_bins is None:
        n_bins = int(np.clip(n // 50, 5, 10))
    if strategy == "auto":
        strategy = "quantile" if n < 1000 else "uniform"
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'auto', 'quantile' or 'uniform'; got {strategy!r}.")
    which = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, len(edges) - 2)
    counts = np.bincount(which, minlength=len(edges) - 1)
    ok = counts > 0
    pred = np.bincount(which, weights=p, minlength=len(counts))[ok] / counts[ok]
    hits = np.bincount(which, weights=yb, minlength=len(counts))[ok]
    low, high = wilson_interval(hits, counts[ok])
    return {
        "prob_pred": pred,
        "prob_true": hits / counts[ok],
        "counts": counts[ok],
        "low": low,
        "high": high,
    }


def calibration_curve(
    result: Any,
    *,
    y: Any = None,
    proba: Any = None,
    n_bins: int | None = None,
    strategy: str = "auto",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Reliability diagram: observed frequency against mean predicted probability per bin,
    each point labelled with its bin's row count.

    With ``y`` and ``proba`` (0/1 labels and predicted probabilities of the
    positive class) the bins are recomputed (:func:`calibration_bins`: quantile
    bins when data are small) and drawn with 95% intervals; otherwise the
    evaluation's own bins are drawn, with counts when it records them.
    """
    ev = _evaluation(result, "calibration_curve()")
    if ev.calibration is None:
        raise ValueError("This evaluation has no calibration data (it is a regression).")
    cal = dataclasses.asdict(ev.calibration)
    if y is not None or proba is not None:
        if y is None or proba is None:
            raise ValueError("calibration_curve(): pass both y and proba, or neither.")
        cal = calibration_bins(y, proba, n_bins, strategy)
    ax = get_ax(ax, (4.2, 4.0))
    pred, true = np.asarray(cal["prob_pred"]), np.asarray(cal["prob_true"])
    if cal.get("low") is not None:
        err = np.vstack([true - np.asarray(cal["low"]), np.asarray(cal["high"]) - true])
        err = np.clip(err, 0.0, None)  # float noise where the interval touches 0 or 1
        ax.errorbar(
            pred, true, yerr=err, color=NEGATIVE, marker="o", capsize=2, label="model, 95% interval"
        )
    else:
        ax.plot(pred, true, color=NEGATIVE, marker="o", label="model")
    counts = cal.get("counts")
    same = counts is not None and len(set(np.asarray(counts).tolist())) == 1
    if counts is not None and same:
        ax.plot([], [], " ", label=f"{int(np.asarray(counts)[0]):,} rows in each bin")
    elif counts is not None:
        for x, yy, c in zip(pred, true, np.asarray(counts), strict=True):
            ax.annotate(
                f"{int(c):,}",
                (x, yy),
                xytext=(4, -4),
                textcoords="offset points",
                fontsize=7,
                color="#444444",
                va="top",
            )
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=0.8, label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    top_label = ev.task == "multiclass"
    ax.set_xlabel("mean predicted probability" + (" (top class)" if top_label else ""))
    ax.set_ylabel("observed frequency" + (" (top class correct)" if top_label else ""))
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(
        title
        or (
            "Calibration (numbers: rows per bin)"
            if counts is not None and not same
            else "Calibration"
        )
    )
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
