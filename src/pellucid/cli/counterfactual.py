"""``pellucid counterfactual``: what would change each decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ._app import app, console, fail
from ._inputs import (
    DataArg,
    FirstOpt,
    JsonOpt,
    ModelArg,
    RowsOpt,
    TrustOpt,
    check_out,
    check_suffix,
    load_inputs,
    parse_columns,
)


def _parse_desired(text: str | None, model: Any) -> Any:
    """``--desired``: a class (matched by its text), or ``low,high`` (either end may be empty)."""
    if text is None:
        return None
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        try:
            if len(parts) != 2:
                raise ValueError
            return tuple(None if p == "" else float(p) for p in parts)
        except ValueError:
            fail(f"--desired range must be low,high (an end may be empty); got {text!r}.")
    classes = [] if model.classes is None else list(model.classes)
    for c in classes:
        if str(c) == text:
            return c
    fail(f"--desired {text!r} is not one of the model's classes {[str(c) for c in classes]}.")


@app.command()
def counterfactual(
    model: ModelArg,
    data: DataArg,
    target: Annotated[str | None, typer.Option(help="Target column of DATA, to drop.")] = None,
    immutable: Annotated[
        str | None, typer.Option(help="Columns that may not change, e.g. sex,age.")
    ] = None,
    rows: RowsOpt = None,
    first: FirstOpt = None,
    k: Annotated[int, typer.Option(help="Counterfactuals per row (diverse, cheapest first).")] = 1,
    desired: Annotated[
        str | None,
        typer.Option(
            help="Desired class (default: the other class of a binary model), or low,high "
            "on the positive class's probability or a regressor's prediction."
        ),
    ] = None,
    time_limit: Annotated[
        float, typer.Option(help="Seconds per counterfactual for the exact engines.")
    ] = 10.0,
    out: Annotated[
        Path | None, typer.Option(help="Write the counterfactuals: .csv (one per line) or .json.")
    ] = None,
    json_: JsonOpt = False,
    trust_pickle: TrustOpt = False,
) -> None:
    """What would change each decision (default: every row): the cheapest allowed changes,
    with certificates."""
    from .._model import as_model
    from ..counterfactual import Counterfactuals

    if out is not None:
        check_suffix(out, (".csv", ".json"), ".csv or .json")
        check_out(out)
    if k < 1:
        fail(f"--k must be at least 1; got {k}.")
    inputs = load_inputs(
        model, data, trust_pickle=trust_pickle, target=target, rows=rows, first=first
    )
    fixed = parse_columns(immutable, inputs.X, "--immutable")
    X = inputs.rows
    explainer = Counterfactuals(inputs.model, inputs.X, immutable=fixed, time_limit=time_limit)
    result = explainer.explain(X, desired=_parse_desired(desired, as_model(inputs.model)), k=k)
    if out is not None:
        if out.suffix.lower() == ".json":
            result.to_json(str(out))
        else:
            table = result.to_frame()
            table.insert(1, "index", X.index.to_numpy()[table["row"].to_numpy()])
            table.to_csv(out, index=False)
    if json_:
        print(result.to_json())
        return
    _print_counterfactuals(result, X)
    if out is not None:
        console.print(f"Wrote {len(result)} counterfactuals for {result.n_rows} rows to {out}")


def _print_counterfactuals(result: Any, X: Any) -> None:
    table = Table(title=f"Counterfactuals ({result.method})")
    for name in ("index", "certificate", "cost", "what would change the decision"):
        table.add_column(name)
    for r in range(result.n_rows):
        answers = result.for_row(r)
        if not answers:
            table.add_row(str(X.index[r]), result.certificates[r], "", "")
        for cf in answers:
            table.add_row(str(X.index[r]), cf.certificate, f"{cf.cost:.4g}", result.sentence(cf))
    console.print(table)
