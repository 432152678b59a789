"""Counterfactuals: the cheapest allowed changes that give a row the desired outcome.

Settings live in the constructor, rows in :meth:`Counterfactuals.explain`.
An engine is chosen once: exact programs for tree ensembles
(``_milp_tree``) and for models linear in the user's columns
(``_milp_linear``), a seeded model-agnostic search otherwise (``_search``).
Whatever the engine, every answer is re-checked with the model's own
prediction before it is reported (``valid``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError
from .._errors import UnsupportedModelError
from .._model import Model, as_model
from ..metrics._subgroups import UNSET, subgroup_column, subgroups_argument
from ._common import Target, with_changes
from ._results import Change, Counterfactual, CounterfactualSet
from ._space import FeatureSpace

__all__ = ["ENGINES", "Counterfactuals", "recourse_audit"]

ENGINES = ("auto", "tree", "linear", "search")


class Counterfactuals:
    """Counterfactual explanations with certificates.

    Parameters
    ----------
    model:
        A fitted classifier or regressor (scikit-learn, XGBoost, LightGBM,
        CatBoost, a Pipeline, a callable) or a ``pellucid.Model``.
    data:
        Reference rows (usually the training data): the columns, their median
        absolute deviations (the cost's scale), categories and observed ranges.
    immutable:
        Columns that may not change (kept to the bit).
    actions:
        Column -> what may happen to it: ``"increase"``, ``"decrease"``,
        ``"fixed"``, ``(low, high)``, a list of allowed categories, a step
        (changes in multiples of it; integer columns have step 1), or a dict
        with keys ``direction``, ``range``, ``step``, ``categories``.
    cost:
        ``"mad_l1"`` (L1 distance, each column divided by its median absolute
        deviation; a category switch costs 1), ``"l1"``, ``"l0"`` (number of
        changed columns), a mapping column -> weight (weighted MAD-L1), or a
        callable ``cost(row, candidates) -> costs`` (search engine only).
    plausibility:
        None; ``"range"``: numeric columns stay inside the data's observed range;
        ``"knn"``: the answer's distance (MAD-L1, a category switch 1) to its 5th
        nearest data row is at most the 95th percentile of the data rows' own; the
        search keeps to it, and an exact answer beyond it is replaced by the
        search's (certificate "feasible").
    engine:
        "auto" (trees, then linear, then search), "tree", "linear" or "search".
    time_limit:
        Seconds per counterfactual for the exact engines; past it the best
        valid answer is returned as "feasible" with its optimality gap.
    random_state:
        Seed of the search engine.
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        *,
        immutable: Sequence[str] = (),
        actions: Mapping[str, Any] | None = None,
        cost: str | Mapping[str, float] | Callable[..., Any] = "mad_l1",
        plausibility: str | None = None,
        engine: str = "auto",
        time_limit: float = 10.0,
        random_state: int | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}.")
        if not float(time_limit) > 0:
            raise ValueError(f"time_limit must be positive seconds; got {time_limit!r}.")
        self.model = _probability_model(model)
        self.space = FeatureSpace(
            data, immutable=immutable, actions=actions, cost=cost, plausibility=plausibility
        )
        names = self.model.feature_names
        if names is not None and tuple(names) != self.space.names:
            raise DataError(
                f"data's columns {list(self.space.names)} differ from the model's {list(names)}."
            )
        self.time_limit = float(time_limit)
        self.random_state = random_state
        self.engine = self._engine(engine)

    def _engine(self, engine: str) -> Any:
        if engine == "search" or (engine == "auto" and self.space.cost_name == "callable"):
            return self._search()
        if self.space.cost_name == "callable":
            raise ValueError(
                "A callable cost needs engine='search' (the exact engines are linear)."
            )
        if engine == "tree":
            return self._tree()
        if engine == "linear":
            return self._linear()
        for build in (self._tree, self._linear):
            try:
                return build()
            except UnsupportedModelError:
                continue
        return self._search()

    def _tree(self) -> Any:
        from ._milp_tree import TreeEngine

        return TreeEngine(self.model, self.space, time_limit=self.time_limit)

    def _linear(self) -> Any:
        from ._milp_linear import LinearEngine

        return LinearEngine(self.model, self.space, time_limit=self.time_limit)

    def _search(self) -> Any:
        from ._search import SearchEngine

        return SearchEngine(self.model, self.space, self.random_state)

    # ------------------------------------------------------------------ outcomes
    def _outcomes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The model's own labels and values (positive-class probability for binary
        classifiers, the prediction for regressors) for rows."""
        m = self.model
        out = m.predict(frame, check=False)
        if not m.is_classifier:
            values = np.asarray(out, dtype=np.float64).reshape(len(frame))
            return values, values
        raw = m.raw_model
        if m.kind in ("sklearn", "xgboost", "lightgbm", "catboost") and hasattr(raw, "classes_"):
            labels = np.asarray(raw.predict(m.prepare(frame, check=False))).reshape(len(frame))
        else:
            assert m.classes is not None
            labels = m.classes[np.argmax(out, axis=1)]
        values = out[:, 1] if out.shape[1] == 2 else np.full(len(frame), np.nan)
        return labels, values

    def _target(self, desired: Any, label: Any) -> Target:
        m = self.model
        if not m.is_classifier:
            low, high = _range(desired, "regressors")
            return Target("value", low=low, high=high)
        assert m.classes is not None
        classes = list(m.classes)
        if desired is None:
            if len(classes) != 2:
                raise ValueError(f"Name the desired class of this multiclass model: {classes}.")
            other = classes[1 - classes.index(label)]
            return Target("class", classes.index(other), other)
        if isinstance(desired, tuple):
            if len(classes) != 2:
                raise ValueError(
                    "A probability range as desired outcome needs a binary classifier."
                )
            low, high = _range(desired, "classifiers")
            return Target("probability", 1, classes[1], low, high)
        if desired not in classes:
            raise ValueError(f"desired={desired!r} is not one of the model's classes {classes}.")
        return Target("class", classes.index(desired), desired)

    # ------------------------------------------------------------------ explain
    def explain(self, X: Any, *, desired: Any = None, k: int = 1) -> CounterfactualSet:
        """Up to ``k`` counterfactuals per row of X, cheapest first.

        ``desired``: for classifiers a class (default for binary models: the
        class the row does not get), or ``(low, high)`` on the positive class's
        probability; for regressors ``(low, high)`` on the prediction. Answers
        after the first must leave at least one column of each earlier answer
        unchanged (diverse, not the same move twice).
        """
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        frame = self.space.check_rows(X)
        labels, values = self._outcomes(frame)
        answers: list[Counterfactual] = []
        certificates: list[str] = []
        predictions = labels if self.model.is_classifier else values
        for i in range(len(frame)):
            target = self._target(desired, labels[i])
            row = frame.iloc[[i]].reset_index(drop=True)
            if target.satisfied(labels[i : i + 1], values[i : i + 1])[0]:
                certificates.append("not_needed")
                continue
            found, status = self._solve_row(row, target, int(k), i)
            built = self._build(i, row, found, target)
            answers.extend(built)
            certificates.append(built[0].certificate if built else status)
        return CounterfactualSet(
            feature_names=self.space.names,
            data=frame.to_numpy(dtype=object),
            predictions=np.asarray(predictions, dtype=object),
            desired=desired if desired is not None else "other class",
            counterfactuals=tuple(answers),
            certificates=tuple(certificates),
            method=self.engine.name,
            params={
                "immutable": list(self.space.immutable),
                "cost": self.space.cost_name,
                "plausibility": self.space.plausibility,
                "knn_limit": None if self.space.knn is None else self.space.knn.limit,
                "time_limit": self.time_limit,
                "k": int(k),
                "random_state": self.random_state,
            },
        )

    def _solve_row(
        self, row: pd.DataFrame, target: Target, k: int, i: int
    ) -> tuple[list[Any], str]:
        """The engine's answers; under plausibility="knn" the search keeps to the data's
        neighbourhood as a constraint, and an exact answer outside it gives way to that
        search (its certificate is then "feasible" at best)."""
        check = self._checker(target)
        knn = self.space.knn
        if knn is None:
            return self.engine.solve(row, target, k, check, index=i)

        def near_and_valid(rows: pd.DataFrame) -> np.ndarray:
            return check(rows) & knn.plausible(rows)

        if self.engine.name != "search":
            found, status = self.engine.solve(row, target, k, check, index=i)
            if not found or knn.plausible(with_changes(row, [a.changes for a in found])).all():
                return found, status
        return self._search().solve(row, target, k, near_and_valid, index=i)

    def _checker(self, target: Target) -> Callable[[pd.DataFrame], np.ndarray]:
        def check(rows: pd.DataFrame) -> np.ndarray:
            labels, values = self._outcomes(rows)
            return target.satisfied(labels, values)

        return check

    def _build(
        self, i: int, row: pd.DataFrame, found: list[Any], target: Target
    ) -> list[Counterfactual]:
        """Answers as Counterfactuals, each re-checked with the model's own prediction."""
        if not found:
            return []
        rows = with_changes(row, [a.changes for a in found])
        labels, values = self._outcomes(rows)
        valid = target.satisfied(labels, values)
        shown = labels if self.model.is_classifier and target.kind == "class" else values
        out = []
        for rank, (answer, new) in enumerate(zip(found, rows.itertuples(index=False), strict=True)):
            changes = tuple(
                Change(self.space.names[j], _plain(row.iloc[0, j]), _plain(new[j]))
                for j in sorted(answer.changes)
            )
            out.append(
                Counterfactual(
                    row=i,
                    rank=rank,
                    changes=changes,
                    values=tuple(_plain(v) for v in new),
                    cost=float(answer.cost),
                    prediction=_plain(shown[rank]),
                    valid=bool(valid[rank]),
                    certificate=answer.certificate,
                    gap=answer.gap,
                )
            )
        return out


def _plain(v: Any) -> Any:
    """numpy scalars as Python numbers (JSON and repr stay readable)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _range(desired: Any, who: str) -> tuple[float, float]:
    if not (isinstance(desired, tuple) and len(desired) == 2):
        raise ValueError(
            f"For {who} desired is a (low, high) range (None for an open end); got {desired!r}."
        )
    low = -np.inf if desired[0] is None else float(desired[0])
    high = np.inf if desired[1] is None else float(desired[1])
    if not low <= high:
        raise ValueError(f"desired range {desired!r} is empty.")
    return low, high


def _probability_model(model: Any) -> Model:
    m = as_model(model)
    if m.is_classifier and m.output != "probability":
        raise ValueError(
            f"Pass the classifier itself or a pellucid.Model with output='probability' "
            f"(got output={m.output!r}): decisions are read from class probabilities."
        )
    return m


def recourse_audit(
    model: Any,
    X: Any,
    subgroups: Any = None,
    *,
    desired: Any,
    data: Any = None,
    immutable: Sequence[str] = (),
    actions: Mapping[str, Any] | None = None,
    cost: str | Mapping[str, float] = "mad_l1",
    engine: str = "auto",
    time_limit: float = 10.0,
    random_state: int | None = None,
    groups: Any = UNSET,
) -> pd.DataFrame:
    """Per group: how many rows lack the desired outcome, the share of them with a
    valid recourse, and the distribution of its cost (which group must change more).

    ``subgroups`` is a column of X (kept immutable) or one label per row
    (``groups=``, its old name, still works for one release with a FutureWarning);
    ``desired`` the favourable outcome (see :meth:`Counterfactuals.explain`);
    ``data`` the reference rows for scales (X when None).
    """
    subgroups = subgroups_argument("recourse_audit", subgroups, groups)
    if subgroups is None:
        raise TypeError("recourse_audit() needs subgroups: a column of X or one label per row.")
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    labels, _ = subgroup_column(subgroups, frame)
    if isinstance(subgroups, str) and subgroups not in immutable:
        immutable = (*immutable, subgroups)
    explainer = Counterfactuals(
        model,
        frame if data is None else data,
        immutable=immutable,
        actions=actions,
        cost=cost,
        engine=engine,
        time_limit=time_limit,
        random_state=random_state,
    )
    result = explainer.explain(frame, desired=desired)
    cost_of = {cf.row: cf.cost for cf in result.counterfactuals if cf.valid and cf.rank == 0}
    lines = []
    for g in pd.unique(labels):
        rows = np.flatnonzero(labels == g)
        negative = [int(r) for r in rows if result.certificates[r] != "not_needed"]
        costs = np.array([cost_of[r] for r in negative if r in cost_of])
        lines.append(
            {
                "group": g,
                "n_rows": len(rows),
                "n_negative": len(negative),
                "n_recourse": len(costs),
                "share_recourse": len(costs) / len(negative) if negative else np.nan,
                "n_infeasible": sum(result.certificates[r] == "infeasible" for r in negative),
                "cost_mean": costs.mean() if len(costs) else np.nan,
                "cost_q25": np.quantile(costs, 0.25) if len(costs) else np.nan,
                "cost_median": np.median(costs) if len(costs) else np.nan,
                "cost_q75": np.quantile(costs, 0.75) if len(costs) else np.nan,
            }
        )
    out = pd.DataFrame(lines).set_index("group")
    overall = np.median(list(cost_of.values())) if cost_of else np.nan
    out["cost_median_ratio"] = out["cost_median"] / overall if overall else np.nan
    return out
