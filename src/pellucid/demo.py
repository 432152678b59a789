"""The demo job behind ``pellucid demo`` and ``make demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Fewer rows leave too few defaults to split into stratified train and test sets.
MIN_ROWS = 100

#: The report's sizes for the full demo. SHAP values come from TreeShap; the
#: model-agnostic methods the trust section compares with it get a smaller budget.
REPORT_SETTINGS: dict[str, Any] = {
    "shap_rows_agnostic": 40,
    "shap_background_rows": 16,
    "shap_budget": 256,
}

#: ``quick=True`` (``pellucid demo --quick``): every section still runs, through the same
#: code, on samples a few times smaller, so a first look (or a test) takes seconds.
QUICK_REPORT_SETTINGS: dict[str, Any] = {
    **REPORT_SETTINGS,
    "shap_rows": 100,
    "shap_rows_agnostic": 20,
    "shap_background_rows": 8,
    "shap_budget": 128,
    "background_rows": 30,
    "importance_rows": 300,
    "importance_repeats": 2,
    "effect_rows": 100,
    "grid_points": 8,
    "grid_points_2d": 5,
    "local_rows": 2,
    "lime_samples": 300,
    "trust_rows": 3,
    "trust_background_rows": 8,
    "counterfactual_rows": 1,
    "counterfactual_time_limit": 0.5,
}


def train_credit_model(n_rows: int = 5000, random_state: int = 0) -> dict[str, Any]:
    """A gradient-boosting default-risk model on synthetic credit data, with a held-out split."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    from .datasets import credit

    X, y = credit(n_rows=n_rows, random_state=random_state)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=random_state, stratify=y
    )
    model = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        categorical_features="from_dtype",
        random_state=random_state,
    ).fit(X_train, y_train)
    return {
        "model": model,
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
    }


def run(
    out: Path = Path("out"),
    n_rows: int = 5000,
    console: Console | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Train, evaluate, save and report on the credit model; write everything under ``out``.

    ``quick`` keeps every step, and the model, but sizes the report's samples by
    :data:`QUICK_REPORT_SETTINGS` instead of :data:`REPORT_SETTINGS`.
    """
    from ._io import save_model
    from ._terminal import metrics_table, write_report
    from .metrics import evaluate

    if n_rows < MIN_ROWS:
        raise ValueError(f"The demo needs at least {MIN_ROWS} rows of data; got n_rows={n_rows}.")
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    console.rule("pellucid demo: a default-risk model on synthetic credit data")
    parts = train_credit_model(n_rows)
    model = parts["model"]
    evaluation = evaluate(model, parts["X_test"], parts["y_test"], subgroups="sex")
    console.print(metrics_table(evaluation, "Held-out performance, overall and by sex"))
    model_path = save_model(model, out / "credit_model.skops")
    data_path = out / "credit_test.parquet"
    parts["X_test"].assign(default=parts["y_test"]).to_parquet(data_path)
    report_path = write_report(
        model,
        parts["X_test"],
        parts["y_test"],
        out / "credit_report.html",
        console=console,
        subgroups="sex",
        title="pellucid demo: default-risk model on synthetic credit data",
        settings=QUICK_REPORT_SETTINGS if quick else REPORT_SETTINGS,
    )
    files = Table(title="Files written")
    files.add_column("what")
    files.add_column("path")
    files.add_row("model", str(model_path))
    files.add_row("held-out data", str(data_path))
    files.add_row("report", str(report_path))
    console.print(files)
    # The path alone on the last line, so scripts (and `make demo` users) can pick it up.
    console.print(f"Report: {report_path.resolve()}", soft_wrap=True)
    return {
        **parts,
        "evaluation": evaluation,
        "model_path": model_path,
        "data_path": data_path,
        "report_path": report_path,
    }
