"""Errors pellucid raises at its public boundary.

Each says what could not be done and names the model option, column, row or
value behind it, so the user can act on one line.
"""

from __future__ import annotations

__all__ = ["ModelOutputError", "ModelReadingError", "UnsupportedModelError"]


class ModelReadingError(ValueError):
    """pellucid's reading of a model's internals does not reproduce the model's
    own prediction (or reads an option it cannot reproduce): explaining it would
    explain another model."""


class UnsupportedModelError(TypeError):
    """A method cannot explain this kind of model (or this model option)."""


class ModelOutputError(ValueError):
    """The model's output is not what it promised: NaN, or the wrong shape."""
