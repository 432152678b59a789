"""Model-agnostic Shapley values: exact, kernel and permutation estimators.

Players are the user's raw columns (or groups of them); coalitions are
valued interventionally against a weighted background. See
:class:`ExactShap`, :class:`KernelShap`, :class:`PermutationShap`,
:func:`summarize` and :func:`explain`.
"""

from __future__ import annotations

from ._exact import ExactShap
from ._explain import explain
from ._game import Background
from ._kernel import KernelShap
from ._permutation import PermutationShap
from ._summarize import summarize

__all__ = ["Background", "ExactShap", "KernelShap", "PermutationShap", "explain", "summarize"]
