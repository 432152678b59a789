"""Model cards (Mitchell et al., 2019): what a model is for and how well it works, for whom.

:func:`model_card` computes (metrics overall and per group via
:func:`pellucid.evaluate`, fairness gaps between groups, global importance,
a data summary and a reproducibility record) and returns a :class:`ModelCard`,
a plain result that renders itself as Markdown or self-contained HTML.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X_y
from .._model import Model, as_model
from .._results import FeatureImportance

__all__ = ["ModelCard", "fairness_table", "model_card"]

INTENDED_USE_FIELDS = ("primary_uses", "primary_users", "out_of_scope_uses")
SMALL_GROUP = 30
GAP_WARNING = 0.1


# ---------------------------------------------------------------- fairness


def _ece(y: np.ndarray, p: np.ndarray, n_bins: int) -> float:
    """Expected calibration error with equal-width bins: sum_b (n_b/n) |mean(y_b) - mean(p_b)|."""
    if len(y) == 0:
        return float("nan")
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.sum() / len(y) * abs(y[m].mean() - p[m].mean())
    return float(total)


def fairness_table(
    y_true: Any,
    proba: Any,
    groups: Any,
    *,
    threshold: float = 0.5,
    n_bins: int = 10,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-group rates of a binary classifier and the gaps between groups.

    ``y_true`` is 0/1 (1 = the positive class, e.g. default), ``proba`` the
    predicted probability of 1, the decision ``proba >= threshold``.
    Per group: ``n``, ``selection_rate`` P(decision=1), ``tpr``
    P(decision=1 | y=1), ``fpr`` P(decision=1 | y=0), ``mean_predicted``,
    ``observed_rate`` and ``ece`` (expected calibration error). Gaps (max
    minus min over groups): ``demographic_parity_difference`` (selection rate),
    ``equal_opportunity_difference`` (TPR), ``equalized_odds_difference``
    (the larger of the TPR and FPR gaps), ``calibration_difference`` (ECE) and
    ``calibration_in_the_large_difference`` (mean predicted minus observed).
    Groups where a rate is undefined (no positives, say) get NaN and are
    left out of that gap.
    """
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=float)
    g = np.asarray(groups)
    if not (len(y) == len(p) == len(g)):
        raise DataError(f"y ({len(y)}), proba ({len(p)}) and groups ({len(g)}) differ in length.")
    pred = (p >= threshold).astype(int)
    rows = {}
    for value in pd.unique(g):
        m = np.asarray(pd.isna(g)) if pd.isna(value) else g == value
        yy, pp, dd = y[m], p[m], pred[m]
        pos, neg = yy == 1, yy == 0
        rows[value] = {
            "n": int(m.sum()),
            "selection_rate": float(dd.mean()),
            "tpr": float(dd[pos].mean()) if pos.any() else np.nan,
            "fpr": float(dd[neg].mean()) if neg.any() else np.nan,
            "mean_predicted": float(pp.mean()),
            "observed_rate": float(yy.mean()),
            "ece": _ece(yy, pp, n_bins),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"

    def gap(col: pd.Series) -> float:
        col = col.dropna()
        return float(col.max() - col.min()) if len(col) >= 2 else float("nan")

    citl = table["mean_predicted"] - table["observed_rate"]
    gaps = {
        "demographic_parity_difference": gap(table["selection_rate"]),
        "equal_opportunity_difference": gap(table["tpr"]),
        "equalized_odds_difference": float(np.nanmax([gap(table["tpr"]), gap(table["fpr"])]))
        if table[["tpr", "fpr"]].notna().sum().max() >= 2
        else float("nan"),
        "calibration_difference": gap(table["ece"]),
        "calibration_in_the_large_difference": gap(citl),
    }
    return table, gaps


# ---------------------------------------------------------------- the card


@dataclass(frozen=True, eq=False)
class GroupSection:
    """Metrics and fairness for one grouping attribute (e.g. ``sex``)."""

    attribute: str
    metrics: pd.DataFrame
    fairness: pd.DataFrame | None
    gaps: dict[str, float]


@dataclass(frozen=True, eq=False)
class ModelCard:
    """A model card: a result object; render with :meth:`to_markdown` / :meth:`to_html`."""

    name: str
    details: dict[str, Any]
    intended_use: dict[str, str]
    data_summary: pd.DataFrame
    metrics: pd.DataFrame
    groups: tuple[GroupSection, ...] = ()
    importance: FeatureImportance | None = None
    limitations: tuple[str, ...] = ()
    ethical_considerations: str = ""
    reproducibility: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------ plain data
    def to_dict(self) -> dict[str, Any]:
        def frame(f: pd.DataFrame | None) -> Any:
            if f is None:
                return None
            return json.loads(f.to_json(orient="index", default_handler=str))

        return {
            "name": self.name,
            "details": self.details,
            "intended_use": self.intended_use,
            "data_summary": frame(self.data_summary),
            "metrics": frame(self.metrics),
            "groups": [
                {
                    "attribute": s.attribute,
                    "metrics": frame(s.metrics),
                    "fairness": frame(s.fairness),
                    "gaps": {k: _json_float(v) for k, v in s.gaps.items()},
                }
                for s in self.groups
            ],
            "importance": None
            if self.importance is None
            else json.loads(self.importance.to_frame().to_json(orient="records")),
            "limitations": list(self.limitations),
            "ethical_considerations": self.ethical_considerations,
            "reproducibility": self.reproducibility,
        }

    # ------------------------------------------------------------ markdown
    def to_markdown(self) -> str:
        out = [f"# Model card: {self.name}", ""]
        out += ["## Model details", ""]
        out += [f"- **{_title(k)}**: {_text(v)}" for k, v in self.details.items()]
        out += ["", "## Intended use", ""]
        out += [f"- **{_title(k)}**: {v or '(not stated)'}" for k, v in self.intended_use.items()]
        out += ["", "## Data", "", _md_table(self.data_summary)]
        out += ["", "## Metrics", ""]
        out += [_threshold_note(self.details), ""] if "decision_rule" in self.details else []
        out += [_md_table(self.metrics)]
        for s in self.groups:
            out += ["", f"## Metrics and fairness by {s.attribute}", "", _md_table(s.metrics)]
            if s.fairness is not None:
                out += ["", _md_table(s.fairness), ""]
                out += [f"- **{_title(k)}**: {_num(v)}" for k, v in s.gaps.items()]
        out += ["", "## Global explanation", ""]
        if self.importance is None:
            out.append("(not computed)")
        else:
            out += [_importance_note(self.importance), "", _md_table(self._importance_frame())]
        out += ["", "## Limitations", ""]
        out += [f"- {item}" for item in self.limitations] or ["(none stated)"]
        out += ["", "## Ethical considerations", "", self.ethical_considerations or "(not stated)"]
        out += ["", "## Reproducibility", ""]
        out += [f"- **{_title(k)}**: `{_text(v)}`" for k, v in self.reproducibility.items()]
        return "\n".join(out) + "\n"

    def _importance_frame(self) -> pd.DataFrame:
        assert self.importance is not None
        return self.importance.to_frame().set_index("feature")

    # ------------------------------------------------------------ html
    def to_html(self, *, full: bool = True) -> str:
        """Self-contained HTML (no scripts, no external assets); ``full=False`` gives a
        ``<section>`` to embed in another page (the report)."""
        e = html.escape
        parts = [f'<section class="pellucid-model-card"><h1>Model card: {e(self.name)}</h1>']
        parts.append("<h2>Model details</h2>" + _html_list(self.details))
        parts.append(
            "<h2>Intended use</h2>"
            + _html_list({k: v or "(not stated)" for k, v in self.intended_use.items()})
        )
        parts.append("<h2>Data</h2>" + _html_table(self.data_summary))
        threshold = _threshold_note(self.details)
        parts.append(
            "<h2>Metrics</h2>"
            + (f"<p>{e(threshold)}</p>" if threshold else "")
            + _html_table(self.metrics)
        )
        for s in self.groups:
            parts.append(f"<h2>Metrics and fairness by {e(s.attribute)}</h2>")
            parts.append(_html_table(s.metrics))
            if s.fairness is not None:
                parts.append(_html_table(s.fairness))
                parts.append(_html_list({k: _num(v) for k, v in s.gaps.items()}))
        parts.append("<h2>Global explanation</h2>")
        if self.importance is None:
            parts.append("<p>(not computed)</p>")
        else:
            parts.append(f"<p>{e(_importance_note(self.importance))}</p>")
            parts.append(_html_table(self._importance_frame()))
        items = "".join(f"<li>{e(x)}</li>" for x in self.limitations) or "<li>(none stated)</li>"
        parts.append(f"<h2>Limitations</h2><ul>{items}</ul>")
        parts.append(
            f"<h2>Ethical considerations</h2><p>{e(self.ethical_considerations or '(not stated)')}</p>"
        )
        parts.append("<h2>Reproducibility</h2>" + _html_list(self.reproducibility))
        parts.append("</section>")
        body = "\n".join(parts)
        if not full:
            return body
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Model card: {e(self.name)}</title><style>{_CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return self.to_html(full=False)

    def save(self, path: str | Path) -> Path:
        """Write the card as ``.md``, ``.html`` or ``.json`` (chosen by the suffix)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".md", ".markdown"):
            text = self.to_markdown()
        elif suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2, default=str)
        else:
            raise ValueError(f"Unknown model card file type {suffix!r}; use .md, .html or .json.")
        path.write_text(text, encoding="utf-8")
        return path


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;"
    "padding:.2rem .5rem;text-align:right}th:first-child,td:first-child{text-align:left}"
    "h2{border-bottom:1px solid #ddd;margin-top:2rem}code{background:#f4f4f4}"
)


def _json_float(v: Any) -> Any:
    return None if isinstance(v, float) and not np.isfinite(v) else v


def _title(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _num(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            return "n/a"
        return f"{f:.4g}" if abs(f) < 1e4 else f"{f:,.0f}"
    return str(v)


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items())
    return _num(v)


def _md_cell(v: Any) -> str:
    return _num(v).replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> str:
    header = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in frame.iterrows():
        cells = [_md_cell(idx)] + [_md_cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _html_table(frame: pd.DataFrame) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in [frame.index.name or "", *frame.columns])
    body = "".join(
        "<tr>"
        + f"<td>{e(_num(idx))}</td>"
        + "".join(f"<td>{e(_num(v))}</td>" for v in row.tolist())
        + "</tr>"
        for idx, row in frame.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_list(items: Mapping[str, Any]) -> str:
    e = html.escape
    li = "".join(f"<li><b>{e(_title(k))}</b>: {e(_text(v))}</li>" for k, v in items.items())
    return f"<ul>{li}</ul>"


def _importance_note(imp: FeatureImportance) -> str:
    from ..effects import score_change

    return (
        f"Permutation importance (importance: {score_change(imp.params.get('scoring'))}): "
        f"the change in the score when one feature's values are shuffled "
        f"({imp.importances.shape[1]} repeats; mean, std and 95% interval)."
    )


def _threshold_note(details: Mapping[str, Any]) -> str:
    rule = details.get("decision_rule")
    if rule is None:
        return ""
    return (
        f"Decision threshold: a row is predicted positive when {rule}; accuracy, "
        "precision, recall and F1 are measured at it (ROC AUC, Brier score and log loss "
        "do not depend on it)."
    )


# ---------------------------------------------------------------- computing


def _data_summary(X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    rows = {}
    for c in X.columns:
        col = X[c]
        entry: dict[str, Any] = {
            "type": str(col.dtype),
            "missing": float(col.isna().mean()),
        }
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            entry.update(
                mean=float(np.nanmean(v)),
                min=float(np.nanmin(v)),
                median=float(np.nanmedian(v)),
                max=float(np.nanmax(v)),
                values="",
            )
        else:
            counts = col.astype("object").value_counts(dropna=True)
            top = ", ".join(f"{k} ({n / len(col):.0%})" for k, n in counts.head(5).items())
            entry.update(mean=np.nan, min=np.nan, median=np.nan, max=np.nan, values=top)
        rows[str(c)] = entry
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "column"
    return frame


def _fingerprint(X: pd.DataFrame, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(pd.Series(y), index=False).to_numpy().tobytes())
    h.update(",".join(map(str, X.columns)).encode())
    return h.hexdigest()


def _model_params(raw: Any) -> dict[str, Any]:
    if hasattr(raw, "get_params"):
        try:
            return {k: v for k, v in raw.get_params(deep=False).items() if _is_plain(v)}
        except Exception:  # noqa: BLE001 - a model's own get_params may be broken; params are optional
            return {}
    return {}


def _is_plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _reproducibility(
    m: Model, X: pd.DataFrame, y: np.ndarray, random_state: Any, created: str | None
) -> dict[str, Any]:
    import sklearn

    from .._version import __version__

    lib = type(m.raw_model).__module__.split(".")[0]
    lib_version = getattr(sys.modules.get(lib), "__version__", "")
    params = _model_params(m.raw_model)
    return {
        "created": created or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pellucid": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit_learn": sklearn.__version__,
        "model_library": f"{lib} {lib_version}".strip(),
        "model_class": f"{type(m.raw_model).__module__}.{type(m.raw_model).__name__}",
        "model_params_sha256": hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode()
        ).hexdigest(),
        "evaluation_data_sha256": _fingerprint(X, y),
        "evaluation_rows": int(len(X)),
        "random_state": random_state,
    }


def importance_scoring(m: Model) -> str:
    """The permutation-importance scorer the card and the report use: ROC AUC (binary),
    log-loss (multiclass) or R^2: threshold-free scores that see every change in the
    predicted probabilities (accuracy at one threshold misses most of them)."""
    if not m.is_classifier:
        return "r2"
    return "roc_auc" if len(np.asarray(m.classes)) == 2 else "neg_log_loss"


def _permutation_importance(
    m: Model, X: pd.DataFrame, y: np.ndarray, n_repeats: int, random_state: Any
) -> FeatureImportance:
    from ..effects import permutation_importance

    return permutation_importance(
        m, X, y, scoring=importance_scoring(m), n_repeats=n_repeats, random_state=random_state
    )


def _group_arrays(groups: Any, X: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    if groups is None:
        return []
    if isinstance(groups, str):
        groups = [groups]
    if isinstance(groups, (list, tuple)) and all(isinstance(g, str) for g in groups):
        out = []
        for g in groups:
            if g not in X.columns:
                raise DataError(f"groups names {g!r}, which is not a column of X.")
            out.append((g, X[g].to_numpy()))
        return out
    values = np.asarray(groups)
    if values.shape != (len(X),):
        raise DataError(f"groups has shape {values.shape}; expected one label per row ({len(X)},).")
    return [(str(getattr(groups, "name", None) or "group"), values)]


def _metric_frame(evaluation: Any, names: Sequence[str]) -> pd.DataFrame:
    frame = evaluation.to_frame()
    keep = ["n_rows"] + [c for c in names if c in frame.columns]
    return frame[keep]


def model_card(
    model: Any,
    X: Any,
    y: Any,
    *,
    groups: Any = None,
    name: str | None = None,
    version: str | None = None,
    description: str = "",
    owners: Sequence[str] | str = (),
    intended_use: Mapping[str, str] | str | None = None,
    limitations: Sequence[str] = (),
    ethical_considerations: str = "",
    training_data: str = "",
    importance: FeatureImportance | bool = True,
    threshold: float = 0.5,
    n_repeats: int = 5,
    random_state: int | None = 0,
    created: str | None = None,
) -> ModelCard:
    """A model card for ``model`` evaluated on held-out ``(X, y)``.

    ``groups``: a column name of X, a list of column names, or one label per
    row; each gives metrics per group and, for binary classifiers, fairness
    gaps (see :func:`fairness_table`; positive class = ``classes[1]``, e.g.
    default/decline, decision ``P(positive) >= threshold``).
    ``intended_use``: a sentence, or a dict with ``primary_uses``,
    ``primary_users``, ``out_of_scope_uses``; the fields the user fills.
    ``importance``: True computes permutation importance on ``(X, y)``
    (``n_repeats``, ``random_state``); pass a FeatureImportance to use your
    own, or False to leave the global explanation out.
    ``created``: fix the timestamp of the reproducibility record (for
    byte-identical cards).
    """
    from ..metrics import evaluate

    m = as_model(model)
    X, y_arr = check_X_y(X, y)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=list(m.feature_names or [f"x{i}" for i in range(X.shape[1])]))
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1; got {threshold!r}.")
    use = _intended_use(intended_use)
    # the metrics are measured at the decision rule the card states (binary: P >= threshold)
    cut = float(threshold) if m.task == "binary" else None
    evaluation = evaluate(m, X, y_arr, threshold=cut)
    metric_names = list(evaluation.metrics)
    if m.task == "multiclass":
        metric_names = [k for k in metric_names if "_class_" not in k]
    sections = []
    binary_proba = None
    if m.task == "binary":
        pm = m if m.output == "probability" else Model(m.raw_model, task=m.task)
        binary_proba = pm.predict(X)[:, 1]
        positive = np.asarray(pm.classes)[1]
    for attr, values in _group_arrays(groups, X):
        ev = evaluate(m, X, y_arr, groups=values, threshold=cut)
        fair: pd.DataFrame | None = None
        gaps: dict[str, float] = {}
        if binary_proba is not None:
            fair, gaps = fairness_table(
                (y_arr == positive).astype(int), binary_proba, values, threshold=threshold
            )
        sections.append(GroupSection(attr, _metric_frame(ev, metric_names), fair, gaps))
    imp: FeatureImportance | None
    if isinstance(importance, FeatureImportance):
        imp = importance
    elif importance:
        imp = _permutation_importance(m, X, y_arr, n_repeats, random_state)
    else:
        imp = None
    details = {
        "model_class": type(m.raw_model).__name__,
        "task": m.task,
        "version": version or "(not stated)",
        "owners": owners if isinstance(owners, str) else (", ".join(owners) or "(not stated)"),
        "description": description or "(not stated)",
        "features": list(map(str, X.columns)),
        "training_data": training_data or "(not stated)",
    }
    if m.classes is not None:
        details["classes"] = [str(c) for c in m.classes]
    if m.task == "binary":
        details["decision_rule"] = f"P({details['classes'][1]}) >= {threshold}"
    return ModelCard(
        name=name or type(m.raw_model).__name__,
        details=details,
        intended_use=use,
        data_summary=_data_summary(X, y_arr),
        metrics=_metric_frame(evaluation, metric_names),
        groups=tuple(sections),
        importance=imp,
        limitations=tuple(limitations) + tuple(_auto_limitations(len(X), sections)),
        ethical_considerations=ethical_considerations,
        reproducibility=_reproducibility(m, X, y_arr, random_state, created),
    )


def _intended_use(intended_use: Mapping[str, str] | str | None) -> dict[str, str]:
    use = {k: "" for k in INTENDED_USE_FIELDS}
    if isinstance(intended_use, str):
        use["primary_uses"] = intended_use
    elif intended_use is not None:
        unknown = [k for k in intended_use if k not in INTENDED_USE_FIELDS]
        if unknown:
            raise ValueError(
                f"Unknown intended_use field(s) {unknown}; expected {list(INTENDED_USE_FIELDS)}."
            )
        use.update({k: str(v) for k, v in intended_use.items()})
    return use


def _auto_limitations(n_rows: int, sections: Sequence[GroupSection]) -> list[str]:
    notes = [
        f"Metrics come from {n_rows:,} evaluation rows and carry sampling error; they describe "
        "this data, not future populations.",
        "Permutation importance understates features that are correlated with others and "
        "describes the model, not causal effects in the world.",
    ]
    for s in sections:
        for g, n in s.metrics["n_rows"].items():
            if n < SMALL_GROUP:
                notes.append(
                    f"Group {s.attribute}={g} has only {int(n)} rows; its metrics are unreliable."
                )
        for gap, v in s.gaps.items():
            if np.isfinite(v) and v > GAP_WARNING:
                notes.append(
                    f"{_title(gap)} across {s.attribute} is {v:.3g} (above {GAP_WARNING})."
                )
    return notes
