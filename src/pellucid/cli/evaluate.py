"""``pellucid evaluate`` and ``pellucid compare``: how well models perform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._app import app, console, fail
from ._inputs import (
    DataArg,
    GroupAlias,
    JsonOpt,
    ModelArg,
    SeedAlias,
    SubgroupOpt,
    TrustOpt,
    check_column,
    check_out,
    check_suffix,
    load_inputs,
    read_data,
    renamed,
    split_target,
)


@app.command()
def evaluate(
    model: ModelArg,
    data: DataArg,
    target: Annotated[str, typer.Option(help="Name of the target column.")],
    subgroup: SubgroupOpt = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
    group: GroupAlias = None,
) -> None:
    """Evaluate a model on a labelled data file."""
    from .._terminal import metrics_table
    from ..metrics import evaluate as evaluate_

    subgroup = renamed(subgroup, group, new="--subgroup", old="--group")
    inputs = load_inputs(model, data, trust_pickle=trust_pickle, target=target, subgroup=subgroup)
    result = evaluate_(inputs.model, inputs.X, inputs.y, subgroups=subgroup)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=float))
    else:
        console.print(metrics_table(result, f"Evaluation of {model.name} on {data.name}"))


def _model_names(paths: list[Path], names: list[str] | None) -> list[str]:
    """The models' names: the --name options, else the file stems (made distinct)."""
    if names:
        if len(names) != len(paths):
            fail(f"Got {len(names)} --name for {len(paths)} models; give one per model or none.")
        if len(set(names)) != len(names):
            fail(f"--name values must be distinct; got {names}.")
        return list(names)
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{stem} ({i + 1})" for i, stem in enumerate(stems)]


@app.command("compare")
def compare_models(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Two or more model files, then the data file: MODEL MODEL [MODEL...] DATA.",
            show_default=False,
        ),
    ],
    target: Annotated[str, typer.Option(help="Name of the target column (binary).")],
    name: Annotated[
        list[str] | None,
        typer.Option("--name", help="A model's name, once per model in order (default: stems)."),
    ] = None,
    subgroup: Annotated[
        str | None,
        typer.Option("--subgroup", help="Column whose groups' metric gaps are compared."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Predict positive at P(positive) >= this (default: the likelier class)."),
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed for the bootstrap and sampling.")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples.")] = 1000,
    out: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML comparison here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the comparison as JSON (ModelComparison).")
    ] = False,
    trust_pickle: TrustOpt = False,
    group: GroupAlias = None,
    seed: SeedAlias = None,
) -> None:
    """Compare models on one labelled data file: metrics with intervals, paired tests,
    calibration, group gaps and explanation agreement. The first model is the reference."""
    from .._io import load_model
    from ..comparison import compare
    from ..reporting._compare_render import comparison_record

    subgroup = renamed(subgroup, group, new="--subgroup", old="--group")
    random_state = renamed(random_state, seed, new="--random-state", old="--seed", default=0)
    if len(files) < 3:
        fail(
            f"compare needs at least two model files and a data file; got {len(files)} "
            f"path(s): {[str(f) for f in files]}."
        )
    model_paths, data_path = files[:-1], files[-1]
    labels = _model_names(model_paths, name)
    if out is not None:
        check_suffix(out, (".html", ".htm"), ".html")
        check_out(out)
    fitted = {
        n: load_model(p, trust_pickle=trust_pickle)
        for n, p in zip(labels, model_paths, strict=True)
    }
    X, y = split_target(read_data(data_path, fitted.values()), target)
    check_column(X, subgroup, "Subgroup")
    result = compare(
        fitted,
        X,
        y,
        subgroups=subgroup,
        threshold=threshold,
        n_boot=n_boot,
        random_state=random_state,
    )
    if out is not None:
        sources = {
            "model files": {n: str(p) for n, p in zip(labels, model_paths, strict=True)},
            "data file": f"{data_path} (target {target!r})",
        }
        record = comparison_record(result, models=fitted, X=X, y=y, sources=sources)
        result.save_html(out, record=record)
    if as_json:
        print(result.to_json())
        return
    for line in result.verdicts():
        console.print(line)
    if out is not None:
        console.print(f"Comparison written to [bold]{out}[/]")
