"""Global, model-agnostic explanations in the user's feature space.

Permutation importance, partial dependence and ICE, accumulated local
effects (ALE) and Friedman's H-statistic. Every method evaluates the model on
stacked perturbed copies of X (see ``_batching``), in as few calls as a
memory cap allows, and fans out with joblib without changing the numbers.
"""

from .._results import HStatistic
from ._ale import ale
from ._hstat import h_statistic
from ._partial_dependence import partial_dependence
from ._permutation import permutation_importance
from ._scoring import score_change

__all__ = [
    "HStatistic",
    "ale",
    "h_statistic",
    "partial_dependence",
    "permutation_importance",
    "score_change",
]
