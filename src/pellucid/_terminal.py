"""Results drawn for a terminal with rich, shared by the command line and the demo job.

A render module: it reads result objects (and runs the report's public compute and
render steps under a progress bar); it never imports the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def metrics_table(evaluation: Any, title: str) -> Table:
    """A ``ModelEvaluation`` as a table: one row per metric, one column per group."""
    frame = evaluation.to_frame()
    table = Table(title=title)
    table.add_column("metric")
    for group in frame.index:
        table.add_column(str(group), justify="right")
    for metric in frame.columns:
        table.add_row(metric, *[f"{v:.4g}" for v in frame[metric]])
    return table


def write_report(
    fitted: Any,
    X: Any,
    y: Any,
    out: Path,
    *,
    console: Console,
    **options: Any,
) -> Path:
    """Compute and render a report with a progress bar over its sections; return its path.

    ``options`` are ``pellucid.reporting.compute``'s keyword arguments, passed through.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .reporting import SECTIONS, Report, compute

    with Progress(
        TextColumn("[bold]report[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
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
