"""Reason codes: the principal reasons for one decision, in plain sentences.

Adverse-action notices (ECOA / Regulation B in the US) and the GDPR's right
to meaningful information ask a lender to name the main reasons for a
decline. Given any additive attribution (SHAP values and the like), the
reasons for a row are the features that pushed its score furthest toward
decline, largest first. Protected attributes can be excluded; related
columns can be merged into one reason by summing their attributions, which
is exact for additive methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._results import Explanation

__all__ = ["reason_codes", "format_value", "humanize"]

DIRECTIONS = ("toward_decline", "toward_approve")
COLUMNS = ["row", "rank", "feature", "value", "contribution", "reason"]

Template = str | Callable[[Any, float], str]


def humanize(name: str) -> str:
    """``debt_to_income`` -> ``Debt to income``."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _is_missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # arrays, dicts
        return False


def format_value(v: Any) -> str:
    """A short human form of one value: ``50,000``, ``0.48``, ``'rent'``, ``missing``."""
    if _is_missing(v):
        return "missing"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return f"{int(f):,}"
        return f"{f:,.4g}" if abs(f) < 1e4 else f"{f:,.0f}"
    return f"'{v}'"


def _default_reason(
    name: str, value: Any, direction: str, reference: Mapping[str, float] | None
) -> str:
    label = humanize(name)
    effect = (
        "counted against approval"
        if direction == "toward_decline"
        else "counted in favour of approval"
    )
    if isinstance(value, dict):  # a group of columns
        parts = ", ".join(f"{humanize(k)} {format_value(v)}" for k, v in value.items())
        return f"{label} ({parts}) {effect}."
    if _is_missing(value):
        return f"{label} not reported {effect}."
    if reference is not None and name in reference and isinstance(value, (int, float, np.number)):
        median = reference[name]
        if not isinstance(value, (bool, np.bool_)) and np.isfinite(median):
            level = "high" if value > median else "low" if value < median else "typical"
            return f"{label} of {format_value(value)} is {level} (median {format_value(median)})."
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return f"{label} of {format_value(value)} {effect}."
    return f"{label} {format_value(value)} {effect}."


def _render(
    template: Template | None,
    name: str,
    value: Any,
    contribution: float,
    direction: str,
    reference: Mapping[str, float] | None,
) -> str:
    if template is None:
        return _default_reason(name, value, direction, reference)
    if callable(template):
        return str(template(value, contribution))
    try:
        return template.format(
            feature=name,
            label=humanize(name),
            value=value,
            value_text=format_value(value),
            contribution=contribution,
            direction=direction.replace("_", " "),
        )
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"Template {template!r} for {name!r} failed with value {value!r}: {exc!r}. "
            "Fields: {feature}, {label}, {value}, {value_text}, {contribution}, {direction}."
        ) from None


def _pick_output(explanation: Explanation, output: Any) -> tuple[np.ndarray, str | None]:
    """The (n_rows, n_features) attributions of the output that means "decline"."""
    values = np.asarray(explanation.values, dtype=float)
    if not explanation.multi_output:
        if output is not None:
            raise ValueError(
                f"output={output!r} was given but this Explanation has a single output."
            )
        return values, None
    names = list(explanation.output_names or ())
    if output is None:
        if len(names) != 2:
            raise ValueError(
                f"This Explanation has {len(names)} outputs {names}; pass output=<name or position> "
                "to say which one means decline."
            )
        # Binary classifier: the positive class (e.g. default = 1) is the decline class.
        return values[..., 1], names[1]
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        if not -len(names) <= int(output) < len(names):
            raise ValueError(f"output={output} is out of range for outputs {names}.")
        return values[..., int(output)], names[int(output)]
    if str(output) not in names:
        raise ValueError(f"Unknown output {output!r}; this Explanation's outputs are {names}.")
    pos = names.index(str(output))
    return values[..., pos], names[pos]


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
    k: int = 4,
    direction: str = "toward_decline",
    exclude: Sequence[str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    templates: Mapping[str, Template] | None = None,
    output: Any = None,
    reference: Any = None,
) -> pd.DataFrame:
    """The ``k`` principal reasons per row, in plain sentences.

    Parameters
    ----------
    explanation:
        A tabular :class:`~pellucid.Explanation` (SHAP values or any additive
        attribution). Its ``data`` supplies the values quoted in the reasons.
    k:
        Reasons per row. A row gets fewer when fewer features pushed its
        score in ``direction`` (a feature with zero or opposite contribution
        is never given as a reason).
    direction:
        ``"toward_decline"`` (default): features with positive contributions
        to the explained output, largest first: for a default-risk model the
        reasons for a decline. ``"toward_approve"``: negative contributions,
        most negative first.
    exclude:
        Features (or group names) that may never be given as reasons, e.g.
        protected attributes. A group holding an excluded column is dropped.
    groups:
        ``{reason name: [columns]}``: merge columns into one reason whose
        contribution is the sum of theirs (exact for additive attributions).
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
        sentence for a numeric feature says whether the value is high or low
        against the reference median: ``"Debt to income of 0.48 is high (median 0.21)."``

    Returns
    -------
    DataFrame with columns ``row`` (position in the explanation), ``rank``
    (1 = main reason), ``feature``, ``value``, ``contribution``, ``reason``.
    """
    if not isinstance(explanation, Explanation):
        raise TypeError(f"explanation must be a pellucid.Explanation; got {type(explanation)}.")
    if len(explanation.feature_shape) != 1:
        raise ValueError("reason_codes needs a tabular Explanation (one axis of features).")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    exclude_set = {str(e) for e in ([exclude] if isinstance(exclude, str) else exclude or [])}
    templates = dict(templates or {})
    values, _ = _pick_output(explanation, output)
    names = explanation.feature_names
    units = _units(names, groups, exclude_set)
    unknown = [t for t in templates if t not in {u for u, _ in units} | set(names)]
    if unknown:
        raise ValueError(f"templates name unknown features or groups: {unknown}.")
    ref = _reference_medians(reference, names)

    contrib = np.stack([values[:, idx].sum(axis=1) for _, idx in units], axis=1)
    sign = 1.0 if direction == "toward_decline" else -1.0
    data = explanation.data
    records: list[dict[str, Any]] = []
    for r in range(values.shape[0]):
        pushed = sign * contrib[r]
        # Stable sort keeps feature order among exact ties, so the output is deterministic.
        order = np.argsort(-pushed, kind="stable")
        rank = 0
        for u in order:
            if rank == k or not pushed[u] > 0:
                break
            rank += 1
            name, idx = units[u]
            value = _row_value(data, r, idx, names)
            records.append(
                {
                    "row": r,
                    "rank": rank,
                    "feature": name,
                    "value": value,
                    "contribution": float(contrib[r, u]),
                    "reason": _render(
                        templates.get(name), name, value, float(contrib[r, u]), direction, ref
                    ),
                }
            )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    return frame.astype({"row": "int64", "rank": "int64", "contribution": "float64"})


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


def _reference_medians(reference: Any, names: Sequence[str]) -> dict[str, float] | None:
    if reference is None:
        return None
    frame = reference if isinstance(reference, pd.DataFrame) else pd.DataFrame(reference)
    if not isinstance(reference, pd.DataFrame):
        frame.columns = list(names)[: frame.shape[1]]
    out = {}
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            out[str(c)] = float(np.nanmedian(col.to_numpy(dtype=float, na_value=np.nan)))
    return out
