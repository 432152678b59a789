"""Result objects of pellucid.quality: frozen, numbers per row plus their mean."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .._results import _clip, _encode, _freeze, _html_table, _JsonMixin

__all__ = [
    "AgreementResult",
    "CurveResult",
    "GroundTruthReport",
    "GroundTruthResult",
    "MethodTrust",
    "QualityScore",
    "SanityCheckResult",
    "StabilityResult",
    "TrustSummary",
]


def _nanmean(a: np.ndarray | None) -> float:
    if a is None or a.size == 0 or np.all(np.isnan(a)):
        return float("nan")
    return float(np.nanmean(a))


class _Result(_JsonMixin):
    """Freezes array fields; ``to_dict`` gives JSON-safe numbers including the means.

    The JSON protocol (schema version, type name, ``from_json``) is the one every
    result shares; the derived means ride along in ``to_dict`` for readers of the
    JSON and are recomputed, not read, by ``from_json``.
    Subclasses are dataclasses with ``repr=False``: the generated repr would print
    every array, and this class's short one names their shapes and the means.
    """

    _derived: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, f.name, _freeze(value))
            elif isinstance(value, Mapping):
                object.__setattr__(self, f.name, dict(value))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update({name: _encode(getattr(self, name)) for name in self._derived})
        return out

    def _summary(self) -> list[tuple[str, str]]:
        """(name, text) of the scalar fields, the derived means and the arrays' shapes."""
        parts: list[tuple[str, str]] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                parts.append((f.name, f"shape{tuple(value.shape)}"))
            elif isinstance(value, (str, int, float, np.number)):
                parts.append((f.name, _number(value)))
        parts.extend((name, _number(getattr(self, name))) for name in self._derived)
        return parts

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v}" for k, v in self._summary())
        return _clip(f"{type(self).__name__}({body})")

    def _repr_html_(self) -> str:
        return (
            f"<div><b>{type(self).__name__}</b>{_html_table(['', 'value'], self._summary())}</div>"
        )


def _number(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return repr(v) if isinstance(v, str) else str(v)


@dataclass(frozen=True, eq=False, repr=False)
class CurveResult(_Result):
    """Deletion or insertion curves: the explained output as features are removed or added.

    Features go in order of attribution, largest first, and are replaced by
    (deletion) or taken from (insertion) the explained row, the others coming
    from background rows. ``curves`` is ``(n_rows, n_steps)`` against
    ``fractions`` (share of features removed/added); ``area`` the area under
    each row's curve. Lower deletion area and higher insertion area are better.
    ``random_curves``/``random_area`` average random orderings of the same row,
    the yardstick for :attr:`improvement`.
    """

    kind: str
    fractions: np.ndarray
    curves: np.ndarray
    area: np.ndarray
    random_curves: np.ndarray | None = None
    random_area: np.ndarray | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    _derived = ("mean", "random_mean", "improvement")

    @property
    def mean(self) -> float:
        return _nanmean(self.area)

    @property
    def random_mean(self) -> float:
        return _nanmean(self.random_area)

    @property
    def improvement(self) -> float:
        """Gain over random orderings, in units of the full change ``|f(x) - E f(background)|``.

        0 means no better than a random ordering, positive better, negative worse
        (for deletion: how much faster the output falls; for insertion: rises).
        """
        if self.random_area is None:
            return float("nan")
        span = np.abs(self.curves[:, 0] - self.curves[:, -1]).sum()
        if span == 0:
            return float("nan")
        gain = (self.random_area - self.area).sum()
        return float((gain if self.kind == "deletion" else -gain) / span)


@dataclass(frozen=True, eq=False, repr=False)
class QualityScore(_Result):
    """One number per explained row (``per_row``) for one metric, and their mean."""

    metric: str
    per_row: np.ndarray
    params: Mapping[str, Any] = field(default_factory=dict)

    _derived = ("mean",)

    @property
    def mean(self) -> float:
        return _nanmean(self.per_row)


@dataclass(frozen=True, eq=False, repr=False)
class StabilityResult(_Result):
    """How much attributions move between random seeds and under small input changes.

    ``seed_variation``: per row, the spread (standard deviation across seeds)
    of the attributions relative to their mean absolute size; 0 for a
    deterministic method, None when the method takes no seed.
    ``sensitivity``: per row, the largest ``||phi(x') - phi(x)|| / ||phi(x)||``
    over inputs ``x'`` within ``radius`` standard deviations of ``x``.
    ``lipschitz``: per row, the largest ``||phi(x') - phi(x)|| / ||x' - x||``
    (inputs in standard units), the local Lipschitz estimate.
    """

    seed_variation: np.ndarray | None
    sensitivity: np.ndarray
    lipschitz: np.ndarray
    params: Mapping[str, Any] = field(default_factory=dict)

    _derived = ("seed_variation_mean", "sensitivity_mean", "lipschitz_mean")

    @property
    def seed_variation_mean(self) -> float:
        return _nanmean(self.seed_variation)

    @property
    def sensitivity_mean(self) -> float:
        return _nanmean(self.sensitivity)

    @property
    def lipschitz_mean(self) -> float:
        return _nanmean(self.lipschitz)


@dataclass(frozen=True, eq=False, repr=False)
class SanityCheckResult(_Result):
    """Adebayo et al. (2018): attributions must change when the model is randomised.

    ``model_randomization`` and ``label_permutation``: per row, the Spearman
    rank correlation of signed attributions between the real model and
    randomised ones (models of the same kind fitted to random labels, or
    random functions) / ones refitted on permuted labels, averaged over the
    randomised models. High similarity means the explanation does not depend
    on what the model learned: it fails.
    ``label_permutation`` is None when no labels or no refittable model were given.
    """

    model_randomization: np.ndarray
    label_permutation: np.ndarray | None
    threshold: float
    params: Mapping[str, Any] = field(default_factory=dict)

    _derived = ("model_randomization_mean", "label_permutation_mean", "passed")

    @property
    def model_randomization_mean(self) -> float:
        return _nanmean(self.model_randomization)

    @property
    def label_permutation_mean(self) -> float:
        return _nanmean(self.label_permutation)

    @property
    def passed(self) -> bool:
        """True when every available test shows mean similarity below ``threshold``."""
        means = [self.model_randomization_mean]
        if self.label_permutation is not None:
            means.append(self.label_permutation_mean)
        return bool(all(np.isfinite(m) and m < self.threshold for m in means))


@dataclass(frozen=True, eq=False, repr=False)
class AgreementResult(_Result):
    """Agreement of two explanations of the same rows (or two global importances: one "row").

    ``rank_correlation``: Spearman correlation of absolute attributions per row;
    ``top_k_overlap``: share of the k most important features the two have in
    common; ``sign_agreement``: share of those common top-k features given the
    same sign (NaN when signs are unknown, as for global importances).
    """

    rank_correlation: np.ndarray
    top_k_overlap: np.ndarray
    sign_agreement: np.ndarray
    k: int

    _derived = ("rank_correlation_mean", "top_k_overlap_mean", "sign_agreement_mean")

    @property
    def rank_correlation_mean(self) -> float:
        return _nanmean(self.rank_correlation)

    @property
    def top_k_overlap_mean(self) -> float:
        return _nanmean(self.top_k_overlap)

    @property
    def sign_agreement_mean(self) -> float:
        return _nanmean(self.sign_agreement)


@dataclass(frozen=True, eq=False, repr=False)
class GroundTruthResult(_Result):
    """Error of one method's attributions against the known true Shapley values.

    ``truth`` and ``estimate`` are ``(n_rows, n_features)``; ``per_row`` is the
    largest absolute error in each row. ``relative_error`` is
    ``||estimate - truth|| / ||truth||`` over all rows (Frobenius norms).
    """

    method: str
    problem: str
    truth: np.ndarray
    estimate: np.ndarray
    feature_names: tuple[str, ...]
    seconds: float = float("nan")
    params: Mapping[str, Any] = field(default_factory=dict)

    _derived = ("max_abs_error", "mean_abs_error", "relative_error", "mean")
    _tuple_fields = ("feature_names",)

    @property
    def per_row(self) -> np.ndarray:
        return np.max(np.abs(self.estimate - self.truth), axis=1)

    @property
    def max_abs_error(self) -> float:
        return float(np.max(np.abs(self.estimate - self.truth)))

    @property
    def mean_abs_error(self) -> float:
        return float(np.mean(np.abs(self.estimate - self.truth)))

    @property
    def mean(self) -> float:
        return _nanmean(self.per_row)

    @property
    def relative_error(self) -> float:
        norm = float(np.linalg.norm(self.truth))
        diff = float(np.linalg.norm(self.estimate - self.truth))
        return diff / norm if norm > 0 else diff


@dataclass(frozen=True, eq=False)
class GroundTruthReport(_JsonMixin):
    """Every (method, problem) error, plus the pairs that could not run and why."""

    results: tuple[GroundTruthResult, ...]
    skipped: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "skipped", dict(self.skipped))

    def result(self, method: str, problem: str) -> GroundTruthResult:
        for r in self.results:
            if r.method == method and r.problem == problem:
                return r
        reason = self.skipped.get((method, problem))
        raise KeyError(
            f"No result for {method!r} on {problem!r}" + (f": {reason}" if reason else ".")
        )

    def to_frame(self) -> Any:
        import pandas as pd

        columns = ["method", "problem", "exact", "max_abs_error", "mean_abs_error"]
        columns += ["relative_error", "seconds"]
        rows = [
            {
                "method": r.method,
                "problem": r.problem,
                "exact": bool(r.params.get("exact", False)),
                "max_abs_error": r.max_abs_error,
                "mean_abs_error": r.mean_abs_error,
                "relative_error": r.relative_error,
                "seconds": r.seconds,
            }
            for r in self.results
        ]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        return _clip(
            f"GroundTruthReport({len(self.results)} result(s), {len(self.skipped)} skipped)"
        )

    def to_dict(self) -> dict[str, Any]:
        # JSON keys are strings: the (method, problem) pairs travel as a list.
        out = super().to_dict()
        out["results"] = [r.to_dict() for r in self.results]
        out["skipped"] = [[m, p, why] for (m, p), why in self.skipped.items()]
        return out

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> GroundTruthReport:
        cls._check_header(payload)
        return cls(
            results=tuple(GroundTruthResult.from_dict(r) for r in payload["results"]),
            skipped={(m, p): why for m, p, why in payload.get("skipped", [])},
        )


@dataclass(frozen=True, eq=False)
class MethodTrust(_JsonMixin):
    """One method's line of a :class:`TrustSummary`: its scores, verdict and reading.

    ``seed_variation`` is None for a method that takes no seed,
    ``ground_truth_error`` when the true attributions are unknown,
    ``sanity_passed`` when the sanity check was not run.
    """

    method: str
    deletion_gain: float
    insertion_gain: float
    faithfulness_correlation: float
    infidelity: float
    seed_variation: float | None
    sensitivity: float
    ground_truth_error: float | None
    sanity_passed: bool | None
    verdict: str
    reading: str

    def __post_init__(self) -> None:
        # JSON has no NaN: a missing number comes back as None and is NaN again here;
        # the optional ones keep one spelling of "no number", None.
        for name in _ALWAYS_NUMBERS:
            if getattr(self, name) is None:
                object.__setattr__(self, name, float("nan"))
        for name in ("seed_variation", "ground_truth_error"):
            value = getattr(self, name)
            if value is not None and not np.isfinite(value):
                object.__setattr__(self, name, None)

    def __repr__(self) -> str:
        return _clip(f"MethodTrust(method={self.method!r}, verdict={self.verdict!r})")


_ALWAYS_NUMBERS = (
    "deletion_gain",
    "insertion_gain",
    "faithfulness_correlation",
    "infidelity",
    "sensitivity",
)


@dataclass(frozen=True, eq=False)
class TrustSummary(_JsonMixin):
    """Per method: faithfulness, stability, ground-truth error where known, and a plain reading.

    ``rows`` holds one :class:`MethodTrust` per method (a mapping with the keys
    of :attr:`COLUMNS` is accepted and checked); the report renders
    :meth:`to_frame` and each row's ``reading``.
    """

    rows: tuple[MethodTrust, ...]
    notes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    COLUMNS = tuple(f.name for f in fields(MethodTrust))
    _tuple_fields = ("rows", "notes")

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(_method_trust(r) for r in self.rows))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "params", dict(self.params))

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [{c: getattr(r, c) for c in self.COLUMNS} for r in self.rows],
            columns=list(self.COLUMNS),
        )

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{r.method}: {r.verdict}" for r in self.rows)
        notes = f", {len(self.notes)} note(s)" if self.notes else ""
        return _clip(f"TrustSummary({len(self.rows)} method(s): {verdicts}{notes})")

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}"))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["rows"] = [{c: _encode(getattr(r, c)) for c in self.COLUMNS} for r in self.rows]
        return out


def _method_trust(row: MethodTrust | Mapping[str, Any]) -> MethodTrust:
    """A row as :class:`MethodTrust`; a mapping must have exactly its fields."""
    if isinstance(row, MethodTrust):
        return row
    names = set(TrustSummary.COLUMNS)
    missing, unknown = names - set(row), set(row) - names
    if missing or unknown:
        raise ValueError(
            f"A TrustSummary row needs the fields {list(TrustSummary.COLUMNS)}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}."
        )
    return MethodTrust(**row)
