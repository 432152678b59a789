"""``pellucid importance`` and ``pellucid effects``: global effects of the features."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ._app import app, console, fail
from ._cluster import on_cluster
from ._inputs import (
    DataArg,
    JsonOpt,
    ModelArg,
    NJobsOpt,
    SchedulerOpt,
    TrustOpt,
    load_inputs,
    renamed,
)


def _parse_feature_groups(specs: list[str] | None) -> dict[str, list[str]] | None:
    if not specs:
        return None
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, cols = spec.partition("=")
        if not sep or not name or not cols:
            fail(f"--feature-group takes NAME=col1,col2; got {spec!r}.")
        groups[name] = [c.strip() for c in cols.split(",") if c.strip()]
    return groups


def _fmt(value: Any) -> str:
    return (
        f"{value:.4g}"
        if isinstance(value, (float, int)) and not isinstance(value, bool)
        else str(value)
    )


@app.command()
def importance(
    model: ModelArg,
    data: DataArg,
    target: Annotated[str, typer.Option(help="Name of the target column.")],
    scoring: Annotated[
        str | None, typer.Option(help="scikit-learn scorer name (default: R^2 or accuracy).")
    ] = None,
    n_repeats: Annotated[int, typer.Option(help="Shuffles per feature.")] = 10,
    random_state: Annotated[int, typer.Option(help="Seed.")] = 0,
    n_jobs: NJobsOpt = None,
    feature_group: Annotated[
        list[str] | None,
        typer.Option(help="Permute columns jointly: NAME=col1,col2 (repeatable)."),
    ] = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
    scheduler: SchedulerOpt = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", hidden=True, help="Deprecated: --feature-group."),
    ] = None,
) -> None:
    """Permutation importance of each feature on a labelled data file."""
    from ..effects import permutation_importance

    feature_group = renamed(feature_group, group or None, new="--feature-group", old="--group")
    inputs = load_inputs(model, data, trust_pickle=trust_pickle, target=target)
    with on_cluster(scheduler):
        result = permutation_importance(
            inputs.model,
            inputs.X,
            inputs.y,
            scoring=scoring,
            n_repeats=n_repeats,
            random_state=random_state,
            # on a cluster, fan out over its workers unless told otherwise
            n_jobs=-1 if n_jobs is None and scheduler is not None else n_jobs,
            feature_groups=_parse_feature_groups(feature_group),
        )
    if as_json:
        typer.echo(result.to_json(indent=2))
        return
    table = Table(
        title=f"Permutation importance ({scoring or 'default score'}, {n_repeats} repeats)"
    )
    frame = result.to_frame()
    for col in frame.columns:
        table.add_column(str(col), justify="left" if col == "feature" else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)


@app.command()
def effects(
    model: ModelArg,
    data: DataArg,
    feature: Annotated[
        list[str], typer.Option(help="Feature to explain; give two for a two-way effect.")
    ],
    method: Annotated[str, typer.Option(help="pd (partial dependence), ice or ale.")] = "pd",
    target: Annotated[
        str | None, typer.Option(help="Target column to drop from the data, if present.")
    ] = None,
    grid_resolution: Annotated[
        int | None,
        typer.Option(help="Grid points per feature (pd, ice); default: the library's, 100."),
    ] = None,
    bins: Annotated[
        int | None, typer.Option(help="Quantile bins (ale); default: the library's, 20.")
    ] = None,
    n_jobs: Annotated[int | None, typer.Option(help="Parallel workers.")] = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Partial dependence, ICE or ALE of one feature (or two) on a data file."""
    from ..effects import ale, partial_dependence

    if method not in ("pd", "ice", "ale"):
        fail(f"--method must be pd, ice or ale; got {method!r}.")
    inputs = load_inputs(
        model, data, trust_pickle=trust_pickle, target=target, target_if_present=True
    )
    features = feature[0] if len(feature) == 1 else list(feature)
    # Unset sizes are left to the library, so the command and Python agree by default.
    sizes: dict[str, Any]
    if method == "ale":
        sizes = {} if bins is None else {"bins": bins}
        result = ale(inputs.model, inputs.X, features, n_jobs=n_jobs, **sizes)
    else:
        sizes = {} if grid_resolution is None else {"grid_resolution": grid_resolution}
        result = partial_dependence(
            inputs.model,
            inputs.X,
            features,
            kind="both" if method == "ice" else "average",
            n_jobs=n_jobs,
            **sizes,
        )
    if as_json:
        typer.echo(result.to_json(indent=2))
        return
    _print_effect(result, method)


def _print_effect(result: Any, method: str) -> None:
    long = result.to_frame()
    if result.output_names is None:
        long["output"] = "value"
    wide = long.pivot_table(
        index=list(result.features), columns="output", values="value", sort=False
    ).reset_index()
    title = {"pd": "Partial dependence", "ice": "Partial dependence (mean of ICE)", "ale": "ALE"}
    table = Table(title=f"{title[method]} of {', '.join(result.features)}")
    for col in wide.columns:
        table.add_column(str(col), justify="right")
    for row in wide.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)
