"""``pellucid report`` (the HTML report) and ``pellucid demo`` (the job that writes one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import app, console, fail, note
from ._cluster import on_cluster
from ._inputs import (
    DataArg,
    FirstOpt,
    GroupAlias,
    ModelArg,
    SchedulerOpt,
    SeedAlias,
    SubgroupOpt,
    TrustOpt,
    check_out,
    load_inputs,
    renamed,
)


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as JSON numbers where they are numbers."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--set takes KEY=VALUE, e.g. --set shap_rows=200; got {pair!r}.")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _chosen_methods(method: list[str] | None, old_methods: str | None) -> Any:
    """``--method`` (repeatable) or the deprecated ``--methods a,b``: 'auto' or a list."""
    names = list(method or [])
    if old_methods is not None:
        note(
            "--methods is deprecated and will be removed in the next release; "
            "use --method once per method."
        )
        if names:
            fail(f"--method {names} and --methods {old_methods!r} both given; give --method only.")
        names = [m.strip() for m in old_methods.split(",") if m.strip()]
    if not names or names == ["auto"]:
        return "auto"
    if "auto" in names:
        fail(f"--method auto stands alone; got {names}.")
    return names


@app.command()
def report(
    model: ModelArg,
    data: DataArg,
    target: Annotated[
        str | None, typer.Option(help="Name of the target column (omit to skip performance).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    rows: Annotated[
        str | None,
        typer.Option(help="Rows to explain locally: positions, e.g. 0,5,9 (the first is 0)."),
    ] = None,
    first: FirstOpt = None,
    background: Annotated[
        Path | None, typer.Option(help="Reference rows (.csv/.parquet); default: rows of DATA.")
    ] = None,
    subgroup: SubgroupOpt = None,
    method: Annotated[
        list[str] | None,
        typer.Option(help="Use only this method (repeatable); default: auto."),
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed for every sampled method.")] = 0,
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a size, e.g. --set shap_rows=200 (repeatable; see "
            "pellucid.reporting.DEFAULT_SETTINGS).",
        ),
    ] = None,
    trust_pickle: TrustOpt = False,
    scheduler: SchedulerOpt = None,
    group: GroupAlias = None,
    seed: SeedAlias = None,
    old_methods: Annotated[
        str | None,
        typer.Option("--methods", hidden=True, help="Deprecated: --method, repeated."),
    ] = None,
) -> None:
    """Write a self-contained HTML report: data, performance, importance, effects, SHAP,
    local explanations and a reproducibility record."""
    from .._terminal import write_report

    subgroup = renamed(subgroup, group, new="--subgroup", old="--group")
    random_state = renamed(random_state, seed, new="--random-state", old="--seed", default=0)
    chosen = _chosen_methods(method, old_methods)
    settings = _parse_settings(setting or [])
    check_out(out, makes_folder=True)  # the report creates its folder
    inputs = load_inputs(
        model,
        data,
        trust_pickle=trust_pickle,
        target=target,
        background=background,
        subgroup=subgroup,
        rows=rows,
        first=first,
    )
    with on_cluster(scheduler):
        path = write_report(
            inputs.model,
            inputs.X,
            inputs.y,
            out,
            console=console,
            background=inputs.background,
            rows=inputs.picked,
            methods=chosen,
            subgroups=subgroup,
            random_state=random_state,
            title=title,
            settings=settings,
        )
    console.print(f"Report written to [bold]{path}[/]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out"),
    n_rows: Annotated[int, typer.Option(help="Rows of synthetic credit data.")] = 5000,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Every step, with the report on samples a few times smaller: seconds, not minutes.",
        ),
    ] = False,
) -> None:
    """The main job on bundled data: train a credit model, evaluate and explain it."""
    from .. import demo as demo_

    if out.exists() and not out.is_dir():
        fail(f"--out {str(out)!r} is a file; give a folder for the demo's outputs.")
    demo_.run(out=out, n_rows=n_rows, console=console, quick=quick)
