"""``pellucid reasons``: principal reasons per row (adverse-action reason codes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import app, console
from ._inputs import (
    DataArg,
    FirstOpt,
    ModelArg,
    RowsOpt,
    TrustOpt,
    check_out,
    load_inputs,
    renamed,
)
from .explain import WEIGHTED_BACKGROUND


def _explain_for_reasons(model: Any, X: Any, background: Any, method: str) -> Any:
    """``pellucid.explain`` with a fixed seed; a given background is summarised to 100 rows.

    A sampled method explains each row with a seed from the row's content
    (``explain_each_row``): a person's reasons never depend on who else is in
    the file, or where.
    """
    from .. import _dispatch, _registry
    from .._model import as_model
    from ..regulatory._explainers import build_explainer, explain_rows
    from ..shapley import explain as explain_
    from ..shapley import summarize

    if background is not None:
        background = summarize(background, 100, random_state=0)

    def explain_people(name: str) -> Any:
        chosen = _dispatch.choose(model, X.shape[1]).method if name == "auto" else name
        if not _registry.spec(chosen).sampled:
            return explain_(model, X, background, method=name, random_state=0)
        # Built once, as the service builds it, then fed one row at a time: one row
        # alone cannot be its own background, so the reference rows are fixed first.
        bg = summarize(X, 100, random_state=0) if background is None else background
        bg = bg if chosen in WEIGHTED_BACKGROUND else bg.data
        return explain_rows(build_explainer(chosen, as_model(model), bg), X, random_state=0)

    # No fallback here: ``pellucid.explain`` (through the dispatcher) is the one place
    # that replaces a method refusing the model, and records why.
    return explain_people(_registry.canonical(method))


@app.command()
def reasons(
    model: ModelArg,
    data: DataArg,
    max_reasons: Annotated[int, typer.Option(help="Reasons per row, at most.")] = 4,
    out: Annotated[Path, typer.Option(help="CSV file for the reasons.")] = Path("reasons.csv"),
    method: Annotated[
        str, typer.Option(help="Attribution method (registry name) or 'auto'.")
    ] = "auto",
    direction: Annotated[
        str, typer.Option(help="toward_decline (default) or toward_approve.")
    ] = "toward_decline",
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Feature never to give as a reason (repeat for several)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column of DATA, to drop.")] = None,
    background: Annotated[
        Path | None, typer.Option(help="Background data (default: DATA itself).")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Which output means decline (default: positive class).")
    ] = None,
    rows: RowsOpt = None,
    first: FirstOpt = None,
    trust_pickle: TrustOpt = False,
    k: Annotated[
        int | None, typer.Option("--k", hidden=True, help="Deprecated: --max-reasons.")
    ] = None,
) -> None:
    """Principal reasons per row (default: all rows) as a CSV: adverse-action reason codes."""
    from ..regulatory import reason_codes

    max_reasons = renamed(max_reasons, k, new="--max-reasons", old="--k", default=4)
    check_out(out)
    inputs = load_inputs(
        model,
        data,
        trust_pickle=trust_pickle,
        target=target,
        background=background,
        rows=rows,
        first=first,
    )
    frame, bg = inputs.rows, inputs.background
    if inputs.picked is not None and bg is None:
        bg = inputs.X  # the background stays the whole data set, not just the chosen rows
    explanation = _explain_for_reasons(inputs.model, frame, bg, method)
    table = reason_codes(
        explanation,
        max_reasons=max_reasons,
        direction=direction,
        exclude=exclude,
        output=output,
        reference=frame if bg is None else bg,
    )
    table.insert(1, "index", frame.index.to_numpy()[table["row"].to_numpy()])
    table.to_csv(out, index=False)
    console.print(f"Wrote {len(table)} reasons for {len(frame)} rows to {out}")
