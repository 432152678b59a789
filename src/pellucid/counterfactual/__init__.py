"""Counterfactual explanations with certificates, and recourse audits.

``Counterfactuals(model, data, ...).explain(X)`` finds, per row, the cheapest
allowed changes that give the desired outcome: exactly (mixed-integer
programs through SciPy's HiGHS) for tree ensembles and linear models, by a
seeded search for any other model. Every answer is re-checked with the
model's own prediction and carries a certificate (optimal, feasible,
infeasible).
"""

from __future__ import annotations

from ._counterfactuals import Counterfactuals, recourse_audit
from ._results import CERTIFICATES, Change, Counterfactual, CounterfactualSet

__all__ = [
    "CERTIFICATES",
    "Change",
    "Counterfactual",
    "CounterfactualSet",
    "Counterfactuals",
    "recourse_audit",
]
