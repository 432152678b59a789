"""Model cards (Mitchell et al., 2019): what a model is for and how well it works, for whom.

The compute step: :func:`model_card` measures (metrics overall and per subgroup
via :func:`pellucid.evaluate`, fairness gaps between subgroups via
:func:`pellucid.metrics.fairness_table`, global importance, a data summary and
the shared provenance record) and returns a :class:`ModelCard` (``_card_result.py``),
which ``_card_render.py`` writes as Markdown or self-contained HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X_y
from .._model import Model, as_model
from .._provenance import provenance
from .._results import FeatureImportance
from ..metrics import fairness_table
from ..metrics._subgroups import UNSET, subgroups_argument
from ._card_result import GroupSection, IntendedUse, ModelCard, ModelDetails

# fairness_table lived here; the import keeps ``pellucid.regulatory._card.fairness_table``.
__all__ = ["GroupSection", "ModelCard", "fairness_table", "model_card"]

INTENDED_USE_FIELDS = ("primary_uses", "primary_users", "out_of_scope_uses")
SMALL_GROUP = 30
GAP_WARNING = 0.1


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


def _subgroup_arrays(subgroups: Any, X: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """(name, one label per row) of each subgroup column: names of X's columns or labels."""
    if subgroups is None:
        return []
    if isinstance(subgroups, str):
        subgroups = [subgroups]
    if isinstance(subgroups, (list, tuple)) and all(isinstance(g, str) for g in subgroups):
        out = []
        for g in subgroups:
            if g not in X.columns:
                raise DataError(f"subgroups names {g!r}, which is not a column of X.")
            out.append((g, X[g].to_numpy()))
        return out
    values = np.asarray(subgroups)
    if values.shape != (len(X),):
        raise DataError(
            f"subgroups has shape {values.shape}; expected one label per row ({len(X)},)."
        )
    return [(str(getattr(subgroups, "name", None) or "group"), values)]


def _metric_frame(evaluation: Any, names: Sequence[str]) -> pd.DataFrame:
    frame = evaluation.to_frame()
    keep = ["n_rows"] + [c for c in names if c in frame.columns]
    return frame[keep]


def model_card(
    model: Any,
    X: Any,
    y: Any,
    *,
    subgroups: Any = None,
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
    groups: Any = UNSET,
) -> ModelCard:
    """A model card for ``model`` evaluated on held-out ``(X, y)``.

    ``subgroups``: a column name of X, a list of column names, or one label per
    row; each gives metrics per subgroup and, for binary classifiers, fairness
    gaps (see :func:`pellucid.metrics.fairness_table`; positive class =
    ``classes[1]``, e.g. default/decline, decision ``P(positive) >= threshold``).
    ``groups=``, its old name, still works for one release with a FutureWarning.
    ``intended_use``: a sentence, or a dict with ``primary_uses``,
    ``primary_users``, ``out_of_scope_uses``; the fields the user fills.
    ``importance``: True computes permutation importance on ``(X, y)``
    (``n_repeats``, ``random_state``); pass a FeatureImportance to use your
    own, or False to leave the global explanation out.
    ``created``: fix the timestamp of the reproducibility record (for
    byte-identical cards).
    """
    from ..metrics import evaluate

    subgroups = subgroups_argument("model_card", subgroups, groups)
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
    sections = _sections(m, X, y_arr, _subgroup_arrays(subgroups, X), metric_names, threshold)
    imp: FeatureImportance | None
    if isinstance(importance, FeatureImportance):
        imp = importance
    elif importance:
        imp = _permutation_importance(m, X, y_arr, n_repeats, random_state)
    else:
        imp = None
    details = ModelDetails(
        model_class=type(m.raw_model).__name__,
        task=m.task,
        version=version or "(not stated)",
        owners=owners if isinstance(owners, str) else (", ".join(owners) or "(not stated)"),
        description=description or "(not stated)",
        features=tuple(map(str, X.columns)),
        training_data=training_data or "(not stated)",
        classes=None if m.classes is None else tuple(str(c) for c in m.classes),
        decision_rule=(
            f"P({m.classes[1]}) >= {threshold}"
            if m.task == "binary" and m.classes is not None
            else None
        ),
    )
    return ModelCard(
        name=name or type(m.raw_model).__name__,
        details=details,
        intended_use=use,
        data_summary=_data_summary(X, y_arr),
        metrics=_metric_frame(evaluation, metric_names),
        subgroups=tuple(sections),
        importance=imp,
        limitations=tuple(limitations) + tuple(_auto_limitations(len(X), sections)),
        ethical_considerations=ethical_considerations,
        reproducibility=provenance(m, X, y_arr, random_state=random_state, created=created),
    )


def _sections(
    m: Model,
    X: pd.DataFrame,
    y: np.ndarray,
    subgroups: Sequence[tuple[str, np.ndarray]],
    metric_names: Sequence[str],
    threshold: float,
) -> list[GroupSection]:
    """Metrics per subgroup of each column; fairness too for a binary classifier."""
    from ..metrics import evaluate

    cut = float(threshold) if m.task == "binary" else None
    binary_proba = positive = None
    if m.task == "binary":
        pm = m if m.output == "probability" else Model(m.raw_model, task=m.task)
        binary_proba = pm.predict(X)[:, 1]
        positive = np.asarray(pm.classes)[1]
    sections = []
    for attr, values in subgroups:
        ev = evaluate(m, X, y, subgroups=values, threshold=cut)
        fair, gaps = None, None
        if binary_proba is not None:
            fair, gaps = fairness_table(
                (y == positive).astype(int), binary_proba, values, threshold=threshold
            )
        sections.append(GroupSection(attr, _metric_frame(ev, metric_names), fair, gaps))
    return sections


def _intended_use(intended_use: Mapping[str, str] | str | None) -> IntendedUse:
    if isinstance(intended_use, str):
        return IntendedUse(primary_uses=intended_use)
    if intended_use is None:
        return IntendedUse()
    unknown = [k for k in intended_use if k not in INTENDED_USE_FIELDS]
    if unknown:
        raise ValueError(
            f"Unknown intended_use field(s) {unknown}; expected {list(INTENDED_USE_FIELDS)}."
        )
    return IntendedUse(**{k: str(v) for k, v in intended_use.items()})


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
        for gap, v in s.gaps.items() if s.gaps is not None else ():
            if np.isfinite(v) and v > GAP_WARNING:
                label = gap.replace("_", " ").capitalize()
                notes.append(f"{label} across {s.attribute} is {v:.3g} (above {GAP_WARNING}).")
    return notes
