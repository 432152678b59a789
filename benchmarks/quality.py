"""How far to trust each method: faithfulness, stability, sanity and ground-truth error.

Every registered tabular attribution method, plus shap's Exact, Permutation
and Kernel explainers as references run side by side in this process, on the
same problems (pellucid.quality.problems(): linear, additive, interaction,
credit's true log-odds, a fitted tree ensemble) and a gradient-boosted
classifier trained on credit() (its log-odds explained; truth by brute force).

    .venv/bin/python benchmarks/quality.py [--rows 20] [--background 50] [--no-sanity]
        [--methods name,...] [--problems name,...] [--out table.md]

Prints one markdown table per problem; ``--out`` also writes them to a file.
Seconds are the time of one explanation of the rows after a warm-up call
(median of ``--repeats``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

from pellucid import Explanation, Model
from pellucid._registry import available
from pellucid.quality import (
    Problem,
    additive_problem,
    brute_force_shapley,
    credit_problem,
    interaction_problem,
    linear_problem,
    tree_problem,
    trust_summary,
)
from pellucid.quality._common import build_explainer, explain, method_name

# ---------------------------------------------------------------- shap references


class _Codec:
    """Float codes for a DataFrame (categories -> codes) and back, so shap sees numbers."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes
        self.categories = {
            c: frame[c].cat.categories
            for c in self.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns:
            if c in self.categories:
                codes = frame[c].cat.codes.to_numpy(dtype=float)
                cols.append(np.where(codes < 0, np.nan, codes))
            else:
                cols.append(frame[c].to_numpy(dtype=float, na_value=np.nan))
        return np.column_stack(cols)

    def decode(self, arr: np.ndarray) -> pd.DataFrame:
        out = {}
        for j, c in enumerate(self.columns):
            if c in self.categories:
                codes = np.where(np.isnan(arr[:, j]), -1, arr[:, j]).astype(int)
                out[c] = pd.Categorical.from_codes(codes, self.categories[c])
            else:
                out[c] = pd.Series(arr[:, j]).astype(self.dtypes[c])
        return pd.DataFrame(out, columns=self.columns)


def shap_reference(kind: str) -> Any:
    class ShapReference:
        """shap's explainer of the given kind behind the pellucid explainer protocol."""

        def __init__(self, model: Any, data: Any) -> None:
            self.model = Model(model) if not isinstance(model, Model) else model
            self.data = data
            self.codec = _Codec(data)

        def _f(self, arr: np.ndarray) -> np.ndarray:
            return self.model.predict(self.codec.decode(arr))

        def explain(self, X: pd.DataFrame, random_state: Any = 0) -> Explanation:
            import shap

            bg = self.codec.encode(self.data)
            x = self.codec.encode(X)
            if kind == "kernel":
                ex = shap.KernelExplainer(self._f, bg)
                values = ex.shap_values(x, silent=True, nsamples=2048)
            else:
                masker = shap.maskers.Independent(bg, max_samples=len(bg))
                cls = shap.explainers.Exact if kind == "exact" else shap.explainers.Permutation
                ex = cls(self._f, masker, **({} if kind == "exact" else {"seed": random_state}))
                kwargs = {} if kind == "exact" else {"max_evals": 40 * X.shape[1]}
                values = ex(x, **kwargs).values
            return Explanation(values=np.asarray(values), feature_names=list(X.columns))

    ShapReference.__name__ = f"shap.{kind}"
    return ShapReference


# ---------------------------------------------------------------- problems


def credit_model_problem(n_rows: int, n_background: int, random_state: int = 0) -> Problem:
    """The demo's model: gradient boosting on credit(), its log-odds explained; brute-force truth."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.datasets import credit

    X, y = credit(n_rows=3000, random_state=random_state)
    clf = HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=15, categorical_features="from_dtype", random_state=0
    ).fit(X.iloc[:2000], y.iloc[:2000])
    model = Model(clf, output="log_odds")
    rows = X.iloc[2000 : 2000 + n_rows].reset_index(drop=True)
    bg = X.iloc[2500 : 2500 + n_background].reset_index(drop=True)
    return Problem("credit_model", model, rows, bg, brute_force_shapley(model, rows, bg))


def interaction12_problem(n_rows: int, n_background: int, random_state: int = 0) -> Problem:
    """The interaction problem with 12 features, where sampling estimators no longer enumerate."""
    from dataclasses import replace

    p = interaction_problem(
        n_features=12, n_rows=n_rows, n_background=n_background, random_state=random_state
    )
    return replace(p, name="interaction12", description="additive + 3 interactions, 12 features")


def make_problems(names: list[str] | None, n_rows: int, n_background: int) -> list[Problem]:
    factories = {
        "linear": linear_problem,
        "additive": additive_problem,
        "interaction": interaction_problem,
        "interaction12": interaction12_problem,
        "credit": credit_problem,
        "tree_model": tree_problem,
        "credit_model": credit_model_problem,
    }
    chosen = names or list(factories)
    return [factories[n](n_rows=n_rows, n_background=n_background) for n in chosen]


# ---------------------------------------------------------------- run


def time_explain(method: Any, p: Problem, repeats: int) -> tuple[float, float, float]:
    """(median seconds, max abs error, relative error) of one explanation of p's rows."""
    times, values = [], None
    explain(build_explainer(method, p.model, p.background, 0, {}), p.X, 0)  # warm-up (JIT, caches)
    for _ in range(repeats):
        start = time.perf_counter()
        exp = explain(build_explainer(method, p.model, p.background, 0, {}), p.X, 0)
        times.append(time.perf_counter() - start)
        values = np.asarray(exp.values, dtype=float)
    assert values is not None
    if values.ndim == 3:
        values = values[:, :, -1]
    err = np.abs(values - p.truth)
    rel = float(np.linalg.norm(values - p.truth) / np.linalg.norm(p.truth))
    return statistics.median(times), float(err.max()), rel


def fmt(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "NO"
    if isinstance(v, float) and not np.isfinite(v):
        return "—"
    return format(v, spec) if isinstance(v, (float, int)) else str(v)


def run(args: argparse.Namespace) -> str:
    registered = available(kind="attribution", inputs="tabular")
    names = args.methods.split(",") if args.methods else registered
    methods: list[Any] = [n for n in names if n in registered]
    methods += [shap_reference(k) for k in ("exact", "permutation", "kernel")]
    problems = make_problems(
        args.problems.split(",") if args.problems else None, args.rows, args.background
    )
    out = []
    for p in problems:
        lines = [
            f"### {p.name}: {p.description or p.name} ({len(p.X)} rows, {p.X.shape[1]} features, "
            f"{len(p.background)} background rows)",
            "",
            "| method | max abs error | relative error | deletion gain | insertion gain "
            "| faithfulness corr | infidelity | seed variation | sensitivity | sanity | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for method in methods:
            name = method_name(method)
            try:
                seconds, max_err, rel = time_explain(method, p, args.repeats)
                summary = trust_summary(
                    p.model,
                    p.X,
                    methods=[method],
                    data=p.background,
                    y=_labels(p) if args.sanity else None,
                    truth=p.truth,
                    n_rows=len(p.X),
                    n_background=len(p.background),
                    sanity=args.sanity,
                )
            except (TypeError, ValueError, NotImplementedError) as exc:
                lines.append(f"| {name} | n/a: {type(exc).__name__}: {str(exc)[:80]} |" + " |" * 9)
                continue
            if not summary.rows:
                lines.append(f"| {name} | n/a: {summary.notes[0][:100]} |" + " |" * 9)
                continue
            r = summary.rows[0]
            lines.append(
                f"| {name} | {fmt(max_err, '.2e')} | {fmt(rel, '.2e')} | {fmt(r['deletion_gain'], '.3f')} "
                f"| {fmt(r['insertion_gain'], '.3f')} | {fmt(r['faithfulness_correlation'], '.3f')} "
                f"| {fmt(r['infidelity'], '.3g')} | {fmt(r['seed_variation'], '.3f')} "
                f"| {fmt(r['sensitivity'], '.3f')} | {fmt(r['sanity_passed'])} | {seconds:.3f} |"
            )
            print(f"  {p.name:12s} {name:22s} err={max_err:.2e} {r['verdict']}", flush=True)
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _labels(p: Problem) -> np.ndarray:
    """Labels for the label-permutation test: the model's own predictions on the background."""
    model = p.model if isinstance(p.model, Model) else Model(p.model)
    pred = model.predict(p.background)
    if model.is_classifier:  # log-odds here: the predicted class
        return (pred > 0).astype(int)
    return pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--background", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--methods", default="")
    parser.add_argument("--problems", default="")
    parser.add_argument("--no-sanity", dest="sanity", action="store_false")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    text = run(args)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
