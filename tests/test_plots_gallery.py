"""The docs gallery: its generator draws every plot from the bundled data, and the
committed page shows each of them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("xgboost")

from pellucid import plots  # noqa: E402

DOCS = Path(__file__).parents[1] / "docs"
HELPERS = {"labelled", "shared_xlim", "calibration_bins"}


def _generator():
    spec = importlib.util.spec_from_file_location("make_gallery", DOCS / "make_gallery.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shown(page: str) -> tuple[set[str], set[str]]:
    """The plot functions a gallery page calls, and the images it shows."""
    calls = set(re.findall(r"`plots\.([a-z_]+)\(", page))
    images = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page))
    return calls, images


def test_generator_draws_every_plot_into_a_directory(tmp_path):
    written = _generator().main(tmp_path)
    page = (tmp_path / "index.md").read_text(encoding="utf-8")
    calls, images = _shown(page)
    assert calls == set(plots.__all__) - HELPERS
    assert images == {p.name for p in written}
    for path in written:
        assert path.stat().st_size > 5_000, path  # a drawn picture, not an empty canvas
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_committed_gallery_shows_every_plot():
    page = (DOCS / "gallery" / "index.md").read_text(encoding="utf-8")
    calls, images = _shown(page)
    assert calls == set(plots.__all__) - HELPERS
    for name in images:
        assert (DOCS / "gallery" / name).is_file(), name


def test_readme_links_the_gallery():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/gallery/index.md" in readme
