"""CounterfactualSet: what would change each decision, with a certificate per answer.

A frozen result like the others in ``pellucid._results``: it holds values
only (never the model), serialises to versioned JSON, and renders itself as
a table or as one sentence per counterfactual.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._results import SCHEMA_VERSION, _encode_scalar, _JsonMixin

__all__ = ["CERTIFICATES", "Change", "Counterfactual", "CounterfactualSet"]

# optimal: the solver proved no cheaper allowed change reaches the desired outcome
#   (for rank > 1: no cheaper one outside the earlier answers' feature sets);
# feasible: a valid answer whose optimality is unproven (time limit, search engine);
# infeasible: proof that no allowed change reaches the desired outcome;
# unknown: nothing found and nothing proven (time limit, or the search gave up);
# not_needed: the row already has the desired outcome.
CERTIFICATES = ("optimal", "feasible", "infeasible", "unknown", "not_needed")


@dataclass(frozen=True)
class Change:
    """One column's move: ``before`` -> ``after`` (user values: numbers or categories)."""

    feature: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Counterfactual:
    """One answer for one row: the changes, their cost, the model's new prediction
    (re-checked with the model's own predict: ``valid``) and the certificate."""

    row: int
    rank: int
    changes: tuple[Change, ...]
    values: tuple[Any, ...]
    cost: float
    prediction: Any
    valid: bool
    certificate: str
    gap: float | None = None

    def __post_init__(self) -> None:
        if self.certificate not in ("optimal", "feasible"):
            raise ValueError(
                f"A counterfactual's certificate is 'optimal' or 'feasible'; got {self.certificate!r}."
            )


def _number(x: float) -> str:
    """About four significant digits, thousands separated, no trailing zeros."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    decimals = max(0, 3 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _phrase(change: Change) -> str:
    name = change.feature.replace("_", " ")
    before, after = change.before, change.after
    if _is_number(before) and _is_number(after):
        delta = float(after) - float(before)
        return f"{name} been {_number(abs(delta))} {'higher' if delta > 0 else 'lower'}"
    return f"{name} been {after!r} instead of {before!r}"


def _join(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True)
class CounterfactualSet(_JsonMixin):
    """Counterfactuals for the rows of X.

    ``data``: the rows as given ``(n_rows, n_features)``; ``predictions``: the
    model's prediction for each (class label, or value for a range target);
    ``desired``: the outcome sought (a class label, or ``[low, high]``);
    ``counterfactuals``: every answer, row by row and rank by rank;
    ``certificates``: per row, the certificate of its best answer, or
    "infeasible" / "unknown" / "not_needed" when it has none (see
    :data:`CERTIFICATES`); ``method``: the engine ("milp_tree", "milp_linear",
    "search"); ``params``: the settings that produced it.
    """

    feature_names: tuple[str, ...]
    data: np.ndarray
    predictions: np.ndarray
    desired: Any
    counterfactuals: tuple[Counterfactual, ...]
    certificates: tuple[str, ...]
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = np.array(self.data, dtype=object)
        if data.ndim != 2 or data.shape[1] != len(self.feature_names):
            raise ValueError(
                f"data must be (n_rows, {len(self.feature_names)}); got shape {data.shape}."
            )
        data.flags.writeable = False
        preds = np.array(self.predictions, dtype=object)
        preds.flags.writeable = False
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "predictions", preds)
        object.__setattr__(self, "feature_names", tuple(str(f) for f in self.feature_names))
        object.__setattr__(self, "counterfactuals", tuple(self.counterfactuals))
        object.__setattr__(self, "certificates", tuple(self.certificates))
        object.__setattr__(self, "params", dict(self.params))
        if len(self.certificates) != data.shape[0] or len(preds) != data.shape[0]:
            raise ValueError("certificates and predictions need one entry per row of data.")
        bad = [c for c in self.certificates if c not in CERTIFICATES]
        if bad:
            raise ValueError(f"Unknown certificates {bad}; expected {CERTIFICATES}.")

    # ------------------------------------------------------------------ reading
    @property
    def n_rows(self) -> int:
        return int(self.data.shape[0])

    def __len__(self) -> int:
        return len(self.counterfactuals)

    def for_row(self, row: int) -> list[Counterfactual]:
        """The answers for one row of X (position), cheapest first."""
        if not 0 <= row < self.n_rows:
            raise IndexError(f"row {row} is outside 0..{self.n_rows - 1}.")
        return [cf for cf in self.counterfactuals if cf.row == row]

    def __repr__(self) -> str:
        counts = {c: self.certificates.count(c) for c in CERTIFICATES if c in self.certificates}
        valid = sum(cf.valid for cf in self.counterfactuals)
        return (
            f"CounterfactualSet(rows={self.n_rows}, counterfactuals={len(self)}, "
            f"valid={valid}, certificates={counts}, method={self.method!r})"
        )

    def to_frame(self) -> Any:
        """One line per counterfactual (rows without one get a line with their certificate):
        row, rank, certificate, valid, cost, gap, prediction, changes, then the
        counterfactual's value of every column."""
        import pandas as pd

        lines = []
        by_row: dict[int, list[Counterfactual]] = {}
        for cf in self.counterfactuals:
            by_row.setdefault(cf.row, []).append(cf)
        for row in range(self.n_rows):
            for cf in by_row.get(row, []):
                line = {
                    "row": row,
                    "rank": cf.rank,
                    "certificate": cf.certificate,
                    "valid": cf.valid,
                    "cost": cf.cost,
                    "gap": np.nan if cf.gap is None else cf.gap,
                    "prediction": cf.prediction,
                    "changes": "; ".join(
                        f"{c.feature}: {c.before!r} -> {c.after!r}" for c in cf.changes
                    ),
                }
                line.update(zip(self.feature_names, cf.values, strict=True))
                lines.append(line)
            if row not in by_row:
                line = {"row": row, "rank": 0, "certificate": self.certificates[row],
                        "valid": False, "cost": np.nan, "gap": np.nan,
                        "prediction": self.predictions[row], "changes": ""}  # fmt: skip
                line.update((f, np.nan) for f in self.feature_names)
                lines.append(line)
        return pd.DataFrame(lines)

    def sentence(
        self, cf: Counterfactual, *, outcome: str | None = None, subject: str = "application"
    ) -> str:
        """ "Had income been 4,200 higher and late payments been 1 lower, the application
        would have been approved." ``outcome`` names the desired outcome; without it the
        sentence states the model's new prediction."""
        ending = (
            f"the {subject} would have been {outcome}"
            if outcome is not None
            else f"the model would have predicted {_number(cf.prediction) if _is_number(cf.prediction) else cf.prediction}"
        )
        return f"Had {_join([_phrase(c) for c in cf.changes])}, {ending}."

    def sentences(self, *, outcome: str | None = None, subject: str = "application") -> list[str]:
        """One sentence per counterfactual, in order (see :meth:`sentence`)."""
        return [self.sentence(cf, outcome=outcome, subject=subject) for cf in self.counterfactuals]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        def row(values: Any) -> list[Any]:
            return [_encode_scalar(v) for v in values]

        return {
            "schema_version": SCHEMA_VERSION,
            "type": type(self).__name__,
            "feature_names": list(self.feature_names),
            "data": [row(r) for r in self.data],
            "predictions": row(self.predictions),
            "desired": row(self.desired) if isinstance(self.desired, (list, tuple)) else _encode_scalar(self.desired),
            "counterfactuals": [
                {
                    "row": cf.row,
                    "rank": cf.rank,
                    "changes": [[c.feature, _encode_scalar(c.before), _encode_scalar(c.after)] for c in cf.changes],
                    "values": row(cf.values),
                    "cost": _encode_scalar(cf.cost),
                    "prediction": _encode_scalar(cf.prediction),
                    "valid": bool(cf.valid),
                    "certificate": cf.certificate,
                    "gap": None if cf.gap is None else _encode_scalar(cf.gap),
                }
                for cf in self.counterfactuals
            ],
            "certificates": list(self.certificates),
            "method": self.method,
            "params": json.loads(json.dumps(dict(self.params), default=str)),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> CounterfactualSet:
        cls._check_header(payload)

        def value(v: Any) -> Any:  # JSON null is a missing value
            return np.nan if v is None else v

        cfs = tuple(
            Counterfactual(
                row=int(c["row"]),
                rank=int(c["rank"]),
                changes=tuple(Change(f, value(b), value(a)) for f, b, a in c["changes"]),
                values=tuple(value(v) for v in c["values"]),
                cost=float(c["cost"]),
                prediction=value(c["prediction"]),
                valid=bool(c["valid"]),
                certificate=str(c["certificate"]),
                gap=None if c["gap"] is None else float(c["gap"]),
            )
            for c in payload["counterfactuals"]
        )
        desired = payload["desired"]
        return cls(
            feature_names=tuple(payload["feature_names"]),
            data=np.array([[value(v) for v in r] for r in payload["data"]], dtype=object).reshape(
                len(payload["data"]), len(payload["feature_names"])
            ),
            predictions=np.array([value(v) for v in payload["predictions"]], dtype=object),
            desired=tuple(desired) if isinstance(desired, list) else desired,
            counterfactuals=cfs,
            certificates=tuple(payload["certificates"]),
            method=str(payload.get("method", "")),
            params=dict(payload.get("params", {})),
        )
