"""Model selection and comparison: champion against challenger, with statistics.

``compare`` puts fitted binary classifiers side by side on the same rows
(paired tests, bootstrap intervals, calibration, group gaps, explanation
agreement); ``select`` compares estimators by repeated cross-validation with
the corrected resampled t-test; ``choose_threshold`` picks a decision
threshold by a stated rule. The statistics themselves are in ``_stats``.
"""

from ._compare import brier_decomposition, compare
from ._results import ModelComparison, Selection, ThresholdChoice, metric_label
from ._select import select
from ._stats import corrected_ttest, delong, delong_test, holm, mcnemar
from ._threshold import choose_threshold, threshold_table

__all__ = [
    "ModelComparison",
    "Selection",
    "ThresholdChoice",
    "brier_decomposition",
    "choose_threshold",
    "compare",
    "corrected_ttest",
    "delong",
    "delong_test",
    "holm",
    "mcnemar",
    "metric_label",
    "select",
    "threshold_table",
]
