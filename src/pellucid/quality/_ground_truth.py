"""Ground truth: problems whose Shapley values are known, and each method's error on them.

The truth is the interventional Shapley value with the problem's background
rows as the reference distribution, ``v(S) = mean_b f(x_S, b_rest)``, the
quantity the SHAP estimators compute. For a model that is a sum of terms,
each depending on a few features, Shapley values split over the terms: a
term of one feature gives ``g(x_i) - mean_b g(b_i)`` to that feature (so a
linear model gives ``w_i (x_i - mean_b b_i)``) and a term of a few features
is shared among them by the Shapley formula over those features alone.
For a fitted model (the tree problem) the truth is the brute-force
enumeration of every coalition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import Any

import numpy as np
import pandas as pd

from .._model import as_model
from .._results import Explanation
from ._common import Composer, Target, as_rng, build_explainer, explain, removal_values
from ._results import GroundTruthReport, GroundTruthResult

__all__ = [
    "GroundTruthReport",
    "Problem",
    "additive_problem",
    "brute_force_shapley",
    "credit_problem",
    "ground_truth",
    "interaction_problem",
    "linear_problem",
    "problems",
    "tree_problem",
]

Term = tuple[tuple[int, ...], Callable[[pd.DataFrame], np.ndarray]]


@dataclass(frozen=True, eq=False)
class Problem:
    """A model, rows to explain, background rows and the true Shapley values of those rows."""

    name: str
    model: Any
    X: pd.DataFrame
    background: pd.DataFrame
    truth: np.ndarray
    description: str = ""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.X.columns)


# ---------------------------------------------------------------- the truth


def term_shapley(X: pd.DataFrame, background: pd.DataFrame, terms: Sequence[Term]) -> np.ndarray:
    """Exact interventional Shapley values of ``f = sum of terms``; each term is
    ``(features it depends on, g(frame) -> (n,))``."""
    n, d = X.shape
    composer = Composer(X, background)
    m = composer.n_bg
    phi = np.zeros((n, d))
    for feats, g in terms:
        t = len(feats)

        def value(kept: tuple[int, ...], g: Callable[[pd.DataFrame], np.ndarray] = g) -> np.ndarray:
            keep = np.zeros((n * m, d), dtype=bool)
            keep[:, list(kept)] = True
            mixed = composer(np.repeat(np.arange(n), m), np.tile(np.arange(m), n), keep)
            return np.asarray(g(mixed), dtype=float).reshape(n, m).mean(axis=1)

        values = {s: value(s) for r in range(t + 1) for s in combinations(feats, r)}
        for i in feats:
            others = [f for f in feats if f != i]
            for r in range(t):
                weight = factorial(r) * factorial(t - r - 1) / factorial(t)
                for s in combinations(others, r):
                    with_i = tuple(sorted((*s, i)))
                    phi[:, i] += weight * (values[with_i] - values[s])
    return phi


def brute_force_shapley(
    model: Any, X: Any, background: Any, *, output: int | str | None = None
) -> np.ndarray:
    """Interventional Shapley values by enumerating all 2^d coalitions (small d only).

    The reference every exact method must reproduce: ``(n, d)`` for the
    model's single output (or the chosen ``output``).
    """
    d = X.shape[1]
    if d > 14:
        raise ValueError(
            f"Brute force over 2^{d} coalitions is too large; use at most 14 features."
        )
    n = X.shape[0]
    pred = as_model(model).predict(X)
    k = pred.shape[1] if pred.ndim == 2 else 0
    probe = Explanation(  # stands for an explanation of the chosen output
        values=np.zeros((n, d, k) if k else (n, d)),
        output_names=tuple(str(j) for j in range(k)) if k else None,
    )
    target = Target(model, X, probe, output)
    composer = Composer(X, background)
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)
    rows = np.repeat(np.arange(n), len(masks))
    keep = np.tile(masks, (n, 1))
    v = removal_values(target, composer, rows, keep).reshape(n, len(masks))
    sizes = masks.sum(axis=1)
    phi = np.zeros((n, d))
    for i in range(d):
        without = np.flatnonzero(~masks[:, i])
        with_i = without + (1 << i)
        s = sizes[without]
        weight = np.array([factorial(k) * factorial(d - k - 1) / factorial(d) for k in s])
        phi[:, i] = (v[:, with_i] - v[:, without]) @ weight
    return phi


# ---------------------------------------------------------------- problems


def _frame(rng: np.random.Generator, n: int, d: int) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{j}" for j in range(d)])


def _split(frame: pd.DataFrame, n_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame.iloc[:n_rows].reset_index(drop=True), frame.iloc[n_rows:].reset_index(drop=True)


class _SumOfTerms:
    """A model ``f(X) = intercept + sum of terms``, callable on DataFrames."""

    def __init__(self, terms: Sequence[Term], intercept: float = 0.0) -> None:
        self.terms = list(terms)
        self.intercept = intercept

    def __call__(self, X: pd.DataFrame) -> np.ndarray:
        total = np.full(len(X), self.intercept, dtype=float)
        for _, g in self.terms:
            total += np.asarray(g(X), dtype=float)
        return total


def _col(j: int) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda X: X.iloc[:, j].to_numpy(dtype=float)


def linear_problem(
    n_features: int = 6, n_rows: int = 20, n_background: int = 50, random_state: Any = 0
) -> Problem:
    """``f(x) = 0.5 + w . x``, x standard normal; truth ``w_i (x_i - mean_b b_i)``."""
    rng = as_rng(random_state)
    w = rng.normal(size=n_features) * 2
    X, bg = _split(_frame(rng, n_rows + n_background, n_features), n_rows)

    def term(j: int) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda F: w[j] * _col(j)(F)

    terms = [((j,), term(j)) for j in range(n_features)]
    truth = w * (X.to_numpy() - bg.to_numpy().mean(axis=0))
    return Problem("linear", _SumOfTerms(terms, 0.5), X, bg, truth, "linear, w ~ N(0, 4)")


_SHAPES: list[Callable[[np.ndarray], np.ndarray]] = [
    lambda x: np.sin(2 * x),
    lambda x: x**2,
    np.abs,
    lambda x: np.exp(x / 2),
    lambda x: np.tanh(3 * x),
    lambda x: np.maximum(x, 0),
]


def _additive_terms(n_features: int, rng: np.random.Generator) -> list[Term]:
    w = rng.choice([-2.0, -1.0, 1.0, 2.0], size=n_features)

    def term(j: int) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda F: w[j] * _SHAPES[j % len(_SHAPES)](_col(j)(F))

    return [((j,), term(j)) for j in range(n_features)]


def additive_problem(
    n_features: int = 6, n_rows: int = 20, n_background: int = 50, random_state: Any = 0
) -> Problem:
    """``f(x) = sum_i w_i f_i(x_i)`` with non-linear f_i; truth ``w_i (f_i(x_i) - mean_b f_i(b_i))``."""
    rng = as_rng(random_state)
    terms = _additive_terms(n_features, rng)
    X, bg = _split(_frame(rng, n_rows + n_background, n_features), n_rows)
    truth = np.column_stack(
        [g(X) - g(bg).mean() for _, g in terms]  # one term per feature
    )
    return Problem("additive", _SumOfTerms(terms), X, bg, truth, "additive, non-linear shapes")


def interaction_problem(
    n_features: int = 6, n_rows: int = 20, n_background: int = 50, random_state: Any = 0
) -> Problem:
    """The additive problem plus ``1.5 x0 x1``, ``max(x2, 0) x3`` and ``x1 x4 x5``.

    Interaction terms are split among their features by the Shapley formula
    over those features alone (for ``x0 x1`` with background means m and
    product mean m01: x0 gets ``(x0 m1 - m01 + x0 x1 - m0 x1) / 2``).
    """
    if n_features < 6:
        raise ValueError(f"interaction_problem needs at least 6 features; got {n_features}.")
    rng = as_rng(random_state)
    terms = _additive_terms(n_features, rng)
    terms += [
        ((0, 1), lambda F: 1.5 * _col(0)(F) * _col(1)(F)),
        ((2, 3), lambda F: np.maximum(_col(2)(F), 0) * _col(3)(F)),
        ((1, 4, 5), lambda F: _col(1)(F) * _col(4)(F) * _col(5)(F)),
    ]
    X, bg = _split(_frame(rng, n_rows + n_background, n_features), n_rows)
    truth = term_shapley(X, bg, terms)
    return Problem("interaction", _SumOfTerms(terms), X, bg, truth, "additive + 3 interactions")


def credit_problem(n_rows: int = 20, n_background: int = 50, random_state: Any = 0) -> Problem:
    """The true log-odds of :func:`pellucid.datasets.credit` (10 mixed-type features,
    one interaction), explained as a function; truth from :func:`~pellucid.datasets.credit_terms`."""
    from ..datasets import credit, credit_logit, credit_terms

    seed = int(as_rng(random_state).integers(0, 2**31 - 1))
    X, bg = _split(credit(n_rows=n_rows + n_background, random_state=seed).X, n_rows)
    names = list(X.columns)
    terms: list[Term] = []

    def term(col: str) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda F: credit_terms(F)[col].to_numpy(dtype=float)

    for col in credit_terms(X.iloc[:1]).columns:
        feats = tuple(names.index(part) for part in col.split(":"))
        terms.append((feats, term(col)))
    truth = term_shapley(X, bg, terms)
    return Problem("credit", credit_logit, X, bg, truth, "credit() true log-odds")


def tree_problem(
    n_features: int = 5,
    n_rows: int = 20,
    n_background: int = 50,
    n_train: int = 500,
    random_state: Any = 0,
) -> Problem:
    """A fitted gradient-boosted tree regressor on the interaction function; truth by
    enumerating all 2^d coalitions of the fitted model."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = as_rng(random_state)
    terms = _additive_terms(n_features, rng) + [
        ((0, 1), lambda F: 1.5 * _col(0)(F) * _col(1)(F)),
    ]
    f = _SumOfTerms(terms)
    train = _frame(rng, n_train, n_features)
    seed = int(rng.integers(0, 2**31 - 1))
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=seed)
    model.fit(train, f(train) + rng.normal(scale=0.1, size=n_train))
    X, bg = _split(_frame(rng, n_rows + n_background, n_features), n_rows)
    truth = brute_force_shapley(model, X, bg)
    return Problem("tree_model", model, X, bg, truth, "GradientBoostingRegressor, brute force")


_PROBLEMS: dict[str, Callable[..., Problem]] = {
    "linear": linear_problem,
    "additive": additive_problem,
    "interaction": interaction_problem,
    "credit": credit_problem,
    "tree_model": tree_problem,
}


def problems() -> list[str]:
    """Names of the built-in ground-truth problems."""
    return list(_PROBLEMS)


# ---------------------------------------------------------------- errors


def ground_truth(
    methods: str | Any | Iterable[str | Any] | None = None,
    problems: str | Problem | Iterable[str | Problem] | None = None,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    random_state: Any = 0,
    skip_errors: bool = True,
) -> GroundTruthReport:
    """Error of attribution methods against the known Shapley values of each problem.

    ``methods``: registered names, explainer classes or factories
    ``f(model, data, **options)``; default every registered tabular
    attribution method. ``problems``: names of :func:`problems` or
    :class:`Problem` objects; default all. Each explainer is built with the
    problem's model and background (``options[name]`` adds keyword
    arguments) and explains the problem's rows. A method that cannot take a
    problem's model (e.g. a tree explainer and a plain function) raises
    TypeError/ValueError/NotImplementedError; with ``skip_errors`` that pair
    is listed in ``skipped`` with the message.
    """
    from .._registry import available, spec
    from ._common import method_name

    if methods is None:
        methods = available(kind="attribution", inputs="tabular")
    elif isinstance(methods, str) or not isinstance(methods, Iterable):
        methods = [methods]
    probs = _problems(problems, random_state)
    options = {method_name(k): v for k, v in (options or {}).items()}  # treeshap: tree_shap
    results: list[GroundTruthResult] = []
    skipped: dict[tuple[str, str], str] = {}
    for method in methods:
        name = method_name(method)
        exact = bool(spec(name).exact) if isinstance(method, str) else False
        for problem in probs:
            start = time.perf_counter()
            try:
                explainer = build_explainer(
                    method,
                    problem.model,
                    problem.background,
                    random_state,
                    dict(options.get(name, {})),
                )
                exp = explain(explainer, problem.X, random_state)
            except (TypeError, ValueError, NotImplementedError) as exc:
                if not skip_errors:
                    raise
                skipped[(name, problem.name)] = f"{type(exc).__name__}: {exc}"
                continue
            seconds = time.perf_counter() - start
            values = np.asarray(exp.values, dtype=float)
            if values.ndim == 3 and values.shape[2] == 1:
                values = values[:, :, 0]
            if values.shape != problem.truth.shape:
                skipped[(name, problem.name)] = (
                    f"values of shape {values.shape}, truth {problem.truth.shape}"
                )
                continue
            results.append(
                GroundTruthResult(
                    method=name,
                    problem=problem.name,
                    truth=problem.truth,
                    estimate=values,
                    feature_names=problem.feature_names,
                    seconds=seconds,
                    params={"exact": exact, "random_state": random_state},
                )
            )
    return GroundTruthReport(results=tuple(results), skipped=skipped)


def _problems(problems_: Any, random_state: Any) -> list[Problem]:
    if problems_ is None:
        problems_ = list(_PROBLEMS)
    elif isinstance(problems_, (str, Problem)):
        problems_ = [problems_]
    out = []
    for p in problems_:
        if isinstance(p, Problem):
            out.append(p)
        elif p in _PROBLEMS:
            out.append(_PROBLEMS[p](random_state=random_state))
        else:
            raise KeyError(f"Unknown problem {p!r}; built in: {list(_PROBLEMS)}")
    return out
