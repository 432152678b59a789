"""Exact counterfactuals for models linear in the user's columns.

A bare LogisticRegression / LinearRegression (any scikit-learn linear model,
LinearSVC/LinearSVR), or a Pipeline ending in one after per-column affine or
one-hot steps (StandardScaler, OneHotEncoder in a ColumnTransformer, ...).
The model's margin is read as ``f(x') = f(x) + sum_j w_j (x'_j - x_j) +
sum_j (W_j[x'_j] - W_j[x_j])`` by probing the model itself (one step per
numeric column, every category per categorical one), and that reading is
checked against the model on the data before it is used: a model that is
not linear in its columns is refused, not approximated.

Each numeric column moves by ``up - down`` (both >= 0; whole steps when the
column has a step), a categorical column switches to at most one other
category, and changed-column indicators appear only where needed (L0 cost,
diversity cuts). With the MAD-L1 cost and no integers this is a linear
program whose optimum is the closed form: move the column with the largest
``|w_j| * MAD_j`` first.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from .._errors import UnsupportedModelError
from ._common import Answer, Checker, Target, certified, output_bounds, with_changes
from ._space import FeatureSpace

__all__ = ["LinearEngine"]

LINEAR_MODULES = ("sklearn.linear_model", "sklearn.svm")
LINEAR_SVM = ("LinearSVC", "LinearSVR")
# a column's largest move when nothing bounds it, in units of its observed range
UNBOUNDED_RANGES = 100.0
# A linear program's optimum sits on the decision boundary itself (no leaf values
# in between), so the relaxation and the safety margins can be much finer than for trees.
LINEAR_SLACK = 1e-9
LINEAR_TIGHTENINGS = (1e-9, 1e-7, 1e-5, 1e-3)


def _final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if type(model).__name__ == "Pipeline" else model


class LinearEngine:
    """Counterfactuals of a model linear in its columns (see the module docstring)."""

    name = "milp_linear"

    def __init__(self, model: Any, space: FeatureSpace, *, time_limit: float) -> None:
        final = _final_estimator(model.raw_model)
        module = type(final).__module__
        if model.kind != "sklearn" or not (
            module.startswith(LINEAR_MODULES[0])
            or (module.startswith(LINEAR_MODULES[1]) and type(final).__name__ in LINEAR_SVM)
        ):
            raise UnsupportedModelError(
                f"{type(final).__name__} is not a scikit-learn linear model."
            )
        if model.task == "multiclass":
            raise UnsupportedModelError(
                "The linear engine reads binary classifiers and regressors."
            )
        self.model = model
        self.space = space
        self.time_limit = float(time_limit)
        self.link = "logistic" if model.is_classifier else "identity"
        self._read()

    # ------------------------------------------------------------------ reading
    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The linear score: the decision function of a classifier, a regressor's prediction."""
        raw = self.model.raw_model
        X = self.model.prepare(frame, check=False)
        out = raw.decision_function(X) if self.model.is_classifier else raw.predict(X)
        return np.asarray(out, dtype=np.float64).reshape(len(frame))

    def _read(self) -> None:
        space = self.space
        ref = self._reference()
        base = float(self.margin(ref)[0])
        self.weights = np.zeros(len(space.features))
        self.category_effects: dict[int, dict[Any, float]] = {}
        probes, owners = [], []
        for f in space.features:
            if f.categorical:
                for c in f.categories:
                    probes.append({f.index: c})
                    owners.append((f.index, c))
            else:
                probes.append({f.index: float(ref.iloc[0, f.index]) + self._probe_step(f)})
                owners.append((f.index, None))
        out = self.margin(with_changes(ref, probes)) - base
        for (j, c), delta in zip(owners, out, strict=True):
            if c is None:
                self.weights[j] = delta / self._probe_step(space.features[j])
            else:
                self.category_effects.setdefault(j, {})[c] = float(delta)
        self._check(ref, base)

    @staticmethod
    def _probe_step(f: Any) -> float:
        """A move on the column's own scale (whole for integer columns)."""
        return float(max(1, round(f.scale))) if f.integer else f.scale

    def _reference(self) -> pd.DataFrame:
        """A row to probe from: medians and the first category (no missing values)."""
        space = self.space
        values = {}
        for f in space.features:
            col = space.frame.iloc[:, f.index]
            if f.categorical:
                values[f.name] = [f.categories[0]]
            else:
                med = float(np.nanmedian(col.to_numpy(dtype=np.float64, na_value=np.nan)))
                values[f.name] = [round(med) if f.integer else med]
        ref = pd.DataFrame(values)
        for j, dtype in enumerate(space.dtypes):
            ref.isetitem(j, ref.iloc[:, j].astype(dtype))
        return ref

    def _predicted(self, rows: pd.DataFrame, ref: pd.DataFrame, base: float) -> np.ndarray:
        out = np.full(len(rows), base)
        for f in self.space.features:
            col = rows.iloc[:, f.index]
            if f.categorical:
                effects = self.category_effects[f.index]
                out += col.map(lambda c, e=effects: e.get(c, np.nan)).to_numpy(dtype=np.float64)
            else:
                delta = col.to_numpy(dtype=np.float64) - float(ref.iloc[0, f.index])
                out += self.weights[f.index] * delta
        return out

    def _check(self, ref: pd.DataFrame, base: float) -> None:
        """The reading guard: the linear reading must reproduce the model on the data."""
        frame = self.space.frame
        complete = frame[~frame.isna().any(axis=1)]
        sample = complete.iloc[
            np.linspace(0, len(complete) - 1, min(len(complete), 256)).astype(int)
        ]
        if len(sample) == 0:
            raise UnsupportedModelError("No complete data row to check the linear reading on.")
        sample = sample.reset_index(drop=True)
        actual = self.margin(sample)
        ours = self._predicted(sample, ref, base)
        tol = 1e-6 * max(1.0, float(np.max(np.abs(actual))))
        if not np.all(np.abs(ours - actual) <= tol):
            raise UnsupportedModelError(
                f"{type(_final_estimator(self.model.raw_model)).__name__}'s pipeline is not linear "
                "in its columns (probed weights do not reproduce it on the data)."
            )

    # ------------------------------------------------------------------ solving
    def solve(
        self, row: pd.DataFrame, target: Target, k: int, check: Checker, *, index: int = 0
    ) -> tuple[list[Answer], str]:
        start = float(self.margin(row)[0])
        answers: list[Answer] = []
        excluded: list[tuple[int, ...]] = []
        status = "unknown"
        deadline = time.monotonic() + self.time_limit * k
        for _ in range(k):
            program = _Program(self, row, start, target, excluded, deadline)
            answer, status = certified(
                program.solve,
                program.decode,
                lambda changes: bool(check(with_changes(row, [changes]))[0]),
                slack=LINEAR_SLACK,
                tightenings=LINEAR_TIGHTENINGS,
            )
            if answer is None:
                break
            answers.append(answer)
            excluded.append(tuple(sorted(answer.changes)))
        return answers, status


class _Program:
    """The mixed-integer program for one row and one answer."""

    def __init__(
        self,
        engine: LinearEngine,
        row: pd.DataFrame,
        start: float,
        target: Target,
        excluded: list[tuple[int, ...]],
        deadline: float,
    ) -> None:
        self.engine, self.row, self.start = engine, row, start
        self.target, self.excluded, self.deadline = target, excluded, deadline
        space = engine.space
        self.numeric: list[
            tuple[int, float, float, float, float | None]
        ] = []  # j, v, down, up, step
        self.categorical: list[tuple[int, Any, list[Any]]] = []
        for f in space.features:
            value = row.iloc[0, f.index]
            if space.is_fixed(f.index, value):
                continue
            if f.categorical:
                others = space.allowed_categories(f.index, value)[1:]
                if others:
                    self.categorical.append((f.index, value, others))
                continue
            if engine.weights[f.index] == 0 and space.cost_name != "l0":
                continue  # moving it cannot help and costs
            v = float(value)
            low, high = space.bounds(f.index, v)
            span = UNBOUNDED_RANGES * max(f.observed_high - f.observed_low, f.scale)
            down = min(v - low, span)
            up = min(high - v, span)
            step = space.actions[f.name].step
            if step is not None:
                down, up = np.floor(down / step + 1e-9), np.floor(up / step + 1e-9)
            if down > 0 or up > 0:
                self.numeric.append((f.index, v, float(down), float(up), step))
        self.indicators = space.cost_name == "l0" or bool(excluded)

    def solve(self, margin: float) -> Any:
        from scipy.optimize import Bounds, LinearConstraint, milp

        space, w = self.engine.space, self.engine.weights
        obj, lb, ub, integral, gain = [], [], [], [], []
        A_rows: list[tuple[dict[int, float], float, float]] = []
        self.layout: list[tuple[str, int, Any]] = []
        for j, _v, down, up, step in self.numeric:
            unit = step if step is not None else 1.0
            for sign, limit in ((1.0, up), (-1.0, down)):
                self.layout.append(("move", j, sign * unit))
                obj.append(space.unit_cost(j) * unit)
                lb.append(0.0)
                ub.append(limit)
                integral.append(1 if step is not None else 0)
                gain.append(w[j] * sign * unit)
        move_vars = {j: [i for i, (kind, jj, _) in enumerate(self.layout) if kind == "move" and jj == j]
                     for j, *_ in self.numeric}  # fmt: skip
        changed: dict[
            int, list[tuple[int, float]]
        ] = {}  # column -> (variable, coefficient) of "changed"
        for j, current, others in self.categorical:
            effects = self.engine.category_effects[j]
            ids = []
            for c in others:
                ids.append(len(self.layout))
                self.layout.append(("category", j, c))
                obj.append(space.change_cost(j))
                lb.append(0.0)
                ub.append(1.0)
                integral.append(1)
                gain.append(effects[c] - effects[current])
            A_rows.append(({i: 1.0 for i in ids}, -np.inf, 1.0))
            changed[j] = [(i, 1.0) for i in ids]
        if self.indicators:
            for j, _v, down, up, _step in self.numeric:
                i = len(self.layout)
                self.layout.append(("changed", j, None))
                obj.append(space.change_cost(j))
                lb.append(0.0)
                ub.append(1.0)
                integral.append(1)
                gain.append(0.0)
                # up + down <= (largest move) * changed
                A_rows.append(({**{m: 1.0 for m in move_vars[j]}, i: -max(down, up)}, -np.inf, 0.0))
                changed[j] = [(i, 1.0)]
        for cols in self.excluded:
            terms: dict[int, float] = {}
            for j in cols:
                for i, c in changed.get(j, []):
                    terms[i] = terms.get(i, 0.0) + c
            A_rows.append((terms, -np.inf, len(cols) - 1.0))
        n = len(self.layout)
        for b in output_bounds(self.target, 1, self.engine.link, margin):
            A_rows.append(({i: gain[i] * b.coef[0] for i in range(n)}, b.low - self.start * b.coef[0],
                           b.high - self.start * b.coef[0]))  # fmt: skip
        A = np.zeros((len(A_rows), n))
        for r, (terms, _, _) in enumerate(A_rows):
            for i, c in terms.items():
                A[r, i] = c
        cons = LinearConstraint(A, [r[1] for r in A_rows], [r[2] for r in A_rows]) if n else None
        if n == 0:
            return _empty_result(self.target, self.start, margin, self.engine.link)
        return milp(
            np.asarray(obj),
            integrality=np.asarray(integral),
            bounds=Bounds(np.asarray(lb), np.asarray(ub)),
            constraints=cons,
            options={"time_limit": max(self.deadline - time.monotonic(), 0.05), "mip_rel_gap": 0.0},
        )

    def decode(self, result: Any) -> tuple[dict[int, Any], float]:
        space = self.engine.space
        x = result.x
        changes: dict[int, Any] = {}
        values = {j: v for j, v, *_ in self.numeric}
        steps = {j: s for j, _v, _d, _u, s in self.numeric}
        moved: dict[int, float] = {}
        for i, (kind, j, what) in enumerate(self.layout):
            if kind == "move":
                amount = round(x[i]) if steps[j] is not None else x[i]
                moved[j] = moved.get(j, 0.0) + what * amount
            elif kind == "category" and x[i] > 0.5:
                changes[j] = what
        cost = 0.0
        for j, delta in moved.items():
            if delta != 0:
                new = values[j] + delta
                if space.features[j].integer:
                    new = float(round(new))
                changes[j] = new
                cost += space.value_cost(j, values[j], new)
        for j in changes:
            if space.features[j].categorical:
                cost += space.change_cost(j)
        return changes, cost


def _empty_result(target: Target, start: float, margin: float, link: str) -> Any:
    """A program with no variables: feasible (cost 0) or not, by the row's own score."""
    from types import SimpleNamespace

    ok = all(b.low <= start * b.coef[0] <= b.high for b in output_bounds(target, 1, link, margin))
    return SimpleNamespace(status=0 if ok else 2, x=np.zeros(0) if ok else None, fun=0.0)
