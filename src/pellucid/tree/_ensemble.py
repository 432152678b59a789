"""One array format for every tree ensemble.

All trees of an ensemble are stored in flat node arrays; tree ``t`` owns the
nodes ``tree_start[t]:tree_start[t + 1]`` and child indices are global. Every
split is "go left when ``x <= threshold``" after the input has been cast to
``input_dtype`` (float32 for libraries that compare in float32), so readers
translate strict comparisons into this form. Missing values (NaN) follow
``default_left``. Categorical splits look the category (the truncated integer
value) up in a per-node direction table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = [
    "LEFT",
    "MISSING",
    "RIGHT",
    "NUMERIC",
    "CATEGORICAL",
    "NUMERIC_ZERO_MISSING",
    "Tree",
    "TreeEnsemble",
]

# split kinds
NUMERIC = 0
CATEGORICAL = 1
NUMERIC_ZERO_MISSING = 2  # LightGBM "Zero" missing type: |x| <= 1e-35 or NaN is missing
# directions in categorical tables
LEFT = 0
RIGHT = 1
MISSING = 2  # follow default_left

LINKS = ("identity", "logistic", "softmax", "exp")
# up to this many (row, tree) walks ``predict_raw`` runs in numpy, not the compiled kernel
NUMPY_WALKS = 5_000
# default unit of the raw output per link (readers override it, e.g. class probabilities)
LINK_OUTPUT_KIND = {
    "identity": "regression",
    "logistic": "log_odds",
    "softmax": "raw_margin",  # a softmax logit is not a log-odds
    "exp": "raw_margin",  # log of the mean (poisson, gamma, tweedie)
}


@dataclass
class Tree:
    """One tree in local node indices, as a reader builds it (leaves have left == -1)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    cover: np.ndarray
    value: np.ndarray  # (n_nodes, n_cols); only leaf rows are used
    output: int = -1  # output this tree adds to; -1: column j adds to output j
    kind: np.ndarray | None = None
    categories: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)
    # node -> (direction table over categories 0..len-1, direction for any other value)


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A tree ensemble as flat arrays (see the module docstring).

    The raw model output for row ``x`` and output ``j`` is
    ``base[j] + sum over trees t adding to j of value[leaf_t(x), col]``.
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    kind: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    cat_other: np.ndarray
    cat_dir: np.ndarray
    cover: np.ndarray
    value: np.ndarray
    tree_start: np.ndarray
    tree_output: np.ndarray
    base: np.ndarray
    n_features: int
    input_dtype: str = "float64"
    link: str = "identity"
    output_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    source: str = ""
    # column -> the category values whose positions are the codes the trees split on
    # (HistGradientBoosting encodes categories itself); other columns are used as given
    input_categories: dict[int, np.ndarray] = field(default_factory=dict)
    # pandas category columns the library re-codes by label to the training categories
    # it stored (XGBoost: by column; LightGBM: its pandas_categorical, paired in order
    # with the frame's category columns); labels not among them are missing ("missing",
    # LightGBM's rule) or refused ("error": XGBoost refuses them, or for labels that sort
    # between known ones silently takes the next known category)
    label_categories: dict[int, np.ndarray] = field(default_factory=dict)
    ordered_categories: tuple[np.ndarray, ...] | None = None
    unseen_labels: str = "missing"
    # a value the library treats as missing besides NaN (XGBoost's ``missing``)
    missing: float = np.nan
    # the unit of the raw output (see pellucid._results.OUTPUT_KINDS); "" follows the link
    output_kind: str = ""
    # "lightgbm": the library stored column names with spaces replaced by underscores
    name_rule: str = ""

    @property
    def raw_output_kind(self) -> str:
        return self.output_kind or LINK_OUTPUT_KIND[self.link]

    def stored_name(self, name: str) -> str:
        """A user's column name as the library stores it."""
        return name.replace(" ", "_") if self.name_rule == "lightgbm" else name

    @property
    def n_trees(self) -> int:
        return int(self.tree_start.shape[0] - 1)

    @property
    def n_nodes(self) -> int:
        return int(self.left.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.base.shape[0])

    @cached_property
    def category_index(self) -> dict[int, Any]:
        """``input_categories`` as pandas Indexes, to look values' codes up (built once)."""
        import pandas as pd

        return {j: pd.Index(values) for j, values in self.input_categories.items()}

    @cached_property
    def n_leaves(self) -> int:
        return int(np.count_nonzero(self.left < 0))

    @cached_property
    def max_depth(self) -> int:
        return int(self.node_depth().max(initial=0))

    def node_depth(self) -> np.ndarray:
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        # children always come after their parent in the flat arrays (readers emit preorder)
        for node in range(self.n_nodes):
            if self.left[node] >= 0:
                depth[self.left[node]] = depth[node] + 1
                depth[self.right[node]] = depth[node] + 1
        return depth

    @classmethod
    def from_trees(
        cls,
        trees: Sequence[Tree],
        *,
        base: Any,
        n_features: int,
        input_dtype: str = "float64",
        link: str = "identity",
        output_names: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        source: str = "",
        input_categories: dict[int, np.ndarray] | None = None,
        **options: Any,
    ) -> TreeEnsemble:
        """Concatenate trees, renumbering nodes into preorder with global indices."""
        if link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}; got {link!r}.")
        base = np.atleast_1d(np.asarray(base, dtype=np.float64)).copy()
        n_cols = max(int(np.atleast_2d(t.value.T).T.shape[1]) for t in trees) if trees else 1
        parts: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "left", "right", "feature", "threshold", "default_left", "kind",
                "cat_start", "cat_len", "cat_other", "cover", "value",
            )
        }  # fmt: skip
        cat_dir: list[np.ndarray] = []
        n_cat = 0
        tree_start = [0]
        tree_output = []
        for tree in trees:
            order = _preorder(np.asarray(tree.left), np.asarray(tree.right))
            # unreachable (deleted) nodes are dropped
            new_index = np.full(len(tree.left), -1, dtype=np.int64)
            new_index[order] = np.arange(len(order)) + tree_start[-1]
            left = np.asarray(tree.left, dtype=np.int64)[order]
            right = np.asarray(tree.right, dtype=np.int64)[order]
            is_leaf = left < 0
            parts["left"].append(np.where(is_leaf, -1, new_index[np.maximum(left, 0)]))
            parts["right"].append(np.where(is_leaf, -1, new_index[np.maximum(right, 0)]))
            parts["feature"].append(np.where(is_leaf, -1, np.asarray(tree.feature)[order]))
            parts["threshold"].append(np.asarray(tree.threshold, dtype=np.float64)[order])
            parts["default_left"].append(np.asarray(tree.default_left, dtype=bool)[order])
            kind = np.zeros(len(order), np.uint8) if tree.kind is None else np.asarray(tree.kind)
            parts["kind"].append(kind[order])
            parts["cover"].append(np.asarray(tree.cover, dtype=np.float64)[order])
            value = np.asarray(tree.value, dtype=np.float64).reshape(len(order), -1)[order]
            if value.shape[1] != n_cols:
                if value.shape[1] != 1 or tree.output < 0:
                    raise ValueError("Trees of one ensemble must have the same number of values.")
                value = np.pad(value, ((0, 0), (0, n_cols - 1)))
            parts["value"].append(value)
            start = np.zeros(len(order), np.int64)
            length = np.zeros(len(order), np.int64)
            other = np.full(len(order), MISSING, np.uint8)
            for local, (table, other_dir) in tree.categories.items():
                if new_index[local] < 0:
                    continue
                pos = int(np.flatnonzero(order == local)[0])
                start[pos], length[pos], other[pos] = n_cat, len(table), other_dir
                cat_dir.append(np.asarray(table, dtype=np.uint8))
                n_cat += len(table)
            parts["cat_start"].append(start)
            parts["cat_len"].append(length)
            parts["cat_other"].append(other)
            tree_start.append(tree_start[-1] + len(order))
            tree_output.append(int(tree.output))
        cat = lambda k, dt: np.ascontiguousarray(  # noqa: E731
            np.concatenate(parts[k]) if parts[k] else np.zeros(0), dtype=dt
        )
        value_all = (
            np.ascontiguousarray(np.concatenate(parts["value"]), dtype=np.float64)
            if parts["value"]
            else np.zeros((0, n_cols))
        )
        ens = cls(
            left=cat("left", np.int64),
            right=cat("right", np.int64),
            feature=cat("feature", np.int64),
            threshold=cat("threshold", np.float64),
            default_left=cat("default_left", np.bool_),
            kind=cat("kind", np.uint8),
            cat_start=cat("cat_start", np.int64),
            cat_len=cat("cat_len", np.int64),
            cat_other=cat("cat_other", np.uint8),
            cat_dir=np.ascontiguousarray(
                np.concatenate(cat_dir) if cat_dir else np.zeros(1), dtype=np.uint8
            ),
            cover=cat("cover", np.float64),
            value=value_all,
            tree_start=np.asarray(tree_start, dtype=np.int64),
            tree_output=np.asarray(tree_output, dtype=np.int64),
            base=base,
            n_features=int(n_features),
            input_dtype=input_dtype,
            link=link,
            output_names=tuple(str(o) for o in output_names) if output_names else None,
            feature_names=tuple(str(f) for f in feature_names) if feature_names else None,
            source=source,
            input_categories=dict(input_categories or {}),
            **options,
        )
        ens.validate()
        return ens

    def validate(self) -> None:
        """Check structural invariants a reader must meet."""
        n = self.n_nodes
        internal = self.left >= 0
        if np.any(self.feature[internal] >= self.n_features) or np.any(self.feature[internal] < 0):
            raise ValueError("A split refers to a feature index outside [0, n_features).")
        if np.any(self.right[internal] < 0) or np.any(self.left >= n) or np.any(self.right >= n):
            raise ValueError("Broken child indices in the tree arrays.")
        if np.any(self.cover < 0) or not np.all(np.isfinite(self.cover)):
            raise ValueError("Node covers must be finite and non-negative.")
        cols = self.value.shape[1]
        if np.any(self.tree_output >= self.n_outputs):
            raise ValueError("A tree adds to an output index >= n_outputs.")
        if np.any(self.tree_output < 0) and cols != self.n_outputs:
            raise ValueError("Trees adding to every output need one value column per output.")

    def prepare_X(self, X: Any) -> np.ndarray:
        """X as a C-contiguous float64 array, rounded through ``input_dtype`` first; the
        ``missing`` sentinel (compared in ``input_dtype``, as the library does) becomes NaN."""
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-dimensional; got shape {arr.shape}.")
        if arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has {arr.shape[1]} columns but the model was fitted on {self.n_features}."
            )
        try:
            arr = arr.astype(self.input_dtype).astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X must be numeric (category columns as codes): {exc}") from None
        if not np.isnan(self.missing):
            sentinel = float(np.asarray(self.missing).astype(self.input_dtype))
            arr[arr == sentinel] = np.nan
        return np.ascontiguousarray(arr)

    def predict_raw(self, X: Any) -> np.ndarray:
        """Raw model output ``(n, n_outputs)`` from the arrays: for up to ``NUMPY_WALKS``
        (row, tree) pairs with numpy (no compile: a cold start's guard and background
        predictions), else with the compiled kernel; the same bytes either way."""
        Xa = self.prepare_X(X)
        out = np.empty((Xa.shape[0], self.n_outputs), dtype=np.float64)
        if Xa.shape[0] * self.n_trees <= NUMPY_WALKS:
            self._predict_numpy(Xa, out)
            return out
        from ._kernels_predict import predict_kernel

        predict_kernel(Xa, self.nodes, out)
        return out

    def _predict_numpy(self, Xa: np.ndarray, out: np.ndarray) -> None:
        """``predict_kernel`` in numpy: every (row, tree) walked down level by level, then
        each output's leaf values added to its base tree by tree in order (a sequential
        ``add.accumulate``), as the kernel adds them, so the sums are the same bytes."""
        n, T = Xa.shape[0], self.n_trees
        node = np.broadcast_to(self.tree_start[:-1], (n, T)).copy()
        rows = np.broadcast_to(np.arange(n)[:, None], (n, T))
        todo = np.flatnonzero(self.left[node.ravel()] >= 0)
        flat = node.ravel()
        while todo.size:
            at = flat[todo]
            go = self._goes_left(Xa[rows.ravel()[todo], self.feature[at]], at)
            flat[todo] = np.where(go, self.left[at], self.right[at])
            todo = todo[self.left[flat[todo]] >= 0]
        leaf = flat.reshape(n, T)
        for j in range(self.n_outputs):
            own = np.flatnonzero(self.tree_output == j)
            shared = np.flatnonzero(self.tree_output < 0)
            trees = np.sort(np.r_[own, shared])
            col = np.where(self.tree_output[trees] < 0, j, 0)
            terms = np.column_stack([np.full(n, self.base[j]), self.value[leaf[:, trees], col]])
            out[:, j] = np.add.accumulate(terms, axis=1)[:, -1]

    def _goes_left(self, v: np.ndarray, node: np.ndarray) -> np.ndarray:
        """``_kernels.goes_left`` over arrays of values and their nodes."""
        kind = self.kind[node]
        go = v <= self.threshold[node]
        use_default = np.isnan(v) | ((kind == NUMERIC_ZERO_MISSING) & (np.abs(v) <= 1e-35))
        cat = (kind != NUMERIC) & (kind != NUMERIC_ZERO_MISSING)
        if cat.any():
            d = self.cat_other[node].astype(np.int64)
            inside = cat & (v >= 0.0) & (v < self.cat_len[node])
            d[inside] = self.cat_dir[self.cat_start[node[inside]] + v[inside].astype(np.int64)]
            go = np.where(cat, d == 0, go)
            use_default |= cat & (d == 2)
        return np.where(use_default, self.default_left[node], go)

    @cached_property
    def nodes(self) -> Any:
        """The node arrays as the compiled kernels take them: one ``_kernels.NodeArrays``
        (built once; importing it imports numba, so only when a kernel runs)."""
        from ._kernels import NodeArrays

        # The kernels' fields are this ensemble's arrays of the same names.
        return NodeArrays(*(getattr(self, name) for name in NodeArrays._fields))


def model_link(model: Any, link: str) -> str | None:
    """How an ensemble's summed raw output (``link``) becomes a ``pellucid.Model``'s
    output, or None if that is not known; the names are :data:`LINKS`."""
    if not model.is_classifier:
        return link if link in ("identity", "exp") else None
    if model.output == "probability":
        return link if link in ("identity", "logistic", "softmax") else None
    if model.output == "raw" and link in ("logistic", "softmax"):
        return "identity"
    return None


def apply_link(raw: np.ndarray, link: str) -> np.ndarray:
    """``raw`` (n,) or (n, k) through ``link``; "logistic" gives two columns ``[1 - p, p]``."""
    from scipy.special import expit, softmax

    if link == "identity":
        return raw
    if link == "exp":
        return np.exp(raw)
    if link == "softmax":
        return np.asarray(softmax(raw, axis=1))
    p = expit(raw if raw.ndim == 1 else raw[:, 0])
    return np.column_stack([1.0 - p, p])


def _preorder(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Node ids of one tree in depth-first preorder from root 0 (left before right)."""
    order = []
    stack = [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] >= 0:
            stack.append(int(right[node]))
            stack.append(int(left[node]))
    return np.asarray(order, dtype=np.int64)
