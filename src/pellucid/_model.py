"""Model: one predict contract over every supported kind of model.

``Model(m).predict(X)`` returns class probabilities ``(n, n_classes)`` for
classifiers and predictions ``(n,)`` (or ``(n, n_outputs)``) for regressors;
``output="raw"`` gives the model's margin (decision function, boosted raw
score, network logits) and ``output="log_odds"`` the log-odds of the
probabilities: ``log(p / (1 - p))`` of the positive class (binary) or of each
class against the rest (multiclass). :func:`output_kind` names the unit. DataFrames reach the model unchanged, so a Pipeline sees its
own column names and dtypes. Heavy libraries are never imported here: the
kind is recognised from the object's module name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._data import DataError, check_X, feature_names_of
from ._errors import ModelOutputError

__all__ = ["Model", "ModelOutputError", "as_model", "output_kind"]


TASKS = ("regression", "binary", "multiclass")
OUTPUTS = ("probability", "raw", "log_odds")
DEFAULT_BATCH_ROWS = 100_000


def _module_root(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# Model kinds whose predict is thread-safe and releases the GIL: worth threads.
THREAD_SAFE_KINDS = ("sklearn", "xgboost", "lightgbm", "catboost")


def available_cores() -> int:
    """Cores this process may use, capped by OMP_NUM_THREADS when set (joblib sets it
    in its worker processes, so rows fanned out over processes do not oversubscribe)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(1, cores)


class Model:
    """Wrap a fitted model (or any callable) into one ``predict`` contract.

    Parameters
    ----------
    model:
        scikit-learn estimator or Pipeline, XGBoost (sklearn API or Booster),
        LightGBM (sklearn API or Booster), CatBoost, ``torch.nn.Module`` on
        float tensors, or any callable ``f(X) -> array``.
    task:
        "regression", "binary" or "multiclass"; detected when None.
    output:
        "probability" (classifiers' default), "raw" or "log_odds".
    feature_names:
        Names of the input columns, when the model does not record them.
    batch_size:
        Rows per model call; larger inputs are predicted in batches.
    """

    def __init__(
        self,
        model: Any,
        *,
        task: str | None = None,
        output: str | None = None,
        feature_names: Sequence[str] | None = None,
        classes: Sequence[Any] | None = None,
        batch_size: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if isinstance(model, Model):
            raise TypeError(
                "model is already a pellucid.Model; use pellucid.as_model to pass it through."
            )
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
        if output is not None and output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}.")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.raw_model = model
        self.kind = self._detect_kind(model)
        self.batch_size = int(batch_size)
        self.classes: np.ndarray | None = None
        self.task = task or self._detect_task(model)
        if self.task != "regression":
            self.classes = (
                np.asarray(classes) if classes is not None else self._detect_classes(model)
            )
        if self.task == "regression" and output in ("probability", "log_odds"):
            raise ValueError(f"output={output!r} needs a classifier; this model is a regressor.")
        self.output = output or ("probability" if self.task != "regression" else "raw")
        recorded = self._recorded_feature_names(model)
        if feature_names is not None and recorded is not None and tuple(feature_names) != recorded:
            raise ValueError(
                f"feature_names {list(feature_names)} differ from the names the model was fitted "
                f"with {list(recorded)}."
            )
        self.feature_names: tuple[str, ...] | None = (
            tuple(str(f) for f in feature_names) if feature_names is not None else recorded
        )
        self._n_outputs: int | None = self._known_n_outputs(model)

    # ------------------------------------------------------------ detection
    @staticmethod
    def _detect_kind(model: Any) -> str:
        root = _module_root(model)
        if root == "xgboost":
            return "xgboost"
        if root == "lightgbm":
            return "lightgbm"
        if root == "catboost":
            return "catboost"
        if _is_torch_module(model):
            return "torch"
        if hasattr(model, "predict") and hasattr(model, "fit"):
            return "sklearn"
        if callable(model):
            return "callable"
        raise TypeError(
            f"Cannot wrap {type(model).__name__!r}: expected a fitted estimator with predict(), "
            "a torch.nn.Module or a callable f(X) -> array."
        )

    def _detect_task(self, model: Any) -> str:
        if (
            self.kind == "xgboost"
            and _module_root(model) == "xgboost"
            and type(model).__name__ == "Booster"
        ):
            objective = _xgb_objective(model)
            return _task_from_objective(objective, lambda: _xgb_num_class(model))
        if self.kind == "lightgbm" and type(model).__name__ == "Booster":
            objective = str(
                model.params.get("objective") or model.dump_model().get("objective", "")
            )
            return _task_from_objective(objective, lambda: int(model.num_model_per_iteration()))
        if self.kind in ("sklearn", "xgboost", "lightgbm", "catboost"):
            est = model
            if hasattr(est, "classes_") and (
                hasattr(est, "predict_proba") or hasattr(est, "decision_function")
            ):
                n = len(est.classes_)
                return "binary" if n == 2 else "multiclass"
            from sklearn.base import is_classifier

            if is_classifier(est):
                raise ValueError("The classifier is not fitted: it has no classes_.")
            return "regression"
        return "regression"

    def _detect_classes(self, model: Any) -> np.ndarray:
        if hasattr(model, "classes_"):
            return np.asarray(model.classes_)
        n = 2 if self.task == "binary" else self._probe_n_classes(model)
        return np.arange(n)

    def _probe_n_classes(self, model: Any) -> int:
        if self.kind == "xgboost":
            return _xgb_num_class(model)
        if self.kind == "lightgbm":
            return int(model.num_model_per_iteration())
        raise ValueError("Pass classes=... for a multiclass callable or torch model.")

    @staticmethod
    def _recorded_feature_names(model: Any) -> tuple[str, ...] | None:
        for attr in ("feature_names_in_", "feature_names_", "feature_names"):
            names = getattr(model, attr, None)
            if names is not None and not callable(names) and len(names):
                return tuple(str(n) for n in names)
        if type(model).__name__ == "Booster" and _module_root(model) == "lightgbm":
            return tuple(model.feature_name())
        return None

    def _known_n_outputs(self, model: Any) -> int | None:
        if self.task != "regression":
            assert self.classes is not None
            if self.output in ("raw", "log_odds") and self.task == "binary":
                return 1
            return len(self.classes)
        n = getattr(model, "n_outputs_", None)
        if self.kind == "sklearn" and isinstance(n, (int, np.integer)):
            return int(n)
        if self.kind in ("sklearn", "xgboost", "lightgbm", "catboost"):
            return 1
        return None

    # ------------------------------------------------------------ contract
    @property
    def n_outputs(self) -> int | None:
        """Number of outputs; known once ``predict`` has run for callables and torch models."""
        return self._n_outputs

    @property
    def output_names(self) -> tuple[str, ...] | None:
        """Names of the outputs when there are several, else None (one output)."""
        if self.task != "regression" and (
            self.output == "probability" or self.task == "multiclass"
        ):
            assert self.classes is not None
            return tuple(str(c) for c in self.classes)
        if self._n_outputs and self._n_outputs > 1:
            return tuple(f"y{i}" for i in range(self._n_outputs))
        return None

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    def predict(self, X: Any, *, check: bool = True) -> np.ndarray:
        """Predict on X in batches; float64 ``(n,)`` or ``(n, n_outputs)``.

        ``check=False`` skips the value checks of :func:`check_X` (for callers
        that built X from data already validated, such as samplers calling the
        model hundreds of times); column names and order are still checked.
        """
        X = self.prepare(X, check=check)
        n = X.shape[0]
        if n <= self.batch_size:
            out = self._predict_batch(X)
        else:
            parts = [
                self._predict_batch(
                    X.iloc[i : i + self.batch_size]
                    if isinstance(X, pd.DataFrame)
                    else X[i : i + self.batch_size]
                )
                for i in range(0, n, self.batch_size)
            ]
            out = np.concatenate(parts, axis=0)
        out = self._checked(self._squeeze(out), n)
        if self._n_outputs is None:
            self._n_outputs = 1 if out.ndim == 1 else out.shape[1]
        return out

    __call__ = predict

    def predict_prepared(self, X: Any) -> np.ndarray:
        """Predict rows that :meth:`prepare` returned (or copies rearranging their values)
        in one call, without checking them again.

        For methods that call the model on many stacked copies of validated
        data: checking every copy costs time and cannot find anything new.
        """
        return self._checked(self._squeeze(self._predict_batch(X)), X.shape[0])

    def _checked(self, out: np.ndarray, n: int) -> np.ndarray:
        """The model's output, refused (:class:`ModelOutputError`) unless it is ``n`` finite
        rows of the shape it promised: a NaN or a stray axis would otherwise flow
        into every average and give an all-NaN or wrong explanation."""
        name = type(self.raw_model).__name__
        if out.ndim == 0 or out.ndim > 2:
            raise ModelOutputError(
                f"The model ({name}) returned an array of shape {out.shape} for {n} rows; "
                f"expected ({n},) or ({n}, n_outputs)."
            )
        if out.shape[0] != n:
            raise ModelOutputError(
                f"The model ({name}) returned {out.shape[0]} predictions for {n} rows "
                f"(shape {out.shape})."
            )
        k = 1 if out.ndim == 1 else out.shape[1]
        # A callable binary classifier may return one column: labels or P(positive).
        one_score = k == 1 and self.task == "binary" and self.kind == "callable"
        if self.is_classifier and self.output == "probability" and self.classes is not None:
            if k != len(self.classes) and not one_score:
                raise ModelOutputError(
                    f"The model ({name}) returned {k} probabilities per row (shape {out.shape}) "
                    f"for {len(self.classes)} classes {list(self.classes)}."
                )
        if self._n_outputs is not None and k != self._n_outputs and not one_score:
            raise ModelOutputError(
                f"The model ({name}) returned {k} outputs per row (shape {out.shape}); "
                f"it returned {self._n_outputs} before."
            )
        finite = np.isfinite(out) if out.ndim == 1 else np.isfinite(out).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ModelOutputError(
                f"The model ({name}) returned NaN or infinite output for {bad.size} of {n} rows, "
                f"at positions {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} of this call"
                + (
                    " (log-odds of a probability of exactly 0 or 1: explain output='probability')"
                    if self.output == "log_odds"
                    else ""
                )
                + "; pellucid cannot explain a model whose output is not a number."
            )
        return out

    def _squeeze(self, out: Any) -> np.ndarray:
        """float64; a single output column becomes (n,) unless it is class probabilities."""
        out = np.asarray(out, dtype=np.float64)
        if (
            out.ndim == 2
            and out.shape[1] == 1
            and not (self.task != "regression" and self.output == "probability")
        ):
            out = out[:, 0]
        return out

    def prepare(self, X: Any, check: bool = True) -> Any:
        """X as the model takes it: checked (``check=False``: columns only), in the
        model's column names and order (an array becomes a DataFrame for a model
        fitted on one)."""
        if self.kind == "torch":
            return X
        if check:
            # A few rows to predict may well have a column that is all missing.
            X = check_X(X, allow_empty=True, allow_all_missing=True)
        elif not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
        names = self.feature_names
        if isinstance(X, pd.DataFrame):
            if names is not None:
                got = feature_names_of(X)
                missing = [c for c in names if c not in got]
                extra = [c for c in got if c not in names]
                if missing or extra:
                    raise DataError(
                        f"X's columns differ from the model's: missing {missing}, unexpected {extra}."
                    )
                if got != names:
                    raise DataError(
                        f"X's columns are in a different order from the model's: got {list(got)}, "
                        f"expected {list(names)}."
                    )
            return X
        if names is not None:
            if X.shape[1] != len(names):
                raise DataError(
                    f"X has {X.shape[1]} columns; the model expects {len(names)}: {list(names)}."
                )
            if self.kind != "callable" and hasattr(self.raw_model, "feature_names_in_"):
                # Fitted on a DataFrame: give it one, the columns taken by position
                # (scikit-learn, XGBoost and LightGBM warn or fail on a bare array).
                return pd.DataFrame(X, columns=list(names))
        return X

    # ------------------------------------------------------------ per kind
    def _predict_batch(self, X: Any) -> np.ndarray:
        return getattr(self, f"_predict_{self.kind}")(X)

    def _classifier_output(
        self, proba: np.ndarray, margin: Callable[[], np.ndarray] | None
    ) -> np.ndarray:
        proba = np.asarray(proba, dtype=np.float64)
        if self.output == "probability":
            return proba
        if self.output == "raw":
            if margin is None:
                raise ValueError(
                    f"This {self.kind} model has no raw margin; use output='log_odds' or 'probability'."
                )
            return np.asarray(margin(), dtype=np.float64)
        with np.errstate(divide="ignore"):
            p = proba[:, 1] if self.task == "binary" else proba
            return np.log(p) - np.log1p(-p)

    def _predict_sklearn(self, X: Any) -> np.ndarray:
        m = self.raw_model
        if self.task == "regression":
            return m.predict(X)
        margin = (lambda: m.decision_function(X)) if hasattr(m, "decision_function") else None
        if not hasattr(m, "predict_proba"):
            if self.output != "raw" or margin is None:
                raise ValueError(
                    f"{type(m).__name__} has no predict_proba (an SVC without "
                    "probability=True, say): explain its decision function with output='raw'."
                )
            return np.asarray(margin(), dtype=np.float64)
        return self._classifier_output(m.predict_proba(X), margin)

    def _predict_xgboost(self, X: Any) -> np.ndarray:
        m = self.raw_model
        if type(m).__name__ != "Booster":
            if self.task == "regression":
                return m.predict(X, output_margin=False)
            return self._classifier_output(
                m.predict_proba(X), lambda: m.predict(X, output_margin=True)
            )
        import xgboost as xgb

        dm = xgb.DMatrix(X, enable_categorical=True)
        margin = np.asarray(m.predict(dm, output_margin=True), dtype=np.float64)
        if self.task == "regression":
            return np.asarray(m.predict(dm), dtype=np.float64)
        proba = _expit(margin) if margin.ndim == 1 else _softmax(margin)
        if self.task == "binary":
            proba = np.column_stack([1 - proba, proba])
        return self._classifier_output(proba, lambda: margin)

    def _predict_lightgbm(self, X: Any) -> np.ndarray:
        m = self.raw_model
        if type(m).__name__ != "Booster":
            if self.task == "regression":
                return m.predict(X)
            return self._classifier_output(m.predict_proba(X), lambda: m.predict(X, raw_score=True))
        raw = np.asarray(m.predict(X, raw_score=True), dtype=np.float64)
        if self.task == "regression":
            return np.asarray(m.predict(X), dtype=np.float64)
        proba = _expit(raw) if raw.ndim == 1 else _softmax(raw)
        if self.task == "binary":
            proba = np.column_stack([1 - proba, proba])
        return self._classifier_output(proba, lambda: raw)

    def _predict_catboost(self, X: Any) -> np.ndarray:
        m = self.raw_model
        if self.task == "regression":
            return m.predict(X)
        return self._classifier_output(
            m.predict_proba(X), lambda: m.predict(X, prediction_type="RawFormulaVal")
        )

    def _predict_torch(self, X: Any) -> np.ndarray:
        import torch

        m = self.raw_model
        param = next(m.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        if isinstance(X, pd.DataFrame):
            X = X.to_numpy(dtype=np.float64)
        if not isinstance(X, torch.Tensor):
            from .torch._base import from_array

            X = from_array(np.asarray(X))
        tensor = X.to(device=device, dtype=dtype)
        was_training = m.training
        m.eval()
        try:
            with torch.no_grad():
                logits = m(tensor).detach().to("cpu", torch.float64).numpy()
        finally:
            m.train(was_training)
        if self.task == "regression":
            return logits
        if logits.ndim == 1 or logits.shape[1] == 1:
            z = logits.reshape(-1)
            proba = np.column_stack([1 - _expit(z), _expit(z)])
            margin = z
        else:
            proba = _softmax(logits)
            margin = logits
        return self._classifier_output(proba, lambda: margin)

    def _predict_callable(self, X: Any) -> np.ndarray:
        out = np.asarray(self.raw_model(X))
        if self.task == "regression" or self.output == "probability":
            return out
        return self._classifier_output(out, None)

    def __repr__(self) -> str:
        return f"Model(kind={self.kind!r}, task={self.task!r}, output={self.output!r})"


def _xgb_objective(booster: Any) -> str:
    import json

    config = json.loads(booster.save_config())
    return str(config["learner"]["objective"]["name"])


def _xgb_num_class(booster: Any) -> int:
    import json

    if hasattr(booster, "get_booster"):
        booster = booster.get_booster()
    config = json.loads(booster.save_config())
    return int(config["learner"]["learner_model_param"]["num_class"])


def _task_from_objective(objective: str, num_class: Callable[[], int]) -> str:
    objective = objective.lower()
    if objective.startswith(("binary", "reg:logistic")) or objective in (
        "cross_entropy",
        "xentropy",
    ):
        return "binary"
    if objective.startswith(("multi", "softmax", "multiclass")):
        return "multiclass" if num_class() > 2 else "binary"
    return "regression"


#: Binary margins that are the log-odds of predict_proba: the margin's logistic is checked
#: against the probabilities to this tolerance before it is called "log_odds".
_LOG_ODDS_RTOL = 1e-6


def output_kind(model: Model, sample: Any = None) -> str | None:
    """The unit of ``model.predict``: one of ``Explanation.output_kind``'s values.

    "probability" and "log_odds" for classifiers asked for them; a binary
    classifier's raw margin is "log_odds" when its logistic reproduces
    ``predict_proba`` on ``sample`` (logistic regression, gradient boosting), else
    "raw_margin" (an SVM's decision function, softmax scores); "regression" for
    library regressors. None where pellucid cannot know (a callable or torch
    module taken as a regressor may return anything).
    """
    if model.task == "regression":
        return None if model.kind in ("callable", "torch") else "regression"
    if model.output in ("probability", "log_odds"):
        return model.output
    if model.task == "binary" and sample is not None and model.kind != "callable":
        margin = Model(model.raw_model, output="raw").predict(sample, check=False)
        try:
            proba = Model(model.raw_model, output="probability").predict(sample, check=False)
        except ValueError:  # no predict_proba: nothing says the margin is a log-odds
            return "raw_margin"
        if np.allclose(_expit(margin), proba[:, 1], rtol=_LOG_ODDS_RTOL, atol=1e-9):
            return "log_odds"
    return "raw_margin"


def as_model(model: Any, **kwargs: Any) -> Model:
    """Return ``model`` if it is already a :class:`Model`, else wrap it."""
    if isinstance(model, Model):
        if kwargs and any(v is not None for v in kwargs.values()):
            raise ValueError(
                "Options cannot be changed on an existing Model; wrap the raw model again."
            )
        return model
    return Model(model, **{k: v for k, v in kwargs.items() if v is not None})
