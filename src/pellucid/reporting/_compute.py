"""The report's compute step: run the methods, keep only result objects.

Everything the renderer needs ends up in :class:`ReportResults`; the
renderer never sees the model or the raw data. Expensive parts run on
deterministic subsamples sized by :data:`DEFAULT_SETTINGS`, so a report on
10,000 rows and 30 features stays within a minute on two cores.
"""

from __future__ import annotations

import importlib
import time
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from .. import _registry
from .._data import DataError, as_frame, check_X, feature_names_of, is_categorical
from .._dispatch import build, build_best, choose
from .._model import Model, as_model
from .._provenance import provenance
from .._results import Anchor, Explanation
from ..metrics._subgroups import UNSET, subgroups_argument
from ._results import SECTIONS, ColumnSummary, DataOverview, LocalResult, ReportResults

__all__ = [
    "DEFAULT_SETTINGS",
    "SECTIONS",
    "ColumnSummary",
    "DataOverview",
    "LocalResult",
    "ReportResults",
    "compute",
]

#: Sizes of the expensive parts. Override any of them with ``settings=``.
DEFAULT_SETTINGS: dict[str, Any] = {
    "shap_rows": 500,  # rows explained for the SHAP summary (tree models)
    "shap_rows_agnostic": 50,  # ... for model-agnostic estimators, which cost far more
    "shap_background_rows": 25,  # weighted k-means rows behind model-agnostic SHAP
    "shap_budget": 512,  # coalitions per row for sampled SHAP (exact up to 9 features)
    "background_rows": 100,  # reference rows for LIME / Anchors when none are given
    "importance_rows": 2000,  # rows permuted for permutation importance
    "importance_repeats": 5,
    "effect_rows": 300,  # rows averaged for PD / ICE / ALE
    "grid_points": 20,  # grid points per feature for PD / ALE
    "grid_points_2d": 10,  # per feature for the two-feature heat map
    "top_features": 4,  # features shown in the effects section
    "local_rows": 3,  # rows explained locally when ``rows`` is not given
    "lime_samples": 2000,
    "lime_features": 8,
    "corr_threshold": 0.7,  # |Spearman| above which PD is flagged as misleading
    "hist_bins": 30,
    "trust_rows": 10,  # rows whose explanations are scored for faithfulness and stability
    "trust_background_rows": 20,  # rows that removed features are replaced from
    "counterfactual_rows": 3,  # local rows given counterfactuals (the first ones, at most this)
    "counterfactual_time_limit": 2.0,  # seconds per row for the exact (MILP) engines
    "counterfactual_immutable": (),  # columns the counterfactuals may not change
}

#: Rows the overview's rank correlations are computed on (a systematic sample beyond).
OVERVIEW_CORR_ROWS = 20_000
#: Rows whose predictions choose the local rows (highest, median, lowest prediction).
LOCAL_CANDIDATE_ROWS = 5000

ATTRIBUTION_AUTO = ("tree_shap", "exact_shap", "kernel_shap", "permutation_shap")
GLOBAL_METHODS = ("permutation_importance", "partial_dependence", "ale")
LOCAL_METHODS = ("lime", "anchors")
COUNTERFACTUAL_METHOD = "counterfactuals"


# ---------------------------------------------------------------- helpers


def _take(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]


def _subsample(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of min(n, k) rows drawn without replacement."""
    if k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def _load(qualified: str) -> Any:
    """``module:attr`` -> object; None when the module is not part of this build."""
    module, _, attr = qualified.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _available(name: str) -> bool:
    """Whether a method the report can use is part of this build."""
    if name in GLOBAL_METHODS:
        return _load(f"pellucid.effects:{name}") is not None
    if name == COUNTERFACTUAL_METHOD:
        return _load("pellucid.counterfactual:Counterfactuals") is not None
    return name in _registry.available()


def _failure(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _explained_output(exp: Explanation, label: str | None) -> Explanation:
    """The explained class's output of a multi-output explanation. A single-output one
    is already of the explained output (a binary classifier's margin or a regressor's
    prediction), whatever the class is called."""
    return exp.select_output(label) if exp.multi_output else exp


def _section_rng(random_state: int, section: str) -> np.random.Generator:
    """The generator of one section, from the report's seed and the section's name.

    Each section draws from its own generator, so the rows one section reads never
    depend on which sections ran before it (the importance section runs only when
    ``y`` is given; the background is drawn by whichever section needs it first).
    """
    return np.random.default_rng([random_state, zlib.crc32(section.encode())])


def _prediction_column(pred: np.ndarray, output_names: Sequence[str] | None, wanted: str | None):
    if pred.ndim == 1:
        return pred
    names = list(output_names or ())
    idx = names.index(wanted) if wanted in names else pred.shape[1] - 1
    return pred[:, idx]


# ---------------------------------------------------------------- overview


def _column_summary(
    name: str, col: pd.Series, bins: int, categorical: bool = False
) -> ColumnSummary:
    n_missing = int(col.isna().sum())
    stats: dict[str, Any]
    if categorical or is_categorical(col):
        counts = col.astype("object").where(col.notna(), None).value_counts(dropna=True)
        counts = counts.sort_values(ascending=False, kind="stable")
        top = counts.iloc[:20]
        stats = {
            "unique": int(col.nunique(dropna=True)),
            "top": str(top.index[0]) if len(top) else "",
            "top share": float(top.iloc[0] / max(len(col) - n_missing, 1)) if len(top) else 0.0,
        }
        return ColumnSummary(
            name,
            "categorical",
            n_missing,
            stats,
            top.to_numpy(dtype=float),
            None,
            tuple(str(c) for c in top.index),
        )
    values = col.to_numpy(dtype=float, na_value=np.nan)
    finite = values[np.isfinite(values)]
    stats = {
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(finite.min()),
        "median": float(np.median(finite)),
        "max": float(finite.max()),
        "unique": int(np.unique(finite).size),
    }
    counts, edges = np.histogram(finite, bins=min(bins, max(stats["unique"], 1)))
    return ColumnSummary(name, "numeric", n_missing, stats, counts.astype(float), edges)


def data_overview(
    X: Any,
    y: Any = None,
    *,
    classification: bool = False,
    bins: int = 30,
    threshold: float = 0.7,
    max_rows: int = 20_000,
) -> DataOverview:
    """Summaries of every column and the numeric pairs with |Spearman rho| >= threshold.

    A classification target is summarised by class shares, whatever its dtype.
    """
    frame = as_frame(X)
    columns = tuple(_column_summary(str(c), frame[c], bins) for c in frame.columns)
    numeric = [c for c, s in zip(frame.columns, columns, strict=True) if s.kind == "numeric"]
    pairs: list[tuple[str, str, float]] = []
    if len(numeric) > 1:
        sample = frame[numeric]
        if len(sample) > max_rows:  # rank correlation is stable long before 20k rows
            sample = sample.iloc[:: int(np.ceil(len(sample) / max_rows))]
        corr = sample.astype(float).corr(method="spearman").to_numpy()
        for i in range(len(numeric)):
            for j in range(i + 1, len(numeric)):
                rho = corr[i, j]
                if np.isfinite(rho) and abs(rho) >= threshold:
                    pairs.append((str(numeric[i]), str(numeric[j]), float(rho)))
    pairs.sort(key=lambda p: -abs(p[2]))
    target = None
    if y is not None:
        series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y), name="target")
        target = _column_summary(str(series.name or "target"), series, bins, classification)
    return DataOverview(len(frame), columns, tuple(pairs), threshold, target)


# ---------------------------------------------------------------- local comparison


def _top(values: np.ndarray, names: Sequence[str], k: int) -> list[str]:
    order = np.argsort(-np.abs(values), kind="stable")
    return [names[i] for i in order[:k] if values[i] != 0]


def compare_local(
    shap_row: Explanation | None,
    lime_row: Explanation | None,
    rule: Anchor | None,
    k: int = 3,
) -> tuple[str, ...]:
    """Plain sentences saying where SHAP, LIME and the anchor disagree about one row.

    Their values are on different scales (SHAP: contributions to the output;
    LIME: weights of a local linear surrogate), so only the features they
    rank highest and the direction of each feature's effect are compared.
    """
    notes: list[str] = []
    if shap_row is not None and lime_row is not None:
        names = list(shap_row.feature_names)
        s = np.asarray(shap_row.values[0], dtype=float)
        lime_names = list(lime_row.feature_names)
        lv = np.asarray(lime_row.values[0], dtype=float)
        lime_by_name = dict(zip(lime_names, lv, strict=True))
        l_aligned = np.array([lime_by_name.get(n, 0.0) for n in names])
        top_s, top_l = _top(s, names, k), _top(l_aligned, names, k)
        only_s = [f for f in top_s if f not in top_l]
        only_l = [f for f in top_l if f not in top_s]
        if only_s or only_l:
            notes.append(
                f"Top {k} features differ: SHAP ranks {', '.join(only_s) or '—'} higher; "
                f"LIME ranks {', '.join(only_l) or '—'} higher."
            )
        else:
            notes.append(f"SHAP and LIME agree on the top {k} features: {', '.join(top_s)}.")
        # direction: only where both give the feature a non-negligible weight
        big_s = (
            np.abs(s) >= 0.1 * np.abs(s).max() if np.abs(s).max() > 0 else np.zeros_like(s, bool)
        )
        big_l = (
            np.abs(l_aligned) >= 0.1 * np.abs(l_aligned).max()
            if np.abs(l_aligned).max() > 0
            else np.zeros_like(s, bool)
        )
        flips = [
            names[i]
            for i in range(len(names))
            if big_s[i] and big_l[i] and np.sign(s[i]) != np.sign(l_aligned[i])
        ]
        if flips:
            notes.append(
                f"Opposite directions for {', '.join(flips)}: SHAP and LIME disagree on "
                "whether it raises or lowers the prediction."
            )
    if rule is not None and shap_row is not None and rule.predicates:
        names = list(shap_row.feature_names)
        top_s = _top(np.asarray(shap_row.values[0], dtype=float), names, max(k, 5))
        outside = [p.feature for p in rule.predicates if p.feature not in top_s]
        if outside:
            notes.append(
                f"The anchor rule uses {', '.join(outside)}, which SHAP does not rank "
                f"among its top {max(k, 5)} features."
            )
    return tuple(notes)


# ---------------------------------------------------------------- compute


class _Runner:
    """Runs the sections in order, timing each and recording failures as notes."""

    def __init__(
        self,
        model: Any,
        X: Any,
        y: Any,
        background: Any,
        rows: Sequence[int] | None,
        methods: str | Sequence[str],
        subgroups: Any,
        output: Any,
        random_state: int,
        settings: Mapping[str, Any] | None,
    ) -> None:
        unknown = set(settings or {}) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(
                f"Unknown settings {sorted(unknown)}; known: {sorted(DEFAULT_SETTINGS)}."
            )
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.m = as_model(model)
        self.X = check_X(X)
        self.names = feature_names_of(self.X, self.m.feature_names)
        self.y = None
        if y is not None:
            from .._data import check_X_y

            _, self.y = check_X_y(self.X, y)
        self.y_input = y
        self.subgroups = subgroups
        self.background = background
        self._background_given = background is not None
        self.random_state = int(random_state)
        self.methods = self._resolve_methods(methods)
        self.n = int(self.X.shape[0])
        self.rows = self._check_rows(rows)
        self.settings["counterfactual_immutable"] = self._check_immutable(
            self.settings["counterfactual_immutable"]
        )
        self.output = self._explained_output(output)
        self.timings: dict[str, float] = {}
        #: Per section, which rows it read: every row, or a seeded sample (the record says so).
        self.rows_used: dict[str, str] = {}

    # -- inputs --------------------------------------------------------------
    def _resolve_methods(self, methods: str | Sequence[str]) -> tuple[str, ...]:
        if isinstance(methods, str):
            if methods != "auto":
                methods = [methods]
            else:
                return ("auto",)
        methods = [_registry.canonical(m) for m in methods]  # treeshap: tree_shap
        known = set(_registry.available()) | set(GLOBAL_METHODS) | set(ATTRIBUTION_AUTO)
        known |= {*LOCAL_METHODS, COUNTERFACTUAL_METHOD}
        bad = [m for m in methods if m not in known]
        if bad:
            raise ValueError(f"Unknown method(s) {bad}; choose from {sorted(known)} or 'auto'.")
        missing = [m for m in methods if not _available(m)]
        if missing:
            raise ValueError(f"Method(s) {missing} are not available in this build.")
        return tuple(methods)

    def wants(self, name: str) -> bool:
        return self.methods == ("auto",) or name in self.methods

    def _check_rows(self, rows: Sequence[int] | None) -> list[int] | None:
        if rows is None:
            return None
        out = []
        for r in rows:
            if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
                raise DataError(f"rows must be integer positions; got {r!r}.")
            if not -self.n <= int(r) < self.n:
                raise DataError(f"Row {r} is out of range: X has {self.n} rows.")
            out.append(int(r) % self.n)
        return out

    def _check_immutable(self, columns: Any) -> tuple[str, ...]:
        """The counterfactual_immutable setting as a tuple of known column names; a string
        is a comma-separated list (the CLI's ``--set counterfactual_immutable=sex,age``)."""
        if isinstance(columns, str):
            columns = tuple(c.strip() for c in columns.split(",") if c.strip())
        if not isinstance(columns, (list, tuple)):
            raise ValueError(
                f"settings['counterfactual_immutable'] must be a list of column names; "
                f"got {columns!r}."
            )
        unknown = [c for c in columns if str(c) not in self.names]
        if unknown:
            raise ValueError(
                f"settings['counterfactual_immutable'] names column(s) {unknown} that X does "
                f"not have; its columns are {list(self.names)}."
            )
        return tuple(str(c) for c in columns)

    def _explained_output(self, output: Any) -> str | None:
        if not self.m.is_classifier:
            if output is not None:
                raise ValueError("output= names a class; this model is a regressor.")
            return None
        classes = [str(c) for c in (self.m.classes if self.m.classes is not None else [])]
        if output is None:
            return classes[-1] if classes else None
        if str(output) not in classes:
            raise ValueError(f"output={output!r} is not one of the model's classes {classes}.")
        return str(output)

    def rng(self, section: str) -> np.random.Generator:
        """A fresh generator for ``section`` (see :func:`_section_rng`)."""
        return _section_rng(self.random_state, section)

    def _used(self, section: str, k: int, how: str = "drawn at random") -> None:
        """Record that ``section`` read min(n, k) rows (all of them, or a sample)."""
        if k >= self.n:
            self.rows_used[section] = f"all {self.n:,} rows"
        else:
            self.rows_used[section] = f"{k:,} of {self.n:,} rows {how} (seed {self.random_state})"

    def _background(self) -> Any:
        if self.background is not None:
            return self.background
        idx = _subsample(self.n, self.settings["background_rows"], self.rng("background"))
        self.background = _take(self.X, idx)
        return self.background

    # -- sections ------------------------------------------------------------
    def run(self, name: str, step: Callable[[ReportResults], None], res: ReportResults) -> None:
        start = time.perf_counter()
        try:
            step(res)
        except Exception as exc:  # noqa: BLE001 - one failing method must not lose the report
            res.note(name, f"This section stopped early: {_failure(exc)}")
        self.timings[name] = time.perf_counter() - start

    def overview(self, res: ReportResults) -> None:
        y = self.y_input if isinstance(self.y_input, pd.Series) else self.y
        self._used("overview", self.n)
        if self.n > OVERVIEW_CORR_ROWS:
            self.rows_used["overview"] += (
                f"; rank correlations on every {int(np.ceil(self.n / OVERVIEW_CORR_ROWS))}th row"
            )
        res.overview = data_overview(
            as_frame(self.X, self.names),
            y,
            classification=self.m.is_classifier,
            bins=self.settings["hist_bins"],
            threshold=self.settings["corr_threshold"],
            max_rows=OVERVIEW_CORR_ROWS,
        )

    def performance(self, res: ReportResults) -> None:
        if self.y is None:
            res.note("performance", "No target (y) was given, so performance is not measured.")
            return
        from ..metrics import evaluate

        self._used("performance", self.n)
        res.evaluation = evaluate(self.m, self.X, self.y, subgroups=self.subgroups)
        if res.evaluation.threshold is not None:
            positive = res.evaluation.classes[-1] if res.evaluation.classes else 1
            res.note(
                "performance",
                f"Decision threshold: a row is predicted {positive} when "
                f"P({positive}) >= {res.evaluation.threshold:g}; accuracy, precision, recall "
                "and F1 are measured at it (ROC AUC and the Brier score do not depend on it).",
            )

    def importance(self, res: ReportResults) -> None:
        if not self.wants("permutation_importance"):
            return
        fn = _load("pellucid.effects:permutation_importance")
        if fn is None:
            res.note("importance", "Permutation importance is not available in this build.")
            return
        if self.y is None:
            res.note("importance", "Permutation importance needs a target (y); skipped.")
            return
        from ..effects import score_change
        from ..regulatory._card import importance_scoring  # one scorer rule with the card

        idx = _subsample(self.n, self.settings["importance_rows"], self.rng("importance"))
        self._used("importance", len(idx))
        scoring = importance_scoring(self.m)
        res.permutation = fn(
            self.m,
            _take(self.X, idx),
            self.y[idx],
            scoring=scoring,
            n_repeats=self.settings["importance_repeats"],
            random_state=self.random_state,
        )
        res.note("importance", f"Permutation importance: {score_change(scoring)} when shuffled.")

    def _attribution_method(self) -> str | None:
        """The requested attribution method, else the dispatcher's choice for the model."""
        registered = _registry.available(kind="attribution", inputs="tabular")
        if self.methods != ("auto",):
            chosen = [m for m in self.methods if m in registered and m not in LOCAL_METHODS]
            return chosen[0] if chosen else None
        name = choose(self.m, len(self.names)).method
        return name if name in registered else None

    def _shap_background(self, name: str) -> Any:
        """TreeShap: the given background, or the trees' own cover. Model-agnostic
        estimators cost (rows x coalitions x background rows) model calls, so
        their background is summarised to a few weighted rows."""
        if name == "tree_shap":
            self.shap_background_desc = (
                "the given background" if self.background is not None else "the trees' cover"
            )
            return self.background
        k = self.settings["shap_background_rows"]
        self.shap_background_desc = f"{k} weighted rows summarising the background (k-means)"
        data = self.background if self.background is not None else self.X
        summarize = _load("pellucid.shapley:summarize")
        if summarize is not None:
            return summarize(data, k, random_state=self.random_state)
        return _take(data, _subsample(int(data.shape[0]), k, self.rng("shap background")))

    def _explain(self, explainer: Any, X: Any) -> Explanation:
        return _explained_output(explainer.explain(X), self.output)

    def shap(self, res: ReportResults) -> None:
        first = self._attribution_method()
        if first is None:
            res.note("shap", "No Shapley-value method is available in this build.")
            return
        budget = {"budget": self.settings["shap_budget"]}
        choice, explainer = build_best(
            self.m,
            None,
            len(self.names),
            first=first,
            random_state=self.random_state,
            settings={"kernel_shap": budget, "permutation_shap": budget},
            reference=self._shap_background,
            fallback=self.methods == ("auto",),  # a method asked for by name is not replaced
        )
        name = choice.method
        if choice.fell_back:
            res.note("shap", f"Using {choice.note()}.")
        k = self.settings["shap_rows" if name == "tree_shap" else "shap_rows_agnostic"]
        idx = _subsample(self.n, k, self.rng("shap"))
        self._used("shap", len(idx))
        self._shap_explainer = explainer
        res.shap = self._explain(explainer, _take(self.X, idx))
        res.shap_rows = idx
        res.shap_output = self._shap_output(explainer)
        if len(idx) < self.n:
            res.note(
                "shap",
                f"SHAP values of {len(idx):,} of {self.n:,} rows drawn at random "
                f"(seed {self.random_state}).",
            )

    def _shap_output(self, explainer: Any) -> str:
        """What the SHAP values add up to, in words."""
        if getattr(explainer, "output", None) == "raw" or getattr(explainer, "link", "") == "logit":
            return (
                "the model's raw output (log-odds for classifiers)"
                if self.m.is_classifier
                else "the prediction"
            )
        if self.m.is_classifier:
            return f"the predicted probability of class {self.output}"
        return "the prediction"

    def _top_features(self, res: ReportResults) -> tuple[str, ...]:
        k = self.settings["top_features"]
        if res.shap is not None:
            scores = np.abs(np.asarray(res.shap.values, dtype=float)).mean(axis=0)
            names = res.shap.feature_names
        elif res.permutation is not None:
            scores, names = res.permutation.importances_mean, res.permutation.feature_names
        else:
            return tuple(self.names[:k])
        order = np.argsort(-scores, kind="stable")[:k]
        return tuple(names[i] for i in order)

    def effects(self, res: ReportResults) -> None:
        res.top_features = self._top_features(res)
        idx = _subsample(self.n, self.settings["effect_rows"], self.rng("effects"))
        self._used("effects", len(idx))
        Xs = _take(self.X, idx)
        grid = self.settings["grid_points"]
        pd_fn = _load("pellucid.effects:partial_dependence")
        ale_fn = _load("pellucid.effects:ale")
        if self.wants("partial_dependence"):
            if pd_fn is None:
                res.note("effects", "Partial dependence is not available in this build.")
            else:
                for f in res.top_features:
                    res.pd.append(pd_fn(self.m, Xs, f, kind="both", grid_resolution=grid))
                if len(res.top_features) >= 2:
                    pair = [res.top_features[0], res.top_features[1]]
                    res.pd2 = pd_fn(
                        self.m,
                        Xs,
                        pair,
                        kind="average",
                        grid_resolution=self.settings["grid_points_2d"],
                    )
        if self.wants("ale"):
            if ale_fn is None:
                res.note("effects", "ALE is not available in this build.")
            else:
                for f in res.top_features:
                    res.ale.append(ale_fn(self.m, Xs, f, bins=grid))

    def _local_rows(self, res: ReportResults) -> list[tuple[int, str]]:
        if self.rows is not None:
            self.rows_used["local"] = f"{len(self.rows)} chosen rows"
            return [(r, "chosen row") for r in self.rows]
        k = self.settings["local_rows"]
        idx = _subsample(self.n, LOCAL_CANDIDATE_ROWS, self.rng("local"))
        self._used("local", len(idx), "drawn at random, the rows shown picked from them")
        pred = _prediction_column(
            self.m.predict(_take(self.X, idx)), self.m.output_names, self.output
        )
        order = np.argsort(pred, kind="stable")
        picks = [
            (int(idx[order[-1]]), "highest prediction"),
            (int(idx[order[len(order) // 2]]), "median prediction"),
            (int(idx[order[0]]), "lowest prediction"),
        ]
        seen: set[int] = set()
        out = []
        for r, why in picks[:k]:
            if r not in seen:
                seen.add(r)
                out.append((r, why))
        return out

    def local(self, res: ReportResults) -> None:
        rows = self._local_rows(res)
        if not rows:
            return
        pos = np.array([r for r, _ in rows])
        Xr = _take(self.X, pos)
        pred = _prediction_column(self.m.predict(Xr), self.m.output_names, self.output)
        shap_rows = None
        explainer = getattr(self, "_shap_explainer", None)
        if explainer is not None:
            shap_rows = self._explain(explainer, Xr)
        lime_rows = None
        lime_cls = self._registered("lime")
        if lime_cls is not None:
            try:
                lime = build(
                    "lime",
                    self.m,
                    self._background(),
                    random_state=self.random_state,
                    num_samples=self.settings["lime_samples"],
                    max_features=self.settings["lime_features"],
                )
                lime_rows = _explained_output(lime.explain(Xr), self.output)
            except Exception as exc:  # noqa: BLE001
                res.note("local", f"LIME failed: {_failure(exc)}")
        anchors = [None] * len(rows)
        anchor_cls = self._registered("anchors") if self.m.is_classifier else None
        if self.m.is_classifier and anchor_cls is None and self.wants("anchors"):
            res.note("local", "Anchors are not available in this build.")
        if anchor_cls is not None:
            try:
                anchors_ = build(
                    "anchors", self.m, self._background(), random_state=self.random_state
                )
                found = anchors_.explain_rows(Xr)
                anchors = list(found)
            except Exception as exc:  # noqa: BLE001
                res.note("local", f"Anchors failed: {_failure(exc)}")
        for i, (r, why) in enumerate(rows):
            s = shap_rows[i] if shap_rows is not None else None
            lm = lime_rows[i] if lime_rows is not None else None
            res.local.append(
                LocalResult(
                    row=r,
                    label=why,
                    prediction=float(pred[i]),
                    shap=s,
                    lime=lm,
                    anchor=anchors[i],
                    disagreements=compare_local(s, lm, anchors[i]),
                )
            )

    def counterfactual(self, res: ReportResults) -> None:
        """What would change the decision for the first local rows: the cheapest
        allowed changes that give the row another class, each with its certificate.
        Any failure is one note line; the rest of the report stands."""
        if not self.wants(COUNTERFACTUAL_METHOD):
            return
        if not self.m.is_classifier:
            res.note(
                "counterfactual",
                "Counterfactuals are shown for classifiers: a regressor's decision needs a "
                "target range, which the report does not know.",
            )
            return
        rows = tuple(lr.row for lr in res.local[: self.settings["counterfactual_rows"]])
        if not rows:
            res.note("counterfactual", "No local rows to find counterfactuals for.")
            return
        explainer = self._counterfactual_explainer(res)
        if explainer is None:
            return
        self.rows_used["counterfactual"] = (
            f"{len(rows)} local rows; costs scaled by the spread of all {self.n:,} rows"
        )
        try:
            res.counterfactuals = explainer.explain(
                _take(self.X, np.array(rows)), desired=self._counterfactual_desired()
            )
        except Exception as exc:  # noqa: BLE001 - one note line, never a lost report
            res.note("counterfactual", f"The counterfactual search failed: {_failure(exc)}")
            return
        res.counterfactual_rows = rows

    def _counterfactual_explainer(self, res: ReportResults) -> Any:
        """Counterfactuals on X (its spread scales the cost), or None with a note saying why."""
        from .._errors import UnsupportedModelError

        cls = _load("pellucid.counterfactual:Counterfactuals")
        if cls is None:
            res.note("counterfactual", "Counterfactuals are not available in this build.")
            return None
        try:
            return cls(
                self.m,
                self.X,
                immutable=self.settings["counterfactual_immutable"],
                time_limit=self.settings["counterfactual_time_limit"],
                random_state=self.random_state,
            )
        except UnsupportedModelError as exc:
            res.note("counterfactual", f"Counterfactuals do not support this model: {exc}")
        except Exception as exc:  # noqa: BLE001
            res.note("counterfactual", f"Counterfactuals could not start: {_failure(exc)}")
        return None

    def _counterfactual_desired(self) -> Any:
        """Binary: the class each row does not get (None). Multiclass: the explained class."""
        classes = self.m.classes
        if classes is None or len(classes) == 2:
            return None
        return next(c for c in classes if str(c) == self.output)

    def trust(self, res: ReportResults) -> None:
        """Faithfulness, stability and a plain reading for the methods shown above."""
        trust_summary = _load("pellucid.quality:trust_summary")
        shap_method = getattr(self, "_shap_explainer", None)
        methods = [type(shap_method)] if shap_method is not None else []
        if self._registered("lime") is not None:
            methods.append(self._registered("lime"))
        if trust_summary is None or not methods:
            return
        rows = _subsample(self.n, self.settings["trust_rows"], self.rng("trust"))
        self._used("trust", len(rows))
        model, output = self.m, self.output
        margin = res.shap is not None and res.shap.output_kind in ("log_odds", "raw_margin")
        if self.m.is_classifier and getattr(shap_method, "output", None) == "raw" and margin:
            # TreeShap explains the margin: score every method on that same output. (A
            # scikit-learn tree or forest has no margin: its raw output is the probability.)
            model, output = Model(self.m.raw_model, output="raw"), None
        res.trust = trust_summary(
            model,
            _take(self.X, rows),
            methods=methods,
            data=self.background if self.background is not None else self.X,
            n_rows=len(rows),
            n_background=self.settings["trust_background_rows"],
            output=output,
            options={
                "kernel_shap": {"budget": self.settings["shap_budget"]},
                "permutation_shap": {"budget": self.settings["shap_budget"]},
                "lime": {"num_samples": self.settings["lime_samples"]},
            },
            random_state=self.random_state,
        )

    def _registered(self, name: str) -> Any:
        if not self.wants(name) or name not in _registry.available():
            return None
        return _registry.get(name)

    # -- record ----------------------------------------------------------------
    def record(self, res: ReportResults, started: datetime, total: float) -> None:
        methods = {
            "attribution": res.shap.method if res.shap is not None else None,
            "importance": (
                f"{res.permutation.method} ({res.permutation.params.get('scoring')})"
                if res.permutation is not None
                else None
            ),
            "effects": sorted({p.method or p.kind for p in res.pd + res.ale}),
            "local": sorted(
                {
                    *(lr.lime.method for lr in res.local if lr.lime is not None),
                    *(lr.anchor.method for lr in res.local if lr.anchor is not None),
                }
            ),
            "counterfactual": (
                res.counterfactuals.method if res.counterfactuals is not None else None
            ),
        }
        # The facts a model card states too come from the one provenance record.
        prov = provenance(self.m, self.X, self.y, random_state=self.random_state, created=started)
        res.record = {
            "created (UTC)": started.strftime("%Y-%m-%d %H:%M:%S"),
            "run time (s)": round(total, 2),
            "section times (s)": {k: round(v, 2) for k, v in self.timings.items()},
            "random_state": prov.random_state,
            "model": prov.model_class,
            "model hash": prov.model_hash,
            "data": f"{self.n:,} rows × {len(self.names)} features",
            "data hash": prov.data_hash,
            "target hash": prov.target_hash or "no target",
            "background": (
                "given"
                if self._background_given
                else f"{self.settings['background_rows']} rows of X"
            ),
            "SHAP background": getattr(self, "shap_background_desc", "—"),
            "methods requested": list(self.methods),
            "methods used": methods,
            "explained output": res.explained_output or "the prediction",
            "decision threshold": (
                "—"
                if res.evaluation is None or res.evaluation.threshold is None
                else f"P({res.evaluation.classes[-1]}) >= {res.evaluation.threshold:g}"
            ),
            "local rows": [lr.row for lr in res.local],
            "rows used": dict(self.rows_used),
            "settings": dict(self.settings),
            "versions": dict(prov.versions),
            "platform": prov.platform,
        }


def compute(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    background: Any = None,
    rows: Sequence[int] | None = None,
    methods: str | Sequence[str] = "auto",
    subgroups: Any = None,
    output: Any = None,
    random_state: int = 0,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    progress: Callable[[str, str], None] | None = None,
    groups: Any = UNSET,
) -> ReportResults:
    """Run every section and return the results. ``progress(key, title)`` is called
    before each section starts. ``subgroups``: the subgroup column of the performance
    section (``groups=`` is its deprecated name)."""
    subgroups = subgroups_argument("compute", subgroups, groups)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    runner = _Runner(
        model, X, y, background, rows, methods, subgroups, output, random_state, settings
    )
    from ._render import report_title  # the wording lives with the render step

    res = ReportResults(
        title=title or report_title(runner.m, runner.y_input, runner.m.task),
        task=runner.m.task,
        explained_output=runner.output,
        overview=DataOverview(0, (), (), 0.0),
    )
    for key, heading in SECTIONS:
        if progress is not None:
            progress(key, heading)
        runner.run(key, getattr(runner, key), res)
    runner.record(res, started, time.perf_counter() - t0)
    return res
