"""Tree ensembles: one array format, readers per library, exact TreeSHAP.

numba is imported only when a kernel first runs (never on ``import pellucid``).
"""

from __future__ import annotations

from ._ensemble import Tree, TreeEnsemble
from ._explainer import TreeShap, read_ensemble
from ._pdp import partial_dependence_recursion

__all__ = ["Tree", "TreeEnsemble", "TreeShap", "partial_dependence_recursion", "read_ensemble"]
