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


# ---------------------------------------------------------------- issue 11: reasons, serve


def _explain_for_reasons(model: Any, X: Any, background: Any, method: str) -> Any:
    from ._model import as_model
    from .regulatory._explainers import (
        background_sample,
        build_explainer,
        choose_method,
        explain_rows,
    )

    m = as_model(model)
    name = choose_method(m, X.shape[1]) if method == "auto" else method
    return explain_rows(build_explainer(name, m, background_sample(background, 100)), X)


@app.command()
def reasons(
    model: ModelArg,
    data: DataArg,
    k: Annotated[int, typer.Option(help="Reasons per row.")] = 4,
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
    target: Annotated[
        str | None, typer.Option(help="Target column to drop from DATA, if present.")
    ] = None,
    background: Annotated[
        Path | None, typer.Option(help="Background data (default: DATA itself).")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Which output means decline (default: positive class).")
    ] = None,
    trust_pickle: TrustOpt = False,
) -> None:
    """Principal reasons per row (adverse-action reason codes) as a CSV."""
    from ._data import DataError
    from ._io import load_data
    from .regulatory import reason_codes

    fitted, frame = _load(model, data, trust_pickle)
    if target is not None:
        frame, _ = _split_target(frame, target)
    try:
        bg = frame if background is None else load_data(background)
        if target is not None and target in bg.columns:
            bg = bg.drop(columns=[target])
        explanation = _explain_for_reasons(fitted, frame, bg, method)
        table = reason_codes(
            explanation,
            k=k,
            direction=direction,
            exclude=exclude,
            output=output,
            reference=bg,
        )
    except (DataError, ValueError, LookupError, FileNotFoundError) as exc:
        _fail(str(exc))
    table.insert(1, "index", frame.index.to_numpy()[table["row"].to_numpy()])
    table.to_csv(out, index=False)
    console.print(f"Wrote {len(table)} reasons for {len(frame)} rows to {out}")


@app.command()
def serve(
    model: ModelArg,
    background: Annotated[
        Path, typer.Option(help="Training/background data (.csv/.parquet): the input schema.")
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Interface to bind (default loopback only).")
    ] = "127.0.0.1",
    api_key: Annotated[
        str | None,
        typer.Option(envvar="PELLUCID_API_KEY", help="Require this key (header X-API-Key)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Target column of the background data: dropped, and used for /model metrics."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="Default attribution method or 'auto'.")] = "auto",
    exclude: Annotated[
        list[str] | None, typer.Option(help="Feature never given as a reason (repeatable).")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Most rows per request.")] = 1000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 1_000_000,
    trust_pickle: TrustOpt = False,
) -> None:
    """Serve predictions, explanations and reasons over HTTP (FastAPI + uvicorn)."""
    from ._data import DataError

    try:
        import uvicorn

        from .serve import create_app
    except ImportError as exc:
        _fail(f"{exc}. Install the service extra: pip install 'pellucid[serve]'.")
    fitted, frame = _load(model, background, trust_pickle)
    metrics = None
    try:
        if target is not None:
            frame, y = _split_target(frame, target)
            from .metrics import evaluate as evaluate_

            metrics = evaluate_(fitted, frame, y).to_dict()
        app_ = create_app(
            fitted,
            frame,
            api_key=api_key,
            max_rows=max_rows,
            max_body_bytes=max_body_bytes,
            explainer=method,
            reasons={"exclude": exclude or []},
            metrics=metrics,
        )
    except (DataError, ValueError, LookupError) as exc:
        _fail(str(exc))
    console.print(f"Serving {model.name} on http://{host}:{port} (docs at /docs)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
