"""Reason codes' counterfactual column: per explained row, the sentence of its cheapest
counterfactual toward approval, or why there is none (proven infeasible, not found in time)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._results import Explanation

__all__ = ["counterfactual_sentences"]


def counterfactual_sentences(
    counterfactuals: Any,
    explanation: Explanation,
    model: Any,
    reference: Any,
    considered: np.ndarray,
    immutable: set[str],
    decline: str | None,
) -> list[str] | None:
    """Per row of the explanation, the sentence of its cheapest counterfactual (or why none).

    ``decline`` is the explained output's name (the decline class): an answer
    predicting it reads "would have been declined", any other class "approved";
    without it the sentence names the model's new prediction.
    """
    if counterfactuals is None or counterfactuals is False:
        return None
    from ..counterfactual import Counterfactuals, CounterfactualSet

    names = list(explanation.feature_names)
    rows = np.flatnonzero(considered)
    if isinstance(counterfactuals, CounterfactualSet):
        if (
            counterfactuals.n_rows != len(considered)
            or list(counterfactuals.feature_names) != names
        ):
            raise ValueError(
                f"counterfactuals hold {counterfactuals.n_rows} rows of {list(counterfactuals.feature_names)}; "
                f"the explanation has {len(considered)} rows of {names}: explain the same rows."
            )
        found: Any = counterfactuals
        positions = list(range(len(considered)))
    else:
        if explanation.data is None:
            raise ValueError("counterfactuals need the explanation's data (the rows' values).")
        if counterfactuals is True:
            if model is None or reference is None:
                raise ValueError(
                    "counterfactuals=True needs model= and reference= (the training data)."
                )
            ref = (
                reference
                if isinstance(reference, pd.DataFrame)
                else pd.DataFrame(reference, columns=names)
            )
            counterfactuals = Counterfactuals(model, ref, immutable=sorted(immutable & set(names)))
        if not isinstance(counterfactuals, Counterfactuals):
            raise TypeError(
                "counterfactuals must be a CounterfactualSet, a Counterfactuals or True; "
                f"got {type(counterfactuals).__name__}."
            )
        desired = _approval_class(counterfactuals.model, decline)
        X = _frame_like(explanation.data[rows], names, counterfactuals)
        found = counterfactuals.explain(X, desired=desired) if len(rows) else None
        positions = [-1] * len(considered)
        for i, r in enumerate(rows):
            positions[r] = i
    out = [""] * len(considered)
    for r in rows:
        if found is not None and positions[r] >= 0:
            out[r] = _why_not(found, positions[r], decline)
    return out


def _approval_class(model: Any, decline: str | None) -> Any:
    """The class other than the decline class, for a binary classifier (else None: the other class)."""
    classes = list(model.classes) if model.is_classifier and model.classes is not None else []
    if decline is None or len(classes) != 2 or decline not in [str(c) for c in classes]:
        return None
    return next(c for c in classes if str(c) != decline)


def _frame_like(data: np.ndarray, names: list[str], counterfactuals: Any) -> pd.DataFrame:
    """Explained rows as a DataFrame with the counterfactual space's column dtypes."""
    frame = pd.DataFrame(data, columns=names).infer_objects()
    for f in counterfactuals.space.features:
        if not f.categorical:
            frame[f.name] = pd.to_numeric(frame[f.name])
    return frame


def _why_not(found: Any, position: int, decline: str | None) -> str:
    answers = found.for_row(position)
    if answers:
        new = answers[0].prediction
        outcome = None if decline is None else "declined" if str(new) == decline else "approved"
        return str(found.sentence(answers[0], outcome=outcome))
    certificate = found.certificates[position]
    if certificate == "infeasible":
        return "No allowed change would lead to approval (proven)."
    if certificate == "unknown":
        return "No change leading to approval was found within the time limit."
    return ""
