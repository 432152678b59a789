"""One explainer protocol: settings in the constructor, data in ``explain``.

Checks, over the registry, that every explainer class satisfies the protocol;
that the one-release per-call form gives the constructor form's bytes and
warns naming the constructor argument; that renamed arguments (``background=``,
``training_data=``, ``groups=``) warn and mean the same; that ``n_jobs`` given
to a Shapley constructor (threads before, rows now) never changes silently.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

import pellucid
from pellucid import _protocol
from pellucid._protocol import UNSET, Explainer, ExplainerBase
from pellucid._registry import _METHODS, get, spec

#: Per-call choices explain() may take besides the data (not settings).
PER_CALL = {"first_row", "target", "desired", "k", "kwargs"}


def _classes() -> list[str]:
    names = []
    for name in sorted(_METHODS):
        if spec(name).inputs == "torch":
            pytest.importorskip("torch")
        if inspect.isclass(get(name)):
            names.append(name)
    return names


@pytest.fixture
def warn_deprecated(monkeypatch):
    """The deprecation warnings as the next release step turns them on."""
    monkeypatch.setattr(_protocol, "WARN_DEPRECATED", True)


@pytest.fixture(scope="module")
def problem():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + X["b"] * X["c"] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def test_every_registered_explainer_class_satisfies_the_protocol():
    names = _classes()
    assert {"kernel_shap", "lime", "anchors", "tree_shap", "lime_text"} <= set(names)
    for name in names:
        cls = get(name)
        assert issubclass(cls, Explainer), name
        first = next(iter(list(inspect.signature(cls.__init__).parameters)[1:]))
        assert first in ("model", "module"), (name, first)


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(_METHODS) if inspect.isclass(get(n)) and issubclass(get(n), ExplainerBase)],
)
def test_settings_live_in_the_constructor(name):
    """Every setting is a keyword of the constructor; explain() takes only data and
    per-call choices, the rest being the deprecated overrides (default UNSET)."""
    cls = get(name)
    settings = cls.setting_names()
    if spec(name).sampled:
        assert "random_state" in settings, name
    params = inspect.signature(cls.__init__).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), name
    if spec(name).inputs == "tabular":
        assert "data" in params, name
    explain = inspect.signature(cls.explain).parameters
    for pname, p in list(explain.items())[2:]:
        if pname in PER_CALL:
            continue
        # A deprecated old name of a setting (LIME's num_features) is accepted per call too.
        setting = cls._renamed.get(pname, pname)
        assert setting in settings and p.default is UNSET, (name, pname)


def test_settings_are_attributes_shown_in_the_repr(problem):
    model, X = problem
    ks = pellucid.KernelShap(model, X[:10], budget=64, random_state=3, n_jobs=1, model_threads=1)
    assert ks.budget == 64 and ks.random_state == 3 and ks.n_jobs == 1
    assert ks.settings["budget"] == 64
    text = repr(ks)
    assert text.startswith("KernelShap(") and "budget=64" in text and "random_state=3" in text
    assert len(text) < 400
    lime = pellucid.Lime(model, X, num_samples=300, random_state=1)
    assert "num_samples=300" in repr(lime) and lime.settings["random_state"] == 1
    assert isinstance(ks, Explainer) and isinstance(lime, Explainer)


def test_with_settings_changes_only_what_explain_reads(problem):
    model, X = problem
    ks = pellucid.KernelShap(model, X[:10], budget=64, random_state=0)
    other = ks.with_settings(random_state=1)
    assert other.random_state == 1 and ks.random_state == 0 and other.game is ks.game
    with pytest.raises(TypeError, match="link"):
        ks.with_settings(link="logit")


def test_bad_settings_fail_in_the_constructor(problem):
    model, X = problem
    with pytest.raises(ValueError, match="budget"):
        pellucid.KernelShap(model, X[:10], budget=2)
    with pytest.raises(ValueError, match="random_state"):
        pellucid.PermutationShap(model, X[:10], random_state=-1)
    with pytest.raises(ValueError, match="num_samples"):
        pellucid.Lime(model, X, num_samples=1)
    with pytest.raises(ValueError, match="threshold"):
        pellucid.Anchors(model, X, threshold=1.5)
    with pytest.raises(ValueError, match="n_jobs"):
        pellucid.Lime(model, X, n_jobs=0)


def _same(a, b):
    for field in ("values", "base_values", "std_errors", "output"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None), field
        if x is not None:
            assert np.asarray(x).tobytes() == np.asarray(y).tobytes(), field


@pytest.mark.parametrize("cls", ["KernelShap", "PermutationShap"])
def test_per_call_settings_give_the_constructor_bytes_and_warn(cls, problem, warn_deprecated):
    model, X = problem
    Cls = getattr(pellucid, cls)
    new = Cls(model, X[:10], budget=40, random_state=7, n_jobs=1, model_threads=1)
    new = new.explain(X[20:24])
    with pytest.warns(FutureWarning, match=rf"{cls}\(model, data, n_jobs=\.\.\., budget=\.\.\."):
        old = Cls(model, X[:10], model_threads=1).explain(
            X[20:24], budget=40, random_state=7, n_jobs=1
        )
    _same(new, old)


def test_lime_per_call_settings_give_the_constructor_bytes_and_warn(problem, warn_deprecated):
    model, X = problem
    new = pellucid.Lime(model, X, max_features=3, num_samples=200, random_state=4).explain(X[:3])
    with pytest.warns(FutureWarning, match="max_features=..., num_samples=..., random_state="):
        old = pellucid.Lime(model, X).explain(
            X[:3], max_features=3, num_samples=200, random_state=4
        )
    _same(new, old)


def test_anchors_per_call_settings_give_the_constructor_anchor_and_warn(problem, warn_deprecated):
    model, X = problem
    new = pellucid.Anchors(model, X, threshold=0.9, random_state=2).explain(X[:1])
    with pytest.warns(FutureWarning, match=r"Anchors\(model, data, threshold"):
        old = pellucid.Anchors(model, X).explain(X[:1], threshold=0.9, random_state=2)
    assert new.to_json() == old.to_json()
    rows_new = pellucid.Anchors(model, X, random_state=5).explain_rows(X[:2])
    with pytest.warns(FutureWarning, match="random_state"):
        rows_old = pellucid.Anchors(model, X).explain_rows(X[:2], random_state=5)
    assert [a.to_json() for a in rows_new] == [a.to_json() for a in rows_old]


def test_text_and_image_per_call_settings_warn(warn_deprecated):
    def model(texts):
        p = np.array([0.9 if "good" in t else 0.2 for t in texts])
        return np.column_stack([1 - p, p])

    text = "a good day with good friends"
    new = pellucid.LimeText(model, num_samples=100, random_state=1).explain(text)
    with pytest.warns(FutureWarning, match="LimeText"):
        old = pellucid.LimeText(model).explain(text, num_samples=100, random_state=1)
    _same(new, old)
    anchor = pellucid.AnchorsText(model, random_state=1).explain(text)
    with pytest.warns(FutureWarning, match="AnchorsText"):
        again = pellucid.AnchorsText(model).explain(text, random_state=1)
    assert anchor.to_json() == again.to_json()


def test_no_warning_in_the_constructor_form(problem, warn_deprecated):
    model, X = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pellucid.KernelShap(model, X[:10], budget=40, random_state=0).explain(X[:2])
        pellucid.Lime(model, X, num_samples=100, random_state=0).explain(X[:2])
        pellucid.ExactShap(model, data=X[:10], feature_groups={"ab": ["a", "b"]}).explain(X[:2])


@pytest.mark.parametrize("cls", ["ExactShap", "KernelShap", "PermutationShap", "TreeShap"])
def test_background_is_a_deprecated_alias_of_data(cls, problem, warn_deprecated):
    model, X = problem
    if cls == "TreeShap":
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0)
        model.fit(X, X["a"])
    Cls = getattr(pellucid, cls)
    extra = {"random_state": 0, "budget": 40} if cls in ("KernelShap", "PermutationShap") else {}
    new = Cls(model, data=X[:10], **extra).explain(X[:2])
    with pytest.warns(FutureWarning, match=r"background=\.\.\.\) is deprecated.*data="):
        old = Cls(model, background=X[:10], **extra).explain(X[:2])
    _same(new, old)
    with pytest.raises(TypeError, match="both data= and its old name background="):
        Cls(model, X[:10], background=X[:10])


@pytest.mark.parametrize("cls", ["Lime", "Anchors"])
def test_training_data_is_a_deprecated_alias_of_data(cls, problem, warn_deprecated):
    model, X = problem
    Cls = getattr(pellucid, cls)
    with pytest.warns(FutureWarning, match=r"training_data=\.\.\.\) is deprecated.*data="):
        old = Cls(model, training_data=X, random_state=0)
    assert old.feature_names == Cls(model, X).feature_names
    with pytest.raises(TypeError, match="needs training data"):
        Cls(model)


def test_groups_is_a_deprecated_alias_of_feature_groups(problem, warn_deprecated):
    model, X = problem
    groups = {"ab": ["a", "b"]}
    new = pellucid.ExactShap(model, X[:10], feature_groups=groups).explain(X[:2])
    with pytest.warns(FutureWarning, match="feature_groups="):
        old = pellucid.ExactShap(model, X[:10], groups=groups).explain(X[:2])
    _same(new, old)
    assert new.feature_names == ("ab", "c", "d") and new.params["feature_groups"] == groups
    y = model.predict(X)
    fi = pellucid.permutation_importance(model, X, y, feature_groups=groups, random_state=0)
    with pytest.warns(FutureWarning, match="feature_groups="):
        fi_old = pellucid.permutation_importance(model, X, y, groups=groups, random_state=0)
    assert fi.importances.tobytes() == fi_old.importances.tobytes()
    assert fi.feature_names == ("ab",)


def test_shapley_n_jobs_old_meaning_is_never_silent(problem):
    """n_jobs in a Shapley constructor meant model threads; now rows at once."""
    model, X = problem
    with pytest.warns(FutureWarning, match=r"model_threads=2"):
        ks = pellucid.KernelShap(model, X[:10], n_jobs=2)
    assert ks.n_jobs == 2 and ks.model_threads is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ks = pellucid.KernelShap(model, X[:10], n_jobs=2, model_threads=1)
    assert ks.game.threads() == 1


def test_registry_capabilities_match_the_classes():
    """``data`` says whether the constructor takes reference data after the model;
    ``per_call`` names what ``explain`` takes besides the data."""
    from pellucid._registry import DATA_NEEDS, OUTPUT_KINDS, MethodSpec, register

    for name in _classes():
        s, cls = spec(name), get(name)
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        takes_data = len(positional) > 1 and positional[1].name in ("data", "baselines")
        assert takes_data is (s.data != "none"), (name, s.data)
        if s.data == "required" and positional[1].default is not inspect.Parameter.empty:
            with pytest.raises((TypeError, ValueError)):
                cls(lambda Z: np.zeros(len(Z)))
        explain = inspect.signature(cls.explain).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in explain.values())
        assert takes_any or set(s.per_call) <= set(explain), (name, s.per_call)
        assert set(s.outputs) <= set(OUTPUT_KINDS) and s.data in DATA_NEEDS
    assert spec("anchors").outputs == ("class",) and spec("tree_shap").data == "optional"
    with pytest.raises(ValueError, match="data"):
        register(MethodSpec("x_method", "m:a", "attribution", data="sometimes"))
    with pytest.raises(ValueError, match="outputs"):
        register(MethodSpec("x_method", "m:a", "attribution", outputs=("logits",)))


def test_deprecations_warn_in_this_release(problem):
    """The one switch is on: old spellings warn without any set-up."""
    model, X = problem
    with pytest.warns(FutureWarning, match="belong to the constructor"):
        pellucid.KernelShap(model, X[:10]).explain(X[:1], budget=8)
    with pytest.warns(FutureWarning, match="data="):
        pellucid.Lime(model, training_data=X)
