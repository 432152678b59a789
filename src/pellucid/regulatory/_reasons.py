"""Reason codes: the principal reasons for one decision, in plain sentences.

Adverse-action notices (ECOA / Regulation B in the US) and the GDPR's right
to meaningful information ask a lender to name the main reasons for a
decline. Given any additive attribution (SHAP values and the like), the
reasons for a row are the features that pushed its score furthest toward
decline, largest first. Protected attributes can be excluded; related
columns can be merged into one reason by summing their attributions, which
is exact for additive methods.

A reason must be true as worded. A sentence says a value is "high" or
"low" only when the gap from the reference median is more than a trivial
one and the feature's contributions, across the explained rows, rise (or
fall) with its value the way this row's contribution says; otherwise it
states the value, the median and the direction it pushed, plainly. Tiny
contributions are no reasons (``min_contribution``); ``only="declined"``
keeps the rows whose decision was adverse; a protected attribute that
carries weight raises :class:`ProtectedAttributeWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._protocol import UNSET, renamed_argument
from .._results import Explanation
from ._reason_counterfactuals import counterfactual_sentences
from ._reason_text import Template, format_value, humanize, is_number, sentence

__all__ = ["ProtectedAttributeWarning", "format_value", "humanize", "reason_codes"]

DIRECTIONS = ("toward_decline", "toward_approve")
ONLY = ("declined", "approved")
COLUMNS = ["row", "rank", "feature", "value", "contribution", "reason"]
#: Default ``min_contribution``: a reason carries at least 5% of the row's total
#: absolute attribution (the sum of every column's absolute contribution).
MIN_CONTRIBUTION = 0.05
#: A gap from the median smaller than this share of the reference's interquartile
#: range is not called "high" or "low" (14.8 against a median of 14.7 is typical).
TRIVIAL_GAP_IQR = 0.25
#: The trend of a feature's contributions with its value is read from the explained
#: rows when at least this many have a number, and the rank correlation is this strong.
TREND_MIN_ROWS = 30
TREND_MIN_CORRELATION = 0.5


class ProtectedAttributeWarning(UserWarning):
    """A protected (or excluded-by-policy) attribute carried weight toward the decision."""


def _pick_output(explanation: Explanation, output: Any) -> tuple[np.ndarray, str | None]:
    """The (n_rows, n_features) attributions of the output that means "decline".

    Default: the positive class (the second output) of a binary classifier; with
    more outputs, ``output=`` must say which (``Explanation.select_output``).
    """
    values = np.asarray(explanation.select_output(output).values, dtype=float)
    if not explanation.multi_output:
        return values, None
    names = explanation.output_names or ()
    return values, names[int(explanation.output_index(output)[0])] if len(values) else None


def _units(
    feature_names: Sequence[str],
    groups: Mapping[str, Sequence[str]] | None,
    exclude: set[str],
) -> list[tuple[str, list[int]]]:
    """Reason units: each group as one unit, each remaining column alone, minus exclusions."""
    position = {f: i for i, f in enumerate(feature_names)}
    for name in exclude:
        if name not in position and (groups is None or name not in groups):
            raise ValueError(
                f"exclude names {name!r}, which is neither a feature nor a group; "
                f"features: {list(feature_names)}."
            )
    units: list[tuple[str, list[int]]] = []
    grouped: dict[str, str] = {}
    for gname, members in (groups or {}).items():
        members = [str(m) for m in members]
        if not members:
            raise ValueError(f"Group {gname!r} has no columns.")
        for m in members:
            if m not in position:
                raise ValueError(
                    f"Group {gname!r} names {m!r}, which is not a feature; features: {list(feature_names)}."
                )
            if m in grouped:
                raise ValueError(f"Column {m!r} is in two groups: {grouped[m]!r} and {gname!r}.")
            grouped[m] = gname
        if gname in position and gname not in members:
            raise ValueError(f"Group name {gname!r} clashes with a feature of that name.")
        # A group that holds an excluded column is dropped whole: a merged reason
        # must not carry a protected attribute in by the back door.
        if gname in exclude or any(m in exclude for m in members):
            continue
        units.append((str(gname), [position[m] for m in members]))
    for f, i in position.items():
        if f not in grouped and f not in exclude:
            units.append((f, [i]))
    return units


def reason_codes(
    explanation: Explanation,
    *,
    max_reasons: int = 4,
    direction: str = "toward_decline",
    exclude: Sequence[str] | None = None,
    feature_groups: Mapping[str, Sequence[str]] | None = None,
    templates: Mapping[str, Template] | None = None,
    output: Any = None,
    reference: Any = None,
    min_contribution: float = MIN_CONTRIBUTION,
    only: str | None = None,
    threshold: float | None = None,
    declined: Any = None,
    protected: Sequence[str] | None = None,
    counterfactuals: Any = None,
    model: Any = None,
    groups: Any = UNSET,
    k: Any = UNSET,
) -> pd.DataFrame:
    """The ``max_reasons`` principal reasons per row, in plain sentences that are true as worded.

    Parameters
    ----------
    explanation:
        A tabular :class:`~pellucid.Explanation` (SHAP values or any additive
        attribution). Its ``data`` supplies the values quoted in the reasons.
    max_reasons:
        Reasons per row, at most. A row gets fewer when fewer features pushed
        its score in ``direction`` by at least ``min_contribution`` (a feature
        with zero or opposite contribution is never given as a reason).
        ``k=`` is its deprecated name.
    direction:
        ``"toward_decline"`` (default): features with positive contributions
        to the explained output, largest first: for a default-risk model the
        reasons for a decline. ``"toward_approve"``: negative contributions,
        most negative first.
    exclude:
        Features (or group names) that may never be given as reasons, e.g.
        protected attributes. A group holding an excluded column is dropped.
    feature_groups:
        ``{reason name: [columns]}``: merge columns into one reason whose
        contribution is the sum of theirs (exact for additive attributions).
        ``groups=`` is its deprecated name.
    templates:
        ``{feature or group: template}``. A template is a format string with
        fields ``{feature}``, ``{label}`` (human name), ``{value}`` (raw value;
        a dict for groups), ``{value_text}``, ``{contribution}``,
        ``{direction}``, or a callable ``f(value, contribution) -> str``.
        Other features use a default sentence built from name, value and direction.
    output:
        For a multi-output Explanation, which output means "decline" (name or
        position). Default: the positive class (second output) of a binary
        classifier; required when there are more than two outputs.
    reference:
        Optional DataFrame (e.g. the training data). When given, the default
        sentence for a numeric feature quotes the reference median. It says
        the value "is high" or "is low" only when that is what hurt: the gap
        from the median is more than a quarter of the interquartile range,
        and across the explained rows (at least 30 with a number) the
        feature's contributions rise with its value (or fall) with a rank
        correlation of at least 0.5, in the sense this row's contribution
        agrees with: ``"Debt to income of 0.48 is high (median 0.21)."``.
        Otherwise the plain form: ``"Savings of 9,849 (median 4,996) counted
        against approval."``.
    min_contribution:
        A reason carries at least this share of the row's total absolute
        attribution (the sum over columns of absolute contributions);
        default 0.05. ``0`` keeps every contribution in ``direction``.
    only:
        ``"declined"``: reasons only for rows whose decision was the adverse
        one; ``"approved"``: only for the others; ``None`` (default): every
        row. The decision comes from ``declined`` (one boolean per row, e.g.
        ``model.predict(X) == 1``) or from ``threshold``.
    threshold:
        A row is declined when its explained output (the decline output,
        ``explanation.output`` or base value plus contributions) is above
        ``threshold``; for outputs in log-odds the threshold is a probability.
    declined:
        One boolean per row: True where the decision was adverse.
    protected:
        Protected or excluded-by-policy attributes (features or groups). When
        one carries at least ``min_contribution`` of a considered row's
        attribution in ``direction``, a :class:`ProtectedAttributeWarning`
        names it and the rows, and a column ``protected`` lists, per reason
        line, the protected attributes that weighed on that row ("" when
        none). They are given as reasons unless also in ``exclude``.
    counterfactuals:
        A :class:`~pellucid.CounterfactualSet` for the same rows, a configured
        :class:`~pellucid.Counterfactuals`, or ``True`` (built from ``model``
        and ``reference``, with ``exclude`` and ``protected`` immutable): adds
        a column ``counterfactual`` holding, per row, the sentence of its
        cheapest counterfactual ("Had income been 4,200 higher, the
        application would have been approved.") or why there is none.
    model:
        The model, for ``counterfactuals=True``.

    Returns
    -------
    DataFrame with columns ``row`` (position in the explanation), ``rank``
    (1 = main reason), ``feature``, ``value``, ``contribution``, ``reason``;
    then ``protected`` and ``counterfactual`` when asked for.
    """
    feature_groups = renamed_argument(
        "reason_codes", "groups", "feature_groups", groups, feature_groups
    )
    max_reasons = renamed_argument("reason_codes", "k", "max_reasons", k, max_reasons, default=4)
    if not isinstance(explanation, Explanation):
        raise TypeError(f"explanation must be a pellucid.Explanation; got {type(explanation)}.")
    if len(explanation.feature_shape) != 1:
        raise ValueError("reason_codes needs a tabular Explanation (one axis of features).")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r}.")
    whole = isinstance(max_reasons, (int, np.integer)) and not isinstance(max_reasons, bool)
    if not whole or max_reasons < 1:
        raise ValueError(f"max_reasons must be a positive integer; got {max_reasons!r}.")
    least = _check_share(min_contribution)
    exclude_set = {str(e) for e in ([exclude] if isinstance(exclude, str) else exclude or [])}
    protected_list = [
        str(p) for p in ([protected] if isinstance(protected, str) else protected or [])
    ]
    templates = dict(templates or {})
    values, picked = _pick_output(explanation, output)
    names = explanation.feature_names
    units = _units(names, feature_groups, exclude_set)
    unknown = [t for t in templates if t not in {u for u, _ in units} | set(names)]
    if unknown:
        raise ValueError(f"templates name unknown features or feature groups: {unknown}.")
    guarded = _units(
        names, {g: m for g, m in (feature_groups or {}).items() if g in protected_list}, set()
    )
    guarded = [(u, idx) for u, idx in guarded if u in protected_list]
    missing = sorted(set(protected_list) - {u for u, _ in guarded})
    if missing:
        raise ValueError(
            f"protected names {missing}, which are neither features nor feature groups; "
            f"features: {list(names)}."
        )
    considered = _considered_rows(explanation, values, picked, only, threshold, declined)
    stats = _reference_stats(reference, names)

    sign = 1.0 if direction == "toward_decline" else -1.0
    total = np.abs(values).sum(axis=1)
    floor = least * total
    contrib = np.stack([values[:, idx].sum(axis=1) for _, idx in units], axis=1)
    trends = _trends(explanation.data, values, units, considered)
    weighed = _protected_weight(values, guarded, sign, floor, considered)
    cf_sentences = counterfactual_sentences(
        counterfactuals,
        explanation,
        model,
        reference,
        considered,
        exclude_set | set(protected_list),
        picked,
    )
    data = explanation.data
    records: list[dict[str, Any]] = []
    for r in (int(i) for i in np.flatnonzero(considered)):
        pushed = sign * contrib[r]
        # Stable sort keeps feature order among exact ties, so the output is deterministic.
        order = np.argsort(-pushed, kind="stable")
        rank = 0
        for u in order:
            if rank == max_reasons or not (pushed[u] > 0 and pushed[u] >= floor[r]):
                break
            rank += 1
            name, idx = units[u]
            value = _row_value(data, r, idx, names)
            c = float(contrib[r, u])
            level, median = _level(name, value, c, trends.get(name, 0), stats)
            record = {
                "row": int(r),
                "rank": rank,
                "feature": name,
                "value": value,
                "contribution": c,
                "reason": sentence(templates.get(name), name, value, c, direction, level, median),
            }
            if protected_list:
                record["protected"] = ", ".join(weighed[r])
            if cf_sentences is not None:
                record["counterfactual"] = cf_sentences[r]
            records.append(record)
    _warn_protected(weighed, guarded, direction, records)
    columns = COLUMNS + (["protected"] if protected_list else [])
    columns += ["counterfactual"] if cf_sentences is not None else []
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.astype({"row": "int64", "rank": "int64", "contribution": "float64"})


def _check_share(min_contribution: Any) -> float:
    if (
        isinstance(min_contribution, bool)
        or not isinstance(min_contribution, (int, float, np.integer, np.floating))
        or not 0 <= float(min_contribution) < 1
    ):
        raise ValueError(
            "min_contribution is a share of the row's total absolute attribution, "
            f"from 0 up to (not including) 1; got {min_contribution!r}."
        )
    return float(min_contribution)


def _row_scores(explanation: Explanation, values: np.ndarray, picked: str | None) -> np.ndarray:
    """The explained (decline) output per row: ``output`` if known, else base + contributions."""
    position = None
    if picked is not None:
        position = list(explanation.output_names or ()).index(picked)
    out = explanation.output
    if out is None:
        if explanation.base_values is None:
            raise ValueError(
                "threshold needs the explained output, and this Explanation has neither "
                "output nor base_values; pass declined= (one boolean per row) instead."
            )
        base = np.asarray(explanation.base_values, dtype=float)
        base = base if position is None else base[:, position]
        return base + values.sum(axis=1)
    out = np.asarray(out, dtype=float)
    return out if position is None or out.ndim == 1 else out[:, position]


def _considered_rows(
    explanation: Explanation,
    values: np.ndarray,
    picked: str | None,
    only: str | None,
    threshold: float | None,
    declined: Any,
) -> np.ndarray:
    """Which rows get reasons: all, or those whose decision was (not) the adverse one."""
    n = values.shape[0]
    if only is None:
        if threshold is not None or declined is not None:
            raise ValueError(
                'threshold and declined are read only with only="declined"/"approved".'
            )
        return np.ones(n, dtype=bool)
    if only not in ONLY:
        raise ValueError(f"only must be one of {ONLY} or None; got {only!r}.")
    if (threshold is None) == (declined is None):
        raise ValueError(
            f"only={only!r} needs the decision: threshold= (on the explained output) "
            "or declined= (one boolean per row), one of them."
        )
    if declined is not None:
        adverse = np.asarray(declined)
        if adverse.shape != (n,) or adverse.dtype != bool:
            raise ValueError(
                f"declined must be one boolean per row ({n}); got dtype {adverse.dtype} "
                f"and shape {adverse.shape}."
            )
    else:
        assert threshold is not None
        t = float(threshold)
        scores = _row_scores(explanation, values, picked)
        if explanation.output_kind == "log_odds":
            if not 0 < t < 1:
                raise ValueError(
                    f"This Explanation is in log-odds; give threshold as a probability in (0, 1); got {t!r}."
                )
            t = float(np.log(t / (1 - t)))
        adverse = scores > t
    return adverse if only == "declined" else ~adverse


def _trends(
    data: np.ndarray | None,
    values: np.ndarray,
    units: list[tuple[str, list[int]]],
    considered: np.ndarray,
) -> dict[str, int]:
    """Per single-column unit: +1 when its contributions rise with its value across
    the explained rows, -1 when they fall, 0 when that cannot be told."""
    out: dict[str, int] = {}
    if data is None:
        return out
    for name, idx in units:
        if len(idx) != 1:
            continue
        x = pd.to_numeric(pd.Series(data[:, idx[0]]), errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x)
        if ok.sum() < TREND_MIN_ROWS or len(np.unique(x[ok])) < 2:
            continue
        xs = pd.Series(x[ok]).rank().to_numpy()
        cs = pd.Series(values[ok, idx[0]]).rank().to_numpy()
        if np.std(xs) == 0 or np.std(cs) == 0:
            continue
        rho = float(np.corrcoef(xs, cs)[0, 1])
        out[name] = (
            1 if rho >= TREND_MIN_CORRELATION else -1 if rho <= -TREND_MIN_CORRELATION else 0
        )
    return out


def _level(
    name: str, value: Any, contribution: float, trend: int, stats: dict[str, tuple[float, float]]
) -> tuple[str | None, float | None]:
    """("high"/"low" or None, the reference median or None) for a numeric value.

    The level is given only when it is what pushed: the gap is not trivial and
    the value's side of the median times the feature's trend has the sign of
    the contribution (higher values raise the output, this value is high, and
    its contribution is positive, say).
    """
    if name not in stats or not is_number(value) or not np.isfinite(float(value)):
        return None, None
    median, iqr = stats[name]
    gap = float(value) - median
    if gap == 0 or abs(gap) <= TRIVIAL_GAP_IQR * iqr:
        return None, median
    if trend == 0 or np.sign(gap) * trend != np.sign(contribution):
        return None, median
    return ("high" if gap > 0 else "low"), median


def _protected_weight(
    values: np.ndarray,
    guarded: list[tuple[str, list[int]]],
    sign: float,
    floor: np.ndarray,
    considered: np.ndarray,
) -> list[list[str]]:
    """Per row, the protected attributes that pushed it in ``direction`` by at least ``floor``."""
    out: list[list[str]] = [[] for _ in range(values.shape[0])]
    for name, idx in guarded:
        pushed = sign * values[:, idx].sum(axis=1)
        for r in np.flatnonzero(considered & (pushed > 0) & (pushed >= floor)):
            out[r].append(name)
    return out


def _warn_protected(
    weighed: list[list[str]],
    guarded: list[tuple[str, list[int]]],
    direction: str,
    records: list[dict[str, Any]],
) -> None:
    parts = []
    for name, _ in guarded:
        rows = sum(name in w for w in weighed)
        if rows:
            given = len({rec["row"] for rec in records if rec["feature"] == name})
            parts.append(f"{name!r} in {rows} rows (given as a reason in {given})")
    if parts:
        warnings.warn(
            f"Protected attributes carried weight {direction.replace('_', ' ')}: "
            f"{'; '.join(parts)}. See the 'protected' column; review the model's use of them.",
            ProtectedAttributeWarning,
            stacklevel=3,
        )


def _row_value(data: np.ndarray | None, r: int, idx: list[int], names: Sequence[str]) -> Any:
    if data is None:
        return None if len(idx) > 1 else np.nan
    if len(idx) == 1:
        v = data[r, idx[0]]
        return v.item() if isinstance(v, np.generic) else v
    return {
        names[i]: (data[r, i].item() if isinstance(data[r, i], np.generic) else data[r, i])
        for i in idx
    }


def _reference_stats(reference: Any, names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per numeric reference column: (median, interquartile range)."""
    if reference is None:
        return {}
    frame = reference if isinstance(reference, pd.DataFrame) else pd.DataFrame(reference)
    if not isinstance(reference, pd.DataFrame):
        frame.columns = list(names)[: frame.shape[1]]
    out = {}
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            v = col.to_numpy(dtype=float, na_value=np.nan)
            v = v[np.isfinite(v)]
            if v.size:
                q25, median, q75 = np.percentile(v, [25, 50, 75])
                out[str(c)] = (float(median), float(q75 - q25))
    return out
