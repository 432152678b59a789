"""LimeText and LimeImage on synthetic models whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from pellucid.local import LimeImage, LimeText
from pellucid.local._text import TokenizedText


def _keyword_counter(texts):
    # Probability rises with each "excellent"; nothing else matters.
    counts = np.array([t.split().count("excellent") for t in texts], dtype=float)
    p = 1 / (1 + np.exp(-(2.0 * counts - 1.0)))
    return np.column_stack([1 - p, p])


def test_lime_text_finds_the_keyword():
    text = "an excellent cast, an excellent score and a slow middle act"
    exp = LimeText(_keyword_counter, max_features=5, random_state=0).explain(text)
    words = exp.feature_names
    assert words[:3] == ("an", "excellent", "cast")
    assert exp.values.shape == (1, len(words), 2)
    w = exp.values[0, :, 1]
    assert np.argmax(w) == words.index("excellent") and w.max() > 0.3
    others = np.delete(w, words.index("excellent"))
    assert np.abs(others).max() < 0.05 * w.max()
    # Class 0 is 1 - class 1: mirrored weights (forward selection may break near-ties differently).
    k = words.index("excellent")
    np.testing.assert_allclose(exp.values[0, k, 0], -w[k], rtol=1e-4)
    np.testing.assert_allclose(exp.output[0], _keyword_counter([text])[0])
    again = LimeText(_keyword_counter, max_features=5, random_state=0).explain(text)
    assert again.values.tobytes() == exp.values.tobytes()


def test_text_masking_and_tokenizer():
    doc = TokenizedText("Hello, world! Hello again.")
    assert doc.words == ["Hello", "world", "again"]
    keep = np.array([[False, True, True], [True, True, False]])
    assert doc.render(keep) == [", world!  again.", "Hello, world! Hello ."]
    assert doc.render(keep[:1], mask="UNK") == ["UNK, world! UNK again."]
    custom = TokenizedText("a-b c", tokenizer=lambda s: s.replace("-", " ").split())
    assert custom.words == ["a", "b", "c"]
    with pytest.raises(ValueError, match="not found"):
        TokenizedText("abc", tokenizer=lambda s: ["x"])

    seen = []

    def model(texts):
        seen.extend(texts)
        return _keyword_counter(texts)

    LimeText(model, mask="UNK", num_samples=20, random_state=0).explain("excellent film")
    assert "UNK film" in seen or "excellent UNK" in seen or "UNK UNK" in seen


def _grid(image, size=8):
    h, w = image.shape[:2]
    rows, cols = np.meshgrid(np.arange(h) // size, np.arange(w) // size, indexing="ij")
    return rows * ((w + size - 1) // size) + cols


def _region_model(images):
    # The share of bright pixels in the top-left 8x8 block decides the class.
    block = (np.asarray(images, dtype=float)[:, :8, :8] >= 0.95).mean(axis=(1, 2, 3))
    p = 1 / (1 + np.exp(-(block - 0.25) * 10))
    return np.column_stack([1 - p, p])


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    img = rng.uniform(0.3, 0.5, size=(32, 32, 3))
    # A checkerboard of 1.0 and 0.6: hiding it (mean colour, black or blur) removes the bright pixels.
    img[:8, :8] = np.where((np.add.outer(np.arange(8), np.arange(8)) % 2)[..., None] == 0, 1.0, 0.6)
    return img


@pytest.mark.parametrize("hide", ["mean", 0.0, "blur"])
def test_lime_image_finds_the_region(image, hide):
    exp = LimeImage(
        _region_model, segmentation=_grid, hide=hide, num_samples=400, random_state=0
    ).explain(image)
    assert exp.values.shape == (1, 32, 32, 2)
    seg_w = exp.diagnostics["segment_weights"][0, :, 1]
    assert exp.diagnostics["segments"].shape == (1, 32, 32)
    assert np.argmax(seg_w) == 0 and seg_w[0] > 0.1
    assert np.abs(seg_w[1:]).max() < 0.1 * seg_w[0]
    # Each pixel carries its superpixel's weight.
    np.testing.assert_allclose(exp.values[0, :8, :8, 1], seg_w[0])


def test_lime_image_skimage_segmentations(image):
    for method in ("slic", "quickshift"):
        explainer = LimeImage(_region_model, segmentation=method, num_samples=100, random_state=1)
        seg = explainer.segments(image)
        assert seg.shape == (32, 32) and seg.min() == 0
        exp = explainer.explain(image)
        assert np.isfinite(exp.values).all()
    with pytest.raises(ValueError, match="segmentation"):
        LimeImage(_region_model, segmentation="watershed")
