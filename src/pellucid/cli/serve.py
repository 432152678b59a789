"""``pellucid serve`` (the HTTP service) and ``pellucid explore`` (its explorer page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import app, console, fail
from ._inputs import DataArg, ModelArg, TrustOpt, load_inputs

PortOpt = Annotated[int, typer.Option(help="Port to listen on.")]
HostOpt = Annotated[str, typer.Option(help="Interface to bind (default loopback only).")]


def _server_parts(port: int) -> tuple[Any, Any]:
    """``create_app`` and ``run_server``, once the port is checked and the extra is there."""
    if not 0 < port < 65536:
        fail(f"--port must be from 1 to 65535; got {port}.")
    try:
        import uvicorn  # noqa: F401  (checked here, used by run_server)

        from ..serve import create_app
        from ..serve._run import run_server
    except ImportError as exc:
        fail(f"{exc}. Install the service extra: pip install 'pellucid[serve]'.")
    return create_app, run_server


@app.command()
def serve(
    model: ModelArg,
    background: Annotated[
        Path, typer.Option(help="Training/background data (.csv/.parquet): the input schema.")
    ],
    port: PortOpt = 8000,
    host: HostOpt = "127.0.0.1",
    api_key: Annotated[
        str | None,
        typer.Option(
            help="Require this key (header X-API-Key). Better kept off the command line: "
            "--api-key-file, or the environment variable PELLUCID_API_KEY (or "
            "PELLUCID_API_KEY_FILE naming a file)."
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the key to require (its content, stripped)."),
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
    max_cost: Annotated[
        int | None,
        typer.Option(
            help="Most model evaluations one request may cost (rows x evaluations per row, "
            "shown by GET /model); costlier requests are answered 413 before any work. "
            "Default: the service's; 0: no limit."
        ),
    ] = None,
    trust_pickle: TrustOpt = False,
    ui: Annotated[
        bool, typer.Option("--ui", help="Also serve the explorer page at / (over BACKGROUND).")
    ] = False,
) -> None:
    """Serve predictions, explanations and reasons over HTTP (FastAPI + uvicorn)."""
    for name, value in (("--max-rows", max_rows), ("--max-body-bytes", max_body_bytes)):
        if value < 1:
            fail(f"{name} must be at least 1; got {value}.")
    limits: dict[str, Any] = {}
    if max_cost is not None:
        if max_cost < 0:
            fail(f"--max-cost must be 0 (no limit) or more; got {max_cost}.")
        limits["max_cost"] = max_cost or None
    create_app, run_server = _server_parts(port)
    inputs = load_inputs(model, background, trust_pickle=trust_pickle, target=target)
    metrics = None
    if inputs.y is not None:
        from ..metrics import evaluate as evaluate_

        metrics = evaluate_(inputs.model, inputs.X, inputs.y).to_dict()
    app_ = create_app(
        inputs.model,
        inputs.X,
        api_key=api_key,
        api_key_file=api_key_file,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        explainer=method,
        reasons={"exclude": exclude or []},
        metrics=metrics,
        ui=ui,
        explore_target=inputs.y if ui else None,
        **limits,
    )
    page = " and the explorer at /" if ui else ""
    console.print(f"Serving {model.name} on http://{host}:{port} (docs at /docs{page})")
    run_server(app_, host=host, port=port)


@app.command()
def explore(
    model: ModelArg,
    data: DataArg,
    target: Annotated[
        str | None, typer.Option(help="Target column of DATA: dropped, and errors are shown.")
    ] = None,
    background: Annotated[
        Path | None, typer.Option(help="Background data for the explainers (default: DATA).")
    ] = None,
    port: PortOpt = 8000,
    host: HostOpt = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
    method: Annotated[str, typer.Option(help="Attribution method or 'auto'.")] = "auto",
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="Require the key in this file (the page asks for it)."),
    ] = None,
    trust_pickle: TrustOpt = False,
) -> None:
    """Explore the model's decisions in a browser: rows, why, what if, compare (offline)."""
    create_app, run_server = _server_parts(port)
    inputs = load_inputs(
        model, data, trust_pickle=trust_pickle, target=target, background=background
    )
    app_ = create_app(
        inputs.model,
        inputs.X if inputs.background is None else inputs.background,
        api_key_file=api_key_file,
        explainer=method,
        explore_rows=inputs.X,
        explore_target=inputs.y,
    )
    url = f"http://{host}:{port}/"
    console.print(f"Explorer for {model.name} at {url} ({len(inputs.X):,} rows; Ctrl+C to stop)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    run_server(app_, host=host, port=port)
