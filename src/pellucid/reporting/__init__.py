"""The self-contained HTML report: ``pellucid.report(model, X, y)`` -> :class:`Report`.

Two steps, kept apart: :func:`compute` runs the methods and returns result
objects (:class:`ReportResults`); :func:`render` turns those results into
HTML and never touches the model. (The package is called ``reporting`` so
that ``pellucid.report`` stays the function.)
"""

from __future__ import annotations

from .._provenance import data_hash, model_hash
from ._compute import DEFAULT_SETTINGS, compare_local, compute, data_overview
from ._render import render
from ._report import Report, report
from ._results import SECTIONS, DataOverview, LocalResult, ReportResults

__all__ = [
    "DEFAULT_SETTINGS",
    "SECTIONS",
    "DataOverview",
    "LocalResult",
    "Report",
    "ReportResults",
    "compare_local",
    "compute",
    "data_hash",
    "data_overview",
    "model_hash",
    "render",
    "report",
]
