"""What the explorer page asks the server beyond /predict, /explain and /reasons.

Every method takes the parsed request (a dict of query parameters or a JSON
body) and a cancel flag, and returns JSON-ready data or raises RequestError,
like :class:`~pellucid.serve._service.Service`'s.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections import OrderedDict
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ...regulatory._explainers import background_sample, row_seeds
from .._rows import Column, RequestError, safe_text, show
from .._service import Cancelled, Service, _finite, _floats, _jsonable

__all__ = ["STATIC_FILES", "Explorer", "static_file"]

#: The page's files (package data) and their media types.
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
MAX_PAGE = 500
#: Points of an ICE or PD curve along a numeric feature (quantiles of the observed values).
GRID_POINTS = 25
#: Rows averaged for global importance and partial dependence.
GLOBAL_ROWS = 200
#: Rows predicted per model call when the explorer starts (bounds the memory of one call).
PREDICT_CHUNK = 20_000
#: Seconds the counterfactual engine may spend on one row: the page waits for it.
COUNTERFACTUAL_SECONDS = 3.0
DERIVED = ("row", "prediction", "target", "error", "uncertainty")
_FILTER = re.compile(r"^\s*(.+?)\s*(<=|>=|!=|<|>|=|~)\s*(.*?)\s*$")


def static_file(name: str) -> bytes:
    """One of :data:`STATIC_FILES`, read from the package."""
    if name not in STATIC_FILES:
        raise RequestError(404, f"No file {safe_text(name)[:80]!r} here.")
    return (resources.files(__package__) / "static" / name).read_bytes()


def _cell(value: Any, column: Column) -> Any:
    """A stored value as the service's row schema accepts it back (so a row round-trips)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if column.kind == "integer":
        return int(value)
    if column.kind == "numeric":
        return float(value)
    if column.kind == "bool":
        return bool(value)
    if column.kind == "datetime":
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _number(value: Any) -> float | None:
    """A number for JSON: None where it is not finite."""
    return _finite(float(value))


def _nice_step(low: float, high: float) -> float:
    """A 1-2-5 step giving about 100 slider positions between low and high."""
    span = high - low
    if not span > 0:
        return 1.0
    raw = span / 100
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _int_param(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise RequestError(
            422,
            f"'{name}' must be an integer; got {show(raw)}.",
            [{"loc": ["query", name], "msg": "not an integer"}],
        ) from None
    if not low <= value <= high:
        raise RequestError(
            422,
            f"'{name}' must be from {low} to {high}; got {value}.",
            [{"loc": ["query", name], "msg": "out of range"}],
        )
    return value


class Explorer:
    """The explored rows with their predictions, and the explorer's computations.

    ``rows`` are the rows to look at (columns like the service's background);
    ``target`` their true outcomes, when known (errors are then shown).
    """

    def __init__(
        self, service: Service, rows: pd.DataFrame, target: pd.Series | None = None
    ) -> None:
        expected = list(service.rows.columns)
        if not isinstance(rows, pd.DataFrame) or list(rows.columns) != expected:
            got = list(rows.columns) if isinstance(rows, pd.DataFrame) else type(rows).__name__
            raise ValueError(f"The explored rows need the columns {expected}; got {got}.")
        if len(rows) == 0:
            raise ValueError("There are no rows to explore.")
        if target is not None and len(target) != len(rows):
            raise ValueError(f"The target has {len(target)} values for {len(rows)} rows.")
        self.service = service
        self.model = service.model
        self.rows = rows.reset_index(drop=True)
        self.columns = service.rows.columns
        pred = np.concatenate(
            [
                np.asarray(self.model.predict(self.rows.iloc[s : s + PREDICT_CHUNK]))
                for s in range(0, len(self.rows), PREDICT_CHUNK)
            ]
        )
        self.score, self.labels = self._scores(pred)
        self.uncertainty = self._uncertainty(pred)
        self.target = None if target is None else pd.Series(target).reset_index(drop=True)
        self.error = None if self.target is None else self._errors(pred, self.target)
        self._orders: dict[tuple[str, bool], np.ndarray] = {}
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ predictions
    @property
    def positive(self) -> Any:
        """The class whose probability is the score (binary), else None."""
        classes = self.model.classes
        if self._probabilities and classes is not None and len(classes) == 2:
            return _jsonable(classes[1])
        return None

    @property
    def _probabilities(self) -> bool:
        return bool(self.model.is_classifier and self.model.output == "probability")

    def _scores(self, pred: np.ndarray) -> tuple[np.ndarray, list[Any] | None]:
        """The number shown per row: P(positive class) for binary classifiers, the
        probability of the predicted class for multiclass ones, the prediction otherwise."""
        if pred.ndim == 1 or not self._probabilities:
            return np.asarray(pred, dtype=float).reshape(len(pred), -1)[:, -1], None
        classes = np.asarray(self.model.classes)
        labels = [_jsonable(c) for c in classes[np.argmax(pred, axis=1)]]
        score = pred[:, 1] if pred.shape[1] == 2 else pred.max(axis=1)
        return np.asarray(score, dtype=float), labels

    def _uncertainty(self, pred: np.ndarray) -> np.ndarray | None:
        """1 minus the gap between the two likeliest classes (1: a coin toss, 0: certain)."""
        if pred.ndim == 1 or not self._probabilities:
            return None
        top = np.sort(pred, axis=1)[:, -2:]
        return np.asarray(1.0 - (top[:, 1] - top[:, 0]), dtype=float)

    def _errors(self, pred: np.ndarray, y: pd.Series) -> np.ndarray:
        """1 - P(true class) for classifiers, |prediction - y| for regressors."""
        if not self._probabilities:
            return np.abs(self.score - y.to_numpy(dtype=float))
        classes = list(self.model.classes if self.model.classes is not None else ())
        index = {c: i for i, c in enumerate(classes)}
        unknown = [v for v in pd.unique(y) if v not in index]
        if unknown:
            raise ValueError(
                f"The target holds values the model does not predict: {unknown[:5]}; "
                f"its classes are {classes}."
            )
        positions = y.map(index).to_numpy(dtype=np.int64)
        return np.asarray(1.0 - pred[np.arange(len(pred)), positions], dtype=float)

    # ------------------------------------------------------------ meta
    def meta(self, params: dict[str, Any], cancel: threading.Event | None = None) -> dict[str, Any]:
        """The model, the features with their observed ranges, and the colour scales."""
        with self._lock:
            if "meta" not in self._cache:
                self._cache["meta"] = self._meta()
        return self._cache["meta"]  # type: ignore[no-any-return]

    def _feature(self, column: Column) -> dict[str, Any]:
        info = column.describe()
        values = self.rows[column.name]
        if column.kind in ("numeric", "integer"):
            finite = values.dropna().to_numpy(dtype=float)
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            info.update(
                min=low, max=high, step=1 if column.kind == "integer" else _nice_step(low, high)
            )
        elif column.categories:
            info["categories"] = [_jsonable(c) for c in column.categories]
        return info

    def _meta(self) -> dict[str, Any]:
        svc = self.service
        ranges = {"prediction": self.score}
        if self.error is not None:
            ranges["error"] = self.error
        if self.uncertainty is not None:
            ranges["uncertainty"] = self.uncertainty
        m = self.model
        return {
            "model_class": type(m.raw_model).__name__,
            "task": m.task,
            "classes": None if m.classes is None else [_jsonable(c) for c in m.classes],
            "positive_class": self.positive,
            "score": self._score_name(),
            "explanation_unit": self._explanation_unit(),
            "method": svc.default_method,
            "methods": svc.methods(),
            "n_rows": len(self.rows),
            "has_target": self.target is not None,
            "features": [self._feature(c) for c in self.columns.values()],
            "ranges": {k: [_number(v.min()), _number(v.max())] for k, v in ranges.items()},
            "anchors": self._probabilities,
            "counterfactuals": self._counterfactual_class() is not None
            and self.model.is_classifier,
        }

    def _score_name(self) -> str:
        if self.positive is not None:
            return f"probability of {self.positive}"
        if self._probabilities:
            return "probability of the predicted class"
        return "prediction"

    def _explanation_unit(self) -> str | None:
        """What the waterfall's numbers are: the score's unit, log-odds, or the raw output."""
        if self.service.default_method is None:
            return None
        row = self.rows.iloc[:1]
        try:
            _, exp = self.service._explanation(row, None, None)
        except RequestError:
            return None
        if exp.multi_output or exp.base_values is None:
            return "model output"
        total = float(np.asarray(exp.base_values).ravel()[0] + np.sum(exp.values[0]))
        score = float(self.score[0])
        if math.isclose(total, score, rel_tol=1e-6, abs_tol=1e-9):
            return self._score_name()
        if 0 < score < 1 and math.isclose(
            total, math.log(score / (1 - score)), rel_tol=1e-6, abs_tol=1e-9
        ):
            return f"log-odds of {self.positive}" if self.positive is not None else "log-odds"
        return "raw model output"

    # ------------------------------------------------------------ rows
    def _column_values(self, key: str) -> np.ndarray | pd.Series:
        derived = {
            "row": np.arange(len(self.rows)),
            "prediction": self.score,
            "error": self.error,
            "uncertainty": self.uncertainty,
            "target": self.target,
        }
        if key in derived:
            values = derived[key]
            if values is None:
                raise RequestError(
                    422,
                    f"There is no {key!r} column here (no target, or not a classifier).",
                    [{"loc": ["query"], "msg": f"no {key}"}],
                )
            return values
        if key not in self.columns:
            raise RequestError(
                422,
                f"Unknown column {safe_text(key)[:80]!r}; columns: {[*DERIVED, *self.columns]}.",
                [{"loc": ["query"], "msg": "unknown column"}],
            )
        return self.rows[key]

    def _order(self, key: str, descending: bool) -> np.ndarray:
        with self._lock:
            if (key, descending) not in self._orders:
                values = self._column_values(key)
                series = pd.Series(values).reset_index(drop=True)
                if isinstance(series.dtype, pd.CategoricalDtype):
                    series = series.astype(str).where(series.notna())
                order = series.sort_values(
                    ascending=not descending, kind="stable", na_position="last"
                ).index.to_numpy()
                self._orders[(key, descending)] = order
            return self._orders[(key, descending)]

    def _term_mask(self, term: str) -> np.ndarray:
        match = _FILTER.match(term)
        if match is None:  # free text: any category or text column holding it
            needle = term.strip().lower()
            mask = np.zeros(len(self.rows), dtype=bool)
            for name, col in self.columns.items():
                if col.kind == "category":
                    text = self.rows[name].astype(str).str.lower()
                    mask |= text.str.contains(needle, regex=False).to_numpy(dtype=bool)
            return mask
        key, op, raw = match.groups()
        values = pd.Series(self._column_values(key)).reset_index(drop=True)
        if op == "~":
            return values.astype(str).str.lower().str.contains(raw.lower(), regex=False).to_numpy()
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        )
        if numeric:
            try:
                target: Any = float(raw)
            except ValueError:
                raise RequestError(
                    422,
                    f"Filter {safe_text(term)[:80]!r}: {key!r} is numeric; {show(raw)} is not a number.",
                    [{"loc": ["query", "q"], "msg": "not a number"}],
                ) from None
        else:
            values, target = values.astype(str), raw
            if op in ("<", ">", "<=", ">="):
                raise RequestError(
                    422,
                    f"Filter {safe_text(term)[:80]!r}: {key!r} is not numeric; use = != or ~.",
                    [{"loc": ["query", "q"], "msg": "not numeric"}],
                )
        compare = {
            "<": values.lt,
            ">": values.gt,
            "<=": values.le,
            ">=": values.ge,
            "=": values.eq,
            "!=": values.ne,
        }[op]
        return np.asarray(compare(target).fillna(False), dtype=bool)

    def _mask(self, query: str) -> np.ndarray | None:
        terms = [t for t in query.split(",") if t.strip()]
        if not terms:
            return None
        with self._lock:
            if query in self._masks:
                self._masks.move_to_end(query)
                return self._masks[query]
        mask = np.ones(len(self.rows), dtype=bool)
        for term in terms:
            mask &= self._term_mask(term)
        with self._lock:
            self._masks[query] = mask
            while len(self._masks) > 16:
                self._masks.popitem(last=False)
        return mask

    def row_record(self, i: int) -> dict[str, Any]:
        values = self.rows.iloc[i]
        record: dict[str, Any] = {
            "row": int(i),
            "values": {n: _cell(values[n], c) for n, c in self.columns.items()},
            "prediction": _number(self.score[i]),
        }
        if self.labels is not None:
            record["label"] = self.labels[i]
        if self.target is not None and self.error is not None:
            record["target"] = _jsonable(self.target.iloc[i])
            record["error"] = _number(self.error[i])
        if self.uncertainty is not None:
            record["uncertainty"] = _number(self.uncertainty[i])
        return record

    def page(self, params: dict[str, Any], cancel: threading.Event | None = None) -> dict[str, Any]:
        """Rows ``offset`` to ``offset + limit`` after filtering by ``q`` and sorting by ``sort``."""
        offset = _int_param(params, "offset", 0, 0, 10**12)
        limit = _int_param(params, "limit", 25, 1, MAX_PAGE)
        descending = str(params.get("desc", "0")).lower() in ("1", "true", "yes")
        key = str(params.get("sort", "row"))
        query = str(params.get("q", ""))
        order = self._order(key, descending)
        mask = self._mask(query)
        if mask is not None:
            order = order[mask[order]]
        chosen = order[offset : offset + limit]
        return {
            "total": int(len(order)),
            "offset": offset,
            "limit": limit,
            "rows": [self.row_record(int(i)) for i in chosen],
        }

    def row(self, params: dict[str, Any], cancel: threading.Event | None = None) -> dict[str, Any]:
        i = _int_param(params, "row", 0, 0, len(self.rows) - 1)
        return self.row_record(i)

    # ------------------------------------------------------------ curves
    def _grid(self, name: str, current: Any = None) -> list[Any]:
        column = self.columns[name]
        if column.kind == "category":
            return list(column.categories)
        if column.kind == "bool":
            return [False, True]
        if column.kind not in ("numeric", "integer"):
            raise RequestError(
                422,
                f"Feature {name!r} ({column.kind}) has no curve; choose a numeric or category one.",
                [{"loc": ["feature"], "msg": "no curve for this kind"}],
            )
        observed = self.rows[name].dropna().to_numpy(dtype=float)
        points = np.quantile(observed, np.linspace(0, 1, GRID_POINTS)) if observed.size else []
        extra = [] if current is None else [float(current)]
        grid = np.unique(np.concatenate([np.asarray(points, dtype=float), extra]))
        if column.kind == "integer":
            return sorted({int(round(v)) for v in grid})
        return [float(v) for v in grid]

    def _feature_name(self, opts: dict[str, Any]) -> str:
        name = opts.get("feature")
        if not isinstance(name, str) or name not in self.columns:
            raise RequestError(
                422,
                f"'feature' must name a column; got {show(name)}; columns: {list(self.columns)}.",
                [{"loc": ["feature"], "msg": "unknown feature"}],
            )
        return name

    def _with_values(self, X: pd.DataFrame, name: str, grid: list[Any]) -> pd.DataFrame:
        """Each row of X once per grid value of ``name`` (row-major: row 0's whole curve first)."""
        repeated = X.iloc[np.repeat(np.arange(len(X)), len(grid))].reset_index(drop=True)
        column = self.columns[name]
        values = np.tile(np.asarray(grid, dtype=object), len(X))
        if isinstance(column.dtype, pd.CategoricalDtype):
            repeated[name] = pd.Categorical(values, dtype=column.dtype)
        else:
            repeated[name] = pd.Series(values, dtype=column.dtype)
        return repeated

    def _curve_scores(self, X: pd.DataFrame) -> np.ndarray:
        pred = np.asarray(self.service._guarded(X, 0, self.model.predict, X))
        return self._scores(pred)[0]

    def ice(self, payload: Any, cancel: threading.Event | None = None) -> dict[str, Any]:
        """The score of one (edited) row as one feature moves over its observed range."""
        X, opts = self.service.parse(payload, ("feature",))
        if len(X) != 1:
            raise RequestError(422, f"An ICE curve is for one row; got {len(X)}.")
        name = self._feature_name(opts)
        current = _cell(X[name].iloc[0], self.columns[name])
        grid = self._grid(name, current if self.columns[name].kind != "category" else None)
        self.service.check_cost(len(grid), 1, "an ICE curve point")
        scores = self._curve_scores(self._with_values(X, name, grid))
        return {
            "feature": name,
            "kind": self.columns[name].kind,
            "grid": [_jsonable(g) for g in grid],
            "predictions": _floats(scores),
            "current": current,
        }

    # ------------------------------------------------------------ global
    def _global_sample(self, per_row: int) -> pd.DataFrame:
        n = GLOBAL_ROWS
        if self.service.max_cost is not None:
            n = max(1, min(n, self.service.max_cost // max(1, per_row)))
        return background_sample(self.rows, n)

    def importance(self) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get("importance")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        name, _ = self.service.explainer(None)
        sample = self._global_sample(self.service.cost_per_row(name))
        _, exp = self.service._explanation(sample, None, None)
        values = np.abs(np.asarray(exp.values, dtype=float))
        mean = values.mean(axis=0) if values.ndim == 2 else values.mean(axis=(0, 2))
        result = {
            "method": name,
            "rows": len(sample),
            "importance": [
                {"feature": str(f), "value": _number(v)}
                for f, v in sorted(zip(exp.feature_names, mean, strict=True), key=lambda t: -t[1])
            ],
        }
        with self._lock:
            self._cache["importance"] = result
        return result

    def global_view(
        self, params: dict[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        """Mean |attribution| per feature and the partial dependence of one feature."""
        out: dict[str, Any] = {}
        if self.service.default_method is not None:
            out.update(self.importance())
        if "feature" in params:
            name = self._feature_name(params)
            grid = self._grid(name)
            sample = self._global_sample(len(grid))
            if cancel is not None and cancel.is_set():
                raise Cancelled
            scores = self._curve_scores(self._with_values(sample, name, grid))
            out["pd"] = {
                "feature": name,
                "kind": self.columns[name].kind,
                "rows": len(sample),
                "grid": [_jsonable(g) for g in grid],
                "predictions": _floats(scores.reshape(len(sample), len(grid)).mean(axis=0)),
            }
        return out

    # ------------------------------------------------------------ local rules
    def anchor(self, payload: Any, cancel: threading.Event | None = None) -> dict[str, Any]:
        """The anchor rule of one row (classifiers): a short rule that keeps its prediction."""
        X, _ = self.service.parse(payload, ())
        if len(X) != 1:
            raise RequestError(422, f"An anchor is for one row; got {len(X)}.")
        if not self._probabilities:
            raise RequestError(422, "Anchors explain classifiers; this model is a regressor.")
        local = copy.copy(self._anchors())  # own counter; the sampling domain is shared
        local.model_rows = 0
        budget = self.service.max_cost

        def predict_labels(samples: Any) -> np.ndarray:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if budget is not None and local.model_rows + len(samples) > budget:
                raise RequestError(
                    413,
                    f"The anchor search needed more than the limit of {budget:,} model "
                    "evaluations per request.",
                )
            return type(local)._predict_labels(local, samples)  # type: ignore[no-any-return]

        local._predict_labels = predict_labels
        found = self.service._guarded(X, 0, _call_anchor, local, X, row_seeds(X)[0])
        return {
            "rule": found.rule,
            "precision": _number(found.precision),
            "coverage": _number(found.coverage),
            "prediction": _jsonable(found.prediction),
        }

    def _anchors(self) -> Any:
        from ...local import Anchors

        with self._lock:
            if "anchors" not in self._cache:
                self._cache["anchors"] = Anchors(self.model, self.service.background)
            return self._cache["anchors"]

    @staticmethod
    def _counterfactual_class() -> Any:
        try:
            from ...counterfactual import Counterfactuals
        except (ImportError, AttributeError):
            return None
        return Counterfactuals

    def counterfactual(self, payload: Any, cancel: threading.Event | None = None) -> dict[str, Any]:
        """The cheapest change that flips a classifier's decision, in one sentence."""
        X, _ = self.service.parse(payload, ())
        if len(X) != 1:
            raise RequestError(422, f"A counterfactual is for one row; got {len(X)}.")
        cls = self._counterfactual_class()
        if cls is None or not self.model.is_classifier:
            raise RequestError(501, "Counterfactuals are not available for this model here.")
        with self._lock:
            if "counterfactuals" not in self._cache:
                self._cache["counterfactuals"] = cls(
                    self.model.raw_model,
                    self.service.background,
                    time_limit=COUNTERFACTUAL_SECONDS,
                    random_state=0,
                )
            engine = self._cache["counterfactuals"]
        found = self.service._guarded(X, 0, engine.explain, X)
        answers = found.for_row(0)
        best = answers[0] if answers else None
        return {
            "certificate": found.certificates[0],
            "desired": _jsonable(found.desired),
            "sentence": None if best is None else found.sentence(best),
            "changes": []
            if best is None
            else [
                {"feature": c.feature, "before": _jsonable(c.before), "after": _jsonable(c.after)}
                for c in best.changes
            ],
        }


def _call_anchor(anchors: Any, X: pd.DataFrame, seed: int) -> Any:
    return anchors.with_settings(random_state=seed).explain(X)
