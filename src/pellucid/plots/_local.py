"""Local pictures: image attribution overlays, text highlights and anchor rule cards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._results import Anchor, Explanation
from ._attribution import _valid
from ._base import (
    DIVERGING,
    axis_title,
    check_result,
    compact_labels,
    get_ax,
    readable_text_color,
    round_out,
    row_name,
    select_output,
)


def _channel_axis(shape: tuple[int, ...]) -> int | None:
    """Which axis of one image's attributions holds colour channels, if any.

    (C, H, W) as torch stores images, or (H, W, C) as numpy/PIL do.
    """
    if len(shape) != 3:
        return None
    if shape[0] in (1, 3, 4) and shape[-1] not in (1, 3, 4):
        return 0
    return 2


def _check_row(exp: Explanation, row: int, what: str) -> None:
    if not -exp.n_rows <= int(row) < exp.n_rows:
        raise IndexError(f"{what}: row {row} is out of range for {exp.n_rows} explained rows.")


def image(
    explanation: Explanation,
    row: int = 0,
    *,
    image: Any = None,
    ax: Any = None,
    output: int | str | None = None,
    alpha: float = 0.6,
    target: str | None = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """Attributions of one image as a red (up) / blue (down) overlay on the image in grey.

    Channel attributions are summed per pixel. The colour scale is symmetric
    about zero so white means no effect. The image is ``image`` if given, else
    the one the explanation keeps (``explanation.data[row]``: LimeImage keeps it).
    """
    check_result(explanation, Explanation, "image()")
    exp, out_name = select_output(explanation, output, target, _valid(explanation, row))
    _check_row(exp, row, "image()")
    values = np.asarray(exp.values[row], dtype=float)
    axis = _channel_axis(values.shape)
    heat = values.sum(axis=axis) if axis is not None else values
    if heat.ndim != 2:
        raise ValueError(
            f"image() needs image attributions (H, W), (C, H, W) or (H, W, C); got {values.shape}."
        )
    picture = image if image is not None else (exp.data[row] if exp.data is not None else None)
    ax = get_ax(ax, (4.2, 4.2))
    if picture is not None:
        pic = np.asarray(picture, dtype=float)
        pax = _channel_axis(pic.shape)
        if pax is not None:
            pic = pic.mean(axis=pax)  # grey, so the overlay colours stay readable
        if pic.shape != heat.shape:
            raise ValueError(
                f"image has shape {pic.shape} but the attributions are {heat.shape} per channel."
            )
        ax.imshow(pic, cmap="gray")
    limit = round_out(float(np.abs(heat).max()), False, 2) or 1.0
    overlay = ax.imshow(
        heat, cmap=DIVERGING, vmin=-limit, vmax=limit, alpha=alpha if picture is not None else 1.0
    )
    cbar = ax.figure.colorbar(overlay, ax=ax, shrink=0.8)
    cbar.set_ticks([-limit, 0, limit], labels=compact_labels([-limit, 0, limit]))
    cbar.set_label(axis_title("attribution per pixel", out_name))
    ax.set_xticks([])
    ax.set_yticks([])
    what = exp.method or "attribution"
    ax.set_title(title or f"{what}: {row_name(exp, row, row_id)}")
    return ax


def text(
    explanation: Explanation,
    row: int = 0,
    *,
    tokens: Sequence[str] | None = None,
    ax: Any = None,
    output: int | str | None = None,
    width: int = 60,
    target: str | None = None,
    row_id: Any = None,
    title: str | None = None,
) -> Any:
    """Tokens highlighted by attribution (red raises, blue lowers the output), wrapped at
    ``width`` characters, with a colour key below. Tokens come from ``tokens``, the
    explanation's data, or its feature names. Each token is printed in black or white,
    whichever contrasts more with its highlight (always at least 4.58:1, above WCAG AA's 4.5)."""
    check_result(explanation, Explanation, "text()")
    exp, out_name = select_output(explanation, output, target, _valid(explanation, row))
    _check_row(exp, row, "text()")
    values = np.asarray(exp.values[row], dtype=float).ravel()
    if tokens is None:
        if exp.data is not None and exp.data.ndim >= 2 and exp.data[row].size == values.size:
            tokens = [str(t) for t in np.asarray(exp.data[row]).ravel()]
        else:
            tokens = list(exp.feature_names)
    tokens = [str(t) for t in tokens]
    if len(tokens) != values.size:
        raise ValueError(f"Got {len(tokens)} tokens for {values.size} attributions.")
    import matplotlib as mpl

    cmap = mpl.colormaps[DIVERGING]
    limit = round_out(float(np.abs(values).max()), False, 2) or 1.0
    ax = get_ax(ax, (min(0.11 * width + 0.5, 9.0), 1.3 + 0.32 * len(_wrap_tokens(tokens, width))))
    ax.set_axis_off()
    key = ax.figure.colorbar(
        mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(-limit, limit), cmap=cmap),
        ax=ax,
        orientation="horizontal",
        location="bottom",
        shrink=0.6,
        aspect=30,
        pad=0.02,
    )
    # Tokens sit on a character grid (monospace) whose cell is one character as drawn,
    # so words are one space apart and a line never runs past the axes.
    ax.figure.draw_without_rendering()
    probe = ax.text(0, 0, "M" * 20, family="monospace", fontsize=10)
    char_px = probe.get_window_extent().width / 20
    probe.remove()
    fits = max(int(ax.get_window_extent().width // max(char_px, 1e-9)), 1)
    lines = _wrap_tokens(tokens, min(width, fits))
    ax.set_xlim(0, fits)
    ax.set_ylim(len(lines), 0)
    for li, line in enumerate(lines):
        col = 0
        for i in line:
            face = cmap(0.5 + 0.5 * values[i] / limit)
            ax.text(
                col,
                li + 0.5,
                tokens[i],
                family="monospace",
                va="center",
                ha="left",
                fontsize=10,
                color=readable_text_color(face),
                bbox={"facecolor": face, "edgecolor": "none", "pad": 1.5},
            )
            col += len(tokens[i]) + 1
    key.set_ticks([-limit, 0, limit], labels=compact_labels([-limit, 0, limit]))
    key.set_label(axis_title("attribution: blue lowers, red raises", out_name), fontsize=8)
    key.ax.tick_params(labelsize=8)
    ax.set_title(title or f"{exp.method or 'attribution'}: {row_name(exp, row, row_id)}")
    return ax


def _wrap_tokens(tokens: list[str], width: int) -> list[list[int]]:
    """Token indices per line, lines at most ``width`` characters (a longer token alone)."""
    lines: list[list[int]] = [[]]
    used = 0
    for i, tok in enumerate(tokens):
        if used and used + 1 + len(tok) > width:
            lines.append([])
            used = 0
        lines[-1].append(i)
        used += len(tok) + (1 if used else 0)
    return lines


def anchor(result: Anchor, *, ax: Any = None, title: str | None = None) -> Any:
    """An anchor rule as a card: IF the conditions THEN the prediction, with precision and coverage."""
    check_result(result, Anchor, "anchor()")
    lines = [str(p) for p in result.predicates] or ["(no condition: the prediction holds anyway)"]
    ax = get_ax(ax, (5.0, 1.4 + 0.3 * len(lines)))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    n = len(lines) + 3
    ax.set_ylim(n, 0)
    ax.text(0.02, 0.6, "IF", fontweight="bold", va="center")
    for i, line in enumerate(lines):
        prefix = "AND " if i else ""
        ax.text(0.08, 1.5 + i, prefix + line, va="center", family="monospace")
    ax.text(
        0.02,
        len(lines) + 1.5,
        f"THEN predict {result.prediction!r}",
        fontweight="bold",
        va="center",
    )
    ax.text(
        0.02,
        len(lines) + 2.5,
        f"precision {result.precision:.2f} · coverage {result.coverage:.2f}",
        va="center",
        color="#444444",
    )
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (0.005, 0.05),
            0.99,
            n - 0.1,
            boxstyle="round,pad=0.0,rounding_size=0.02",
            facecolor="#f5f7fa",
            edgecolor="#9aa5b1",
            zorder=0,
            transform=ax.transData,
        )
    )
    ax.set_title(title or "Anchor rule")
    return ax
