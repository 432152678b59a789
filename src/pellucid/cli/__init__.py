"""The ``pellucid`` command: a typer app, one module per group of commands.

``_app`` holds the app and its error boundary, ``_inputs`` the one loader of
model/data/target/background/rows arguments and the options commands share.
Each command module registers its commands when imported; the imports below are
in the order ``pellucid --help`` lists them (a user's journey: how well the model
does, what matters overall, why this decision, how far to trust it, share it).
Command modules import their heavy dependencies inside the commands, so
``pellucid --help`` stays quick.
"""

from __future__ import annotations

# The import order is the order of the commands in --help.
# isort: off
from . import evaluate  # noqa: F401  evaluate, compare
from . import effects  # noqa: F401  importance, effects
from . import explain  # noqa: F401  methods, explain
from . import reasons  # noqa: F401  reasons
from . import counterfactual  # noqa: F401  counterfactual
from . import trust  # noqa: F401  trust
from . import report  # noqa: F401  report, demo
from . import serve  # noqa: F401  serve, explore

# isort: on
from ._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``pellucid`` command (and of ``python -m pellucid``)."""
    app()
