"""compare(): several fitted binary classifiers on the same rows, with paired statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X_y
from .._model import Model, as_model
from ..metrics._subgroups import UNSET, subgroup_column, subgroup_mask, subgroups_argument
from ._metrics import BINARY_METRICS, LOSSES, BinaryScores
from ._results import ModelComparison
from ._stats import (
    bootstrap_counts,
    bootstrap_p_value,
    delong_test,
    holm,
    mcnemar,
    percentile_interval,
)

__all__ = ["compare"]


def compare(
    models: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    subgroups: Any = None,
    metrics: Any = None,
    n_boot: int = 1000,
    random_state: Any = None,
    reference: str | None = None,
    threshold: float | None = None,
    confidence: float = 0.95,
    n_bins: int = 10,
    explain_rows: int = 100,
    importance_rows: int = 1000,
    groups: Any = UNSET,
) -> ModelComparison:
    """Compare fitted binary classifiers on ``(X, y)`` with paired statistics.

    Parameters
    ----------
    models:
        ``{name: fitted model}`` (anything :class:`pellucid.Model` accepts),
        at least two, all with the same classes. The first is the reference
        (champion) unless ``reference`` names another.
    subgroups:
        A column of X or one label per row: metrics per group, the gap
        (largest minus smallest group value) per model, and whether each
        challenger widens or narrows it.
    metrics:
        Names among ``evaluate``'s binary metrics (default: all of them).
    n_boot:
        Bootstrap resamples, stratified by the label (and by group when
        ``subgroups`` is given), shared by all models so differences are paired.
    threshold:
        A row is predicted positive when its probability is at least this;
        None predicts the most probable class (0.5), as ``evaluate`` does.
    explain_rows, importance_rows:
        Explanation agreement runs on a seeded subsample: permutation
        importance (scorer ROC AUC) on ``importance_rows`` rows, Shapley
        values (TreeShap for tree models, sampled permutation Shapley
        otherwise) on the first ``explain_rows`` of them. 0 skips it.

    Returns
    -------
    ModelComparison
        Per-model metrics with percentile intervals; differences against the
        reference (DeLong for ROC AUC, McNemar mid-p for accuracy, paired
        bootstrap otherwise) with Holm-adjusted p-values; calibration and the
        Brier decomposition; group gaps; explanation agreement.
    """
    names, fitted = _check_models(models, reference)
    X, y_raw = check_X_y(X, y)
    subgroups = subgroups_argument("compare", subgroups, groups)
    group_values, group_name = subgroup_column(subgroups, X, "subgroups")
    metric_names = _check_metrics(metrics)
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be at least 100 for 95% intervals; got {n_boot!r}.")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must lie between 0.5 and 1; got {confidence!r}.")
    boot_rng, explain_rng = np.random.default_rng(random_state).spawn(2)
    scores = {n: _scores(m, X, y_raw, threshold, n) for n, m in fitted.items()}
    y01 = scores[names[0]].y
    group_rows = _group_rows(group_values)
    strata = y01 if group_values is None else _strata(y01, group_values)

    draws = _resample(scores, group_rows, metric_names, int(n_boot), strata, boot_rng)
    ones = np.ones((1, len(y01)))
    estimates = np.array(
        [[v[0] for v in s.metrics(ones, metric_names).values()] for s in scores.values()]
    )
    intervals = np.array(
        [[percentile_interval(draws[n]["all"][m], confidence) for m in metric_names] for n in names]
    )
    differences = _differences(names, scores, metric_names, estimates, draws, confidence)
    params: dict[str, Any] = {
        "n_boot": int(n_boot),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else None,
        "confidence": confidence,
        "stratified_by": "label" if group_values is None else f"label and {group_name or 'group'}",
        "positive_class": _plain(scores[names[0]].positive_class),
        "group_name": group_name,
        "notes": [],
    }
    result: dict[str, Any] = {}
    if group_rows is not None:
        result.update(_group_tables(names, scores, metric_names, group_rows, draws, confidence))
    if explain_rows > 0 or importance_rows > 0:
        from ._agreement import explanation_agreement  # the explainers load only when used

        result.update(
            explanation_agreement(
                names, fitted, X, y_raw, explain_rows, importance_rows, explain_rng, params
            )
        )
    calibration, decomposition = _calibration(names, scores, n_bins)
    return ModelComparison(
        models=names,
        reference=names[0],
        n_rows=len(y01),
        threshold=0.5 if threshold is None else float(threshold),
        base_rate=float(y01.mean()),
        metric_names=metric_names,
        estimates=estimates,
        lower=intervals[..., 0],
        upper=intervals[..., 1],
        differences=differences,
        calibration=calibration,
        brier_decomposition=decomposition,
        params=params,
        **result,
    )


# ---------------------------------------------------------------- inputs


def _check_models(models: Any, reference: str | None) -> tuple[tuple[str, ...], dict[str, Any]]:
    if not isinstance(models, Mapping) or len(models) < 2:
        raise ValueError("models must be a dict of at least two {name: fitted model}.")
    names = [str(n) for n in models]
    if len(set(names)) != len(names):
        raise ValueError(f"Model names must be distinct as strings; got {names}.")
    fitted = {str(n): m for n, m in models.items()}
    if reference is not None:
        if reference not in fitted:
            raise ValueError(f"reference={reference!r} is not one of {names}.")
        names.remove(reference)
        names.insert(0, reference)
    return tuple(names), {n: fitted[n] for n in names}


def _check_metrics(metrics: Any) -> tuple[str, ...]:
    if metrics is None:
        return BINARY_METRICS
    chosen = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in chosen if m not in BINARY_METRICS]
    if unknown or not chosen:
        raise ValueError(f"Unknown metrics {unknown}; choose among {list(BINARY_METRICS)}.")
    return chosen


def _scores(model: Any, X: Any, y: np.ndarray, threshold: float | None, name: str) -> BinaryScores:
    """Probabilities and decisions of one model, checked to be a binary classifier knowing y."""
    m = as_model(model)
    if not m.is_classifier:
        raise ValueError(f"compare() needs classifiers; model {name!r} is a {m.task} model.")
    pm = m if m.output == "probability" else Model(m.raw_model, task=m.task)
    classes = np.asarray(pm.classes)
    if len(classes) != 2:
        raise ValueError(
            f"compare() needs binary classifiers; model {name!r} has classes {classes.tolist()}."
        )
    unknown = ~np.isin(y, classes)
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"y has label {y[pos].tolist()!r} at row {pos}, which model {name!r} does not know "
            f"(classes: {classes.tolist()})."
        )
    y01 = (y == classes[1]).astype(float)
    if y01.min() == y01.max():
        raise DataError(f"y holds only one class ({y[0]!r}); comparing needs both.")
    proba = np.asarray(pm.predict(X), dtype=float)
    if threshold is None:
        predicted = np.argmax(proba, axis=1).astype(float)
    else:
        predicted = (proba[:, 1] >= threshold).astype(float)
    return BinaryScores(y01, proba, predicted, classes[1])


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _group_rows(group_values: np.ndarray | None) -> dict[str, np.ndarray] | None:
    if group_values is None:
        return None
    return {str(g): np.flatnonzero(subgroup_mask(group_values, g)) for g in pd.unique(group_values)}


def _strata(y01: np.ndarray, group_values: np.ndarray) -> np.ndarray:
    codes = pd.factorize(pd.Series(group_values, dtype=object).fillna("<missing>"))[0]
    return codes * 2 + y01.astype(int)


# ---------------------------------------------------------------- bootstrap


def _resample(
    scores: Mapping[str, BinaryScores],
    group_rows: Mapping[str, np.ndarray] | None,
    metric_names: tuple[str, ...],
    n_boot: int,
    strata: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``draws[model][group or 'all'][metric] -> (n_boot,)``, every model on the same resamples."""
    parts: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {
        n: {"all": {m: [] for m in metric_names}} for n in scores
    }
    subsets: dict[str, dict[str, BinaryScores]] = {}
    for n, s in scores.items():
        subsets[n] = {}
        for g, rows in (group_rows or {}).items():
            subsets[n][g] = BinaryScores(s.y[rows], s.proba[rows], s.predicted[rows])
            parts[n][g] = {m: [] for m in metric_names}
    for counts in bootstrap_counts(strata, n_boot, rng):
        for n, s in scores.items():
            for m, v in s.metrics(counts, metric_names).items():
                parts[n]["all"][m].append(v)
        for g, rows in (group_rows or {}).items():
            in_group = counts[:, rows]  # one copy per group, shared by the models
            for n in scores:
                for m, v in subsets[n][g].metrics(in_group, metric_names).items():
                    parts[n][g][m].append(v)
    return {
        n: {g: {m: np.concatenate(v) for m, v in per.items()} for g, per in by.items()}
        for n, by in parts.items()
    }


def _differences(
    names: tuple[str, ...],
    scores: Mapping[str, BinaryScores],
    metric_names: tuple[str, ...],
    estimates: np.ndarray,
    draws: Mapping[str, Any],
    confidence: float,
) -> dict[str, np.ndarray]:
    ref = names[0]
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(names[1:], start=1):
        for j, metric in enumerate(metric_names):
            diff = float(estimates[i, j] - estimates[0, j])
            paired = draws[name]["all"][metric] - draws[ref]["all"][metric]
            lower, upper = percentile_interval(paired, confidence)
            if metric == "roc_auc":
                test = delong_test(
                    scores[ref].y,
                    scores[ref].positive_score,
                    scores[name].positive_score,
                    confidence=confidence,
                )
                row = ("DeLong", test.p_value, test.lower, test.upper)
            elif metric == "accuracy":
                p = mcnemar(scores[ref].correct, scores[name].correct).p_mid
                row = ("McNemar mid-p", p, lower, upper)
            else:
                row = ("paired bootstrap", bootstrap_p_value(paired), lower, upper)
            rows.append(
                {
                    "model": name,
                    "metric": metric,
                    "difference": diff,
                    "lower": row[2],
                    "upper": row[3],
                    "test": row[0],
                    "p_value": row[1],
                    "higher_is_better": metric not in LOSSES,
                }
            )
    table = {
        k: np.array(
            [r[k] for r in rows], dtype=object if k in ("model", "metric", "test") else None
        )
        for k in rows[0]
    }
    table["p_holm"] = holm(table["p_value"].astype(float))
    return table


# ---------------------------------------------------------------- groups


def _group_tables(
    names: tuple[str, ...],
    scores: Mapping[str, BinaryScores],
    metric_names: tuple[str, ...],
    group_rows: Mapping[str, np.ndarray],
    draws: Mapping[str, Any],
    confidence: float,
) -> dict[str, dict[str, np.ndarray]]:
    """Metrics per group, the gap (max - min over groups) per model, its change vs the reference."""
    per_group: list[dict[str, Any]] = []
    gap_point: dict[tuple[str, str], float] = {}
    gap_draws: dict[tuple[str, str], np.ndarray] = {}
    for n in names:
        s = scores[n]
        values = {}
        for g, rows in group_rows.items():
            sub = BinaryScores(s.y[rows], s.proba[rows], s.predicted[rows])
            point = {
                m: float(v[0])
                for m, v in sub.metrics(np.ones((1, len(rows))), metric_names).items()
            }
            values[g] = point
            per_group.append(
                {
                    "model": n,
                    "group": g,
                    "n_rows": len(rows),
                    "base_rate": float(s.y[rows].mean()),
                    **point,
                }
            )
        for m in metric_names:
            gap_point[n, m] = _gap(np.array([[values[g][m] for g in group_rows]]))[0]
            gap_draws[n, m] = _gap(np.vstack([draws[n][g][m] for g in group_rows]).T)
    gaps: list[dict[str, Any]] = []
    ref = names[0]
    for n in names:
        for m in metric_names:
            row = {"model": n, "metric": m, "gap": gap_point[n, m]}
            if n == ref:
                row.update(
                    change=0.0, lower=np.nan, upper=np.nan, p_value=np.nan, verdict="reference"
                )
            else:
                paired = gap_draws[n, m] - gap_draws[ref, m]
                lower, upper = percentile_interval(paired, confidence)
                change = gap_point[n, m] - gap_point[ref, m]
                word = "widens" if lower > 0 else "narrows" if upper < 0 else "no clear change"
                row.update(
                    change=change,
                    lower=lower,
                    upper=upper,
                    p_value=bootstrap_p_value(paired),
                    verdict=word,
                )
            gaps.append(row)
    return {"group_metrics": _columns(per_group), "group_gaps": _columns(gaps)}


def _gap(values: np.ndarray) -> np.ndarray:
    """Largest minus smallest value over groups (last axis); NaN when any group is undefined."""
    return values.max(axis=-1) - values.min(axis=-1)


def _columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    out = {}
    for k in rows[0]:
        values = [r[k] for r in rows]
        numeric = all(isinstance(v, (int, float, np.integer, np.floating)) for v in values)
        out[k] = np.array(values) if numeric else np.array([str(v) for v in values], dtype=object)
    return out


# ---------------------------------------------------------------- calibration


def _calibration(
    names: tuple[str, ...], scores: Mapping[str, BinaryScores], n_bins: int
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Reliability curves on equal-width bins and Murphy's Brier decomposition per model."""
    curves, rows = {}, []
    for n in names:
        s = scores[n]
        curve, parts = brier_decomposition(s.y, s.positive_score, n_bins)
        curves[n] = curve
        rows.append({"model": n, **parts})
    return curves, _columns(rows)


def brier_decomposition(
    y: np.ndarray, p: np.ndarray, n_bins: int = 10
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Reliability curve and Brier = reliability - resolution + uncertainty + residual.

    Murphy (1973) on ``n_bins`` equal-width bins of the predicted
    probability: reliability = sum_k n_k (mean p_k - rate_k)^2 / n,
    resolution = sum_k n_k (rate_k - rate)^2 / n, uncertainty =
    rate (1 - rate). ``residual`` (the within-bin variation of the
    predictions) is zero when predictions are constant within each bin.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bins, weights=p, minlength=n_bins) / count
        rate = np.bincount(bins, weights=y, minlength=n_bins) / count
    used = count > 0
    base = y.mean()
    brier = float(np.mean((p - y) ** 2))
    reliability = float(np.sum(count[used] * (mean_p[used] - rate[used]) ** 2) / len(y))
    resolution = float(np.sum(count[used] * (rate[used] - base) ** 2) / len(y))
    uncertainty = float(base * (1.0 - base))
    curve = {"prob_pred": mean_p, "prob_true": rate, "count": count}
    parts = {
        "brier": brier,
        "reliability": reliability,
        "resolution": resolution,
        "uncertainty": uncertainty,
        "residual": brier - (reliability - resolution + uncertainty),
    }
    return curve, parts
