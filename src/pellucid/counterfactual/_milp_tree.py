"""Exact counterfactuals for tree ensembles: a mixed-integer program solved by HiGHS.

The split thresholds on a column cut its line into intervals; inside one
interval every tree takes the same path, so a column's choice is which
interval (or category) it lands in, and the cheapest point of an interval is
the one nearest the row's value. The program (the formulation of Misic,
"Optimization of tree ensembles", 2020, as used by OCEAN, Parmentier & Vidal
2021) has, per column with m allowed options, m - 1 binary "cumulative"
variables ``c_o = [option <= o]`` (one-hot by construction), per tree a
continuous indicator per reachable leaf (summing to 1), and per split one
pair of rows tying the leaves below each side to the options that go that
way. Leaf indicators are integral once the options are. The model's raw
output is the base plus the chosen leaves' values, bounded by the target.

Rows are solved once relaxed (the target's bound loosened by 1e-6): its
optimum's cost is a lower bound on any answer, and an infeasible relaxation
proves that no allowed change reaches the target. When the relaxed answer
sits on the boundary and fails the model's own check, the bound is tightened
and solved again; the answer is "optimal" only when its cost equals the bound.

Before the program is built, options are cut twice: those dearer than a
greedy answer (no optimum uses them), and, per column, all but the cheapest
of the options that every split still reachable sends the same way (once
the columns that cannot move cut subtrees off, many thresholds no longer
separate anything). The greedy cost is not added as a cutoff row: with
HiGHS that row (cost coefficients down to 1e-8) slowed the root node 1.5-3x.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import ModelReadingError, UnsupportedModelError
from ._common import (
    TIGHTENINGS,
    Answer,
    Checker,
    OutputBound,
    Target,
    certified,
    output_bounds,
    with_changes,
)
from ._space import FeatureSpace

__all__ = ["TreeEngine"]

NUMERIC, CATEGORICAL, ZERO_MISSING = 0, 1, 2
ZERO_BAND = 1e-35  # LightGBM's "zero as missing" band, as the tree kernels read it
COST_TOL = 1e-9


@dataclass
class _Options:
    """The places one column may go for one row: user values, the values the trees see,
    and each one's cost; ``current`` is the row's own."""

    values: list[Any]
    points: np.ndarray
    costs: np.ndarray
    current: int


def _dtype_down(t: float, dtype: np.dtype) -> float:
    """The largest value of ``dtype`` that is <= t (as float64)."""
    f = dtype.type(t)
    if float(f) > t:
        f = np.nextafter(f, dtype.type(-np.inf))
    return float(f)


def _dtype_up(t: float, dtype: np.dtype) -> float:
    """The smallest value of ``dtype`` that is > t (as float64)."""
    f = dtype.type(t)
    if float(f) <= t:
        f = np.nextafter(f, dtype.type(np.inf))
    return float(f)


class TreeEngine:
    """Counterfactuals of a tree ensemble read by ``pellucid.tree`` (see the module docstring)."""

    name = "milp_tree"

    def __init__(self, model: Any, space: FeatureSpace, *, time_limit: float) -> None:
        from ..tree._ensemble import model_link
        from ..tree._explainer import read_ensemble

        try:
            self.ens = read_ensemble(model.raw_model)
        except (TypeError, ValueError) as exc:
            raise UnsupportedModelError(f"No tree ensemble to read: {exc}") from None
        link = model_link(model, self.ens.link)
        if link is None:
            raise UnsupportedModelError(
                f"Cannot relate the raw output of {self.ens.source} (link {self.ens.link!r}) to "
                "its predictions."
            )
        # how the summed raw output becomes the model's prediction
        self.link = "logistic" if link == "logistic" else ("exp" if link == "exp" else "identity")
        if link == "softmax":
            self.link = "identity"  # argmax of softmax = argmax of raw
        self.model = model
        self.space = space
        self.time_limit = float(time_limit)
        self.dtype = np.dtype(self.ens.input_dtype)
        self._structure()
        self._check_reading(link)

    # ------------------------------------------------------------------ reading
    def _structure(self) -> None:
        ens = self.ens
        n = ens.n_nodes
        is_leaf = ens.left < 0
        before = np.concatenate([[0], np.cumsum(is_leaf)])  # leaves before node i
        end = np.empty(n, dtype=np.int64)
        for node in range(n - 1, -1, -1):
            end[node] = node + 1 if is_leaf[node] else end[ens.right[node]]
        internal = np.flatnonzero(~is_leaf)
        self.leaf_nodes = np.flatnonzero(is_leaf)
        self.n_leaves = len(self.leaf_nodes)
        # leaves of node i's subtree: [lo, hi); of its left side: [lo, mid)
        self.lo = before[np.arange(n)]
        self.hi = before[end]
        self.mid = np.where(is_leaf, self.hi, before[np.maximum(ens.right, 0)])
        self.leaf_tree = np.searchsorted(ens.tree_start, self.leaf_nodes, side="right") - 1
        # each leaf's contribution to every raw output
        n_out = ens.n_outputs
        tree_out = ens.tree_output[self.leaf_tree]
        contrib = np.zeros((self.n_leaves, n_out))
        values = ens.value[self.leaf_nodes]
        some = tree_out >= 0
        contrib[some, tree_out[some]] = values[some, 0]
        contrib[~some] = values[~some][:, :n_out]
        self.contrib = contrib
        self.nodes_of = {j: internal[ens.feature[internal] == j] for j in range(ens.n_features)}
        self.internal = internal

    def _check_reading(self, link: str) -> None:
        """The reading guard: the trees must reproduce the model's own predictions."""
        from ..tree._ensemble import apply_link
        from ..tree._explainer import to_matrix

        frame = self.space.frame
        sample = frame.iloc[np.linspace(0, len(frame) - 1, min(len(frame), 256)).astype(int)]
        Xa, _ = to_matrix(sample, self.ens, name="data")
        ours = apply_link(self.ens.predict_raw(Xa), link)
        theirs = self.model.predict(sample)
        ours = ours.reshape(theirs.shape) if ours.size == theirs.size else ours
        if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=1e-5, atol=1e-6):
            raise ModelReadingError(
                f"The trees read from {self.ens.source} do not reproduce its predictions on the "
                "data; counterfactuals from them would be about another model."
            )

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        from ..tree._explainer import to_matrix

        return to_matrix(frame, self.ens)[0]

    def _goes_left(self, nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Direction at each node for each value of x (in the trees' dtype):
        (len(nodes), len(x)) booleans."""
        n, v = np.broadcast_arrays(np.asarray(nodes)[:, None], np.asarray(x, np.float64)[None, :])
        return self._goes_left_pairs(n.ravel(), v.ravel()).reshape(n.shape)

    # ------------------------------------------------------------------ options
    def _numeric_options(self, j: int, value: float, tree_value: float) -> _Options:
        space, dtype = self.space, self.dtype
        nodes = self.nodes_of[j]
        cuts = np.unique(self.ens.threshold[nodes][self.ens.kind[nodes] != CATEGORICAL])
        if np.any(self.ens.kind[nodes] == ZERO_MISSING):
            # the band read as missing, [-ZERO_BAND, ZERO_BAND], becomes one interval of its own
            first = dtype.type(-ZERO_BAND)
            if float(first) < -ZERO_BAND:
                first = np.nextafter(first, dtype.type(np.inf))
            band = [float(np.nextafter(first, dtype.type(-np.inf))), _dtype_down(ZERO_BAND, dtype)]
            cuts = np.unique(np.concatenate([cuts, band]))
        low, high = space.bounds(j, value)
        step = space.actions[space.names[j]].step
        edges = np.concatenate([[-np.inf], cuts, [np.inf]])
        values: list[Any] = []
        points, costs = [], []
        current = -1
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if a < tree_value <= b:
                p: float | None = value
                current = len(values)
            elif tree_value > b:
                p = self._below(value, a, b, low, step)
            else:
                p = self._above(value, a, b, high, step)
            if p is None:
                continue
            values.append(p)
            points.append(float(dtype.type(p)))
            costs.append(space.value_cost(j, value, p))
        return _Options(values, np.asarray(points), np.asarray(costs), current)

    def _cast(self, p: float) -> float:
        return float(self.dtype.type(p))

    def _below(self, v: float, a: float, b: float, low: float, step: float | None) -> float | None:
        """The allowed point nearest v (from above) whose tree value lies in (a, b]."""
        if step is None:
            p = _dtype_down(b, self.dtype)
        else:
            p = v - step * np.ceil((v - b) / step)
            while self._cast(p) > b:
                p -= step
        ok = p >= low and self._cast(p) > a
        return float(p) if ok else None

    def _above(self, v: float, a: float, b: float, high: float, step: float | None) -> float | None:
        """The allowed point nearest v (from below) whose tree value lies in (a, b]."""
        if step is None:
            p = _dtype_up(a, self.dtype)
        else:
            p = v + step * np.ceil((a - v) / step)
            while self._cast(p) <= a:
                p += step
        ok = p <= high and self._cast(p) <= b
        return float(p) if ok else None

    def _categorical_options(self, j: int, row: pd.DataFrame) -> _Options:
        space = self.space
        values = space.allowed_categories(j, row.iloc[0, j])
        frame = pd.concat([row] * len(values), ignore_index=True)
        frame.isetitem(j, pd.Series(values, dtype=row.dtypes.iloc[j]))
        points = self._matrix(frame)[:, j]
        costs = np.array([0.0] + [space.change_cost(j)] * (len(values) - 1))
        return _Options(list(values), points, costs, 0)

    def _options(self, row: pd.DataFrame, xa: np.ndarray) -> dict[int, _Options]:
        """Options for every column that may change (two or more places to be)."""
        out = {}
        for f in self.space.features:
            value = row.iloc[0, f.index]
            if self.space.is_fixed(f.index, value) or len(self.nodes_of[f.index]) == 0:
                continue
            if f.categorical:
                opts = self._categorical_options(f.index, row)
            else:
                opts = self._numeric_options(f.index, float(value), float(xa[f.index]))
            if len(opts.values) > 1:
                out[f.index] = opts
        return out

    # ------------------------------------------------------------------ solving
    def solve(
        self, row: pd.DataFrame, target: Target, k: int, check: Checker, *, index: int = 0
    ) -> tuple[list[Answer], str]:
        xa = self._matrix(row)[0]
        options = self._options(row, xa)
        answers: list[Answer] = []
        excluded: list[tuple[int, ...]] = []
        status = "unknown"
        deadline = time.monotonic() + self.time_limit * k
        for _ in range(k):
            answer, status = self._best(row, xa, options, target, excluded, check, deadline)
            if answer is None:
                break
            answers.append(answer)
            excluded.append(tuple(sorted(answer.changes)))
        return answers, status

    def _best(
        self,
        row: pd.DataFrame,
        xa: np.ndarray,
        options: dict[int, _Options],
        target: Target,
        excluded: list[tuple[int, ...]],
        check: Checker,
        deadline: float,
    ) -> tuple[Answer | None, str]:
        # The greedy answer meets the first tightening, so it bounds the relaxed program and
        # that one; later tightenings (rare) search every option again.
        self._greedy: dict[int, int] | None = None
        bound = self._upper_bound(xa, options, target, excluded)
        greedy = self._greedy
        kept = self._prune(options, bound)

        def solve(margin: float) -> Any:
            if margin > TIGHTENINGS[0]:
                return self._solve(xa, options, target, margin, excluded, deadline)
            return self._solve(xa, kept, target, margin, excluded, deadline)

        def decode(result: Any) -> tuple[dict[int, Any], float]:
            opts = result.options
            chosen = self._decode(result.x, opts)
            changes = {j: opts[j].values[o] for j, o in chosen.items() if o != opts[j].current}
            return changes, self._cost(chosen, opts)

        def valid(changes: dict[int, Any]) -> bool:
            return bool(check(with_changes(row, [changes]))[0])

        answer, status = certified(solve, decode, valid)
        if answer is None and status == "unknown" and greedy is not None:
            # out of time with no answer of the solver's own: the bound's answer, if the
            # model agrees, is the best valid one known
            changes = {
                j: options[j].values[o] for j, o in greedy.items() if o != options[j].current
            }
            if valid(changes):
                return Answer(changes, self._cost(greedy, options), "feasible", None), "feasible"
        return answer, status

    @staticmethod
    def _cost(changes: dict[int, int], options: dict[int, _Options]) -> float:
        return float(sum(options[j].costs[o] for j, o in changes.items()))

    @staticmethod
    def _prune(options: dict[int, _Options], bound: float) -> dict[int, _Options]:
        """Drop options dearer than a known answer: no cheaper answer can use them."""
        if not np.isfinite(bound):
            return options
        kept = {}
        for j, opts in options.items():
            keep = np.flatnonzero(opts.costs <= bound + COST_TOL * max(1.0, bound))
            if len(keep) < 2:
                continue
            kept[j] = _Options(
                [opts.values[i] for i in keep],
                opts.points[keep],
                opts.costs[keep],
                int(np.flatnonzero(keep == opts.current)[0]),
            )
        return kept

    def _bounds(self, target: Target, margin: float) -> list[OutputBound]:
        return output_bounds(target, self.ens.n_outputs, self.link, margin)

    # ------------------------------------------------------------------ heuristic
    def _upper_bound(
        self,
        xa: np.ndarray,
        options: dict[int, _Options],
        target: Target,
        excluded: list[tuple[int, ...]],
    ) -> float:
        """Cost of a greedy answer (moves with the best output gain per cost) that meets the
        tightest bound, or inf: it only prunes options and bounds the program."""
        bounds = self._bounds(target, TIGHTENINGS[0])
        choice = {j: o.current for j, o in options.items()}
        x = xa.copy()

        def violation(out: np.ndarray) -> np.ndarray:
            return np.max([b.violation(out) for b in bounds], axis=0)

        current = float(violation(self.ens.predict_raw(x[None, :]))[0])
        for _ in range(len(options) + 1):
            if current == 0:
                return self._improve(choice, options, violation, excluded, xa)
            rows, moves = [], []
            for j, opts in options.items():
                changed = {f for f, o in choice.items() if o != options[f].current} | {j}
                if any(set(s) <= changed for s in excluded):
                    continue
                for o in range(len(opts.values)):
                    if o != choice[j]:
                        xx = x.copy()
                        xx[j] = opts.points[o]
                        rows.append(xx)
                        moves.append((j, o))
            if not rows:
                return np.inf
            viol = violation(self.ens.predict_raw(np.asarray(rows)))
            base_cost = self._cost(choice, options)
            costs = np.array(
                [base_cost - options[j].costs[choice[j]] + options[j].costs[o] for j, o in moves]
            )
            done = viol == 0
            if done.any():
                i = int(np.flatnonzero(done)[np.argmin(costs[done])])
            else:
                gain = (current - viol) / np.maximum(costs - base_cost, 1e-12)
                i = int(np.argmax(gain))
                if not current - viol[i] > 0:
                    return np.inf
            j, o = moves[i]
            choice[j] = o
            x[j] = options[j].points[o]
            current = float(viol[i])
        return self._improve(choice, options, violation, excluded, xa) if current == 0 else np.inf

    def _improve(
        self,
        choice: dict[int, int],
        options: dict[int, _Options],
        violation: Any,
        excluded: list[tuple[int, ...]],
        xa: np.ndarray,
    ) -> float:
        """Local search from a valid choice: move one column, or put one changed column
        back and move another, while that lowers the cost and keeps the target."""
        cost = self._cost(choice, options)
        for _ in range(20):
            trials: list[dict[int, int]] = []
            for j, opts in options.items():
                for o in range(len(opts.values)):
                    if o != choice[j] and opts.costs[o] < opts.costs[choice[j]]:
                        trials.append({**choice, j: o})
            for back in [j for j in options if choice[j] != options[j].current]:
                base = {**choice, back: options[back].current}
                for j, opts in options.items():
                    if j == back:
                        continue
                    for o in range(len(opts.values)):
                        trials.append({**base, j: o})
            trials = [
                t for t in trials
                if not any(set(e) <= {f for f, o in t.items() if o != options[f].current}
                           for e in excluded)
                and self._cost(t, options) < cost - COST_TOL
            ]  # fmt: skip
            if not trials:
                break
            X = np.repeat(xa[None, :], len(trials), axis=0)
            for i, t in enumerate(trials):
                for j, o in t.items():
                    X[i, j] = options[j].points[o]
            ok = violation(self.ens.predict_raw(X)) == 0
            if not ok.any():
                break
            costs = np.array([self._cost(t, options) for t in trials])
            best = int(np.flatnonzero(ok)[np.argmin(costs[ok])])
            choice, cost = trials[best], float(costs[best])
        self._greedy = choice
        return cost

    # ------------------------------------------------------------------ the program
    def _solve(
        self,
        xa: np.ndarray,
        options: dict[int, _Options],
        target: Target,
        margin: float,
        excluded: list[tuple[int, ...]],
        deadline: float,
    ) -> Any:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_array

        ens = self.ens
        options = self._undominated(xa, options)
        mutable = sorted(options)
        # --- which leaves stay reachable given the columns that cannot move
        fixed_nodes = self.internal[~np.isin(ens.feature[self.internal], mutable)]
        fixed_left = self._goes_left_rows(fixed_nodes, xa)
        # a split every remaining option of its column passes the same way is fixed too
        split_dirs: dict[int, tuple[int, np.ndarray]] = {}
        steady, steady_left = [], []
        for j in mutable:
            nodes = self.nodes_of[j]
            dirs = self._goes_left(nodes, options[j].points).astype(np.float64)
            for node, d in zip(nodes, dirs, strict=True):
                if d.min() == d.max():
                    steady.append(node)
                    steady_left.append(bool(d[0]))
                else:
                    split_dirs[int(node)] = (j, d)
        fixed_nodes = np.concatenate([fixed_nodes, np.asarray(steady, dtype=np.int64)])
        fixed_left = np.concatenate([fixed_left, np.asarray(steady_left, dtype=bool)])
        reachable = self._reachable(fixed_nodes, fixed_left)
        per_tree = np.bincount(self.leaf_tree[reachable], minlength=ens.n_trees)
        variable = reachable & (per_tree[self.leaf_tree] > 1)
        constant = reachable & ~variable
        # --- variables: cumulative option indicators per column, then leaves
        col_start, n_vars = {}, 0
        for j in mutable:
            col_start[j] = n_vars
            n_vars += len(options[j].values) - 1
        n_binary = n_vars
        leaf_var = np.full(self.n_leaves, -1, dtype=np.int64)
        leaf_var[variable] = n_binary + np.arange(int(variable.sum()))
        n_vars = n_binary + int(variable.sum())
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lbs: list[float] = []
        ubs: list[float] = []

        def add(c: np.ndarray, v: np.ndarray, lb: float, ub: float) -> None:
            rows.append(np.full(len(c), len(lbs)))
            cols.append(np.asarray(c, dtype=np.int64))
            vals.append(np.asarray(v, dtype=np.float64))
            lbs.append(lb)
            ubs.append(ub)

        # leaves of each tree sum to one
        trees = self.leaf_tree[variable]
        for t in np.unique(trees):
            vs = leaf_var[variable][trees == t]
            add(vs, np.ones(len(vs)), 1.0, 1.0)
        # options: c_o <= c_{o+1}
        for j in mutable:
            m, s = len(options[j].values), col_start[j]
            for o in range(m - 2):
                add(np.array([s + o, s + o + 1]), np.array([1.0, -1.0]), -np.inf, 0.0)
        # splits: leaves on a side need the column's option to go that way
        for node, (j, d) in split_dirs.items():
            m, s = len(options[j].values), col_start[j]
            lo, mid, hi = self.lo[node], self.mid[node], self.hi[node]
            if not variable[lo:hi].any():
                continue
            coef = d[:-1] - d[1:]  # sum over left options = d[m-1] + coef . c
            nz = np.flatnonzero(coef)
            left_leaves = leaf_var[lo:mid][variable[lo:mid]]
            right_leaves = leaf_var[mid:hi][variable[mid:hi]]
            if len(left_leaves):
                add(
                    np.concatenate([left_leaves, s + nz]),
                    np.concatenate([np.ones(len(left_leaves)), -coef[nz]]),
                    -np.inf,
                    d[m - 1],
                )
            if len(right_leaves):
                add(
                    np.concatenate([right_leaves, s + nz]),
                    np.concatenate([np.ones(len(right_leaves)), coef[nz]]),
                    -np.inf,
                    1.0 - d[m - 1],
                )
        # the target on the raw output
        fixed_out = ens.base + self.contrib[constant].sum(axis=0)
        for b in self._bounds(target, margin):
            w = self.contrib[variable] @ b.coef
            shift = float(fixed_out @ b.coef)
            add(leaf_var[variable], w, b.low - shift, b.high - shift)
        # objective: sum_o cost_o z_o with z_o = c_o - c_{o-1}
        objective = np.zeros(n_vars)
        offset = 0.0
        for j in mutable:
            costs, s, m = options[j].costs, col_start[j], len(options[j].values)
            objective[s : s + m - 1] = costs[:-1] - costs[1:]
            offset += costs[m - 1]
        # diversity: an earlier answer's columns may not all change again
        for cols_changed in excluded:
            self._exclude(cols_changed, options, col_start, add)
        if n_vars == 0:  # nothing may move: the row's own output meets the target or not
            result = _constant_result(fixed_out, self._bounds(target, margin))
            result.options = options
            return result
        A = coo_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(lbs), n_vars),
        ).tocsr()
        integrality = np.zeros(n_vars)
        integrality[:n_binary] = 1
        left_s = max(deadline - time.monotonic(), 0.05)
        result = milp(
            objective,
            integrality=integrality,
            bounds=Bounds(np.zeros(n_vars), np.ones(n_vars)),
            constraints=LinearConstraint(A, np.asarray(lbs), np.asarray(ubs)),
            options={"time_limit": left_s, "mip_rel_gap": 0.0},
        )
        if result.x is not None:
            result.fun = float(result.fun) + offset
        if getattr(result, "mip_dual_bound", None) is not None:
            result.mip_dual_bound = float(result.mip_dual_bound) + offset
        result.options = options
        return result

    def _reachable(self, nodes: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Leaves not cut off by taking direction ``left`` at each of ``nodes``."""
        cut_lo = np.where(left, self.mid[nodes], self.lo[nodes])
        cut_hi = np.where(left, self.hi[nodes], self.mid[nodes])
        marks = np.zeros(self.n_leaves + 1, dtype=np.int64)
        np.add.at(marks, cut_lo, 1)
        np.add.at(marks, cut_hi, -1)
        return np.cumsum(marks)[:-1] == 0

    def _undominated(self, xa: np.ndarray, options: dict[int, _Options]) -> dict[int, _Options]:
        """Per column, the cheapest of the options that every split still reachable (given
        the columns that cannot move) sends the same way: the others lead to the same
        leaves at a higher cost, so no optimum needs them. Thresholds inside subtrees the
        fixed columns cut off no longer separate options, and most options go."""
        ens = self.ens
        fixed_nodes = self.internal[~np.isin(ens.feature[self.internal], list(options))]
        reachable = self._reachable(fixed_nodes, self._goes_left_rows(fixed_nodes, xa))
        with_leaf = np.concatenate([[0], np.cumsum(reachable)])
        kept = {}
        for j, opts in options.items():
            nodes = self.nodes_of[j]
            nodes = nodes[with_leaf[self.hi[nodes]] > with_leaf[self.lo[nodes]]]
            dirs = self._goes_left(nodes, opts.points).T  # (options, nodes)
            best: dict[bytes, int] = {}
            for o in np.argsort(opts.costs, kind="stable"):
                key = dirs[o].tobytes()
                if key not in best or o == opts.current and opts.costs[o] <= opts.costs[best[key]]:
                    best[key] = int(o)
            keep = np.sort(np.fromiter(best.values(), dtype=np.int64))
            if len(keep) < 2 or opts.current not in keep:
                continue  # the column cannot change where it matters, or never leaves home
            kept[j] = _Options(
                [opts.values[i] for i in keep],
                opts.points[keep],
                opts.costs[keep],
                int(np.flatnonzero(keep == opts.current)[0]),
            )
        return kept

    def _goes_left_rows(self, nodes: np.ndarray, xa: np.ndarray) -> np.ndarray:
        """Direction of the row at each node (its own column value)."""
        return self._goes_left_pairs(nodes, xa[self.ens.feature[nodes]])

    def _goes_left_pairs(self, nodes: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Direction at nodes[i] for values[i], as the tree kernels decide."""
        ens = self.ens
        x = values
        kind = ens.kind[nodes]
        left = x <= ens.threshold[nodes]
        zero = (kind == ZERO_MISSING) & (np.abs(x) <= ZERO_BAND)
        left = np.where(zero, ens.default_left[nodes], left)
        if np.any(kind == CATEGORICAL):
            code = np.where(np.isnan(x) | (x < 0), -1, np.nan_to_num(x)).astype(np.int64)
            inside = (code >= 0) & (code < ens.cat_len[nodes])
            index = np.where(inside, ens.cat_start[nodes] + np.maximum(code, 0), 0)
            d = np.where(inside, ens.cat_dir[index], ens.cat_other[nodes])
            left = np.where(
                kind == CATEGORICAL, np.where(d == 2, ens.default_left[nodes], d == 0), left
            )
        return np.where(np.isnan(x), ens.default_left[nodes], left)

    @staticmethod
    def _exclude(
        cols_changed: tuple[int, ...],
        options: dict[int, _Options],
        col_start: dict[int, int],
        add: Any,
    ) -> None:
        """At least one of ``cols_changed`` keeps its current option: sum z_current >= 1."""
        cs, vs, const = [], [], 0.0
        for j in cols_changed:
            if j not in options:  # pruned away: it cannot change, the cut holds already
                return
            o, s, m = options[j].current, col_start[j], len(options[j].values)
            # z_o = c_o - c_{o-1}, with c_{-1} = 0 and c_{m-1} = 1
            if o < m - 1:
                cs.append(s + o)
                vs.append(1.0)
            else:
                const += 1.0
            if o > 0:
                cs.append(s + o - 1)
                vs.append(-1.0)
        add(np.asarray(cs, dtype=np.int64), np.asarray(vs), 1.0 - const, np.inf)

    def _decode(self, x: np.ndarray, options: dict[int, _Options]) -> dict[int, int]:
        """The option each column takes in a solution."""
        out, s = {}, 0
        for j in sorted(options):
            m = len(options[j].values)
            c = np.concatenate([[0.0], np.round(x[s : s + m - 1]), [1.0]])
            out[j] = int(np.argmax(np.diff(c)))
            s += m - 1
        return out


def _constant_result(output: np.ndarray, bounds: list[OutputBound]) -> Any:
    """What ``milp`` would answer for a program without variables."""
    from types import SimpleNamespace

    ok = all(b.violation(output[None, :])[0] == 0 for b in bounds)
    return SimpleNamespace(status=0 if ok else 2, x=np.zeros(0) if ok else None, fun=0.0)
