"""The ``pellucid`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="pellucid",
    help="Explain any machine-learning model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

ModelArg = Annotated[
    Path, typer.Argument(help="Model file (.skops, .json/.ubj, .txt, .cbm, .joblib).")
]
DataArg = Annotated[Path, typer.Argument(help="Data file (.csv or .parquet).")]
TrustOpt = Annotated[
    bool,
    typer.Option("--trust-pickle", help="Allow loading joblib/pickle files (runs their code)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=2)


def _load(model_path: Path, data_path: Path, trust_pickle: bool) -> tuple[Any, Any]:
    from ._io import load_data, load_model

    try:
        return load_model(model_path, trust_pickle=trust_pickle), load_data(data_path)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers content


def _split_target(data: Any, target: str) -> tuple[Any, Any]:
    if target not in data.columns:
        _fail(f"Target column {target!r} is not in the data; columns: {list(data.columns)}.")
    return data.drop(columns=[target]), data[target]


def _metrics_table(evaluation: Any, title: str) -> Table:
    frame = evaluation.to_frame()
    table = Table(title=title)
    table.add_column("metric")
    for group in frame.index:
        table.add_column(str(group), justify="right")
    for metric in frame.columns:
        table.add_row(metric, *[f"{v:.4g}" for v in frame[metric]])
    return table


@app.command()
def evaluate(
    model: ModelArg,
    data: DataArg,
    target: Annotated[str, typer.Option(help="Name of the target column.")],
    group: Annotated[
        str | None, typer.Option(help="Column to report metrics per subgroup.")
    ] = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a model on a labelled data file."""
    from ._data import DataError
    from .metrics import evaluate as evaluate_

    fitted, frame = _load(model, data, trust_pickle)
    X, y = _split_target(frame, target)
    try:
        result = evaluate_(fitted, X, y, groups=group)
    except DataError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=float))
    else:
        console.print(_metrics_table(result, f"Evaluation of {model.name} on {data.name}"))


@app.command()
def methods() -> None:
    """List the registered explanation methods."""
    from ._registry import _METHODS

    table = Table(title="pellucid methods")
    for col in ("name", "kind", "inputs", "exact", "summary"):
        table.add_column(col)
    for s in _METHODS.values():
        table.add_row(s.name, s.kind, s.inputs, "yes" if s.exact else "", s.summary)
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out"),
    n_rows: Annotated[int, typer.Option(help="Rows of synthetic credit data.")] = 5000,
) -> None:
    """The main job on bundled data: train a credit model, evaluate and explain it."""
    from . import demo as demo_

    demo_.run(out=out, n_rows=n_rows, console=console)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
