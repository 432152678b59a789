"""What every command reads from its arguments, read one way: the model file, the data
file, the target column, the background file, the rows, a subgroup column; and the
options they share (with the deprecated spellings each old option still accepts).

Every failure is one ``error:`` line naming the file, column or value (``fail``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ._app import fail, note

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
RowsOpt = Annotated[
    str | None,
    typer.Option(help="Row positions, comma-separated, e.g. 0,5,9 (the first row is 0)."),
]
FirstOpt = Annotated[
    int | None, typer.Option("--first", help="The first N rows (instead of --rows).")
]
SubgroupOpt = Annotated[
    str | None, typer.Option("--subgroup", help="Column to report metrics per subgroup.")
]
# The spellings of an earlier release, accepted for one more with a note on stderr.
SeedAlias = Annotated[
    int | None, typer.Option("--seed", hidden=True, help="Deprecated: --random-state.")
]
GroupAlias = Annotated[
    str | None, typer.Option("--group", hidden=True, help="Deprecated: --subgroup.")
]

T = TypeVar("T")


def renamed(value: T, old_value: T | None, *, new: str, old: str, default: Any = None) -> T:
    """The value of an option that has a deprecated spelling: ``old_value`` when only the
    old spelling was given (with a note on stderr), else ``value``."""
    if old_value is None:
        return value
    note(f"{old} is deprecated and will be removed in the next release; use {new}.")
    if value != default and value != old_value:
        fail(f"{new} {value!r} and {old} {old_value!r} disagree; give {new} only.")
    return old_value


@dataclass(frozen=True)
class Inputs:
    """A command's data: the model as loaded, DATA split into features and target, the
    reference rows, and the positions of the rows to work on (None: all)."""

    model: Any
    X: Any
    y: Any | None
    background: Any | None
    picked: list[int] | None

    @property
    def rows(self) -> Any:
        """The feature rows chosen by --rows/--first (all of X when neither was given)."""
        return self.X if self.picked is None else self.X.iloc[self.picked]


def load_inputs(
    model_path: Path,
    data_path: Path,
    *,
    trust_pickle: bool,
    target: str | None = None,
    target_if_present: bool = False,
    background: Path | None = None,
    subgroup: str | None = None,
    rows: str | None = None,
    first: int | None = None,
) -> Inputs:
    """Load the model and DATA (categories a CSV lost restored from the model), split off
    ``target`` (an error if DATA lacks it, unless ``target_if_present``), load the
    ``background`` file without its target, check the ``subgroup`` column and pick rows."""
    from .._io import load_model

    fitted = load_model(model_path, trust_pickle=trust_pickle)
    X, y = split_target(read_data(data_path, [fitted]), target, if_present=target_if_present)
    check_column(X, subgroup, "Subgroup")
    return Inputs(
        model=fitted,
        X=X,
        y=y,
        background=load_background(background, fitted, target),
        picked=pick_rows(rows, first, len(X)),
    )


def read_data(path: Path, models: Iterable[Any]) -> Any:
    """A data file with the categories a CSV lost restored, as each model stored them."""
    from .._io import load_data, restore_categories

    frame = load_data(path)
    for model in models:
        frame = restore_categories(model, frame)
    return frame


def load_background(path: Path | None, fitted: Any, target: str | None) -> Any:
    """A second data file (reference rows), without the target column; None when not given."""
    if path is None:
        return None
    frame = read_data(path, [fitted])
    if target is not None and target in frame.columns:
        frame = frame.drop(columns=[target])
    return frame


def check_column(frame: Any, column: str | None, what: str) -> None:
    if column is not None and column not in frame.columns:
        fail(f"{what} column {column!r} is not in the data; columns: {list(frame.columns)}.")


def split_target(frame: Any, target: str | None, *, if_present: bool = False) -> tuple[Any, Any]:
    """DATA's features and its target column (None when no target is named, or when it is
    absent and ``if_present``)."""
    if target is None or (if_present and target not in frame.columns):
        return frame, None
    check_column(frame, target, "Target")
    return frame.drop(columns=[target]), frame[target]


def pick_rows(rows: str | None, first: int | None, n: int) -> list[int] | None:
    """Row positions from ``--rows 0,5,9`` or ``--first N`` (None when neither is given)."""
    if rows is not None and first is not None:
        fail(
            f"Give --rows (positions) or --first (a count), not both; got --rows {rows!r} "
            f"and --first {first}."
        )
    if first is not None:
        if first < 1:
            fail(f"--first must be at least 1; got {first}.")
        return list(range(min(first, n)))
    if rows is None:
        return None
    try:
        picked = [int(r) for r in rows.split(",") if r.strip()]
    except ValueError:
        fail(f"--rows must be comma-separated row positions like 0,5,9; got {rows!r}.")
    bad = [r for r in picked if not 0 <= r < n]
    if bad:
        fail(f"--rows {bad} out of range: the data has {n} rows (positions 0..{n - 1}).")
    return picked


def check_out(out: Path, *, makes_folder: bool = False) -> None:
    """Refuse an output path before computing anything, not after."""
    if out.exists() and out.is_dir():
        fail(f"--out {str(out)!r} is a folder; give a file name.")
    if not makes_folder and not out.parent.is_dir():
        fail(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist.")


def check_suffix(out: Path, suffixes: tuple[str, ...], wording: str) -> None:
    """``--out`` must end in one of ``suffixes`` (``wording`` lists them for people)."""
    if out.suffix.lower() not in suffixes:
        fail(f"--out must end in {wording}; got {out.name!r}.")


def parse_columns(text: str | None, frame: Any, option: str) -> list[str]:
    """Comma-separated column names, each checked against the data."""
    if not text:
        return []
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        fail(f"{option} names {unknown}, not in the data; columns: {list(frame.columns)}.")
    return names
