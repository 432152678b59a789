"""The explorer in a real headless Chromium against a real uvicorn server.

What a user sees must be what the service computes: the prediction shown for
a chosen row is /predict's, and after an edit the prediction and every
waterfall value are /explain's for the edited row. The page makes no request
outside its server, logs no console error, is reachable by keyboard, passes
an axe-core scan (vendored in tests/vendor) without serious or critical
violations, and draws something at desktop and phone width.
"""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import pellucid
from _chromium import Chromium, find_chromium

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

BINARY = find_chromium()
if BINARY is None:
    if os.environ.get("PELLUCID_REQUIRE_CHROMIUM"):
        raise RuntimeError("Chromium is required (PELLUCID_REQUIRE_CHROMIUM is set) but not found.")
    pytest.skip("Chromium is not installed (make test installs it).", allow_module_level=True)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def server():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pellucid.serve import create_app, running_server

    X, y = pellucid.datasets.credit(n_rows=800, random_state=3)
    model = HistGradientBoostingClassifier(
        max_iter=30, categorical_features="from_dtype", random_state=0
    ).fit(X, y)
    app = create_app(model, X, explore_rows=X, explore_target=y)
    with running_server(app) as url:
        yield url, X


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Chromium(BINARY, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def wait_for(page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out waiting for {expression}; errors: {page.console_errors}"
            )
        time.sleep(0.05)


SETTLED = (
    "document.body.dataset.ready === '1' && document.body.dataset.idle === '1'"
    " && document.body.dataset.updated !== undefined"
)


def shown(page) -> tuple[float, dict[str, float], float]:
    return page.evaluate(
        "(() => { const w = document.getElementById('waterfall');"
        " return [Number(document.getElementById('prediction').dataset.value),"
        " JSON.parse(w.dataset.values), Number(w.dataset.base)]; })()"
    )


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def test_explorer_in_chromium(server, browser):
    url, X = server
    page = browser.open(url + "/", width=1280, height=900)
    wait_for(page, "document.body.dataset.ready === '1' && document.body.dataset.idle === '1'")

    # Rows: the first page is drawn; a filter runs on the server.
    assert page.evaluate("document.querySelectorAll('#rows-table tbody tr').length") == 25
    page.evaluate(
        "(() => { const f = document.getElementById('filter'); f.value = 'housing=rent';"
        " f.dispatchEvent(new Event('input')); })()"
    )
    wait_for(
        page,
        "document.getElementById('page-info').textContent.includes('of "
        f"{int((X['housing'] == 'rent').sum()):,}')",
    )

    # Choosing a row shows the prediction /predict returns for it.
    page.evaluate("document.querySelector('#rows-table tbody tr button').click()")
    wait_for(page, SETTLED)
    row = int(page.evaluate("document.body.dataset.row"))
    assert X["housing"].iloc[row] == "rent"
    record = get(f"{url}/explorer/row?row={row}")
    predicted = post(url + "/predict", {"rows": [record["values"]]})["predictions"][0]["1"]
    value, _, _ = shown(page)
    np.testing.assert_allclose(value, predicted, rtol=1e-12)
    assert page.evaluate("document.getElementById('prediction').textContent") == (
        f"{100 * predicted:.1f} %"
    )

    # Editing a feature: prediction and waterfall become /explain's for the edited row.
    new_income = float(X["income"].quantile(0.9))
    before = page.evaluate("document.body.dataset.updated")
    page.evaluate(
        "(() => { const i = document.querySelector('#whatif-form input[type=number]"
        f"[data-feature=income]'); i.value = '{new_income}'; i.dispatchEvent(new Event('input')); }})()"
    )
    wait_for(page, f"document.body.dataset.updated !== '{before}' && ({SETTLED})")
    edited = {**record["values"], "income": new_income}
    want = post(url + "/explain", {"rows": [edited]})
    value, values, base = shown(page)
    np.testing.assert_allclose(value, want["predictions"][0]["1"], rtol=1e-12)
    assert value != pytest.approx(predicted)  # the edit moved the prediction
    np.testing.assert_allclose(base, want["explanations"][0]["base_value"], rtol=1e-12)
    assert values.keys() == want["explanations"][0]["values"].keys()
    for name, v in want["explanations"][0]["values"].items():
        np.testing.assert_allclose(values[name], v, rtol=1e-12, atol=1e-15, err_msg=name)
    assert "income:" in page.evaluate("location.hash")
    # the ICE curve follows the edited feature, with the current value marked
    assert page.evaluate("document.getElementById('ice-feature').value") == "income"
    assert page.evaluate("document.querySelectorAll('#ice [data-mark]').length") == 1

    # Screenshots: desktop and phone width are drawn, and the phone page does not scroll sideways.
    desktop = pixels(page.screenshot())
    assert desktop.std() > 10 and (desktop < 200).mean() > 0.02
    page.resize(390, 844, mobile=True)
    time.sleep(0.3)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone = pixels(page.screenshot())
    assert phone.shape == (844, 390) and phone.std() > 10
    page.resize(1280, 900)

    # Accessibility: axe-core finds no serious or critical violation.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    page.send(
        "Runtime.evaluate",
        {
            "expression": "axe.run(document).then(r => { window.__axe = r.violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')); })",
            "awaitPromise": True,
        },
    )
    assert page.evaluate("window.__axe") == []

    # Nothing outside the server; no console errors.
    outside = [u for u in page.requests if not u.startswith(url) and not u.startswith("data:")]
    assert outside == []
    assert page.failed_requests == []
    assert page.console_errors == []


def test_deep_link_and_keyboard(server, browser):
    url, X = server
    page = browser.open(f"{url}/#row=42&edit=income:52000,housing:own&compare=7", 1280, 900)
    wait_for(page, SETTLED + " && document.querySelector('#compare-body table') !== null")
    assert page.evaluate("document.body.dataset.row") == "42"
    fields = page.evaluate(
        "[...document.querySelectorAll('#whatif-form [data-feature]')]"
        ".filter(e => e.matches('input[type=number], select'))"
        ".map(e => [e.dataset.feature, e.tagName === 'SELECT' ? e.selectedOptions[0].text : e.value])"
    )
    assert dict(fields)["income"] == "52000" and dict(fields)["housing"] == "own"
    record = get(f"{url}/explorer/row?row=42")
    edited = {**record["values"], "income": 52000, "housing": "own"}
    want = post(url + "/explain", {"rows": [edited]})["predictions"][0]["1"]
    np.testing.assert_allclose(shown(page)[0], want, rtol=1e-12)
    assert page.evaluate("document.querySelectorAll('#compare-body tbody tr').length") == X.shape[1]

    # Keyboard only: Tab from the top of the page reaches the what-if inputs.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached = None
    for presses in range(1, 200):
        for kind in ("keyDown", "keyUp"):
            page.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9},
            )
        if page.evaluate("!!document.activeElement.closest('#whatif-form')"):
            reached = presses
            break
    assert reached is not None, "Tab never reached the what-if form"
    # The skip link gets there in three presses: Tab to it, Enter, Tab.
    page.evaluate("document.activeElement.blur()")
    page.evaluate("document.getElementById('skip-whatif').focus()")
    for key, code in (("Enter", 13), ("Tab", 9)):
        for kind in ("keyDown", "keyUp"):
            page.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": key,
                    "code": key,
                    "windowsVirtualKeyCode": code,
                    **({"text": "\r"} if key == "Enter" and kind == "keyDown" else {}),
                },
            )
        time.sleep(0.05)
    assert page.evaluate("document.activeElement.closest('#whatif-form') !== null")
    assert "row=42" in page.evaluate("location.hash")  # the skip link keeps the view's state
    assert page.console_errors == []
