"""Shared helpers for the plot functions: axes, labels, colours, output selection.

matplotlib is imported inside functions only, so importing this module is cheap.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._results import Explanation, PartialDependence

# Colours: red pushes the output up, blue pushes it down (the convention users know from shap).
POSITIVE = "#d62728"
NEGATIVE = "#1f77b4"
NEUTRAL = "#7f7f7f"
DIVERGING = "RdBu_r"
WRAP = 28


def get_ax(ax: Any, figsize: tuple[float, float]) -> Any:
    """The caller's Axes, or a new one from pyplot (so notebooks show it) when ax is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return new_ax


def wrap(name: str, width: int = WRAP) -> str:
    """Wrap a long label over lines; underscores count as break points."""
    if len(name) <= width:
        return name
    spaced = name.replace("_", "_\u200b")
    lines = textwrap.wrap(spaced, width=width, break_long_words=True)
    return "\n".join(line.replace("\u200b", "") for line in lines)


def fmt_value(value: Any) -> str:
    """A short, readable rendering of one feature value."""
    if value is None:
        return "missing"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "missing"
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    return str(value)


def with_unit(name: str, units: Mapping[str, str] | None) -> str:
    unit = (units or {}).get(name)
    return f"{name} ({unit})" if unit else name


def feature_label(name: str, value: Any, units: Mapping[str, str] | None = None) -> str:
    """'name = value unit', wrapped."""
    unit = (units or {}).get(name)
    text = fmt_value(value) + (f" {unit}" if unit else "")
    return wrap(f"{name} = {text}")


# How each Explanation.output_kind reads on an axis.
UNIT_LABELS = {
    "probability": "probability",
    "log_odds": "log-odds",
    "raw_margin": "raw margin",
    "regression": "predicted value",
}


def output_label(out_name: str | None, output_kind: str | None) -> str | None:
    """What the explained output is, for an axis: its name and its unit ("yes, log-odds")."""
    parts = [p for p in (out_name, UNIT_LABELS.get(output_kind or "")) if p]
    return ", ".join(parts) or None


def select_output(exp: Explanation, output: int | str | None) -> tuple[Explanation, str | None]:
    """One output of a multi-output Explanation (the given one, else the last) and its label.

    The last output is the positive class of a binary classifier explained in
    probability space, which is the output people mean by "the prediction".
    The label names the output and, when ``exp.output_kind`` is set, its unit.
    """
    if not exp.multi_output:
        if output not in (None, 0):
            raise ValueError(f"This Explanation has a single output; got output={output!r}.")
        return exp, output_label(None, exp.output_kind)
    names = exp.output_names or ()
    key: Any = len(names) - 1 if output is None else output
    if isinstance(key, str) and key not in names:
        raise KeyError(f"Unknown output {key!r}; known: {list(names)}")
    idx = names.index(key) if isinstance(key, str) else int(key)
    return exp[:, :, idx], output_label(names[idx], exp.output_kind)


def select_pd_output(pd_: PartialDependence, output: int | str | None) -> tuple[int, str | None]:
    """Index of the output to draw from a PartialDependence; default the last."""
    arr = pd_.average if pd_.average is not None else pd_.individual
    n = 1 if arr is None else arr.shape[0]
    names = pd_.output_names
    if output is None:
        idx = n - 1
    elif isinstance(output, str):
        if not names or output not in names:
            raise KeyError(f"Unknown output {output!r}; known: {list(names or ())}")
        idx = list(names).index(output)
    else:
        idx = int(output)
    if not 0 <= idx < n:
        raise IndexError(f"output {output!r} is out of range for {n} output(s).")
    return idx, (names[idx] if names and n > 1 else None)


def check_result(result: Any, expected: type, what: str) -> None:
    """One clear TypeError when a plot gets a result of the wrong kind."""
    if not isinstance(result, expected):
        name = expected.__name__
        article = "an" if name[0] in "AEIOU" else "a"
        raise TypeError(f"{what} takes {article} {name}; got {type(result).__name__}.")


def feature_index(names: Any, feature: Any, what: str, param: str = "feature") -> int:
    """Position of ``feature`` (a name or an index) among ``names``, or one clear ValueError."""
    names = [str(n) for n in names]
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, (bool, np.bool_)):
        if -len(names) <= int(feature) < len(names):
            return int(feature) % len(names)
        raise ValueError(
            f"{what}: {param}={int(feature)} is out of range for {len(names)} features ({names})."
        )
    if isinstance(feature, str) and feature in names:
        return names.index(feature)
    import difflib

    close = difflib.get_close_matches(str(feature), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"{what}: unknown {param} {feature!r}.{hint} Available features: {names}.")


def check_units(units: Mapping[str, str] | None, names: Any, what: str) -> None:
    """Units naming no feature would be dropped silently: refuse them instead."""
    unknown = sorted(set(units or {}) - {str(n) for n in names})
    if unknown:
        raise ValueError(
            f"{what}: units names unknown feature(s) {unknown}; available: {list(names)}."
        )


def tabular_only(exp: Explanation, what: str) -> None:
    check_result(exp, Explanation, what)
    if len(exp.feature_shape) != 1:
        raise ValueError(
            f"{what} needs a tabular Explanation (values (n_rows, n_features)); "
            f"got values of shape {exp.values.shape}."
        )


def top_features(scores: np.ndarray, max_features: int) -> np.ndarray:
    """Indices of the largest scores, largest first; ties keep column order."""
    if max_features < 1:
        raise ValueError(f"max_features must be at least 1; got {max_features!r}.")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    return order[:max_features]


def numeric_column(data: np.ndarray | None, j: int) -> np.ndarray | None:
    """Column j of the explained data as floats, or None if it is not numeric."""
    if data is None or data.ndim != 2:
        return None
    col = data[:, j]
    if col.dtype.kind in "biuf":
        return col.astype(float)
    try:
        return np.asarray(col, dtype=float)
    except (TypeError, ValueError):
        return None


def color_codes(data: np.ndarray | None, j: int) -> np.ndarray | None:
    """Feature values mapped to [0, 1] for colouring: numeric by 5-95% rank, categories by code."""
    if data is None or data.ndim != 2:
        return None
    num = numeric_column(data, j)
    if num is None:
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(data[:, j]), sort=True)
        out = codes.astype(float)
        out[codes < 0] = np.nan
        return out / max(len(uniques) - 1, 1)
    finite = num[np.isfinite(num)]
    if finite.size == 0:
        return np.full(num.shape, np.nan)
    lo, hi = np.percentile(finite, [5, 95])
    if hi <= lo:
        lo, hi = finite.min(), finite.max()
    if hi <= lo:
        return np.where(np.isfinite(num), 0.5, np.nan)
    return np.clip((num - lo) / (hi - lo), 0, 1)


# Ticks from this size on are shortened with a suffix; below it they print in full (8,000).
_SHORTEN_FROM = 1e4
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _decimals_for(scaled: np.ndarray) -> int:
    """Fewest decimals that print every tick exactly, up to float noise (0.1 * 3)."""
    scaled = scaled[np.isfinite(scaled)]
    if scaled.size == 0:
        return 0
    steps = np.diff(np.unique(scaled))
    unit = float(steps.min()) if steps.size else float(np.abs(scaled).max()) or 1.0
    for decimals in range(16):
        if np.all(np.abs(np.round(scaled, decimals) - scaled) <= 1e-6 * unit):
            return decimals
    return 15


def compact_labels(values: Any) -> list[str]:
    """Labels for a set of ticks: 20,000 reads "20k", 1,500,000 "1.5M", 8,000 "8,000".

    One suffix and one number of decimals for the whole set (chosen from the
    largest tick), so every label reads back as the value it marks.
    """
    locs = np.asarray(values, dtype=float)
    finite = locs[np.isfinite(locs)]
    biggest = float(np.abs(finite).max()) if finite.size else 0.0
    size, suffix = 1.0, ""
    if biggest >= _SHORTEN_FROM:
        size, suffix = next((s, x) for s, x in _SUFFIXES if biggest >= s)
    scaled = locs / size
    decimals = _decimals_for(scaled)
    labels = []
    for v in scaled:
        text = f"{v:,.{decimals}f}" if np.isfinite(v) else str(v)
        if np.isfinite(v) and float(text.replace(",", "")) == 0:
            labels.append("0")  # not "-0", "0.0" or "0k"
            continue
        labels.append(text + suffix)
    return labels


def _tick_formatter() -> Any:
    from matplotlib.ticker import Formatter

    class CompactFormatter(Formatter):  # type: ignore[misc]
        """Shared suffix and decimals for the ticks on show (see compact_labels)."""

        def __init__(self) -> None:
            self._labels: dict[float, str] = {}

        def set_locs(self, locs: Any) -> None:
            super().set_locs(locs)
            self._labels = dict(zip(map(float, locs), compact_labels(locs), strict=True))

        def __call__(self, x: float, pos: Any = None) -> str:
            label = self._labels.get(float(x))
            return label if label is not None else compact_labels([x])[0]

    return CompactFormatter()


def compact_ticks(axis: Any) -> None:
    """At most ~6 ticks, large numbers shortened (20k, 1.5M) so labels never run together."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=6))
    axis.set_major_formatter(_tick_formatter())
