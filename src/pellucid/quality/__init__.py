"""How far to trust an explanation: faithfulness, robustness, sanity, agreement, ground truth.

Every metric takes the model, the explained rows and a tabular
:class:`~pellucid.Explanation` (or, for the robustness and sanity checks,
the method that produced it) and returns a frozen result with one number per
row and their mean. Removed features are replaced by background rows, the
model's output averaged over them.

======================================  =============================================
``deletion``, ``insertion``             curves and areas, against random orderings
``faithfulness_correlation``            attributions of subsets vs output change
``infidelity``, ``max_sensitivity``     Yeh et al. (2019)
``stability``                           across seeds; local Lipschitz estimate
``sanity_check``                        model / label randomisation (Adebayo et al.)
``agreement``                           rank correlation, top-k overlap, signs
``ground_truth``                        error against known Shapley values
``trust_summary``                       per method numbers and a plain reading
======================================  =============================================
"""

from ._agreement import agreement, rank_correlation
from ._faithfulness import deletion, faithfulness_correlation, infidelity, insertion
from ._ground_truth import (
    Problem,
    additive_problem,
    brute_force_shapley,
    credit_problem,
    ground_truth,
    interaction_problem,
    linear_problem,
    problems,
    tree_problem,
)
from ._results import (
    AgreementResult,
    CurveResult,
    GroundTruthReport,
    GroundTruthResult,
    MethodTrust,
    QualityScore,
    SanityCheckResult,
    StabilityResult,
    TrustSummary,
)
from ._robustness import max_sensitivity, stability
from ._sanity import random_function, sanity_check
from ._summary import read_scores, trust_summary

__all__ = [
    "AgreementResult",
    "CurveResult",
    "GroundTruthReport",
    "GroundTruthResult",
    "MethodTrust",
    "Problem",
    "QualityScore",
    "SanityCheckResult",
    "StabilityResult",
    "TrustSummary",
    "additive_problem",
    "agreement",
    "brute_force_shapley",
    "credit_problem",
    "deletion",
    "faithfulness_correlation",
    "ground_truth",
    "infidelity",
    "insertion",
    "interaction_problem",
    "linear_problem",
    "max_sensitivity",
    "problems",
    "random_function",
    "rank_correlation",
    "read_scores",
    "sanity_check",
    "stability",
    "tree_problem",
    "trust_summary",
]
