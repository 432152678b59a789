"""The service's work, without HTTP: validate rows, predict, explain, give reasons.

Each call returns plain JSON-ready data or raises RequestError with the
status to answer. FastAPI lives only in ``_app.py``.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

import pellucid

from .._data import DataError
from .._model import as_model
from .._results import Explanation
from ..regulatory._explainers import (
    attribution_methods,
    background_sample,
    build_best,
    build_explainer,
    explain_rows,
)
from ..regulatory._reasons import DIRECTIONS, reason_codes
from ._rows import RequestError, RowSchema

__all__ = ["Service"]

MAX_K = 50


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _floats(a: np.ndarray) -> list[Any]:
    return [_finite(float(x)) for x in np.asarray(a, dtype=float).ravel()]


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return _finite(v)
    if v is None or isinstance(v, (str, int, bool)):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def margin_to_prediction(explainer: Any, model: Any, margin: Any) -> np.ndarray | None:
    """Model.predict's numbers from a tree ensemble's raw margin, or None if not derivable."""
    from ..tree._ensemble import apply_link, model_link

    link = model_link(model, explainer.ensemble.link)
    return None if link is None else apply_link(np.asarray(margin, dtype=np.float64), link)


class Service:
    """Model + background data -> predictions, explanations and reasons for request rows."""

    def __init__(
        self,
        model: Any,
        background: pd.DataFrame,
        *,
        explainer: Any = "auto",
        n_background: int = 100,
        reasons: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        max_rows: int = 1000,
    ) -> None:
        self.model = as_model(model)
        self.rows = RowSchema(background)
        self.background = background
        # Validate the background against the model once, at start-up, not per request.
        self.model.predict(background.iloc[:2])
        self.sample = background_sample(background, n_background)
        self.max_rows = int(max_rows)
        self.metrics = dict(metrics) if metrics is not None else None
        self.reason_defaults = {"reference": background, **dict(reasons or {})}
        self._explainers: dict[str, Any] = {}
        self._margin_ok: dict[str, bool] = {}  # method -> predictions readable off its margin
        self._lock = threading.Lock()
        if isinstance(explainer, str):
            self.default_method: str | None = (
                self._auto() if explainer == "auto" else self._check_method(explainer)
            )
        else:
            # An explainer object supplied by the caller (anything with .explain(X)).
            name = str(getattr(explainer, "name", None) or type(explainer).__name__)
            self._explainers[name] = explainer
            self.default_method = name

    # ------------------------------------------------------------ methods
    def _auto(self) -> str | None:
        try:
            name, explainer = build_best(self.model, self.sample)
        except (LookupError, TypeError, ValueError, NotImplementedError):
            return None  # /predict still works; /explain answers 501
        self._explainers[name] = explainer
        return name

    def _check_method(self, name: str) -> str:
        if name not in attribution_methods():
            raise ValueError(
                f"Unknown attribution method {name!r}; available: {attribution_methods()}."
            )
        return name

    def methods(self) -> list[str]:
        return sorted(set(attribution_methods()) | set(self._explainers))

    def explainer(self, method: str | None) -> tuple[str, Any]:
        name = method if method not in (None, "auto") else self.default_method
        if name is None:
            raise RequestError(
                501, "No explanation method is available for this model in this installation."
            )
        if name not in self.methods():
            raise RequestError(
                422,
                f"Unknown method {name!r}; available: {self.methods()}.",
                [{"loc": ["method"], "msg": f"unknown method {name!r}"}],
            )
        with self._lock:  # build each explainer once, even under concurrent first requests
            if name not in self._explainers:
                try:
                    self._explainers[name] = build_explainer(name, self.model, self.sample)
                except (TypeError, ValueError, LookupError, NotImplementedError) as exc:
                    raise RequestError(
                        422,
                        f"Method {name!r} cannot explain this model: {exc}",
                        [{"loc": ["method"], "msg": str(exc)}],
                    ) from None
            return name, self._explainers[name]

    # ------------------------------------------------------------ requests
    def parse(self, payload: Any, allowed: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, Any]]:
        if not isinstance(payload, dict):
            raise RequestError(
                422,
                'The body must be a JSON object {"rows": [...]}.',
                [{"loc": [], "msg": f"expected an object; got {type(payload).__name__}"}],
            )
        unknown = [k for k in payload if k not in ("rows", *allowed)]
        if unknown:
            raise RequestError(
                422,
                f"Unknown field(s) {unknown}; this endpoint takes {['rows', *allowed]}.",
                [{"loc": [k], "msg": "unknown field"} for k in unknown],
            )
        if "rows" not in payload:
            raise RequestError(
                422, "Missing field 'rows'.", [{"loc": ["rows"], "msg": "field required"}]
            )
        X = self.rows.parse(payload["rows"], max_rows=self.max_rows)
        return X, {k: payload[k] for k in allowed if k in payload}

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Model or explainer work on validated rows; their input errors become 422."""
        try:
            return fn(*args, **kwargs)
        except (DataError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise RequestError(
                422, f"The model could not process these rows: {type(exc).__name__}: {exc}"
            ) from None

    def _predictions(self, X: pd.DataFrame, pred: np.ndarray | None = None) -> dict[str, Any]:
        if pred is None:
            pred = self._run(self.model.predict, X)
        names = self.model.output_names
        out: dict[str, Any] = {"output_names": list(names) if names else None}
        if pred.ndim == 1:
            out["predictions"] = _floats(pred)
        else:
            cols = list(names or [f"y{i}" for i in range(pred.shape[1])])
            out["predictions"] = [dict(zip(cols, _floats(r), strict=True)) for r in pred]
        if self.model.is_classifier and self.model.output == "probability":
            classes = np.asarray(self.model.classes)
            out["labels"] = [_jsonable(c) for c in classes[np.argmax(pred, axis=1)]]
        return out

    def predict(self, payload: Any) -> dict[str, Any]:
        X, _ = self.parse(payload, ())
        # The trees TreeShap reads predict faster than the model's own input pipeline.
        explainer = self._tree_explainer(self.default_method)
        pred = None
        if explainer is not None:
            pred = margin_to_prediction(explainer, self.model, self._run(explainer.predict, X))
        return self._predictions(X, pred)

    def _explanation(self, X: pd.DataFrame, method: Any) -> tuple[str, Explanation]:
        if method is not None and not isinstance(method, str):
            raise RequestError(
                422, "'method' must be a string.", [{"loc": ["method"], "msg": "not a string"}]
            )
        name, explainer = self.explainer(method)
        exp = self._run(explain_rows, explainer, X)
        return name, exp

    def explain(self, payload: Any) -> dict[str, Any]:
        X, opts = self.parse(payload, ("method",))
        name, exp = self._explanation(X, opts.get("method"))
        pred = self._margin_predictions(name, exp)
        return {"method": name, **self._predictions(X, pred), **explanation_payload(exp)}

    def _tree_explainer(self, name: str | None) -> Any:
        """The TreeShap explainer ``name`` if its margin gives the model's own predictions.

        Checked once, against the model on the background sample; else None,
        and predictions come from the model.
        """
        if name is None:
            return None
        explainer = self._explainers.get(name)
        tree = sys.modules.get("pellucid.tree")  # not imported: no TreeShap in use
        if tree is None or not isinstance(explainer, tree.TreeShap) or explainer.output != "raw":
            return None
        if name not in self._margin_ok:
            probe = self.sample.iloc[:20]
            got = margin_to_prediction(explainer, self.model, explainer.predict(probe))
            want = self.model.predict(probe)
            self._margin_ok[name] = (
                got is not None
                and got.shape == want.shape
                and bool(np.allclose(got, want, rtol=1e-12, atol=1e-12))
            )
        return explainer if self._margin_ok[name] else None

    def _margin_predictions(self, name: str, exp: Explanation) -> np.ndarray | None:
        """The model's predictions read off TreeShap's margin (no second pass over the trees)."""
        explainer = self._tree_explainer(name)
        return (
            None if explainer is None else margin_to_prediction(explainer, self.model, exp.output)
        )

    def reasons(self, payload: Any) -> dict[str, Any]:
        X, opts = self.parse(payload, ("method", "k", "direction", "exclude"))
        k = opts.get("k", 4)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RequestError(
                422,
                f"'k' must be an integer from 1 to {MAX_K}; got {k!r}.",
                [{"loc": ["k"], "msg": "invalid"}],
            )
        direction = opts.get("direction", "toward_decline")
        if direction not in DIRECTIONS:
            raise RequestError(
                422,
                f"'direction' must be one of {list(DIRECTIONS)}; got {direction!r}.",
                [{"loc": ["direction"], "msg": "invalid"}],
            )
        extra = opts.get("exclude", [])
        if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
            raise RequestError(
                422,
                "'exclude' must be a list of feature names.",
                [{"loc": ["exclude"], "msg": "invalid"}],
            )
        # A request may exclude more features, never fewer than the service was told to.
        base = self.reason_defaults.get("exclude") or []
        exclude = sorted(set(base) | set(extra))
        name, exp = self._explanation(X, opts.get("method"))
        options = {**self.reason_defaults, "exclude": exclude}
        table = self._run(reason_codes, exp, k=k, direction=direction, **options)
        per_row: list[list[dict[str, Any]]] = [[] for _ in range(len(X))]
        for rec in table.to_dict(orient="records"):
            per_row[int(rec["row"])].append(
                {
                    "rank": int(rec["rank"]),
                    "feature": rec["feature"],
                    "value": _jsonable(rec["value"]),
                    "contribution": _finite(float(rec["contribution"])),
                    "reason": rec["reason"],
                }
            )
        return {"method": name, **self._predictions(X), "reasons": per_row}

    def info(self) -> dict[str, Any]:
        m = self.model
        return {
            "pellucid_version": pellucid.__version__,
            "model_class": type(m.raw_model).__name__,
            "task": m.task,
            "classes": None if m.classes is None else [_jsonable(c) for c in m.classes],
            "output": m.output,
            "output_names": list(m.output_names) if m.output_names else None,
            "features": self.rows.describe(),
            "methods": {"default": self.default_method, "available": self.methods()},
            "metrics": self.metrics,
            "limits": {"max_rows": self.max_rows},
        }


def explanation_payload(exp: Explanation) -> dict[str, Any]:
    """One entry per row: ``{"base_value", "values": {column: value}}``; per output when several."""
    names = list(exp.feature_names)
    values = np.asarray(exp.values, dtype=float)
    base = None if exp.base_values is None else np.asarray(exp.base_values, dtype=float)

    def entry(v: np.ndarray, b: Any) -> dict[str, Any]:
        return {
            "base_value": None if b is None else _finite(float(b)),
            "values": dict(zip(names, _floats(v), strict=True)),
        }

    entries: list[dict[str, Any]] = []
    if not exp.multi_output:
        for r in range(values.shape[0]):
            entries.append(entry(values[r], None if base is None else base[r]))
        outputs = None
    else:
        outputs = list(exp.output_names or ())
        for r in range(values.shape[0]):
            entries.append(
                {
                    o: entry(values[r, :, j], None if base is None else base[r, j])
                    for j, o in enumerate(outputs)
                }
            )
    out: dict[str, Any] = {"explained_outputs": outputs, "explanations": entries}
    if exp.std_errors is not None:
        se = np.asarray(exp.std_errors, dtype=float)
        out["std_errors"] = [
            dict(zip(names, _floats(se[r]), strict=True))
            if se.ndim == 2
            else {
                o: dict(zip(names, _floats(se[r, :, j]), strict=True))
                for j, o in enumerate(outputs or [])
            }
            for r in range(se.shape[0])
        ]
    return out
