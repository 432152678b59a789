"""Robustness: max-sensitivity (Yeh et al., 2019) and stability across seeds and inputs
(local Lipschitz estimate, Alvarez-Melis & Jaakkola, 2018)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._results import Explanation
from ._common import (
    as_rng,
    build_explainer,
    check_rows,
    explain,
    numeric_scales,
    perturb,
    row_norm,
    select_output,
)
from ._results import QualityScore, StabilityResult

__all__ = ["max_sensitivity", "stability"]


def max_sensitivity(
    explainer: Any,
    X: Any,
    *,
    radius: float = 0.1,
    n_samples: int = 10,
    data: Any = None,
    output: int | str | None = None,
    random_state: Any = 0,
) -> QualityScore:
    """Largest relative change of each row's attributions under small input changes.

    ``explainer`` has ``.explain(X) -> Explanation`` (or is a callable doing
    that). Each row gets ``n_samples`` copies whose numeric features move by
    up to ``radius`` standard deviations (of ``data``, default X); per row the
    result is ``max ||phi(x') - phi(x)|| / ||phi(x)||``. Lower is better.
    """
    X = check_rows(X)
    rng = as_rng(random_state)
    seed = int(rng.integers(0, 2**31 - 1))
    base = explain(explainer, X, seed)
    sens, _ = _sensitivities(explainer, X, base, radius, n_samples, data, output, rng, seed)
    params = {"radius": radius, "n_samples": int(n_samples), "random_state": random_state}
    return QualityScore(metric="max_sensitivity", per_row=sens, params=params)


def stability(
    method: Any,
    model: Any,
    X: Any,
    *,
    data: Any = None,
    seeds: int | Sequence[int] = 5,
    radius: float = 0.05,
    n_samples: int = 5,
    output: int | str | None = None,
    random_state: Any = 0,
    **options: Any,
) -> StabilityResult:
    """How far attributions move across random seeds and under small input changes.

    ``method`` is a registered name, an explainer class or a factory
    ``f(model, data, **options)``; it is built once per seed (``seeds``: a
    count or the seeds themselves) with ``data`` as its background.
    The seed spread is measured on X; the input sensitivity and local
    Lipschitz estimate with the first seed's explainer on ``n_samples`` noisy
    copies of each row (numeric features moved by up to ``radius`` standard
    deviations). See :class:`StabilityResult`.
    """
    X = check_rows(X)
    rng = as_rng(random_state)
    seed_list = _seeds(seeds, rng)
    first = build_explainer(method, model, data, seed_list[0], options)
    base = explain(first, X, seed_list[0])
    cols, phi0 = select_output(base, output)
    seed_variation = None
    if first.takes_seed:
        phis = [phi0]
        for seed in seed_list[1:]:
            other = explain(build_explainer(method, model, data, seed, options), X, seed)
            phis.append(_select_like(other, cols))
        stack = np.stack(phis)
        # Identical runs give exactly 0 (np.std of equal floats can round to 1e-17).
        spread = np.where(np.ptp(stack, axis=0) == 0, 0.0, stack.std(axis=0)).mean(axis=1)
        size = np.abs(stack.mean(axis=0)).mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            seed_variation = np.where(size > 0, spread / np.where(size > 0, size, 1), np.nan)
            seed_variation = np.where((size == 0) & (spread == 0), 0.0, seed_variation)
    sens, lips = _sensitivities(first, X, base, radius, n_samples, data, output, rng, seed_list[0])
    params = {
        "seeds": [int(s) for s in seed_list],
        "radius": radius,
        "n_samples": int(n_samples),
        "random_state": random_state,
    }
    return StabilityResult(
        seed_variation=seed_variation, sensitivity=sens, lipschitz=lips, params=params
    )


def _seeds(seeds: int | Sequence[int], rng: np.random.Generator) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if int(seeds) < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds!r}.")
        return [int(s) for s in rng.integers(0, 2**31 - 1, size=int(seeds))]
    out = [int(s) for s in seeds]
    if not out:
        raise ValueError("seeds is empty.")
    return out


def _select_like(explanation: Explanation, cols: np.ndarray | None) -> np.ndarray:
    values = np.asarray(explanation.values, dtype=float)
    if values.ndim == 3:
        assert cols is not None
        return values[np.arange(values.shape[0]), :, cols]
    return values


def _sensitivities(
    explainer: Any,
    X: Any,
    base: Explanation,
    radius: float,
    n_samples: int,
    data: Any,
    output: int | str | None,
    rng: np.random.Generator,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: max relative attribution change, and max change per unit input change."""
    if not radius > 0:
        raise ValueError(f"radius must be positive; got {radius!r}.")
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    cols, phi0 = select_output(base, output)
    numeric, std = numeric_scales(X, data)
    if not numeric.any():
        warnings.warn(
            "No numeric feature to perturb: sensitivity is measured on unchanged inputs.",
            UserWarning,
            stacklevel=3,
        )
    moved, step = perturb(X, radius, int(n_samples), rng, numeric, std)
    rows = np.repeat(np.arange(X.shape[0]), int(n_samples))
    moved_phi = _select_like(explain(explainer, moved, seed), None if cols is None else cols[rows])
    change = row_norm(moved_phi - phi0[rows]).reshape(-1, int(n_samples))
    size = row_norm(phi0)
    dist = row_norm(step).reshape(-1, int(n_samples))
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = change.max(axis=1) / size
        relative = np.where(size > 0, relative, np.where(change.max(axis=1) > 0, np.inf, 0.0))
        ratio = np.where(dist > 0, change / np.where(dist > 0, dist, 1), np.nan)
    lips = np.full(len(size), np.nan)
    has = ~np.all(np.isnan(ratio), axis=1)
    lips[has] = np.nanmax(ratio[has], axis=1)
    return relative, lips
