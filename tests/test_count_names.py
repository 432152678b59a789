"""One name for each count: ``max_features`` (features kept or shown), ``max_reasons``
(reasons per row), ``top_k`` (the k largest of a ranking).

The old names (LIME's ``num_features``, ``reason_codes(k=)``, ``agreement(k=)`` and
``pellucid reasons --k``) still work for one release: they warn (a note on the command
line) and give the same bytes as the new name; giving both is an error.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import pellucid
from pellucid import _protocol, quality
from pellucid._io import save_model
from pellucid.cli import app
from pellucid.local import LimeImage, LimeText

RENAMED = r"num_features=\.\.\.\) is deprecated: the argument is now called max_features="


@pytest.fixture(autouse=True)
def warn_deprecated(monkeypatch):
    """The deprecation warnings as the release step that turns them on will."""
    monkeypatch.setattr(_protocol, "WARN_DEPRECATED", True)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 5)), columns=list("abcde"))
    y = (X["a"] - 2 * X["b"] + 0.5 * X["c"] + 0.3 * rng.normal(size=200) > 0).astype(int)
    return LogisticRegression().fit(X, y), X, y


def _warned(caught, *patterns):
    """Every warning caught is a FutureWarning, and each pattern matches one of them."""
    messages = [str(w.message) for w in caught]
    assert all(issubclass(w.category, FutureWarning) for w in caught), messages
    for pattern in patterns:
        assert any(re.search(pattern, m) for m in messages), (pattern, messages)


def _same_explanation(new, old):
    assert new.values.tobytes() == old.values.tobytes()
    assert np.asarray(new.base_values).tobytes() == np.asarray(old.base_values).tobytes()
    assert new.params == old.params


# ------------------------------------------------------------------ LIME: max_features


def test_lime_max_features_is_the_setting_and_bounds_the_surrogate(fitted):
    model, X, _ = fitted
    lime = pellucid.Lime(model, X, max_features=2, num_samples=300, random_state=0)
    assert lime.settings["max_features"] == 2 and "num_features" not in lime.settings
    assert "max_features=2" in repr(lime) and "num_features" not in repr(lime)
    exp = lime.explain(X.iloc[:4])
    assert exp.params["max_features"] == 2 and "num_features" not in exp.params
    # At most two features carry a weight in each row's surrogate (per class).
    assert ((exp.values != 0).sum(axis=1) <= 2).all()
    assert ((exp.values[..., 1] != 0).sum(axis=1) == 2).all()


def test_lime_num_features_warns_and_gives_the_same_bytes(fitted):
    model, X, _ = fitted
    new = pellucid.Lime(model, X, max_features=2, num_samples=300, random_state=1)
    with pytest.warns(FutureWarning, match=rf"Lime\({RENAMED}"):
        old = pellucid.Lime(model, X, num_features=2, num_samples=300, random_state=1)
    assert old.settings == new.settings and repr(old) == repr(new)
    _same_explanation(new.explain(X.iloc[:3]), old.explain(X.iloc[:3]))


def test_lime_per_call_num_features_warns_and_gives_the_same_bytes(fitted):
    model, X, _ = fitted
    new = pellucid.Lime(model, X, max_features=2, num_samples=300, random_state=2)
    lime = pellucid.Lime(model, X, num_samples=300, random_state=2)
    with pytest.warns(FutureWarning) as caught:
        old = lime.explain(X.iloc[:3], num_features=2)
    # Renamed, and (as every per-call setting) deprecated in explain() under its new name.
    _warned(caught, rf"Lime\.explain\({RENAMED}", r"Lime\(model, data, max_features=\.\.\.\)")
    _same_explanation(new.explain(X.iloc[:3]), old)


def test_lime_stability_takes_max_features_and_num_features_warns(fitted):
    model, X, _ = fitted
    lime = pellucid.Lime(model, X, num_samples=200)
    new = lime.stability(X.iloc[:2], seeds=2, top_k=2, max_features=2)
    with pytest.warns(FutureWarning, match=rf"Lime\.stability\({RENAMED}"):
        old = lime.stability(X.iloc[:2], seeds=2, top_k=2, num_features=2)
    assert new.top_k_jaccard.tobytes() == old.top_k_jaccard.tobytes()
    assert new.rank_correlation.tobytes() == old.rank_correlation.tobytes()


def test_lime_both_names_are_an_error(fitted):
    model, X, _ = fitted
    with pytest.raises(TypeError, match="both max_features= and its old name num_features="):
        pellucid.Lime(model, X, max_features=3, num_features=3)
    lime = pellucid.Lime(model, X, num_samples=50)
    with warnings.catch_warnings():  # the per-call deprecation is not what this tests
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(TypeError, match="both max_features= and its old name num_features="):
            lime.explain(X.iloc[:1], max_features=3, num_features=3)
    with pytest.raises(TypeError, match="both max_features= and its old name num_features="):
        lime.stability(X.iloc[:1], seeds=2, max_features=3, num_features=3)


def _word_model(texts):
    p = np.array([0.9 if "good" in t.split() else 0.2 for t in texts])
    return np.column_stack([1 - p, p])


def _grid(image):
    """Four 4 x 4 superpixels of an 8 x 8 image (no scikit-image needed)."""
    rows, cols = np.indices(image.shape[:2])
    return (rows // 4) * 2 + cols // 4


def _brightness(images):
    return images.reshape(len(images), -1)[:, :16].mean(axis=1)


@pytest.mark.parametrize(
    ("cls", "model", "extra", "subject"),
    [
        (LimeText, _word_model, {}, "a good film and a long one"),
        (
            LimeImage,
            _brightness,
            {"segmentation": _grid, "hide": 0.0},
            np.arange(64.0).reshape(8, 8),
        ),
    ],
    ids=["text", "image"],
)
def test_lime_media_max_features_and_the_old_name(cls, model, extra, subject):
    settings = {"num_samples": 200, "random_state": 3, **extra}
    new = cls(model, max_features=2, **settings)
    assert new.settings["max_features"] == 2 and "num_features" not in repr(new)
    with pytest.warns(FutureWarning, match=rf"{cls.__name__}\({RENAMED}"):
        old = cls(model, num_features=2, **settings)
    assert repr(old) == repr(new)
    exp = new.explain(subject)
    _same_explanation(exp, old.explain(subject))
    assert exp.params["max_features"] == 2
    with pytest.warns(FutureWarning) as caught:
        per_call = cls(model, **settings).explain(subject, num_features=2)
    _warned(caught, rf"{cls.__name__}\.explain\({RENAMED}", r"settings belong to the constructor")
    _same_explanation(exp, per_call)
    with pytest.raises(TypeError, match="both max_features="):
        cls(model, max_features=2, num_features=2)


# ------------------------------------------------------------ reason codes: max_reasons


@pytest.fixture(scope="module")
def explained(fitted):
    model, X, _ = fitted
    return pellucid.ExactShap(model.predict_proba, X.iloc[:40]).explain(X.iloc[:6])


def test_reason_codes_max_reasons_caps_the_reasons_per_row(explained):
    table = pellucid.reason_codes(explained, max_reasons=2, min_contribution=0)
    assert table.groupby("row").size().max() == 2
    assert table["rank"].max() == 2
    wide = pellucid.reason_codes(explained, max_reasons=5, min_contribution=0)
    assert wide.groupby("row").size().max() > 2
    with pytest.raises(ValueError, match="max_reasons must be a positive integer; got 0"):
        pellucid.reason_codes(explained, max_reasons=0)


def test_reason_codes_k_warns_and_gives_the_same_table(explained):
    new = pellucid.reason_codes(explained, max_reasons=2)
    with pytest.warns(FutureWarning, match=r"reason_codes\(k=\.\.\.\).*max_reasons="):
        old = pellucid.reason_codes(explained, k=2)
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(TypeError, match="both max_reasons= and its old name k="):
        pellucid.reason_codes(explained, max_reasons=3, k=2)


# ------------------------------------------------------------------ agreement: top_k


def test_agreement_top_k_warns_for_k_and_gives_the_same_result(explained):
    reversed_ = explained.values[:, ::-1, :].copy()
    other = pellucid.Explanation(
        values=reversed_, feature_names=explained.feature_names, output_names=("0", "1")
    )
    new = quality.agreement(explained, other, top_k=2)
    assert new.k == 2
    assert quality.agreement(explained, other, 2).to_json() == new.to_json()  # positional
    with pytest.warns(FutureWarning, match=r"agreement\(k=\.\.\.\).*top_k="):
        old = quality.agreement(explained, other, k=2)
    assert old.to_json() == new.to_json()
    with pytest.raises(TypeError, match="both top_k= and its old name k="):
        quality.agreement(explained, other, top_k=3, k=2)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        quality.agreement(explained, other, top_k=0)


# --------------------------------------------------------- CLI: --max-reasons (old --k)


@pytest.fixture(scope="module")
def cli_files(fitted, tmp_path_factory):
    model, X, y = fitted
    folder = tmp_path_factory.mktemp("counts")
    save_model(model, folder / "clf.skops")
    X.iloc[:30].assign(target=y[:30]).to_csv(folder / "clf.csv", index=False)
    return folder


def _reasons(folder, out, *flags):
    args = ["reasons", folder / "clf.skops", folder / "clf.csv", "--target", "target"]
    return CliRunner().invoke(app, [str(a) for a in [*args, "--out", out, *flags]])


def test_cli_reasons_max_reasons_and_the_old_k_flag(cli_files):
    now = _reasons(cli_files, cli_files / "new.csv", "--max-reasons", "2")
    before = _reasons(cli_files, cli_files / "old.csv", "--k", "2")
    assert now.exit_code == 0, now.output
    assert before.exit_code == 0, before.output
    assert now.stderr.strip() == ""
    lines = [line for line in before.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("note: ") and "--max-reasons" in lines[0]
    assert (cli_files / "new.csv").read_bytes() == (cli_files / "old.csv").read_bytes()
    table = pd.read_csv(cli_files / "new.csv")
    assert table.groupby("row").size().max() <= 2
    clash = _reasons(cli_files, cli_files / "clash.csv", "--max-reasons", "3", "--k", "2")
    assert clash.exit_code != 0 and "--max-reasons" in clash.output
