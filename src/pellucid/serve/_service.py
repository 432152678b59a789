"""The service's work, without HTTP: validate rows, predict, explain, give reasons.

Each call returns plain JSON-ready data or raises RequestError with the
status to answer. FastAPI lives only in ``_app.py``.

Work is bounded before it starts: every request has a cost in model
evaluations (rows x the method's evaluations per row), refused beyond
``max_cost``. Explanations run in chunks on the calling thread (never a
process pool: ``n_jobs=1``), checking a cancel flag between chunks, so a
client that goes away stops the work. Errors raised by the model or an
explainer on validated rows are logged in full and answered with a message
that names the row (and field) the model could not evaluate, never the
library's own text.

Small concurrent ``/explain`` requests can be explained together
(:meth:`Service.explain_many`): TreeShap explains each row on its own, so the
rows of several requests go through one call (one pass of the model's own
prediction, which checks the trees' reading, for all of them) and each
request's answer is cut back out, byte for byte what it would be alone.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .._data import DataError
from .._errors import ModelReadingError, UnsupportedModelError
from .._model import as_model
from .._registry import canonical
from .._results import Explanation
from .._version import __version__
from ..regulatory._explainers import (
    attribution_methods,
    background_sample,
    build_best,
    build_explainer,
    row_seeds,
)
from ..regulatory._reasons import DIRECTIONS, reason_codes
from ..scale import concat
from ._rows import RequestError, RowSchema, safe_text

__all__ = ["BATCH_REQUEST_ROWS", "DEFAULT_MAX_COST", "Cancelled", "Service", "evaluations_per_row"]

MAX_K = 50
#: Most counterfactuals per row one /counterfactual request may ask for.
MAX_COUNTERFACTUALS = 5
#: Seconds an exact engine may search for one counterfactual in the service
#: (past it, the best valid answer is returned as "feasible" with its gap).
COUNTERFACTUAL_TIME_LIMIT = 2.0
#: Model evaluations one request may cost: about 8 s of one core for a
#: scikit-learn Pipeline (measured ~4 us per evaluated row; exact Shapley values
#: of 10 features over 100 background rows cost 102,201 per row).
DEFAULT_MAX_COST = 2_000_000
#: Model evaluations in one second of one core, by the calibration above: the
#: time-limited exact counterfactual engines are costed as the evaluations their
#: time limit could have bought.
EVALUATIONS_PER_SECOND = DEFAULT_MAX_COST // 8
#: Model evaluations per chunk of explained rows: the cancel flag is checked
#: between chunks, so this bounds the work done after a client has gone.
CHUNK_EVALUATIONS = 20_000
#: Model kinds that read their input as 32-bit floats.
FLOAT32_KINDS = ("xgboost", "lightgbm", "catboost")
#: A pellucid error message longer than this is cut (it may quote request values).
MAX_MESSAGE = 500
#: ``/explain`` requests of at most this many rows may be explained together with others.
BATCH_REQUEST_ROWS = 64
#: Most rows one batch of concatenated requests explains in one call (TreeShap on this
#: many rows costs about as much as the model's own prediction on one row).
BATCH_ROWS = 512

log = logging.getLogger("pellucid.serve")


class Cancelled(Exception):
    """The client went away, the request ran out of time or the server is stopping."""


class CancelFlag(Protocol):
    """What the work polls between chunks: a ``threading.Event`` or a batch's flag."""

    def is_set(self) -> bool: ...


class _AllCancelled:
    """A batch's flag: set once every request in it is cancelled (then its work stops)."""

    def __init__(self, flags: Sequence[CancelFlag | None]) -> None:
        self.flags = list(flags)

    def is_set(self) -> bool:
        return all(f is not None and f.is_set() for f in self.flags)


def _check_cancel(cancel: CancelFlag | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled


@dataclass
class _ExplainJob:
    """One validated ``/explain`` request, costed and with its explainer, ready to run."""

    rows: list[Any]  # the request's validated JSON rows (a batch builds one frame of them all)
    schema: RowSchema
    name: str
    explainer: Any
    cancel: CancelFlag | None

    @functools.cached_property
    def X(self) -> pd.DataFrame:
        """The request's rows as a frame, built only when the request is explained alone."""
        return self.schema.frame(self.rows)


def evaluations_per_row(name: str, explainer: Any) -> int:
    """Rows the model evaluates to explain one row with ``explainer`` (its cost).

    An explainer object may declare it (``evaluations_per_row``); the
    registered Shapley estimators evaluate each coalition over the
    background, LIME its samples; TreeShap reads the trees once (like one
    prediction); anything else counts as one.
    """
    declared = getattr(explainer, "evaluations_per_row", None)
    if declared is not None:
        return max(1, int(declared))
    game = getattr(explainer, "game", None)
    if game is not None and name in ("exact_shap", "kernel_shap", "permutation_shap"):
        p = int(game.n_players)
        if name == "exact_shap":
            coalitions = 2**p - 2
        elif name == "permutation_shap":  # whole antithetic pairs of 2 (p - 1) coalitions
            coalitions = explainer._pairs(explainer._budget("auto")) * 2 * max(1, p - 1)
        else:
            coalitions = int(explainer._budget("auto"))
        return max(1, coalitions * len(game.background) + 1)
    if name == "lime":  # a constructor setting of the registered explainer
        return int(explainer.num_samples)
    return 1


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
        max_cost: int | None = DEFAULT_MAX_COST,
        counterfactuals: Mapping[str, Any] | None = None,
    ) -> None:
        if max_cost is not None and (isinstance(max_cost, bool) or int(max_cost) < 1):
            raise ValueError(
                f"max_cost must be a positive number of model evaluations; got {max_cost!r}."
            )
        self.model = as_model(model)
        float32 = self.model.kind in FLOAT32_KINDS
        self.rows = RowSchema(
            background,
            model_float_max=float(np.finfo(np.float32).max) if float32 else None,
            model_reads=f"this {self.model.kind} model (32-bit floats)",
        )
        self.background = background
        # Validate the background against the model once, at start-up, not per request.
        self.model.predict(background.iloc[:2])
        self.sample = background_sample(background, n_background)
        self.max_rows = int(max_rows)
        self.max_cost = None if max_cost is None else int(max_cost)
        self.metrics = dict(metrics) if metrics is not None else None
        self.reason_defaults = {"reference": background, **dict(reasons or {})}
        # Settings of pellucid.Counterfactuals; a column excluded from reasons by policy is
        # never suggested as a change either.
        self.counterfactual_settings = {
            "immutable": list(self.reason_defaults.get("exclude") or []),
            "time_limit": COUNTERFACTUAL_TIME_LIMIT,
            **dict(counterfactuals or {}),
        }
        self._counterfactuals: Any = None
        self._explainers: dict[str, Any] = {}
        self._margin_ok: dict[str, bool] = {}  # method -> predictions readable off its margin
        self._costs: dict[str, int] = {}  # method -> model evaluations per explained row
        self._lock = threading.Lock()
        if isinstance(explainer, str):
            self.default_method: str | None = (
                self._auto() if explainer == "auto" else self._check_method(explainer)
            )
            if self.default_method is not None:
                try:  # built now: a method that cannot read the model fails at start-up
                    self.explainer(self.default_method)
                except RequestError as exc:
                    raise ValueError(exc.message) from None
        else:
            # An explainer object supplied by the caller (anything with .explain(X)).
            name = str(getattr(explainer, "name", None) or type(explainer).__name__)
            self._explainers[name] = _in_process(explainer)
            self._costs[name] = evaluations_per_row(name, explainer)
            self.default_method = name

    # ------------------------------------------------------------ methods
    def _auto(self) -> str | None:
        try:
            name, explainer = build_best(self.model, self.sample)
        except (LookupError, UnsupportedModelError, ModelReadingError):
            # none registered, or none reads this model: /predict still works; /explain answers 501
            return None
        self._explainers[name] = _in_process(explainer)
        self._costs[name] = evaluations_per_row(name, explainer)
        return name

    def _check_method(self, name: str) -> str:
        name = canonical(name)  # an alias (treeshap) serves as its registered method
        if name not in attribution_methods():
            raise ValueError(
                f"Unknown attribution method {name!r}; available: {attribution_methods()}."
            )
        return name

    def methods(self) -> list[str]:
        return sorted(set(attribution_methods()) | set(self._explainers))

    def explainer(self, method: str | None) -> tuple[str, Any]:
        name = canonical(method) if method not in (None, "auto") else self.default_method
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
                    built = build_explainer(name, self.model, self.sample)
                except (TypeError, ValueError, LookupError, NotImplementedError) as exc:
                    message = _message(exc)
                    raise RequestError(
                        422,
                        f"Method {name!r} cannot explain this model: {message}",
                        [{"loc": ["method"], "msg": message}],
                    ) from None
                self._costs[name] = evaluations_per_row(name, built)
                self._explainers[name] = _in_process(built)
            return name, self._explainers[name]

    def cost_per_row(self, method: str) -> int:
        """Model evaluations per row of ``/explain`` with ``method``: its explanation and the prediction."""
        return self._costs[method] + 1

    def check_cost(self, n_rows: int, per_row: int, what: str) -> None:
        """Refuse (413) a request costing more than ``max_cost`` model evaluations, before any work."""
        cost = n_rows * per_row
        if self.max_cost is None or cost <= self.max_cost:
            return
        most = self.max_cost // per_row
        advice = (
            f"send at most {most} rows per request"
            if most >= 1
            else "this method costs more than the limit for one row; ask for a cheaper method"
        )
        raise RequestError(
            413,
            f"This request costs {cost:,} model evaluations ({n_rows} rows x {per_row:,} for "
            f"{what}); the limit is {self.max_cost:,} per request: {advice}.",
            [
                {
                    "loc": ["rows"],
                    "msg": "over the cost limit",
                    "cost": cost,
                    "max_cost": self.max_cost,
                }
            ],
        )

    # ------------------------------------------------------------ requests
    def parse(self, payload: Any, allowed: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, Any]]:
        rows, opts = self._check_payload(payload, allowed)
        return self.rows.frame(rows), opts

    def _check_payload(
        self, payload: Any, allowed: tuple[str, ...]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The body's validated rows and its options (RequestError naming what is wrong)."""
        if not isinstance(payload, dict):
            raise RequestError(
                422,
                'The body must be a JSON object {"rows": [...]}.',
                [{"loc": [], "msg": f"expected an object; got {type(payload).__name__}"}],
            )
        unknown = [safe_text(k) for k in payload if k not in ("rows", *allowed)]
        if unknown:
            raise RequestError(
                422,
                f"Unknown field(s) {unknown}; this endpoint takes {['rows', *allowed]}.",
                [{"loc": [k], "msg": "unknown field"} for k in unknown],
            )
        duplicates = [safe_text(k) for k in getattr(payload, "duplicates", ())]
        if duplicates:
            raise RequestError(
                422,
                f"Field(s) {duplicates} appear more than once in the body.",
                [{"loc": [k], "msg": "duplicate field"} for k in duplicates],
            )
        if "rows" not in payload:
            raise RequestError(
                422, "Missing field 'rows'.", [{"loc": ["rows"], "msg": "field required"}]
            )
        self.rows.check(payload["rows"], max_rows=self.max_rows)
        return payload["rows"], {k: payload[k] for k in allowed if k in payload}

    def _guarded(self, X: pd.DataFrame, first_row: int, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``: model or explainer work on the validated rows ``X``.

        pellucid's own input errors (DataError) are answered 422 as they are.
        Anything else the libraries raise is logged in full and answered with
        the row (and field) the model cannot evaluate; when no row is to blame
        it is a fault of the service (500, without detail).
        """
        try:
            return fn(*args)
        except (RequestError, Cancelled):
            raise
        except DataError as exc:
            raise RequestError(
                422, f"The model could not process these rows: {_message(exc)}"
            ) from None
        except Exception as exc:
            log.warning("Model or explainer error on %d rows", len(X), exc_info=True)
            blame = self._blame(X, first_row)
            if blame is None:
                raise
            raise blame from exc

    def _blame(self, X: pd.DataFrame, first_row: int) -> RequestError | None:
        """The first row of X the model cannot evaluate alone (and the field whose typical
        value lets it), as a 422; None when every row evaluates to finite numbers."""
        for i in range(len(X)):
            row = X.iloc[[i]]
            if _evaluates(self.model, row):
                continue
            n = first_row + i
            field = self._blame_field(row)
            where = f"row {n}" + ("" if field is None else f", field {safe_text(field)!r}")
            loc: list[Any] = ["rows", n] if field is None else ["rows", n, safe_text(field)]
            detail = {"loc": loc, "row": n, "msg": "the model could not evaluate this row"}
            if field is not None:
                detail["field"] = safe_text(field)
            return RequestError(422, f"The model could not evaluate {where}.", [detail])
        return None

    def _blame_field(self, row: pd.DataFrame) -> str | None:
        """The column whose value, replaced by a background row's, lets the model evaluate ``row``."""
        typical = self.sample.iloc[[0]]
        for j, name in enumerate(row.columns):
            trial = row.copy()
            trial.iloc[:, j] = typical.iloc[:, j].to_numpy()
            if _evaluates(self.model, trial):
                return str(name)
        return None

    def _library(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """pellucid's own functions on computed results: their ValueErrors quote request options."""
        try:
            return fn(*args, **kwargs)
        except (DataError, ValueError, LookupError) as exc:
            raise RequestError(422, _message(exc)) from None

    def _predictions(self, X: pd.DataFrame, pred: np.ndarray | None = None) -> dict[str, Any]:
        if pred is None:
            pred = self._guarded(X, 0, self.model.predict, X)
        return self._read_predictions(pred)

    def _read_predictions(self, pred: np.ndarray) -> dict[str, Any]:
        """The model's predictions ``pred`` as JSON: numbers per row, and labels for classes."""
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

    def predict(self, payload: Any, cancel: CancelFlag | None = None) -> dict[str, Any]:
        X, _ = self.parse(payload, ())
        self.check_cost(len(X), 1, "a prediction")
        _check_cancel(cancel)
        # The trees TreeShap reads predict faster than the model's own input pipeline.
        explainer = self._tree_explainer(self.default_method)
        pred = None
        if explainer is not None:
            margin = self._guarded(X, 0, explainer.predict, X)
            pred = margin_to_prediction(explainer, self.model, margin)
        return self._predictions(X, pred)

    def _costed_method(self, n_rows: int, method: Any, extra_cost: int = 0) -> tuple[str, Any]:
        """The request's explainer, once its cost is known to be within ``max_cost``."""
        if method is not None and not isinstance(method, str):
            raise RequestError(
                422, "'method' must be a string.", [{"loc": ["method"], "msg": "not a string"}]
            )
        name, explainer = self.explainer(method)
        self.check_cost(n_rows, self.cost_per_row(name) + extra_cost, f"method {name!r}")
        return name, explainer

    def _explanation(
        self, X: pd.DataFrame, method: Any, cancel: CancelFlag | None, extra_cost: int = 0
    ) -> tuple[str, Explanation]:
        name, explainer = self._costed_method(len(X), method, extra_cost)
        return name, self._explain_in_chunks(name, explainer, X, cancel)

    def _explain_in_chunks(
        self,
        name: str,
        explainer: Any,
        X: pd.DataFrame,
        cancel: CancelFlag | None,
        *,
        blame: bool = True,
    ) -> Explanation:
        """Explain X chunk by chunk on this thread, stopping when ``cancel`` is set.

        ``n_jobs=1``: never the process pool the library fans large tables out
        to, whose workers would outlive a killed server. Sampled methods
        explain each row alone with a seed from its content (``row_seeds``), so a
        person's explanation depends on the person, not on who else is in the batch; deterministic
        registered methods take chunks of about CHUNK_EVALUATIONS; an
        explainer object of the caller's gets all rows in one call. With
        ``blame=False`` a failure is raised as it is, without looking for the
        row to blame (a batch then explains its requests one by one).
        """
        sampled = "random_state" in _settings_of(explainer)
        if _seeded_per_row(explainer):
            size = 1
        elif sampled or name not in attribution_methods():
            size = len(X)  # chunking could change its answer
        else:
            size = max(1, CHUNK_EVALUATIONS // self._costs[name])
        # One seed per row from its content, as the CLI's reasons: the same person gets
        # the same sampled explanation from the service and the command line.
        seeds = row_seeds(X) if size == 1 and sampled else None
        parts = []
        for start in range(0, len(X), size):
            _check_cancel(cancel)
            chunk = X.iloc[start : start + size]
            per_call = not hasattr(explainer, "with_settings")  # else set once: _in_process
            settings = {"n_jobs": 1} if per_call and "n_jobs" in _settings_of(explainer) else {}
            if sampled:
                settings["random_state"] = 0 if seeds is None else seeds[start]
            if blame:
                parts.append(self._guarded(chunk, start, _explain_with, explainer, chunk, settings))
            else:
                parts.append(_explain_with(explainer, chunk, settings))
        return concat(parts)

    def explain(self, payload: Any, cancel: CancelFlag | None = None) -> dict[str, Any]:
        return self._explain_alone(self._explain_job(payload, cancel))

    def _explain_job(self, payload: Any, cancel: CancelFlag | None) -> _ExplainJob:
        """Validate and cost one ``/explain`` request (RequestError if it is refused)."""
        rows, opts = self._check_payload(payload, ("method",))
        name, explainer = self._costed_method(len(rows), opts.get("method"))
        return _ExplainJob(rows, self.rows, name, explainer, cancel)

    def _explain_alone(self, job: _ExplainJob) -> dict[str, Any]:
        exp = self._explain_in_chunks(job.name, job.explainer, job.X, job.cancel)
        pred = self._margin_predictions(job.name, exp)
        return {"method": job.name, **self._predictions(job.X, pred), **explanation_payload(exp)}

    # ------------------------------------------------------------ micro-batches
    def batch_key(self, payload: Any) -> str | None:
        """The method a small ``/explain`` request may be batched under, or None.

        Only methods whose answer for a row does not depend on the other rows
        of the call batch: TreeShap (each row's values, and the model's own
        prediction that checks them, are computed row by row), and sampled
        methods that explain each row alone with a seed from its content
        (grouped, each row still its own call). Requests of more than
        BATCH_REQUEST_ROWS rows, malformed ones and methods not yet built
        are explained alone (where their errors are found as before).
        """
        if not isinstance(payload, dict):
            return None
        rows, method = payload.get("rows"), payload.get("method")
        if not isinstance(rows, list) or not 0 < len(rows) <= BATCH_REQUEST_ROWS:
            return None
        if method is not None and not isinstance(method, str):
            return None
        name = self.default_method if method in (None, "auto") else canonical(method)
        explainer = self._explainers.get(name) if name is not None else None
        if explainer is None or self._batch_mode(explainer) is None:
            return None
        return name

    def batch_rows(self, key: str) -> int:
        """Most rows one batch of ``key`` requests should hold."""
        if self._batch_mode(self._explainers[key]) == "concatenate":
            return BATCH_ROWS
        return max(1, CHUNK_EVALUATIONS // self._costs[key])

    def _batch_mode(self, explainer: Any) -> str | None:
        """ "concatenate" (one call for all rows), "each" (a call per row) or None."""
        tree = sys.modules.get("pellucid.tree")
        if tree is not None and isinstance(explainer, tree.TreeShap):
            return "concatenate"
        return "each" if _seeded_per_row(explainer) else None

    def explain_many(
        self, requests: Sequence[tuple[Any, CancelFlag | None]]
    ) -> list[dict[str, Any] | Exception]:
        """Answer several ``/explain`` requests ``(payload, cancel)`` at once: per request
        its answer, or the exception explaining it alone would raise (RequestError,
        Cancelled, ...). Each answer is the one the request gets alone: an invalid
        or too costly request is refused on its own, and when a batch's call fails
        its requests are explained one by one, so only the rows at fault fail."""
        results: list[dict[str, Any] | Exception | None] = [None] * len(requests)
        groups: dict[Any, list[tuple[int, _ExplainJob]]] = {}
        for i, (payload, cancel) in enumerate(requests):
            try:
                job = self._explain_job(payload, cancel)
            except Exception as exc:  # noqa: BLE001 - this request's own answer
                results[i] = exc
                continue
            mode = self._batch_mode(job.explainer)
            key = job.name if mode == "concatenate" else i
            groups.setdefault(key, []).append((i, job))
        for members in groups.values():
            answers = self._explain_group([job for _, job in members])
            for (i, _), answer in zip(members, answers, strict=True):
                results[i] = answer
        return [r if r is not None else RuntimeError("unanswered") for r in results]

    def _explain_group(self, jobs: list[_ExplainJob]) -> list[dict[str, Any] | Exception]:
        """Jobs of one concatenating method in one call; jobs alone when that fails."""
        if len(jobs) > 1:
            try:
                return self._explain_together(jobs)
            except Cancelled:
                return [Cancelled() for _ in jobs]
            except Exception:  # noqa: BLE001 - found again, with its row, request by request
                log.info("A batch of %d requests failed; explaining them alone", len(jobs))
        answers: list[dict[str, Any] | Exception] = []
        for job in jobs:
            try:
                _check_cancel(job.cancel)
                answers.append(self._explain_alone(job))
            except Exception as exc:  # noqa: BLE001 - this request's own answer
                answers.append(exc)
        return answers

    def _explain_together(self, jobs: list[_ExplainJob]) -> list[dict[str, Any] | Exception]:
        """One call over the rows of all live jobs, cut back into one answer per job."""
        live = [job for job in jobs if job.cancel is None or not job.cancel.is_set()]
        if not live:
            raise Cancelled
        name, explainer = live[0].name, live[0].explainer
        # One frame built from all the validated rows: pd.concat of many one-row frames
        # costs more than the explanation.
        X = self.rows.frame([row for job in live for row in job.rows])
        cancel = _AllCancelled([job.cancel for job in live])
        exp = self._explain_in_chunks(name, explainer, X, cancel, blame=False)
        pred = self._margin_predictions(name, exp)
        payload = explanation_payload(exp)
        answers: dict[int, dict[str, Any]] = {}
        start = 0
        for job in live:
            stop = start + len(job.rows)
            rows_pred = (
                self._predictions(job.X)
                if pred is None
                else self._read_predictions(pred[start:stop])
            )
            answers[id(job)] = {"method": name, **rows_pred, **_payload_rows(payload, start, stop)}
            start = stop
        return [answers[id(job)] if id(job) in answers else Cancelled() for job in jobs]

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

    def reasons(self, payload: Any, cancel: CancelFlag | None = None) -> dict[str, Any]:
        X, opts = self.parse(payload, ("method", "max_reasons", "k", "direction", "exclude"))
        if "max_reasons" in opts and "k" in opts:
            raise RequestError(
                422,
                "Give 'max_reasons' only; 'k' is its old name.",
                [{"loc": ["k"], "msg": "old name of max_reasons"}],
            )
        field = "k" if "k" in opts else "max_reasons"  # 'k': the old name, still read
        k = opts.get(field, 4)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RequestError(
                422,
                f"'{field}' must be an integer from 1 to {MAX_K}; got {safe_text(k)[:40]}.",
                [{"loc": [field], "msg": "invalid"}],
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
        name, exp = self._explanation(X, opts.get("method"), cancel, extra_cost=1)
        _check_cancel(cancel)
        options = {**self.reason_defaults, "exclude": exclude}
        table = self._library(reason_codes, exp, max_reasons=k, direction=direction, **options)
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

    # ------------------------------------------------------------ counterfactuals
    def counterfactual_explainer(self) -> Any:
        """The service's :class:`pellucid.Counterfactuals`, built on first use (501 if it cannot be)."""
        with self._lock:
            if self._counterfactuals is None:
                from ..counterfactual import Counterfactuals

                try:
                    self._counterfactuals = Counterfactuals(
                        self.model, self.background, **self.counterfactual_settings
                    )
                except (TypeError, ValueError, LookupError, NotImplementedError) as exc:
                    log.warning("Counterfactuals unavailable", exc_info=True)
                    raise RequestError(
                        501, f"Counterfactuals are not available for this model: {_message(exc)}"
                    ) from None
            return self._counterfactuals

    def counterfactual_cost_per_row(self, explainer: Any, k: int) -> int:
        """Model evaluations one row of ``/counterfactual`` may cost: for the exact engines,
        what their time limit buys (``EVALUATIONS_PER_SECOND``) per answer; for the search,
        its layers of candidates and repair steps per answer; plus the prediction."""
        if explainer.engine.name == "search":
            from ..counterfactual import _search as search

            layers = (
                math.ceil(math.log(search.LAST_RADIUS / search.FIRST_RADIUS, search.GROWTH)) + 1
            )
            per_answer = layers * search.SAMPLES_PER_LAYER + len(explainer.space.names) * (
                search.LINE_POINTS + 1
            )
        else:
            per_answer = math.ceil(explainer.time_limit * EVALUATIONS_PER_SECOND)
        return k * per_answer + 1

    def _desired(self, explainer: Any, opts: Mapping[str, Any]) -> Any:
        """The request's ``desired`` as the library takes it, or a 422 naming the field."""
        if "desired" not in opts or opts["desired"] is None:
            if not self.model.is_classifier:
                raise _field_error(
                    "desired", "a regressor needs 'desired': [low, high] (null for an open end)"
                )
            return None
        desired = opts["desired"]
        if isinstance(desired, list):
            ok = len(desired) == 2 and all(
                v is None
                or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
                for v in desired
            )
            if not ok:
                raise _field_error("desired", "a range is [low, high] of numbers or null")
            if desired[0] is not None and desired[1] is not None and desired[0] > desired[1]:
                raise _field_error("desired", f"the range {desired} is empty")
            if self.model.is_classifier and _n_classes(self.model) != 2:
                raise _field_error(
                    "desired", "a probability range needs a binary classifier; name a class"
                )
            return (desired[0], desired[1])
        if not self.model.is_classifier:
            raise _field_error("desired", "for a regressor, 'desired' is [low, high]")
        classes = [] if self.model.classes is None else list(self.model.classes)
        if isinstance(desired, (str, int, float)) and not isinstance(desired, bool):
            for c in classes:  # JSON has no numpy types: match by value, then by text
                if c == desired or str(c) == str(desired):
                    return c
        shown = [_jsonable(c) for c in classes]
        raise _field_error(
            "desired", f"'desired' must be one of the classes {shown} or [low, high]"
        )

    def counterfactual(self, payload: Any, cancel: CancelFlag | None = None) -> dict[str, Any]:
        """Per row: the cheapest allowed changes that give the desired outcome (up to ``k``),
        each with its cost, certificate, validity, new prediction and a sentence."""
        X, opts = self.parse(payload, ("desired", "k"))
        k = opts.get("k", 1)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_COUNTERFACTUALS:
            raise _field_error(
                "k",
                f"'k' must be an integer from 1 to {MAX_COUNTERFACTUALS}; got {safe_text(k)[:40]}",
            )
        explainer = self.counterfactual_explainer()
        desired = self._desired(explainer, opts)
        per_row = self.counterfactual_cost_per_row(explainer, k)
        self.check_cost(len(X), per_row, f"{k} counterfactual(s) by {explainer.engine.name}")
        results = []
        for i in range(len(X)):  # one row at a time: the cancel flag is checked between rows
            _check_cancel(cancel)
            row = X.iloc[[i]]
            results.append(
                self._guarded(row, i, _explain_counterfactuals, explainer, row, desired, k)
            )
        rows = [_counterfactual_payload(found, 0) for found in results]
        return {
            "method": explainer.engine.name,
            "desired": _jsonable(list(desired) if isinstance(desired, tuple) else desired),
            **self._predictions(X),
            "counterfactuals": rows,
        }

    def info(self) -> dict[str, Any]:
        m = self.model
        return {
            "pellucid_version": __version__,
            "model_class": type(m.raw_model).__name__,
            "task": m.task,
            "classes": None if m.classes is None else [_jsonable(c) for c in m.classes],
            "output": m.output,
            "output_names": list(m.output_names) if m.output_names else None,
            "features": self.rows.describe(),
            "methods": {"default": self.default_method, "available": self.methods()},
            "metrics": self.metrics,
            "limits": {
                "max_rows": self.max_rows,
                "max_cost": self.max_cost,
                "cost_per_row": {"predict": 1, **{m: c + 1 for m, c in self._costs.items()}},
            },
        }


def _n_classes(model: Any) -> int:
    return 0 if model.classes is None else len(model.classes)


def _explain_counterfactuals(explainer: Any, row: pd.DataFrame, desired: Any, k: int) -> Any:
    return explainer.explain(row, desired=desired, k=k)


def _field_error(field: str, message: str) -> RequestError:
    return RequestError(422, message + ".", [{"loc": [field], "msg": "invalid"}])


def _counterfactual_payload(found: Any, row: int) -> dict[str, Any]:
    """One row of a CounterfactualSet as JSON: its certificate and answers (with sentences)."""
    answers = []
    for cf in found.for_row(row):
        answers.append(
            {
                "rank": cf.rank,
                "changes": [
                    {"feature": c.feature, "from": _jsonable(c.before), "to": _jsonable(c.after)}
                    for c in cf.changes
                ],
                "cost": _finite(float(cf.cost)),
                "certificate": cf.certificate,
                "gap": None if cf.gap is None else _finite(float(cf.gap)),
                "valid": bool(cf.valid),
                "prediction": _jsonable(cf.prediction),
                "sentence": found.sentence(cf),
            }
        )
    return {"certificate": found.certificates[row], "counterfactuals": answers}


def _message(exc: BaseException) -> str:
    return safe_text(exc)[:MAX_MESSAGE]


def _parameters(fn: Any) -> Mapping[str, Any]:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return {}


def _settings_of(explainer: Any) -> Sequence[str]:
    """The settings the service may set for one call: those an explainer of the
    constructor protocol lets ``with_settings`` change, else ``explain``'s parameters
    (an explainer object of the caller's)."""
    if hasattr(explainer, "with_settings"):
        return tuple(getattr(explainer, "_call_settings", ()))
    return tuple(_parameters(explainer.explain))


def _in_process(explainer: Any) -> Any:
    """The explainer set to run in this process (``n_jobs=1``), once, when the service
    takes it: a copy made per call would drop what it caches (TreeShap's tables)."""
    if "n_jobs" in _settings_of(explainer) and hasattr(explainer, "with_settings"):
        if getattr(explainer, "n_jobs", None) != 1:
            return explainer.with_settings(n_jobs=1)
    return explainer


def _explain_with(explainer: Any, X: pd.DataFrame, settings: dict[str, Any]) -> Any:
    """``explainer.explain(X)`` with ``settings`` (n_jobs, random_state) for this call."""
    if not settings:
        return explainer.explain(X)
    if hasattr(explainer, "with_settings"):
        return explainer.with_settings(**settings).explain(X)
    return explainer.explain(X, **settings)


def _seeded_per_row(explainer: Any) -> bool:
    """Whether the service explains each row alone, seeded by its content: a sampled
    method that seeds rows by position (``first_row``), so one row per call."""
    return "random_state" in _settings_of(explainer) and "first_row" in _parameters(
        explainer.explain
    )


def _evaluates(model: Any, X: pd.DataFrame) -> bool:
    """Whether the model evaluates X to finite numbers (used only to find the row to blame)."""
    try:
        out = np.asarray(model.predict(X), dtype=float)
    except Exception:  # noqa: BLE001 - any failure is the answer
        return False
    return bool(np.isfinite(out).all())


def _payload_rows(payload: Mapping[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Rows ``start:stop`` of an :func:`explanation_payload` (its per-row lists cut)."""
    out = dict(payload)
    for key in ("explanations", "std_errors"):
        if key in out:
            out[key] = out[key][start:stop]
    return out


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
