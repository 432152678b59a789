"""Reason codes in words: feature names and values for people, and the sentence of a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Template", "format_value", "humanize", "is_number", "sentence"]

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


def _effect(direction: str) -> str:
    return (
        "counted against approval"
        if direction == "toward_decline"
        else "counted in favour of approval"
    )


def _default_reason(name: str, value: Any, direction: str, level: str | None, median: Any) -> str:
    """The default sentence. ``level`` ("high"/"low") only when it is true as worded
    (see ``_reasons._level``); with a median but no true level, the plain form."""
    label = humanize(name)
    effect = _effect(direction)
    if isinstance(value, dict):  # a group of columns
        parts = ", ".join(f"{humanize(k)} {format_value(v)}" for k, v in value.items())
        return f"{label} ({parts}) {effect}."
    if _is_missing(value):
        return f"{label} not reported {effect}."
    if median is not None:
        if level is not None:
            return f"{label} of {format_value(value)} is {level} (median {format_value(median)})."
        return f"{label} of {format_value(value)} (median {format_value(median)}) {effect}."
    if is_number(value):
        return f"{label} of {format_value(value)} {effect}."
    return f"{label} {format_value(value)} {effect}."


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def sentence(
    template: Template | None,
    name: str,
    value: Any,
    contribution: float,
    direction: str,
    level: str | None,
    median: Any,
) -> str:
    """One reason in words: the user's template (format string or callable) or the default."""
    if template is None:
        return _default_reason(name, value, direction, level, median)
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
