"""Plots of a model comparison (ModelComparison): metric intervals, paired differences,
calibration side by side and importance side by side.

Each draws on ``ax=`` (else a new pyplot Axes) and returns the Axes. Models keep
one colour everywhere (Okabe & Ito's palette, in the comparison's order), so the
reference reads the same in every panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import NEUTRAL, category_color, check_result, compact_ticks, get_ax, wrap

__all__ = ["compare_calibration", "compare_differences", "compare_importance", "compare_metrics"]

# A difference that the test finds clear, by whether it favours the challenger.
BETTER = "#009E73"  # Okabe & Ito's bluish green
WORSE = "#D55E00"  # vermillion
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
IMPORTANCE_KINDS = {"permutation": "permutation", "shap": "mean |SHAP|"}


def _comparison(result: Any, what: str) -> Any:
    from ..comparison import ModelComparison

    check_result(result, ModelComparison, what)
    return result


def _label(metric: str) -> str:
    from ..comparison import metric_label

    return metric_label(metric)


def _losses(cmp: Any) -> set[str]:
    d = cmp.differences
    return {str(m) for m, hib in zip(d["metric"], d["higher_is_better"], strict=True) if not hib}


def _chosen_metrics(cmp: Any, metrics: Sequence[str] | str | None, what: str) -> list[str]:
    if metrics is None:
        return list(cmp.metric_names)
    chosen = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in chosen if m not in cmp.metric_names]
    if unknown or not chosen:
        raise ValueError(
            f"{what}: unknown metrics {unknown}; this comparison has {list(cmp.metric_names)}."
        )
    return chosen


def _interval_words(cmp: Any) -> str:
    level = float(cmp.params.get("confidence", 0.95))
    return f"{level:.0%} interval"


def compare_metrics(
    result: Any,
    *,
    metrics: Sequence[str] | str | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Forest plot: each metric of each model as a point with its bootstrap interval.

    One row per metric, the models side by side within it (one colour and
    marker per model); losses are marked "lower is better".
    """
    cmp = _comparison(result, "compare_metrics()")
    chosen = _chosen_metrics(cmp, metrics, "compare_metrics()")
    n_models = len(cmp.models)
    ax = get_ax(ax, (6.0, 0.9 + 0.22 * len(chosen) * n_models + 0.2 * len(chosen)))
    losses = _losses(cmp)
    offsets = (np.arange(n_models) - (n_models - 1) / 2) * (0.7 / max(n_models, 1))
    centres = np.arange(len(chosen))[::-1].astype(float)
    for i, model in enumerate(cmp.models):
        cols = [cmp.metric_names.index(m) for m in chosen]
        est, lo, hi = cmp.estimates[i, cols], cmp.lower[i, cols], cmp.upper[i, cols]
        err = np.clip(np.vstack([est - lo, hi - est]), 0.0, None)
        ax.errorbar(
            est,
            centres - offsets[i],
            xerr=err,
            fmt=MARKERS[i % len(MARKERS)],
            color=category_color(i),
            capsize=2,
            markersize=5,
            linewidth=1.2,
            label=f"{model} (reference)" if model == cmp.reference else model,
        )
    names = [wrap(_label(m), 22) + ("\n(lower is better)" if m in losses else "") for m in chosen]
    ax.set_yticks(centres, names)
    ax.set_ylim(-0.6, len(chosen) - 0.4)
    for edge in centres[:-1] - 0.5:
        ax.axhline(edge, color="#e0e0e0", linewidth=0.6, zorder=0)
    ax.set_xlabel(f"value (point and {_interval_words(cmp)}, stratified bootstrap)")
    ax.set_ylabel("metric")
    compact_ticks(ax.xaxis)
    ax.legend(loc="best", fontsize="small", title="model", title_fontsize="small")
    ax.set_title(title or f"Metrics per model ({cmp.n_rows:,} rows)")
    return ax


def compare_differences(
    result: Any,
    *,
    metrics: Sequence[str] | str | None = None,
    alpha: float = 0.05,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Each challenger minus the reference, per metric, with its interval; the test and the
    Holm-adjusted p-value are written under the metric's name.

    Green: the challenger is clearly better (adjusted p < ``alpha``); vermillion:
    clearly worse; grey: no clear difference. For losses (Brier score, log
    loss) a negative difference is the better one.
    """
    cmp = _comparison(result, "compare_differences()")
    chosen = _chosen_metrics(cmp, metrics, "compare_differences()")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"compare_differences(): alpha must lie in (0, 1); got {alpha!r}.")
    d = cmp.differences
    rows = [i for i in range(len(d["model"])) if str(d["metric"][i]) in chosen]
    if not rows:
        raise ValueError("compare_differences(): this comparison has no paired differences.")
    ax = get_ax(ax, (6.0, 1.0 + 0.48 * len(rows)))
    several = len(cmp.challengers) > 1
    y = np.arange(len(rows))[::-1].astype(float)
    labels, seen = [], set()
    for pos, i in zip(y, rows, strict=True):
        diff, lo, hi = (float(d[k][i]) for k in ("difference", "lower", "upper"))
        p = float(d["p_holm"][i])
        clear = np.isfinite(p) and p < alpha
        better = (diff > 0) == bool(d["higher_is_better"][i])
        color, key = (
            (BETTER, "challenger better") if clear and better else
            (WORSE, "challenger worse") if clear else
            (NEUTRAL, "no clear difference")
        )  # fmt: skip
        ax.errorbar(
            diff,
            pos,
            xerr=np.clip([[diff - lo], [hi - diff]], 0.0, None),
            fmt="o",
            color=color,
            capsize=3,
            markersize=5,
            label=None if key in seen else key,
        )
        seen.add(key)
        metric = _label(str(d["metric"][i]))
        head = f"{d['model'][i]}: {metric}" if several else metric
        labels.append(f"{head}\n{d['test'][i]}, adj. p = {p:.2g}")
    ax.set_yticks(y, labels, fontsize="small")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(wrap(f"difference, challenger − {cmp.reference} ({_interval_words(cmp)})", 60))
    ax.set_ylabel("metric" if not several else "challenger: metric")
    compact_ticks(ax.xaxis)
    ax.legend(
        loc="best", fontsize="small", title=f"Holm-adjusted p < {alpha:g}", title_fontsize="small"
    )
    ax.set_title(title or f"Paired differences against {cmp.reference}")
    return ax


def compare_calibration(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Reliability curves of every model on one diagram, each with its Brier score.

    Points are the comparison's bins (equal width; empty bins are left out):
    mean predicted probability against the observed frequency.
    """
    cmp = _comparison(result, "compare_calibration()")
    if not cmp.calibration:
        raise ValueError("compare_calibration(): this comparison has no calibration curves.")
    ax = get_ax(ax, (4.6, 4.4))
    brier = dict(
        zip(
            (str(m) for m in cmp.brier_decomposition.get("model", ())),
            np.asarray(cmp.brier_decomposition.get("brier", ()), dtype=float),
            strict=True,
        )
    )
    for i, model in enumerate(cmp.models):
        curve = cmp.calibration[model]
        used = np.asarray(curve["count"], dtype=float) > 0
        score = f", Brier {brier[model]:.3f}" if model in brier else ""
        ax.plot(
            np.asarray(curve["prob_pred"], dtype=float)[used],
            np.asarray(curve["prob_true"], dtype=float)[used],
            marker=MARKERS[i % len(MARKERS)],
            color=category_color(i),
            markersize=4,
            label=f"{model}{score}",
        )
    ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=0.8, label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    positive = cmp.params.get("positive_class")
    event = "" if positive is None else f" of class {positive}"
    ax.set_xlabel(f"mean predicted probability{event}")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title or "Calibration")
    return ax


def compare_importance(
    result: Any,
    *,
    kind: str = "permutation",
    max_features: int = 15,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Feature importance of every model side by side: grouped bars per feature.

    ``kind="permutation"``: the drop in the comparison's scorer when the
    feature is shuffled; ``kind="shap"``: mean |SHAP value|. Features are
    ordered by their largest importance over the models; the legend gives
    each challenger's rank correlation (Spearman) with the reference.
    """
    cmp = _comparison(result, "compare_importance()")
    if kind not in IMPORTANCE_KINDS:
        raise ValueError(
            f"compare_importance(): kind must be one of {list(IMPORTANCE_KINDS)}; got {kind!r}."
        )
    if max_features < 1:
        raise ValueError(f"max_features must be at least 1; got {max_features!r}.")
    word = IMPORTANCE_KINDS[kind]
    imp = cmp.importance or {}
    columns = [f"{m}: {word}" for m in cmp.models]
    if not all(c in imp for c in columns):
        raise ValueError(
            f"compare_importance(): this comparison has no {word} importance "
            "(compare() was run with explain_rows=0 or importance_rows=0)."
        )
    features = [str(f) for f in imp["feature"]]
    values = np.vstack([np.asarray(imp[c], dtype=float) for c in columns])  # (models, features)
    order = np.argsort(-np.nanmax(values, axis=0), kind="stable")[:max_features]
    n_models = len(cmp.models)
    ax = get_ax(ax, (6.0, 0.9 + (0.12 * n_models + 0.12) * len(order)))
    height = 0.8 / n_models
    centres = np.arange(len(order))[::-1].astype(float)
    rho = _spearman(cmp, word)
    for i, model in enumerate(cmp.models):
        note = " (reference)" if model == cmp.reference else (
            f" (Spearman {rho[model]:.2f})" if model in rho else ""
        )  # fmt: skip
        ax.barh(
            centres + (n_models - 1) / 2 * height - i * height,
            values[i, order],
            height=height,
            color=category_color(i),
            label=f"{model}{note}",
        )
    ax.set_yticks(centres, [wrap(features[j]) for j in order])
    ax.axvline(0.0, color="black", linewidth=0.6)
    if kind == "permutation":
        scoring = cmp.params.get("importance_scoring")
        from ..effects import score_change

        xlabel = f"{score_change(scoring)} when shuffled (mean over repeats)"
    else:
        xlabel = "mean |SHAP value| (positive class)"
    ax.set_xlabel(wrap(xlabel, 60))
    ax.set_ylabel("feature")
    compact_ticks(ax.xaxis)
    ax.legend(loc="lower right", fontsize="small", title="model", title_fontsize="small")
    ax.set_title(title or ("Permutation importance" if kind == "permutation" else "Mean |SHAP|"))
    return ax


def _spearman(cmp: Any, word: str) -> dict[str, float]:
    """Each challenger's rank correlation with the reference for one kind of importance."""
    table = cmp.agreement or {}
    if "model" not in table:
        return {}
    return {
        str(m): float(r)
        for m, k, r in zip(table["model"], table["kind"], table["spearman"], strict=True)
        if str(k) == word and np.isfinite(r)
    }
