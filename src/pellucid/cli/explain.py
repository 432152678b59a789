"""``pellucid methods`` and ``pellucid explain``: the registered methods, run on rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ._app import app, console, fail
from ._cluster import on_cluster, to_dask
from ._inputs import (
    DataArg,
    FirstOpt,
    ModelArg,
    NJobsOpt,
    RowsOpt,
    SchedulerOpt,
    TrustOpt,
    check_out,
    check_suffix,
    load_inputs,
)

# The Shapley estimators honour a summarised background's weights; other methods take rows.
WEIGHTED_BACKGROUND = ("exact_shap", "kernel_shap", "permutation_shap")


@app.command()
def methods() -> None:
    """List the registered explanation methods."""
    from .._registry import _METHODS

    table = Table(title="pellucid methods")
    # Names are what users type: never cut them short; the summary wraps instead.
    widest = max(len(name) for name in _METHODS)
    table.add_column("name", no_wrap=True, min_width=widest)
    for col in ("kind", "inputs", "exact"):
        table.add_column(col, no_wrap=True)
    table.add_column("summary")
    for s in _METHODS.values():
        table.add_row(s.name, s.kind, s.inputs, "yes" if s.exact else "", s.summary)
    console.print(table)


@app.command()
def explain(
    model: ModelArg,
    data: DataArg,
    out: Annotated[
        Path, typer.Option(help="Where to write the values: .parquet, .csv or .json (everything).")
    ],
    method: Annotated[
        str, typer.Option(help="A registered attribution method (pellucid methods), or auto.")
    ] = "auto",
    background: Annotated[
        Path | None,
        typer.Option(help="Background data file (.csv/.parquet); default: DATA itself."),
    ] = None,
    background_size: Annotated[
        int, typer.Option(help="Summarise a larger background to this many weighted rows.")
    ] = 100,
    rows: RowsOpt = None,
    first: FirstOpt = None,
    target: Annotated[
        str | None, typer.Option(help="Target column to drop from the data files.")
    ] = None,
    budget: Annotated[
        int | None, typer.Option(help="Coalitions per row for sampled methods.")
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed for sampled methods.")] = 0,
    trust_pickle: TrustOpt = False,
    scheduler: SchedulerOpt = None,
    n_jobs: NJobsOpt = None,
) -> None:
    """Explain rows of a data file (default: all) with a registered attribution method."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .. import _registry
    from ..shapley._explain import choose_method, run_method

    check_suffix(out, (".parquet", ".pq", ".csv", ".json"), ".parquet, .csv or .json")
    check_out(out)
    names = _registry.available(kind="attribution") + _registry.available(kind="rule")
    method = _registry.canonical(method)  # an alias (treeshap) names its registered method
    if method != "auto" and method not in names:
        fail(f"Unknown attribution method {method!r}; available: auto, {', '.join(names)}.")
    inputs = load_inputs(
        model,
        data,
        trust_pickle=trust_pickle,
        target=target,
        background=background,
        rows=rows,
        first=first,
    )
    fitted, X = inputs.model, inputs.rows
    reference = inputs.X if inputs.background is None else inputs.background
    if method == "auto":
        method = choose_method(fitted, X.shape[1])
    if _registry.spec(method).kind == "rule":
        _explain_rules(method, fitted, X, reference, out, random_state)
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        progress.add_task(f"Explaining {len(X)} rows with {method}", total=None)
        bg = _summarised(reference, method, background_size, random_state)
        with on_cluster(scheduler) as client:
            rows_in = X if client is None else to_dask(X, client)
            result = run_method(
                method,
                fitted,
                rows_in,
                bg,
                explain_options={
                    "budget": budget,
                    "random_state": random_state,
                    "n_jobs": n_jobs,
                },
            )
            if result.is_lazy:
                result = result.compute()
    _write_explanation(result, out)
    console.print(
        f"Wrote {result.method or method} values for {result.n_rows} rows x "
        f"{len(result.feature_names)} features to {out}"
    )


def _summarised(reference: Any, method: str, size: int, random_state: int) -> Any:
    """The reference rows, summarised when there are more than ``size``: weighted k-means
    medoids for the Shapley estimators, which honour weights; an equally weighted sample
    for other methods."""
    from ..shapley import summarize

    if len(reference) <= size:
        return reference
    weighted = method in WEIGHTED_BACKGROUND
    bg = summarize(
        reference, size, method="kmeans" if weighted else "sample", random_state=random_state
    )
    return bg if weighted else bg.data


def _write_explanation(result: Any, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix == ".json":
        result.to_json(str(out), indent=None)
        return
    frame = result.to_frame()
    if frame.index.nlevels > 1:
        frame = frame.reset_index()
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(out)
    else:
        frame.to_csv(out, index=False)


def _explain_rules(
    method: str, fitted: Any, X: Any, training: Any, out: Path, random_state: int
) -> None:
    """Rule methods (Anchors): one rule per row, printed and written as JSON or CSV."""
    import pandas as pd

    from .. import _registry

    explainer = _registry.get(method)(fitted, training, random_state=random_state)
    anchors = explainer.explain_rows(X)
    table = Table(title=f"{method}: one rule per row")
    columns = ("row", "rule", "prediction", "precision", "coverage")
    for col in columns:
        table.add_column(col)
    records = [
        {
            "row": row,
            "rule": anchor.rule,
            "prediction": anchor.prediction,
            "precision": anchor.precision,
            "coverage": anchor.coverage,
        }
        for row, anchor in zip(X.index, anchors, strict=True)
    ]
    for r in records:
        table.add_row(
            str(r["row"]),
            r["rule"],
            str(r["prediction"]),
            f"{r['precision']:.3f}",
            f"{r['coverage']:.3f}",
        )
    console.print(table)
    if out.suffix.lower() == ".json":
        out.write_text("[" + ",".join(a.to_json() for a in anchors) + "]", encoding="utf-8")
    elif out.suffix.lower() in (".parquet", ".pq"):
        pd.DataFrame(records).astype({"prediction": str}).to_parquet(out)
    else:
        pd.DataFrame(records).to_csv(out, index=False)
    console.print(f"Wrote {len(anchors)} rules to {out}")
