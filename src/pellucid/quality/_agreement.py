"""Agreement between two explanations: rank correlation, top-k overlap, sign agreement."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from .._protocol import UNSET, renamed_argument
from .._results import Explanation, FeatureImportance
from ._common import select_output
from ._results import AgreementResult

__all__ = ["agreement", "rank_correlation"]


def agreement(
    a: Explanation | FeatureImportance,
    b: Explanation | FeatureImportance,
    top_k: int = 5,
    *,
    output: int | str | None = None,
    k: Any = UNSET,
) -> AgreementResult:
    """How much two explanations of the same rows agree (e.g. SHAP vs LIME).

    Two Explanations are compared row by row; when either is a
    FeatureImportance (e.g. permutation importance) both become global
    importances (an Explanation's mean absolute attribution) and are compared
    as one row. Features are matched by name. ``top_k``: how many of each
    ranking's largest attributions the overlap compares, clipped to the number
    of features (``k=`` is its deprecated name).
    """
    top_k = renamed_argument("agreement", "k", "top_k", k, top_k, default=5)
    if int(top_k) < 1:
        raise ValueError(f"top_k must be a positive integer; got {top_k!r}.")
    global_ = isinstance(a, FeatureImportance) or isinstance(b, FeatureImportance)
    va, names_a, signed_a = _matrix(a, output, global_)
    vb, names_b, signed_b = _matrix(b, output, global_)
    if names_a and names_b and names_a != names_b:
        if sorted(names_a) != sorted(names_b):
            raise ValueError(
                f"The explanations have different features: {list(names_a)} vs {list(names_b)}."
            )
        vb = vb[:, [names_b.index(n) for n in names_a]]  # align by name, not position
    if va.shape != vb.shape:
        raise ValueError(
            f"The explanations cover different rows/features: {va.shape} vs {vb.shape}."
        )
    d = va.shape[1]
    n_top = min(int(top_k), d)
    corr = rank_correlation(np.abs(va), np.abs(vb))
    top_a = _top_k(va, n_top)
    top_b = _top_k(vb, n_top)
    common = top_a & top_b
    overlap = common.sum(axis=1) / n_top
    if signed_a and signed_b:
        same = (np.sign(va) == np.sign(vb)) & common
        with np.errstate(invalid="ignore", divide="ignore"):
            signs = np.where(common.any(axis=1), same.sum(axis=1) / common.sum(axis=1), np.nan)
    else:
        signs = np.full(va.shape[0], np.nan)
    return AgreementResult(
        rank_correlation=corr, top_k_overlap=overlap, sign_agreement=signs, k=n_top
    )


def _matrix(
    e: Explanation | FeatureImportance, output: int | str | None, global_: bool
) -> tuple[np.ndarray, tuple[str, ...], bool]:
    if isinstance(e, FeatureImportance):
        return e.importances_mean[None, :], tuple(e.feature_names), False
    if not isinstance(e, Explanation):
        raise TypeError(f"Expected an Explanation or FeatureImportance; got {type(e).__name__}.")
    if len(e.feature_shape) != 1:
        raise ValueError("agreement() compares tabular explanations (values (n, d[, k])).")
    _, values = select_output(e, output)
    if global_:
        return np.abs(values).mean(axis=0)[None, :], tuple(e.feature_names), False
    return values, tuple(e.feature_names), True


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    mask = np.zeros(values.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``a`` with the same row of ``b`` (ties averaged).

    A row that does not vary correlates 1 with an identical row and 0 with any other.
    """
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (ra * rb).sum(axis=1) / denom
    flat = denom == 0
    corr[flat] = np.where(np.all(ra[flat] == rb[flat], axis=1), 1.0, 0.0)
    return np.clip(corr, -1.0, 1.0)
