"""Faithfulness: do the attributions say what happens when features are removed?

deletion / insertion (Petsiuk et al., 2018, for tabular data), faithfulness
correlation (Bhatt et al., 2020) and infidelity (Yeh et al., 2019), all with
the same removal: a removed feature takes background values and the model's
output is averaged over the background rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._results import Explanation
from ._common import Composer, Target, as_rng, check_rows, removal_values
from ._common import background as get_background
from ._results import CurveResult, QualityScore

__all__ = ["deletion", "faithfulness_correlation", "infidelity", "insertion"]


def deletion(
    model: Any,
    X: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    output: int | str | None = None,
    n_background: int = 50,
    n_random: int = 5,
    n_steps: int | None = None,
    random_state: Any = 0,
) -> CurveResult:
    """Remove features from each row, most positively attributed first; lower area is better.

    Parameters
    ----------
    model:
        The explained model (raw or a :class:`pellucid.Model` with the output explained).
    X:
        The explained rows, in the explanation's order.
    explanation:
        A tabular :class:`~pellucid.Explanation` of those rows.
    background:
        Rows the removed features are drawn from (defaults to X itself);
        at most ``n_background`` of them are used, drawn with ``random_state``.
    output:
        Which output of a multi-output explanation: a name, a position or
        "predicted"; by default the only one, the positive class of two, else
        each row's predicted class.
    n_random:
        Random orderings per row to compare against (0 for none).
    n_steps:
        Points on each curve besides the start (default: one per feature).
    """
    return _curves(
        "deletion",
        model,
        X,
        explanation,
        background,
        output,
        n_background,
        n_random,
        n_steps,
        random_state,
    )


def insertion(
    model: Any,
    X: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    output: int | str | None = None,
    n_background: int = 50,
    n_random: int = 5,
    n_steps: int | None = None,
    random_state: Any = 0,
) -> CurveResult:
    """Add features to background rows, most positively attributed first; higher area is better.

    Arguments as for :func:`deletion`.
    """
    return _curves(
        "insertion",
        model,
        X,
        explanation,
        background,
        output,
        n_background,
        n_random,
        n_steps,
        random_state,
    )


def _curves(
    kind: str,
    model: Any,
    X: Any,
    explanation: Explanation,
    background_data: Any,
    output: int | str | None,
    n_background: int,
    n_random: int,
    n_steps: int | None,
    random_state: Any,
) -> CurveResult:
    X = check_rows(X, explanation)
    rng = as_rng(random_state)
    target = Target(model, X, explanation, output)
    composer = Composer(X, get_background(background_data, X, n_background, rng))
    phi = target.phi
    n, d = phi.shape
    steps = d if n_steps is None else int(n_steps)
    if steps < 1:
        raise ValueError(f"n_steps must be a positive integer; got {n_steps!r}.")
    counts = np.unique(np.round(np.linspace(0, d, min(steps, d) + 1)).astype(int))
    orders = [np.argsort(-phi, axis=1, kind="stable")]
    for _ in range(int(n_random)):
        orders.append(rng.permuted(np.tile(np.arange(d), (n, 1)), axis=1))
    # One batch for every ordering: masks (orderings, rows, counts, features).
    ranks = np.stack([np.argsort(o, axis=1) for o in orders])
    cut = counts[None, None, :, None]
    added = ranks[:, :, None, :] < cut
    keep = ~added if kind == "deletion" else added
    rows = np.broadcast_to(np.arange(n)[None, :, None], keep.shape[:3]).ravel()
    values = removal_values(target, composer, rows, keep.reshape(-1, d))
    curves_all = values.reshape(len(orders), n, len(counts))
    fractions = counts / d
    areas = _trapezoid(curves_all, fractions)
    params = {
        "n_background": composer.n_bg,
        "n_random": int(n_random),
        "random_state": random_state,
        "method": explanation.method,
    }
    return CurveResult(
        kind=kind,
        fractions=fractions,
        curves=curves_all[0],
        area=areas[0],
        random_curves=curves_all[1:].mean(axis=0) if n_random else None,
        random_area=areas[1:].mean(axis=0) if n_random else None,
        params=params,
    )


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return ((y[..., 1:] + y[..., :-1]) / 2 * np.diff(x)).sum(axis=-1)


def faithfulness_correlation(
    model: Any,
    X: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    output: int | str | None = None,
    subset_size: int | None = None,
    n_subsets: int = 50,
    n_background: int = 50,
    random_state: Any = 0,
) -> QualityScore:
    """Per row, the Pearson correlation between the attributions of random feature subsets
    and the change of output when those subsets are removed (Bhatt et al., 2020).

    Each of ``n_subsets`` subsets has ``subset_size`` features (default a
    quarter of them, at least one). 1 is perfect; NaN where either side does
    not vary (e.g. one feature).
    """
    X = check_rows(X, explanation)
    rng = as_rng(random_state)
    target = Target(model, X, explanation, output)
    composer = Composer(X, get_background(background, X, n_background, rng))
    n, d = target.phi.shape
    size = max(1, d // 4) if subset_size is None else int(subset_size)
    if not 1 <= size <= d:
        raise ValueError(f"subset_size must be between 1 and {d}; got {subset_size!r}.")
    removed = np.zeros((n, int(n_subsets), d), dtype=bool)
    for i in range(n):
        for s in range(int(n_subsets)):
            removed[i, s, rng.choice(d, size=size, replace=False)] = True
    attributed, delta = _subset_effects(target, composer, removed)
    per_row = np.array([_pearson(attributed[i], delta[i]) for i in range(n)])
    params = {"subset_size": size, "n_subsets": int(n_subsets), "random_state": random_state}
    return QualityScore(metric="faithfulness_correlation", per_row=per_row, params=params)


def infidelity(
    model: Any,
    X: Any,
    explanation: Explanation,
    *,
    background: Any = None,
    output: int | str | None = None,
    n_perturbations: int = 50,
    n_background: int = 50,
    normalize: bool = False,
    random_state: Any = 0,
) -> QualityScore:
    """Infidelity (Yeh et al., 2019) under subset removal; lower is better, 0 is perfect.

    The perturbation removes a random subset S (size uniform in 1..d, then
    the features uniformly): ``E[(sum_{j in S} phi_j - (f(x) - E_b f(x without S)))^2]``.
    Exact interventional SHAP of an additive model with the same background
    scores 0. ``normalize=True`` first rescales each row's attributions by the
    least-squares factor, as Yeh et al.'s code does, so only their shape counts.
    """
    X = check_rows(X, explanation)
    rng = as_rng(random_state)
    target = Target(model, X, explanation, output)
    composer = Composer(X, get_background(background, X, n_background, rng))
    n, d = target.phi.shape
    m = int(n_perturbations)
    if m < 1:
        raise ValueError(f"n_perturbations must be a positive integer; got {n_perturbations!r}.")
    sizes = rng.integers(1, d + 1, size=(n, m))
    scores = rng.random((n, m, d))
    # The `size` features with the smallest random scores: a uniform subset of that size.
    ranks = np.argsort(np.argsort(scores, axis=2), axis=2)
    removed = ranks < sizes[:, :, None]
    attributed, delta = _subset_effects(target, composer, removed)
    if normalize:
        denom = (attributed**2).mean(axis=1)
        beta = np.where(
            denom > 0, (attributed * delta).mean(axis=1) / np.where(denom > 0, denom, 1), 1
        )
        attributed = attributed * beta[:, None]
    per_row = ((attributed - delta) ** 2).mean(axis=1)
    params = {"n_perturbations": m, "normalize": normalize, "random_state": random_state}
    return QualityScore(metric="infidelity", per_row=per_row, params=params)


def _subset_effects(
    target: Target, composer: Composer, removed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of attributions over each removed subset, output drop when removing it): (n, s)."""
    n, s, d = removed.shape
    rows = np.repeat(np.arange(n), s)
    after = removal_values(target, composer, rows, ~removed.reshape(-1, d)).reshape(n, s)
    delta = target.pred[:, None] - after
    attributed = np.einsum("nsd,nd->ns", removed.astype(float), target.phi)
    return attributed, delta


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    scale = max(float(np.abs(a).max(initial=0)), float(np.abs(b).max(initial=0)), 1e-300)
    if denom <= (1e-12 * scale) ** 2 * len(a):
        return float("nan")
    return float(np.clip((a * b).sum() / denom, -1.0, 1.0))
