"""A counterfactual drawn as before/after bars: what changes, and what the model then says."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import NEGATIVE, NEUTRAL, POSITIVE, check_result, fmt_value, get_ax, wrap

if TYPE_CHECKING:  # the counterfactual package (pandas, scipy) loads only when drawing
    from ..counterfactual import Counterfactual, CounterfactualSet

_BAR = 0.36  # height of each of the two bars of a feature


def _pick(cfs: CounterfactualSet, row: int, rank: int) -> Counterfactual:
    """The row's answer of that rank, or one error saying why there is none."""
    if not 0 <= row < cfs.n_rows:
        raise IndexError(f"counterfactual(): row {row} is outside 0..{cfs.n_rows - 1}.")
    answers = cfs.for_row(row)
    if not answers:
        raise ValueError(
            f"counterfactual(): row {row} has no counterfactual to draw "
            f"(certificate {cfs.certificates[row]!r})."
        )
    ranks = [a.rank for a in answers]
    if rank not in ranks:
        raise ValueError(f"counterfactual(): row {row} has ranks {ranks}; got rank={rank!r}.")
    return answers[ranks.index(rank)]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _title(cfs: CounterfactualSet, cf: Counterfactual, row_id: Any) -> str:
    name = f"row {row_id}" if row_id is not None else f"row {cf.row}"
    before = fmt_value(cfs.predictions[cf.row])
    head = f"{name}: prediction {before} \u2192 {fmt_value(cf.prediction)}"
    if not cf.valid:
        head += " (not confirmed by the model)"
    proof = cf.certificate
    if cf.certificate == "feasible" and cf.gap is not None:
        proof += f", optimality gap \u2264 {cf.gap:.0%}"
    return f"{head}\n{proof}, cost {cf.cost:.3g}"


def counterfactual(
    cfs: CounterfactualSet,
    row: int = 0,
    *,
    rank: int = 0,
    ax: Any = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """One counterfactual of one row: per changed feature, a grey bar for the value
    before and a coloured one for the value after (orange up, blue down), each
    labelled with the value; a category switch is written out. Bars are scaled per
    feature by the larger |value| of the two (features have different units); the
    title gives the model's prediction before and after and the certificate.
    """
    from ..counterfactual import CounterfactualSet

    check_result(cfs, CounterfactualSet, "counterfactual()")
    cf = _pick(cfs, int(row), rank)
    changes = cf.changes
    ax = get_ax(ax, (6.0, 1.4 + 0.7 * max(len(changes), 1)))
    ys = np.arange(len(changes))[::-1].astype(float)
    for y, change in zip(ys, changes, strict=True):
        before, after = change.before, change.after
        if not (_is_number(before) and _is_number(after)):
            ax.text(0.5, y, f"{fmt_value(before)} \u2192 {fmt_value(after)}",
                    ha="center", va="center")  # fmt: skip
            continue
        scale = max(abs(float(before)), abs(float(after))) or 1.0
        colour = POSITIVE if float(after) > float(before) else NEGATIVE
        for offset, value, face in ((_BAR / 2, before, NEUTRAL), (-_BAR / 2, after, colour)):
            width = float(value) / scale
            ax.barh(y + offset, width, height=_BAR, color=face)
            inside = abs(width) > 0.6
            ax.text(
                width - np.sign(width) * 0.02 if inside else max(width, 0.0) + 0.02,
                y + offset,
                fmt_value(value),
                ha="right" if inside and width > 0 else "left",
                va="center",
                color="white" if inside else "black",
                fontsize=9,
            )
    ax.set_yticks(ys, [wrap(c.feature) for c in changes])
    ax.set_ylabel("changed feature")
    ax.set_ylim(-0.7, len(changes) - 0.3)
    ax.set_xlim(min(-0.05, *(_low(c) for c in changes)), 1.3)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("value \u00f7 max(|before|, |after|); grey before, colour after")
    ax.set_title(title if title is not None else _title(cfs, cf, row_id), fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _low(change: Any) -> float:
    """Leftmost scaled bar end of a change (negative values reach below zero)."""
    before, after = change.before, change.after
    if not (_is_number(before) and _is_number(after)):
        return 0.0
    scale = max(abs(float(before)), abs(float(after))) or 1.0
    return min(float(before) / scale, float(after) / scale, 0.0) - 0.05
