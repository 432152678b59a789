"""Do the compared models decide for the same reasons? Importance ranks and per-row reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["explanation_agreement", "row_rank_correlation"]

IMPORTANCE_SCORER = "roc_auc"
IMPORTANCE_REPEATS = 5
SHAP_BACKGROUND_ROWS = 50
SHAP_BUDGET = 64  # coalition evaluations per row for the sampled estimator: ranks, not decimals
ROWS_SHOWN = 5
REASONS_SHOWN = 3


def explanation_agreement(
    names: tuple[str, ...],
    fitted: Mapping[str, Any],
    X: Any,
    y: np.ndarray,
    explain_rows: int,
    importance_rows: int,
    rng: np.random.Generator,
    params: dict[str, Any],
) -> dict[str, dict[str, np.ndarray]]:
    """Permutation importance and mean |SHAP| per model on one seeded subsample, and their agreement."""
    n_sample = min(len(y), max(int(explain_rows), int(importance_rows)))
    rows = np.sort(rng.choice(len(y), size=n_sample, replace=False))
    seed = int(rng.integers(2**31 - 1))
    X_s = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
    n_imp, n_exp = min(n_sample, int(importance_rows)), min(n_sample, int(explain_rows))
    importance: dict[str, np.ndarray] = {}
    shap: dict[str, np.ndarray] = {}
    methods: dict[str, str] = {}
    features: tuple[str, ...] = ()
    for name in names:
        if n_imp > 0:
            fi = _permutation(fitted[name], X_s[:n_imp], y[rows][:n_imp], seed)
            importance[f"{name}: permutation"] = fi.importances_mean
            features = fi.feature_names
        if n_exp > 0:
            exp = _shap(fitted[name], X_s, n_exp, seed)
            shap[name] = exp[0]
            methods[name] = exp[1]
            features = exp[2]
            importance[f"{name}: mean |SHAP|"] = np.abs(exp[0]).mean(axis=0)
    params["notes"].append(
        f"Explanation agreement on {n_sample} of {len(y)} rows, sampled with the random_state: "
        f"permutation importance on {n_imp} rows (scorer {IMPORTANCE_SCORER}, score drop, "
        f"{IMPORTANCE_REPEATS} repeats); Shapley values on {n_exp} rows "
        f"({', '.join(f'{k}: {v}' for k, v in methods.items())})."
    )
    params["importance_scoring"] = IMPORTANCE_SCORER
    params["explained_rows"] = rows[:n_exp].tolist()
    out = {
        "importance": {"feature": np.array(features, dtype=object), **importance},
        "agreement": _agreement_table(names, importance),
    }
    if n_exp > 1 and len(features) > 1:
        out["disagreements"] = _disagreements(names, shap, rows[:n_exp], features)
    return out


def _permutation(model: Any, X: Any, y: np.ndarray, seed: int) -> Any:
    from ..effects import permutation_importance

    return permutation_importance(
        model,
        X,
        y,
        scoring=IMPORTANCE_SCORER,
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
        n_jobs=1,  # a few thousand rows: worker start-up would cost more than it saves
    )


def _shap(model: Any, X_s: Any, n_exp: int, seed: int) -> tuple[np.ndarray, str, tuple[str, ...]]:
    """Shapley values of the positive class: the dispatcher's TreeShap for trees (exact and
    fast), else sampled permutation Shapley on a small budget (ranks, not decimals)."""
    from .._dispatch import choose
    from ..shapley import explain, summarize

    rows = X_s[:n_exp]
    if choose(model, rows.shape[1]).method == "tree_shap":
        exp = explain(model, rows, random_state=seed)
    else:
        background = summarize(X_s, SHAP_BACKGROUND_ROWS, random_state=seed)
        exp = explain(
            model,
            rows,
            background=background,
            method="permutation_shap",
            budget=SHAP_BUDGET,
            random_state=seed,
        )
    # One output per class: the positive class, the last of two.
    values = np.asarray(exp.select_output().values, dtype=float)
    unit = exp.output_kind or "model output"
    return values, f"{exp.method} ({unit})", tuple(exp.feature_names)


def _agreement_table(
    names: tuple[str, ...], importance: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    rows: list[tuple[str, str, float, float]] = []
    ref = names[0]
    for kind in ("permutation", "mean |SHAP|"):
        base = importance.get(f"{ref}: {kind}")
        if base is None:
            continue
        for name in names[1:]:
            other = importance[f"{name}: {kind}"]
            rows.append(
                (
                    name,
                    kind,
                    float(stats.spearmanr(base, other).statistic),
                    float(stats.kendalltau(base, other).statistic),
                )
            )
    return {
        "model": np.array([r[0] for r in rows], dtype=object),
        "kind": np.array([r[1] for r in rows], dtype=object),
        "spearman": np.array([r[2] for r in rows]),
        "kendall": np.array([r[3] for r in rows]),
    }


def row_rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of two attribution matrices row by row (NaN for a constant row)."""
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    out = np.full(len(a), np.nan)
    np.divide((ra * rb).sum(axis=1), den, out=out, where=den > 0)
    return out


def _reasons(values: np.ndarray, features: tuple[str, ...]) -> str:
    top = np.argsort(-np.abs(values), kind="stable")[:REASONS_SHOWN]
    return ", ".join(f"{features[j]} ({values[j]:+.3g})" for j in top)


def _disagreements(
    names: tuple[str, ...],
    shap: Mapping[str, np.ndarray],
    rows: np.ndarray,
    features: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Per challenger, the rows whose Shapley values rank the features least alike."""
    ref = names[0]
    out: list[tuple[int, str, float, str, str]] = []
    for name in names[1:]:
        rho = row_rank_correlation(shap[ref], shap[name])
        order = np.argsort(np.where(np.isnan(rho), np.inf, rho), kind="stable")[:ROWS_SHOWN]
        out += [
            (
                int(rows[i]),
                name,
                float(rho[i]),
                _reasons(shap[ref][i], features),
                _reasons(shap[name][i], features),
            )
            for i in order
        ]
    return {
        "row": np.array([r[0] for r in out], dtype=np.int64),
        "model": np.array([r[1] for r in out], dtype=object),
        "rank_correlation": np.array([r[2] for r in out]),
        "reference_reasons": np.array([r[3] for r in out], dtype=object),
        "model_reasons": np.array([r[4] for r in out], dtype=object),
    }
