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
# Okabe & Ito's vermillion and blue stay apart under every common colour-vision deficiency.
POSITIVE = "#D55E00"
NEGATIVE = "#0072B2"
NEUTRAL = "#7f7f7f"
# ColorBrewer's RdBu: a diverging map rated colour-blind safe, white at zero.
DIVERGING = "RdBu_r"
# Categories: Okabe & Ito's palette (black last, it reads as "missing" elsewhere).
CATEGORY_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
# Feature values, low to high: blue, through purple, to vermillion (shap's idea, safer hues).
VALUE_COLORS = ("#0072B2", "#8E5BA8", "#D55E00")
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


# Class names that mean "the event happened": the target's name alone then says it.
_POSITIVE_NAMES = {"1", "1.0", "true", "yes", "y", "positive", "pos"}


def output_subject(output_kind: str | None, out_name: str | None, target: str | None) -> str:
    """The explained output in words: "P(default)", "log-odds of default", "predicted price".

    ``out_name`` is the class (or output) drawn, ``target`` the target's name.
    A class named like "1" or "yes" is the target itself; another class reads
    "species = setosa".
    """
    if output_kind == "regression":
        return (
            f"predicted {target}"
            if target
            else (f"predicted {out_name}" if out_name else "predicted value")
        )
    if out_name is None or (target and str(out_name).strip().lower() in _POSITIVE_NAMES):
        event = target
    else:
        event = f"{target} = {out_name}" if target else str(out_name)
    if output_kind == "probability":
        return f"P({event})" if event else "probability"
    if output_kind == "log_odds":
        return f"log-odds of {event}" if event else "log-odds"
    if output_kind == "raw_margin":
        return f"raw margin for {event}" if event else "raw margin"
    return f"model output for {event}" if event else "model output"


def target_of(result: Any, target: str | None) -> str | None:
    """The target's name: the caller's, else the one the result records in ``params``."""
    if target is not None:
        return str(target)
    recorded = getattr(result, "params", {}).get("target")
    return None if recorded is None else str(recorded)


def select_output(
    exp: Explanation, output: int | str | None, target: str | None = None, row: int | None = None
) -> tuple[Explanation, str]:
    """One output of a multi-output Explanation (the given one, else the last) and its subject.

    The last output is the positive class of a binary classifier explained in
    probability space, which is the output people mean by "the prediction".
    For one ``row`` of a multiclass explanation the default is the class the
    model predicts for it (its largest output), when the output is known.
    The subject names the output in words from ``exp.output_kind`` and the
    target's name (see :func:`output_subject`).
    """
    target = target_of(exp, target)
    kind = unit_of(exp)
    if not exp.multi_output:
        return exp.select_output(output), output_subject(kind, None, target)
    names = exp.output_names or ()
    key: Any = len(names) - 1 if output is None else output
    if output is None and row is not None and len(names) > 2 and exp.output is not None:
        key = int(np.argmax(np.asarray(exp.output)[row]))
    one = exp.select_output(key)  # checks the key; its errors name the outputs
    drawn = names[int(key)] if isinstance(key, (int, np.integer)) else str(key)
    return one, output_subject(kind, drawn, target)


def unit_of(exp: Explanation) -> str | None:
    """``exp.output_kind``, else the unit a model-agnostic method records for the model
    it called (LIME's ``params["model_output"]``: "probability", "log_odds", ...)."""
    if exp.output_kind is not None:
        return exp.output_kind
    recorded = exp.params.get("model_output")
    return recorded if recorded in ("probability", "log_odds", "raw_margin", "regression") else None


def row_name(exp: Explanation, row: int, row_id: Any = None) -> str:
    """How a row is named in a title: the caller's id, else the Explanation's
    ``diagnostics["row_id"]`` (the frame's index), else its position."""
    if row_id is None:
        ids = exp.diagnostics.get("row_id")
        if ids is not None:
            row_id = ids[row]
    if row_id is None:
        return f"row {row % max(exp.n_rows, 1)}"
    if isinstance(row_id, (int, np.integer)) and not isinstance(row_id, (bool, np.bool_)):
        return f"row {int(row_id):,}"
    return str(row_id)


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


def compact_ticks(axis: Any, integer: bool = False) -> None:
    """At most ~6 ticks, large numbers shortened (20k, 1.5M) so labels never run together;
    ``integer=True`` puts ticks on whole numbers only (counts, ages, years)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=6, integer=integer, min_n_ticks=2))
    axis.set_major_formatter(_tick_formatter())


def is_integer_valued(values: Any) -> bool:
    """Whether every finite value is a whole number (so ticks between them mean nothing)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biu":
        return True
    if arr.dtype.kind != "f":
        return False
    finite = arr[np.isfinite(arr)]
    return finite.size > 0 and bool(np.all(finite == np.round(finite)))


def value_ticks(axis: Any, values: Any) -> None:
    """Compact ticks for a numeric axis; whole numbers only when the values are whole."""
    compact_ticks(axis, integer=is_integer_valued(values))


def category_order(values: Any, categories: Any = None) -> list[Any]:
    """One order for a feature's categories everywhere: the model's (``categories``, or a
    pandas Categorical's own), else the data's sorted values. Missing values are left out."""
    import pandas as pd

    if categories is not None:
        return list(categories)
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        return list(values.cat.categories if hasattr(values, "cat") else values.categories)
    series = pd.Series(np.asarray(values, dtype=object)).dropna()
    uniques = pd.unique(series)
    try:
        return sorted(uniques)
    except TypeError:  # mixed types: order of first appearance
        return list(uniques)


def model_categories(result: Any, feature: str) -> Any:
    """The category order a result records for ``feature`` (``params["categories"]``), if any."""
    recorded = getattr(result, "params", {}).get("categories") or {}
    return recorded.get(feature) if isinstance(recorded, Mapping) else None


def value_cmap() -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("pellucid_value", VALUE_COLORS)


def category_color(k: int) -> str:
    return CATEGORY_COLORS[k % len(CATEGORY_COLORS)]


def color_by(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    data: np.ndarray,
    k: int,
    name: str,
    *,
    unit: str | None = None,
    categories: Any = None,
    size: float = 10,
) -> None:
    """Scatter (x, y) coloured by column k of ``data``, with a key saying what the colours are.

    A numeric column gets the value colour map clipped to its 5th-95th percentiles
    and a colour bar whose ends print those real values (and the unit); a
    categorical column gets one palette colour per category and a legend.
    Missing values are grey in both cases.
    """
    import matplotlib as mpl

    num = numeric_column(data, k)
    label = f"{name} ({unit})" if unit else name
    if num is None:
        column = data[:, k]
        order = category_order(column, categories)
        for c, cat in enumerate(order):
            hit = np.array([v == cat for v in column], dtype=bool)
            ax.scatter(
                x[hit], y[hit], s=size, color=category_color(c), linewidths=0, label=str(cat)
            )
        missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in column])
        if missing.any():
            ax.scatter(x[missing], y[missing], s=size, color=NEUTRAL, linewidths=0, label="missing")
        ax.legend(title=wrap(label, 20), fontsize="small", title_fontsize="small", loc="best")
        return
    ok = np.isfinite(num)
    if (~ok).any():
        ax.scatter(x[~ok], y[~ok], s=size, color=NEUTRAL, linewidths=0)
    lo, hi = value_range(num)
    cmap = value_cmap()
    ax.scatter(x[ok], y[ok], s=size, c=num[ok], cmap=cmap, vmin=lo, vmax=hi, linewidths=0)
    cbar = ax.figure.colorbar(
        mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(lo, hi), cmap=cmap), ax=ax, aspect=40
    )
    cbar.set_ticks([lo, hi], labels=compact_labels([lo, hi]))
    cbar.set_label(wrap(label) + ("\n(5th-95th percentile; grey: missing)" if (~ok).any() else ""))


def value_range(num: np.ndarray) -> tuple[float, float]:
    """The 5th and 95th percentiles of the finite values (their range when those coincide),
    rounded outwards to 3 significant digits so the colour bar's end labels are exact."""
    finite = num[np.isfinite(num)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [5, 95]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return round_out(lo, down=True), round_out(hi, down=False)


def round_out(value: float, down: bool, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits, away from the inside of a range
    (down for a lower end, up for an upper one), so a rounded range still covers the data."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    step = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    scaled = value / step
    # a tolerance, so 0.3 / 0.001 = 299.99999999999994 does not round to 299
    q = math.floor(scaled + 1e-9) if down else math.ceil(scaled - 1e-9)
    return float(f"{q * step:.{max(0, digits + 2)}g}")


# -------------------------------------------------------------- text contrast (WCAG 2.x)


def relative_luminance(color: Any) -> float:
    """WCAG relative luminance of an sRGB colour (0 black, 1 white)."""
    from matplotlib.colors import to_rgb

    channels = np.array(to_rgb(color), dtype=float)
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(foreground: Any, background: Any) -> float:
    """WCAG contrast ratio, (L1 + 0.05) / (L2 + 0.05) with L1 the lighter: 1 to 21."""
    a, b = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_text_color(background: Any) -> str:
    """Black or white, whichever contrasts more with ``background``."""
    black = contrast_ratio("#000000", background)
    white = contrast_ratio("#ffffff", background)
    return "#000000" if black >= white else "#ffffff"


def axis_title(quantity: str, subject: str | None) -> str:
    """An axis label: the quantity and, in parentheses, what it is measured in."""
    return f"{quantity} ({subject})" if subject else quantity


def labelled(
    result: Any,
    *,
    target: str | None = None,
    row_ids: Any = None,
    categories: Any = None,
    output_kind: str | None = None,
) -> Any:
    """A copy of ``result`` that names its target, rows and categories for every plot.

    ``target`` (e.g. "default") goes to ``params["target"]``, so axes read
    "P(default)"; ``row_ids`` (e.g. ``X.index``), one per explained row, go to
    an Explanation's ``diagnostics["row_id"]``, so titles read "row 1,245"
    rather than the row's position, and survive slicing. ``categories``: the
    model's category order per feature, a mapping or a DataFrame whose
    categorical columns give it (``params["categories"]``), so every plot
    orders categories alike. ``output_kind`` states the unit of a result that
    does not record one (a PartialDependence of predicted probabilities).
    """
    from dataclasses import replace

    from .._results import OUTPUT_KINDS

    changes: dict[str, Any] = {}
    params = dict(result.params)
    if target is not None:
        params["target"] = str(target)
    if categories is not None:
        params["categories"] = {**params.get("categories", {}), **_category_map(categories)}
    if output_kind is not None:
        if output_kind not in OUTPUT_KINDS:
            raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}; got {output_kind!r}.")
        if isinstance(result, Explanation):
            changes["output_kind"] = output_kind
        else:
            params["output_kind"] = output_kind
    if params != dict(result.params):
        changes["params"] = params
    if row_ids is not None:
        if not isinstance(result, Explanation):
            raise TypeError(f"row_ids name an Explanation's rows; got {type(result).__name__}.")
        ids = np.asarray(row_ids)
        if ids.shape != (result.n_rows,):
            raise ValueError(f"Got {ids.size} row_ids for {result.n_rows} explained rows.")
        changes["diagnostics"] = {**result.diagnostics, "row_id": ids}
    return replace(result, **changes) if changes else result


def _category_map(categories: Any) -> dict[str, list[Any]]:
    import pandas as pd

    if isinstance(categories, pd.DataFrame):
        return {
            str(c): list(categories[c].cat.categories)
            for c in categories.columns
            if isinstance(categories[c].dtype, pd.CategoricalDtype)
        }
    if isinstance(categories, Mapping):
        return {str(k): list(v) for k, v in categories.items()}
    raise TypeError(
        f"categories must be a mapping of feature to categories or a DataFrame; "
        f"got {type(categories).__name__}."
    )
