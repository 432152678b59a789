"""``pellucid trust``: how far to trust each method's explanations."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ._app import app, console, fail, note
from ._inputs import DataArg, JsonOpt, ModelArg, RowsOpt, TrustOpt, load_inputs

# Rows explained when neither --rows nor --first is given.
DEFAULT_FIRST = 20


def _old_row_count(rows: str | None, first: int | None) -> tuple[str | None, int | None]:
    """An earlier release read ``trust --rows 20`` as a count: a lone number keeps that
    meaning for one more release, with a note; positions (``--rows 0,5,9``) are new."""
    if rows is None or first is not None or not rows.strip().isdigit():
        return rows, first
    note(
        f"trust --rows {rows.strip()} as a count of first rows is deprecated; use "
        f"--first {rows.strip()}. In the next release --rows takes row positions only, "
        "as in the other commands (--rows 0,5,9)."
    )
    return None, int(rows)


@app.command()
def trust(
    model: ModelArg,
    data: DataArg,
    method: Annotated[
        list[str] | None,
        typer.Option(help="A registered attribution method (repeatable); default: all tabular."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Target column: dropped, and used by --sanity.")
    ] = None,
    rows: RowsOpt = None,
    first: Annotated[
        int | None,
        typer.Option("--first", help=f"The first N rows (default: the first {DEFAULT_FIRST})."),
    ] = None,
    background_size: Annotated[
        int, typer.Option(help="Background rows, drawn at random from DATA.")
    ] = 50,
    sanity: Annotated[
        bool, typer.Option(help="Also run the randomisation sanity checks (refits the model).")
    ] = False,
    random_state: Annotated[int, typer.Option(help="Seed for everything sampled.")] = 0,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """How far to trust each method's explanations of MODEL on DATA: faithfulness,
    stability and a plain-language reading per method."""
    from .. import _registry
    from ..quality import trust_summary

    names = _registry.available(kind="attribution", inputs="tabular")
    method = [_registry.canonical(m) for m in method or []]  # treeshap: tree_shap
    unknown = [m for m in method if m not in names]
    if unknown:
        fail(f"Unknown tabular attribution method(s) {unknown}; available: {', '.join(names)}.")
    rows, first = _old_row_count(rows, first)
    if rows is None and first is None:
        first = DEFAULT_FIRST
    inputs = load_inputs(
        model, data, trust_pickle=trust_pickle, target=target, rows=rows, first=first
    )
    explained = inputs.rows.reset_index(drop=True)
    summary = trust_summary(
        inputs.model,
        explained,
        methods=method or None,
        data=inputs.X,
        y=None if inputs.y is None else inputs.y.to_numpy(),
        n_rows=len(explained),
        n_background=background_size,
        sanity=sanity,
        random_state=random_state,
    )
    if not summary.rows:
        # Every method failed: that is an error, never a table of nothing with exit 0.
        fail("No method could explain the model on this data: " + "; ".join(summary.notes))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
        return
    table = Table(title=f"How far to trust explanations of {model.name}")
    cols = ("method", "verdict", "faithfulness_correlation", "deletion_gain", "seed_variation")
    for col in (*cols, "sensitivity", "sanity_passed"):
        table.add_column(col.replace("_", " "))
    for r in summary.rows:
        cells = [getattr(r, c) for c in (*cols, "sensitivity", "sanity_passed")]
        table.add_row(
            *["—" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v) for v in cells]
        )
    console.print(table)
    for r in summary.rows:
        console.print(f"[bold]{r.method}[/] ({r.verdict}): {r.reading}")
    for note_ in summary.notes:
        console.print(f"[yellow]{note_}[/]")
