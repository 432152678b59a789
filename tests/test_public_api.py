"""The public namespace is curated, lazy and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pellucid


def test_all_matches_exports():
    expected = set(pellucid._EXPORTS) | set(pellucid._SUBMODULES) | {"__version__"}
    assert set(pellucid.__all__) == expected
    assert len(pellucid.__all__) == len(set(pellucid.__all__))


def test_every_public_name_resolves():
    for name in pellucid.__all__:
        assert getattr(pellucid, name) is not None, name


def test_unknown_attribute_raises():
    try:
        pellucid.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_fast_and_light():
    code = (
        "import sys, time, json\n"
        "t = time.perf_counter()\n"
        "import pellucid\n"
        "dt = time.perf_counter() - t\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'numba', 'dask', 'sklearn', 'fastapi')"
        " if m in sys.modules]\n"
        "print(json.dumps({'seconds': dt, 'heavy': heavy}))\n"
    )
    # Best of three: the first start-up of a fresh interpreter may hit a cold disk cache.
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    assert all(r["heavy"] == [] for r in runs), runs
    assert min(r["seconds"] for r in runs) < 0.3, runs
