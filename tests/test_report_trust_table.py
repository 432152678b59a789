"""The report's trust table: missing values print as a dash, headers break between
words, and the table fits a 1,000 px page (cells may wrap anywhere)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from _report_data import minimal_results
from pellucid.quality._results import TrustSummary
from pellucid.reporting import render


def _summary() -> TrustSummary:
    row = {
        "method": "kernel_shap_with_a_very_long_registered_name",
        "deletion_gain": 0.4213,
        "insertion_gain": float("nan"),
        "faithfulness_correlation": 0.8123,
        "infidelity": None,
        "seed_variation": 0.0123,
        "sensitivity": np.float64("nan"),
        "ground_truth_error": None,
        "sanity_passed": True,
        "verdict": "trustworthy",
        "reading": "fine",
    }
    return TrustSummary(rows=(row,))


def _trust_table(page: str) -> str:
    match = re.search(r'<table class="trust">.*?</table>', page, re.S)
    assert match, "no trust table"
    return match.group(0)


def test_missing_values_print_as_a_dash_and_headers_break():
    res = replace(minimal_results(), trust=_summary())
    table = _trust_table(render(res))
    headers = re.findall(r'<th scope="col">(.*?)</th>', table)
    assert headers[:4] == ["method", "deletion gain", "insertion gain", "faithfulness correlation"]
    assert all("_" not in h for h in headers)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    assert cells.count("—") == 4  # insertion_gain, infidelity, sensitivity, ground_truth_error
    assert not {"None", "nan", "NaN", "<NA>"} & set(cells)


def test_trust_table_cells_may_wrap_so_it_fits_the_page():
    page = render(replace(minimal_results(), trust=_summary()))
    css = re.sub(r"\s+", " ", page)
    rule = re.search(r"table\.trust td \{([^}]*)\}", css)
    assert rule and "overflow-wrap: anywhere" in rule.group(1)
