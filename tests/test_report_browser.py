"""Open a saved report in headless Chromium and check what a reader would get.

It must render without console errors, make no network request (only its own
file and its inline data: images), load every image, not be blank, fit a
phone-width screen without sideways scrolling, and print to PDF.

`make test` installs Chromium (Debian's `chromium` package) when it is missing
and sets PELLUCID_REQUIRE_CHROMIUM=1, so there the test cannot be skipped.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

import pellucid
from _chromium import Chromium, find_chromium
from _report_data import FAST

BINARY = find_chromium()
if BINARY is None:
    if os.environ.get("PELLUCID_REQUIRE_CHROMIUM"):
        raise RuntimeError("Chromium is required (PELLUCID_REQUIRE_CHROMIUM is set) but not found.")
    pytest.skip("Chromium is not installed (make test installs it).", allow_module_level=True)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = pellucid.datasets.credit(n_rows=600, random_state=2)
    model = HistGradientBoostingClassifier(
        max_iter=25, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    rep = pellucid.report(
        model,
        X,
        y,
        subgroups="sex",
        settings={
            "shap_rows": 100,
            "effect_rows": 60,
            "importance_rows": 200,
            "lime_samples": 400,
            **FAST,
        },
    )
    return rep.save(tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="module")
def page(report_file, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with Chromium(BINARY, profile) as browser:
        yield browser.open(report_file.as_uri(), width=1280, height=900)


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


@pytest.mark.slow
def test_report_in_chromium(page, report_file):
    # One test, so that under pytest-xdist the report is built and the browser started once.
    # 1. renders without console errors
    assert page.console_errors == []
    assert (
        page.evaluate("document.title") == "Default risk: HistGradientBoostingClassifier, 25 trees"
    )

    # 2. no network requests: only its own file and inline data: images
    own = report_file.as_uri()
    others = [u for u in page.requests if u != own and not u.startswith("data:")]
    assert others == []
    assert own in page.requests  # the recorder saw the page load, so it was listening
    assert page.failed_requests == []

    # 3. every image loads
    n_html = report_file.read_text(encoding="utf-8").count("<img ")
    loaded = page.evaluate(
        "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length"
    )
    assert n_html > 0 and loaded == n_html

    # 4. every section is on the page
    ids = page.evaluate("[...document.querySelectorAll('section.section')].map(s => s.id)")
    assert ids == [
        "overview",
        "performance",
        "importance",
        "shap",
        "effects",
        "local",
        "counterfactual",
        "trust",
        "record",
    ]

    # 5. the screenshot is not blank
    gray = _pixels(page.screenshot())
    assert gray.shape == (900, 1280)
    assert gray.std() > 10
    assert (gray < 200).mean() > 0.02  # some ink on the page, not a white sheet

    # 6. fits a phone screen without sideways scrolling
    page.resize(390, 844, mobile=True)
    scroll_width, inner, widest_image = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth,"
        " Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))]"
    )
    assert scroll_width <= inner
    assert widest_image <= inner
    assert _pixels(page.screenshot()).std() > 10
    page.resize(1280, 900)

    # 6b. the trust table fits a 1,000 px page: no scrolling, inside or outside its frame,
    # and missing numbers print as a dash
    page.resize(1000, 900)
    trust = page.evaluate(
        "(() => { const t = document.querySelector('table.trust'); if (!t) return null;"
        " return [t.getBoundingClientRect().width, t.parentElement.clientWidth,"
        " t.parentElement.scrollWidth, document.documentElement.scrollWidth, window.innerWidth,"
        " [...t.querySelectorAll('td')].map(c => c.textContent.trim())]; })()"
    )
    page.resize(1280, 900)
    assert trust is not None, "the report has no trust table"
    table_width, frame_width, frame_scroll, page_scroll, inner, cells = trust
    assert table_width <= frame_width and frame_scroll <= frame_width
    assert page_scroll <= inner
    assert not {"None", "nan", "NaN"} & set(cells)

    # 7. prints: a PDF of several pages
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 2
