"""The ``pellucid`` command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

console = Console()
# Errors (and only errors) go to stderr, one line each, so scripts can tell them apart.
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

# What a user can cause: a bad file, column, value or option. Anything else is
# a bug in pellucid and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError, OSError)
# Option and argument errors: click's ClickException, found through typer (recent typer
# bundles its own copy of click, so ``import click`` would catch the wrong class).
CLICK_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _one_line(exc: BaseException) -> str:
    """An exception as one line: its lines joined, KeyError's quotes kept meaningful."""
    if isinstance(exc, CLICK_ERRORS):
        text = exc.format_message()  # type: ignore[attr-defined]
    elif isinstance(exc, KeyError) and exc.args:
        text = f"not found: {exc.args[0]!r}"
    else:
        text = str(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {str(exc.filename)!r}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) or type(exc).__name__


class _Commands(TyperGroup):
    """The command group with one error boundary: a user error in any command (or in its
    options) prints one line on stderr and exits 2, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CLICK_ERRORS as exc:
            command = f" {ctx.invoked_subcommand}" if ctx.invoked_subcommand else ""
            _fail(f"{_one_line(exc)} (see: pellucid{command} --help)")
        except USER_ERRORS as exc:
            _fail(_one_line(exc))


app = typer.Typer(
    name="pellucid",
    help="Explain any machine-learning model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Commands,
)

ModelArg = Annotated[
    Path, typer.Argument(help="Model file (.skops, .json/.ubj, .txt, .cbm, .joblib).")
]
DataArg = Annotated[Path, typer.Argument(help="Data file (.csv or .parquet).")]
TrustOpt = Annotated[
    bool,
    typer.Option("--trust-pickle", help="Allow loading joblib/pickle files (runs their code)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (e.g. tcp://10.0.0.5:8786): run the work on that cluster.",
    ),
]
NJobsOpt = Annotated[
    int | None,
    typer.Option("--n-jobs", help="Parallel jobs on this machine (-1: all cores; default auto)."),
]


@contextmanager
def _on_cluster(scheduler: str | None) -> Iterator[Any]:
    """Connect to a Dask scheduler and route joblib work to it; yield the client or None."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        _fail("--scheduler needs dask[distributed]: pip install 'pellucid[dask]'.")
        raise
    try:
        client = Client(scheduler)  # waits distributed.comm.timeouts.connect
    except (OSError, ValueError) as exc:
        _fail(f"Cannot connect to the Dask scheduler at {scheduler!r}: {exc}")
        raise
    try:
        with parallel_config(backend="dask"):
            yield client
    finally:
        client.close()


def _to_dask(frame: Any, client: Any) -> Any:
    """Partition rows for the cluster: a few partitions per worker, at most 50,000 rows each."""
    import dask.dataframe as dd

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = max(2 * workers, -(-len(frame) // 50_000))
    return dd.from_pandas(frame, npartitions=max(1, min(parts, len(frame))))


def _fail(message: str) -> NoReturn:
    # One line on stderr (soft_wrap: long paths and values stay whole, to be copied and
    # grepped); the message is plain text, so "[...]" in it is not read as markup.
    flat = " ".join(line.strip() for line in message.splitlines() if line.strip())
    err_console.print(Text.assemble(("error: ", "bold red"), flat))
    raise typer.Exit(code=2)


def _load(model_path: Path, data_path: Path, trust_pickle: bool) -> tuple[Any, Any]:
    """The model and the data file, with the categories a CSV lost restored from the model."""
    from ._io import load_data, load_model, restore_categories

    fitted = load_model(model_path, trust_pickle=trust_pickle)
    return fitted, restore_categories(fitted, load_data(data_path))


def _load_background(path: Path | None, fitted: Any, target: str | None) -> Any:
    """A second data file (reference rows), without the target column; None when not given."""
    from ._io import load_data, restore_categories

    if path is None:
        return None
    frame = restore_categories(fitted, load_data(path))
    if target is not None and target in frame.columns:
        frame = frame.drop(columns=[target])
    return frame


def _check_column(frame: Any, column: str | None, what: str) -> None:
    if column is not None and column not in frame.columns:
        _fail(f"{what} column {column!r} is not in the data; columns: {list(frame.columns)}.")


def _check_out(out: Path, *, makes_folder: bool = False) -> None:
    """Refuse an output path before computing anything, not after."""
    if out.exists() and out.is_dir():
        _fail(f"--out {str(out)!r} is a folder; give a file name.")
    if not makes_folder and not out.parent.is_dir():
        _fail(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist.")


def _split_target(data: Any, target: str) -> tuple[Any, Any]:
    _check_column(data, target, "Target")
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
    from .metrics import evaluate as evaluate_

    fitted, frame = _load(model, data, trust_pickle)
    X, y = _split_target(frame, target)
    _check_column(X, group, "Group")
    result = evaluate_(fitted, X, y, groups=group)
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


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as JSON numbers where they are numbers."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"--set takes KEY=VALUE, e.g. --set shap_rows=200; got {pair!r}.")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def write_report(
    fitted: Any,
    X: Any,
    y: Any,
    out: Path,
    *,
    console_: Console | None = None,
    **options: Any,
) -> Path:
    """Compute and render a report with a progress bar over its sections; return its path."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .reporting import SECTIONS, Report, compute

    with Progress(
        TextColumn("[bold]report[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console_ or console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=len(SECTIONS) + 1)
        done = {"n": 0}

        def step(key: str, title: str) -> None:
            progress.update(task, completed=done["n"], description=title)
            done["n"] += 1

        results = compute(fitted, X, y, progress=step, **options)
        progress.update(task, completed=len(SECTIONS), description="Rendering the HTML")
        path = Report(results).save(out)
        progress.update(task, completed=len(SECTIONS) + 1, description="Done")
    return path


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
        str | None, typer.Option(help="Rows to explain locally, e.g. 0,5,9 (positions).")
    ] = None,
    background: Annotated[
        Path | None, typer.Option(help="Reference rows (.csv/.parquet); default: rows of DATA.")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Column to report metrics per subgroup.")
    ] = None,
    methods: Annotated[
        str, typer.Option(help="'auto', or comma-separated method names to use only those.")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="random_state for every sampled method.")] = 0,
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
) -> None:
    """Write a self-contained HTML report: data, performance, importance, effects, SHAP,
    local explanations and a reproducibility record."""
    _check_out(out, makes_folder=True)  # the report creates its folder
    fitted, frame = _load(model, data, trust_pickle)
    X, y = _split_target(frame, target) if target else (frame, None)
    _check_column(X, group, "Group")
    bg = _load_background(background, fitted, target)
    chosen: Any = "auto" if methods == "auto" else [m.strip() for m in methods.split(",") if m]
    with _on_cluster(scheduler):
        path = write_report(
            fitted,
            X,
            y,
            out,
            background=bg,
            rows=_parse_rows(rows, len(X)),
            methods=chosen,
            groups=group,
            random_state=seed,
            title=title,
            settings=_parse_settings(setting or []),
        )
    console.print(f"Report written to [bold]{path}[/]")


def _model_names(paths: list[Path], names: list[str] | None) -> list[str]:
    """The models' names: the --name options, else the file stems (made distinct)."""
    if names:
        if len(names) != len(paths):
            _fail(f"Got {len(names)} --name for {len(paths)} models; give one per model or none.")
        if len(set(names)) != len(names):
            _fail(f"--name values must be distinct; got {names}.")
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
    group: Annotated[
        str | None, typer.Option(help="Column whose groups' metric gaps are compared.")
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Predict positive at P(positive) >= this (default: the likelier class)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="random_state for the bootstrap and sampling.")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples.")] = 1000,
    out: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML comparison here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the comparison as JSON (ModelComparison).")
    ] = False,
    trust_pickle: TrustOpt = False,
) -> None:
    """Compare models on one labelled data file: metrics with intervals, paired tests,
    calibration, group gaps and explanation agreement. The first model is the reference."""
    from ._io import load_data, load_model, restore_categories
    from .comparison import compare
    from .reporting._compare_render import comparison_record

    if len(files) < 3:
        _fail(
            f"compare needs at least two model files and a data file; got {len(files)} "
            f"path(s): {[str(f) for f in files]}."
        )
    model_paths, data_path = files[:-1], files[-1]
    labels = _model_names(model_paths, name)
    if out is not None:
        if out.suffix.lower() not in (".html", ".htm"):
            _fail(f"--out must end in .html; got {out.name!r}.")
        _check_out(out)
    fitted = {
        n: load_model(p, trust_pickle=trust_pickle)
        for n, p in zip(labels, model_paths, strict=True)
    }
    frame = load_data(data_path)
    for model in fitted.values():  # categories a CSV lost, as each model stored them
        frame = restore_categories(model, frame)
    X, y = _split_target(frame, target)
    _check_column(X, group, "Group")
    result = compare(
        fitted, X, y, groups=group, threshold=threshold, n_boot=n_boot, random_state=seed
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's outputs.")] = Path("out"),
    n_rows: Annotated[int, typer.Option(help="Rows of synthetic credit data.")] = 5000,
) -> None:
    """The main job on bundled data: train a credit model, evaluate and explain it."""
    from . import demo as demo_

    if out.exists() and not out.is_dir():
        _fail(f"--out {str(out)!r} is a file; give a folder for the demo's outputs.")
    demo_.run(out=out, n_rows=n_rows, console=console)


# ---------------------------------------------------------------- reasons, serve


# The Shapley estimators honour a summarised background's weights; other methods take rows.
WEIGHTED_BACKGROUND = ("exact_shap", "kernel_shap", "permutation_shap")


def _explain_for_reasons(model: Any, X: Any, background: Any, method: str) -> Any:
    """``pellucid.explain`` with a fixed seed; a given background is summarised to 100 rows.

    A sampled method explains each row with a seed from the row's content
    (``explain_each_row``): a person's reasons never depend on who else is in
    the file, or where.
    """
    from ._model import as_model
    from .regulatory._explainers import (
        build_explainer,
        explain_rows,
        fallback_method,
        is_sampled_method,
    )
    from .shapley import explain as explain_
    from .shapley import summarize
    from .shapley._explain import choose_method

    if background is not None:
        background = summarize(background, 100, random_state=0)

    def explain_people(name: str) -> Any:
        chosen = choose_method(model, X.shape[1]) if name == "auto" else name
        if not is_sampled_method(chosen):
            return explain_(model, X, background, method=name, random_state=0)
        # Built once, as the service builds it, then fed one row at a time: one row
        # alone cannot be its own background, so the reference rows are fixed first.
        bg = summarize(X, 100, random_state=0) if background is None else background
        bg = bg if chosen in WEIGHTED_BACKGROUND else bg.data
        return explain_rows(build_explainer(chosen, as_model(model), bg), X, random_state=0)

    try:
        return explain_people(method)
    except (TypeError, ValueError) as exc:
        # "auto" may pick a method that cannot read this model (TreeShap and string
        # categories, say): fall back to the model-agnostic choice, as the service does.
        if method != "auto":
            raise
        console.print(
            f"[yellow]note:[/] the first choice of method failed ({exc}); using a fallback"
        )
        return explain_people(fallback_method(X.shape[1]))


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
    rows: Annotated[
        str | None, typer.Option(help="Only these row positions, e.g. 0,5,9 (default: all).")
    ] = None,
    trust_pickle: TrustOpt = False,
) -> None:
    """Principal reasons per row (adverse-action reason codes) as a CSV."""
    from .regulatory import reason_codes

    _check_out(out)
    fitted, frame = _load(model, data, trust_pickle)
    if target is not None:
        frame, _ = _split_target(frame, target)
    picked = _parse_rows(rows, len(frame))
    bg = _load_background(background, fitted, target)
    if picked is not None:
        # the background stays the whole data set, not just the chosen rows
        bg = frame if bg is None else bg
        frame = frame.iloc[picked]
    explanation = _explain_for_reasons(fitted, frame, bg, method)
    table = reason_codes(
        explanation,
        k=k,
        direction=direction,
        exclude=exclude,
        output=output,
        reference=frame if bg is None else bg,
    )
    table.insert(1, "index", frame.index.to_numpy()[table["row"].to_numpy()])
    table.to_csv(out, index=False)
    console.print(f"Wrote {len(table)} reasons for {len(frame)} rows to {out}")


def _parse_columns(text: str | None, frame: Any, option: str) -> list[str]:
    """Comma-separated column names, each checked against the data."""
    if not text:
        return []
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        _fail(f"{option} names {unknown}, not in the data; columns: {list(frame.columns)}.")
    return names


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
            _fail(f"--desired range must be low,high (an end may be empty); got {text!r}.")
    classes = [] if model.classes is None else list(model.classes)
    for c in classes:
        if str(c) == text:
            return c
    _fail(f"--desired {text!r} is not one of the model's classes {[str(c) for c in classes]}.")


@app.command()
def counterfactual(
    model: ModelArg,
    data: DataArg,
    target: Annotated[
        str | None, typer.Option(help="Target column to drop from DATA, if present.")
    ] = None,
    immutable: Annotated[
        str | None, typer.Option(help="Columns that may not change, e.g. sex,age.")
    ] = None,
    rows: Annotated[
        str | None, typer.Option(help="Row positions to explain, e.g. 0,5 (default: all).")
    ] = None,
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
    """What would change each decision: the cheapest allowed changes, with certificates."""
    from ._model import as_model
    from .counterfactual import Counterfactuals

    if out is not None:
        if out.suffix.lower() not in (".csv", ".json"):
            _fail(f"--out must end in .csv or .json; got {out.name!r}.")
        _check_out(out)
    if k < 1:
        _fail(f"--k must be at least 1; got {k}.")
    fitted, frame = _load(model, data, trust_pickle)
    if target is not None:
        frame, _ = _split_target(frame, target)
    fixed = _parse_columns(immutable, frame, "--immutable")
    picked = _parse_rows(rows, len(frame))
    X = frame if picked is None else frame.iloc[picked]
    explainer = Counterfactuals(fitted, frame, immutable=fixed, time_limit=time_limit)
    result = explainer.explain(X, desired=_parse_desired(desired, as_model(fitted)), k=k)
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
    if not 0 < port < 65536:
        _fail(f"--port must be from 1 to 65535; got {port}.")
    for name, value in (("--max-rows", max_rows), ("--max-body-bytes", max_body_bytes)):
        if value < 1:
            _fail(f"{name} must be at least 1; got {value}.")
    limits: dict[str, Any] = {}
    if max_cost is not None:
        if max_cost < 0:
            _fail(f"--max-cost must be 0 (no limit) or more; got {max_cost}.")
        limits["max_cost"] = max_cost or None
    try:
        import uvicorn  # noqa: F401  (checked here, used by run_server)

        from .serve import create_app
        from .serve._run import run_server
    except ImportError as exc:
        _fail(f"{exc}. Install the service extra: pip install 'pellucid[serve]'.")
    fitted, frame = _load(model, background, trust_pickle)
    metrics = None
    if target is not None:
        frame, y = _split_target(frame, target)
        from .metrics import evaluate as evaluate_

        metrics = evaluate_(fitted, frame, y).to_dict()
    app_ = create_app(
        fitted,
        frame,
        api_key=api_key,
        api_key_file=api_key_file,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        explainer=method,
        reasons={"exclude": exclude or []},
        metrics=metrics,
        ui=ui,
        explore_target=y if ui and target is not None else None,
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
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[
        str, typer.Option(help="Interface to bind (default loopback only).")
    ] = "127.0.0.1",
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
    if not 0 < port < 65536:
        _fail(f"--port must be from 1 to 65535; got {port}.")
    try:
        import uvicorn  # noqa: F401  (checked here, used by run_server)

        from .serve import create_app
        from .serve._run import run_server
    except ImportError as exc:
        _fail(f"{exc}. Install the service extra: pip install 'pellucid[serve]'.")
    fitted, frame = _load(model, data, trust_pickle)
    y = None
    if target is not None:
        frame, y = _split_target(frame, target)
    reference = _load_background(background, fitted, target)
    app_ = create_app(
        fitted,
        frame if reference is None else reference,
        api_key_file=api_key_file,
        explainer=method,
        explore_rows=frame,
        explore_target=y,
    )
    url = f"http://{host}:{port}/"
    console.print(f"Explorer for {model.name} at {url} ({len(frame):,} rows; Ctrl+C to stop)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    run_server(app_, host=host, port=port)


# --- the generic explain command --------------------------------------------


def _parse_rows(rows: str | None, n: int) -> list[int] | None:
    if rows is None:
        return None
    try:
        picked = [int(r) for r in rows.split(",") if r.strip()]
    except ValueError:
        _fail(f"--rows must be comma-separated row positions like 0,5,9; got {rows!r}.")
        raise
    bad = [r for r in picked if not 0 <= r < n]
    if bad:
        _fail(f"--rows {bad} out of range: the data has {n} rows (positions 0..{n - 1}).")
    return picked


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
    rows: Annotated[
        str | None, typer.Option(help="Row positions to explain, e.g. 0,5,9; default all.")
    ] = None,
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
    """Explain rows of a data file with a registered attribution method."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from . import _registry
    from .shapley import summarize
    from .shapley._explain import choose_method, run_method

    if out.suffix.lower() not in (".parquet", ".pq", ".csv", ".json"):
        _fail(f"--out must end in .parquet, .csv or .json; got {out.name!r}.")
    _check_out(out)
    names = _registry.available(kind="attribution") + _registry.available(kind="rule")
    if method != "auto" and method not in names:
        _fail(f"Unknown attribution method {method!r}; available: auto, {', '.join(names)}.")
    fitted, frame = _load(model, data, trust_pickle)
    if target is not None:
        frame, _ = _split_target(frame, target)
    loaded_bg = _load_background(background, fitted, target)
    bg_frame = frame if loaded_bg is None else loaded_bg
    picked = _parse_rows(rows, len(frame))
    X = frame if picked is None else frame.iloc[picked]
    if method == "auto":
        method = choose_method(fitted, X.shape[1])
    if _registry.spec(method).kind == "rule":
        _explain_rules(method, fitted, X, bg_frame, out, random_state)
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        progress.add_task(f"Explaining {len(X)} rows with {method}", total=None)
        bg: Any = bg_frame
        if len(bg_frame) > background_size:
            # Weighted k-means medoids for the Shapley estimators, which honour weights;
            # an equally weighted sample for other methods.
            weighted = method in WEIGHTED_BACKGROUND
            bg = summarize(
                bg_frame,
                background_size,
                method="kmeans" if weighted else "sample",
                random_state=random_state,
            )
            bg = bg if weighted else bg.data
        with _on_cluster(scheduler) as client:
            rows_in = X if client is None else _to_dask(X, client)
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


def _explain_rules(
    method: str, fitted: Any, X: Any, training: Any, out: Path, random_state: int
) -> None:
    """Rule methods (Anchors): one rule per row, printed and written as JSON or CSV."""
    import pandas as pd

    from . import _registry

    explainer = _registry.get(method)(fitted, training)
    anchors = explainer.explain_rows(X, random_state=random_state)
    table = Table(title=f"{method}: one rule per row")
    for col in ("row", "rule", "prediction", "precision", "coverage"):
        table.add_column(col)
    records = []
    for row, anchor in zip(X.index, anchors, strict=True):
        table.add_row(
            str(row),
            anchor.rule,
            str(anchor.prediction),
            f"{anchor.precision:.3f}",
            f"{anchor.coverage:.3f}",
        )
        records.append(
            {
                "row": row,
                "rule": anchor.rule,
                "prediction": anchor.prediction,
                "precision": anchor.precision,
                "coverage": anchor.coverage,
            }
        )
    console.print(table)
    if out.suffix.lower() == ".json":
        out.write_text("[" + ",".join(a.to_json() for a in anchors) + "]", encoding="utf-8")
    elif out.suffix.lower() in (".parquet", ".pq"):
        pd.DataFrame(records).astype({"prediction": str}).to_parquet(out)
    else:
        pd.DataFrame(records).to_csv(out, index=False)
    console.print(f"Wrote {len(anchors)} rules to {out}")


# --- global effects ----------------------------------------------------------


def _parse_groups(specs: list[str] | None) -> dict[str, list[str]] | None:
    if not specs:
        return None
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, cols = spec.partition("=")
        if not sep or not name or not cols:
            _fail(f"--group takes NAME=col1,col2; got {spec!r}.")
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
    group: Annotated[
        list[str] | None,
        typer.Option(help="Permute columns jointly: NAME=col1,col2 (repeatable)."),
    ] = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
    scheduler: SchedulerOpt = None,
) -> None:
    """Permutation importance of each feature on a labelled data file."""
    from .effects import permutation_importance

    fitted, frame = _load(model, data, trust_pickle)
    X, y = _split_target(frame, target)
    with _on_cluster(scheduler):
        result = permutation_importance(
            fitted,
            X,
            y,
            scoring=scoring,
            n_repeats=n_repeats,
            random_state=random_state,
            # on a cluster, fan out over its workers unless told otherwise
            n_jobs=-1 if n_jobs is None and scheduler is not None else n_jobs,
            groups=_parse_groups(group),
        )
    if as_json:
        typer.echo(result.to_json(indent=2))
        return
    table = Table(
        title=f"Permutation importance ({scoring or 'default score'}, {n_repeats} repeats)"
    )
    frame_ = result.to_frame()
    for col in frame_.columns:
        table.add_column(str(col), justify="left" if col == "feature" else "right")
    for row in frame_.itertuples(index=False):
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
    grid_resolution: Annotated[int, typer.Option(help="Grid points (pd, ice).")] = 20,
    bins: Annotated[int, typer.Option(help="Quantile bins (ale).")] = 20,
    n_jobs: Annotated[int | None, typer.Option(help="Parallel workers.")] = None,
    trust_pickle: TrustOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Partial dependence, ICE or ALE of one feature (or two) on a data file."""
    from .effects import ale, partial_dependence

    if method not in ("pd", "ice", "ale"):
        _fail(f"--method must be pd, ice or ale; got {method!r}.")
    fitted, frame = _load(model, data, trust_pickle)
    if target is not None and target in frame.columns:
        frame = frame.drop(columns=[target])
    features = feature[0] if len(feature) == 1 else list(feature)
    if method == "ale":
        result = ale(fitted, frame, features, bins=bins, n_jobs=n_jobs)
    else:
        result = partial_dependence(
            fitted,
            frame,
            features,
            kind="both" if method == "ice" else "average",
            grid_resolution=grid_resolution,
            n_jobs=n_jobs,
        )
    if as_json:
        typer.echo(result.to_json(indent=2))
        return
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


# --- how far to trust the explanations ----------------------------------------


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
    rows: Annotated[int, typer.Option(help="Rows to explain (the first ones).")] = 20,
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

    from . import _registry
    from .quality import trust_summary

    names = _registry.available(kind="attribution", inputs="tabular")
    unknown = [m for m in method or [] if m not in names]
    if unknown:
        _fail(f"Unknown tabular attribution method(s) {unknown}; available: {', '.join(names)}.")
    fitted, frame = _load(model, data, trust_pickle)
    y = None
    if target is not None:
        frame, y = _split_target(frame, target)
    summary = trust_summary(
        fitted,
        frame.iloc[:rows].reset_index(drop=True),
        methods=method or None,
        data=frame,
        y=None if y is None else y.to_numpy(),
        n_rows=rows,
        n_background=background_size,
        sanity=sanity,
        random_state=random_state,
    )
    if not summary.rows:
        # Every method failed: that is an error, never a table of nothing with exit 0.
        _fail("No method could explain the model on this data: " + "; ".join(summary.notes))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
        return
    table = Table(title=f"How far to trust explanations of {model.name}")
    cols = ("method", "verdict", "faithfulness_correlation", "deletion_gain", "seed_variation")
    for col in (*cols, "sensitivity", "sanity_passed"):
        table.add_column(col.replace("_", " "))
    for r in summary.rows:
        cells = [r[c] for c in (*cols, "sensitivity", "sanity_passed")]
        table.add_row(
            *["—" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v) for v in cells]
        )
    console.print(table)
    for r in summary.rows:
        console.print(f"[bold]{r['method']}[/] ({r['verdict']}): {r['reading']}")
    for note in summary.notes:
        console.print(f"[yellow]{note}[/]")


def main() -> None:
    """Entry point of the ``pellucid`` command (and of ``python -m pellucid``)."""
    app()


# Last, after every command is registered: `python -m pellucid.cli` shows them all.
if __name__ == "__main__":  # pragma: no cover
    main()
