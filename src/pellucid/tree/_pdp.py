"""Partial dependence by the recursion method on the tree arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._ensemble import TreeEnsemble

__all__ = ["partial_dependence_recursion"]


def partial_dependence_recursion(
    ensemble: Any,
    grid_points: Any,
    feature_indices: Sequence[int] | int,
    *,
    include_base: bool = True,
    rows: Any = None,
) -> np.ndarray:
    """Averaged raw output at each grid point, by scikit-learn's recursion method.

    At a split on one of ``feature_indices`` the grid point's value decides the
    branch; at any other split both branches are followed, weighted by the
    fraction of training cover (samples, or hessian for XGBoost) each received.
    This equals the average over the training data of the model's raw output
    when the trees' covers are sample counts and features are independent of
    the rest, as in ``sklearn.inspection.partial_dependence(method="recursion")``.

    Parameters
    ----------
    ensemble:
        A :class:`TreeEnsemble` or any model :func:`read_ensemble` reads.
    grid_points:
        ``(n_points, len(feature_indices))`` values of the target features.
    feature_indices:
        Column positions of the target features.
    include_base:
        Add the model's constant (init prediction, base score). scikit-learn's
        recursion leaves it out (its values are offset by that constant);
        ``include_base=False`` reproduces those numbers exactly.
    rows:
        The data the dependence is read for (optional): the trees' reading is
        checked against the model's own prediction on a fixed sample of these
        rows (:class:`~pellucid.ModelReadingError` if they differ).

    Returns
    -------
    ``(n_points,)`` for one output, ``(n_points, n_outputs)`` otherwise; raw
    margin space (the decision function for classifiers).
    """
    from ._explainer import read_ensemble
    from ._kernels_predict import pd_recursion_kernel

    ens: TreeEnsemble = read_ensemble(ensemble)
    if rows is not None:
        _check_on(ensemble, ens, rows)
    targets = np.atleast_1d(np.asarray(feature_indices, dtype=np.int64))
    if targets.ndim != 1 or len(targets) == 0:
        raise ValueError("feature_indices must be one index or a 1-D list of indices.")
    bad = targets[(targets < 0) | (targets >= ens.n_features)]
    if len(bad):
        raise ValueError(
            f"feature index {int(bad[0])} is out of range for a model with {ens.n_features} features."
        )
    grid = np.asarray(grid_points, dtype=np.float64)
    if grid.ndim == 1:
        grid = grid[:, None] if len(targets) == 1 else grid[None, :]
    if grid.ndim != 2 or grid.shape[1] != len(targets):
        raise ValueError(
            f"grid_points must have shape (n_points, {len(targets)}); got {np.shape(grid_points)}."
        )
    grid = np.ascontiguousarray(grid.astype(ens.input_dtype).astype(np.float64))
    out = np.empty((grid.shape[0], ens.n_outputs), dtype=np.float64)
    base = ens.base if include_base else np.zeros_like(ens.base)
    pd_recursion_kernel(grid, targets, ens.nodes, base, out)
    return out[:, 0] if ens.n_outputs == 1 else out


def _check_on(model: Any, ens: TreeEnsemble, X: Any) -> None:
    """The reading guard on a fixed sample of ``X`` (see ``_guard.py``)."""
    from ._explainer import to_matrix
    from ._guard import check_reading, guard_rows, library_model
    from ._xgboost import iteration_range

    lib = library_model(model)
    if lib is None:
        return
    Xa, _ = to_matrix(X, ens)
    rows = guard_rows(Xa.shape[0])
    rounds = iteration_range(lib, None) if ens.source.startswith("xgboost") else (0, 0)
    check_reading(lib, ens, X, ens.predict_raw(Xa[rows]), rows=rows, rounds=rounds)


LINK_CODES = {"identity": 0, "exp": 1, "logistic": 2, "softmax": 3}


def ice_from_trees(
    ensemble: TreeEnsemble, X: np.ndarray, feature: int, grid: np.ndarray, link: str
) -> np.ndarray | None:
    """Exact ICE ``(n_rows, n_grid, n_out)`` of one numeric feature, read off the trees.

    ``X`` is the prepared matrix (:func:`to_matrix`); ``grid`` sorted values of
    column ``feature``; ``link`` maps the summed raw output to the result
    ("identity", "exp", "logistic": two columns ``[1 - p, p]``, "softmax").
    Returns None when the trees split on the feature in a way the interval walk
    does not cover (categorical or LightGBM zero-as-missing splits).
    """
    from ._kernels_predict import ice_kernel

    ens = ensemble
    on_target = (ens.left >= 0) & (ens.feature == feature)
    if np.any(ens.kind[on_target] != 0):
        return None
    g = np.asarray(grid, dtype=np.float64).astype(ens.input_dtype).astype(np.float64)
    if g.ndim != 1 or np.any(np.isnan(g)) or np.any(np.diff(g) < 0):
        return None
    split_pos = np.zeros(ens.n_nodes, dtype=np.int64)
    split_pos[on_target] = np.searchsorted(g, ens.threshold[on_target], side="right")
    n_out = 2 if link == "logistic" else ens.n_outputs
    if link == "logistic" and ens.n_outputs != 1:
        return None
    out = np.empty((X.shape[0], g.shape[0], n_out), dtype=np.float64)
    ice_kernel(X, int(feature), split_pos, int(g.shape[0]), ens.nodes, LINK_CODES[link], out)
    return out
