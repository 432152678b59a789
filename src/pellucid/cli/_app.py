"""The typer app every command registers on, its one error boundary, and the consoles.

Every command module imports ``app`` from here (not from the package ``__init__``,
which imports the command modules: that would be a cycle).
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

console = Console()
# Errors and deprecation notes (and nothing else) go to stderr, one line each, so
# scripts can tell them apart from results.
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

# What a user can cause: a bad file, column, value or option. Anything else is
# a bug in pellucid and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, TypeError, OSError)
# Option and argument errors: click's ClickException, found through typer (recent typer
# bundles its own copy of click, so ``import click`` would catch the wrong class).
CLICK_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def one_line(exc: BaseException) -> str:
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


def _flat(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with status 2."""
    # soft_wrap: long paths and values stay whole, to be copied and grepped; the
    # message is plain text, so "[...]" in it is not read as markup.
    err_console.print(Text.assemble(("error: ", "bold red"), _flat(message)))
    raise typer.Exit(code=2)


def note(message: str) -> None:
    """One ``note:`` line on stderr (a deprecated spelling was used, say); work goes on."""
    err_console.print(Text.assemble(("note: ", "bold yellow"), _flat(message)))


class _Commands(TyperGroup):
    """The command group with one error boundary: a user error in any command (or in its
    options) prints one line on stderr and exits 2, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CLICK_ERRORS as exc:
            command = f" {ctx.invoked_subcommand}" if ctx.invoked_subcommand else ""
            fail(f"{one_line(exc)} (see: pellucid{command} --help)")
        except USER_ERRORS as exc:
            fail(one_line(exc))


app = typer.Typer(
    name="pellucid",
    help="Explain any machine-learning model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Commands,
)
