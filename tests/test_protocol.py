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
PER_CALL = {"first_row", "target", "desired", "k", "kwargs", "baselines"}


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


# --- the torch explainers on the same protocol


def _torch_problem():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(2 * 4 * 4, 3),
    ).double()
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return net, x


def _torch_names():
    return [n for n in sorted(_METHODS) if spec(n).inputs == "torch"]


def test_torch_explain_takes_the_registrys_per_call_arguments_and_nothing_else():
    pytest.importorskip("torch")
    from pellucid.torch import TorchExplainer

    assert len(_torch_names()) == 8
    for name in _torch_names():
        cls, s = get(name), spec(name)
        assert issubclass(cls, ExplainerBase) and issubclass(cls, TorchExplainer), name
        explain = list(inspect.signature(cls.explain).parameters.values())[2:]
        assert all(p.kind is p.KEYWORD_ONLY for p in explain), name
        assert [p.name for p in explain] == list(s.per_call), name
        # a seed setting exactly where the registry says the numbers are sampled
        assert ("random_state" in cls.setting_names()) is s.sampled, name
        assert "baselines" not in cls.setting_names(), name
        assert cls._call_settings == cls.setting_names(), name


def test_torch_settings_are_attributes_shown_in_the_repr():
    net, x = _torch_problem()
    sg = pellucid.SmoothGrad(net, n_samples=7, kind="vargrad", random_state=3)
    assert sg.settings == {
        "n_samples": 7,
        "noise_level": 0.15,
        "stdev": None,
        "kind": "vargrad",
        "mode": "gradient",
        "random_state": 3,
        "batch_size": None,
    }
    assert repr(sg) == (
        "SmoothGrad(n_samples=7, noise_level=0.15, stdev=None, kind='vargrad', "
        "mode='gradient', random_state=3, batch_size=None)"
    )
    cam = pellucid.GradCam(net, net[0], guided=True)
    assert cam.settings["layer"] == "0" and "layer='0'" in repr(cam)
    lrp = pellucid.Lrp(net, composite="epsilon_gamma_box", low=0.0, high=1.0)
    assert "composite='epsilon_gamma_box'" in repr(lrp) and "low=0.0, high=1.0" in repr(lrp)
    ig = pellucid.IntegratedGradients(net, x[:1] * 0, n_steps=8)
    assert repr(ig) == "IntegratedGradients(n_steps=8, rule='gausslegendre', batch_size=None)"
    assert repr(pellucid.GuidedBackprop(net)) == "GuidedBackprop(batch_size=None)"
    assert isinstance(ig, Explainer)


def test_torch_with_settings_gives_the_constructor_bytes():
    net, x = _torch_problem()
    bg = x.flip(0) * 0.5
    for old, new in [
        (pellucid.SmoothGrad(net, n_samples=4, random_state=0), {"random_state": 9}),
        (pellucid.GradientShap(net, bg, n_samples=3, random_state=0), {"random_state": 9}),
        (pellucid.Occlusion(net, 0.5, window=(1, 2, 2)), {"strides": (1, 2, 2)}),
        (pellucid.GradCam(net, "0"), {"relu": False}),
        (pellucid.Lrp(net), {"rule": "epsilon", "epsilon": 0.1}),
    ]:
        cls = type(old)
        data = (old.baselines,) if cls._takes_data() else ()
        built = cls(net, *data, **{**old.settings, **new}).explain(x, target=1)
        changed = old.with_settings(**new)
        assert changed.settings == {**old.settings, **new}
        _same(changed.explain(x, target=1), built)
    sg = pellucid.SmoothGrad(net, n_samples=4, random_state=0)
    _same(_protocol.with_seed(sg, 5).explain(x), sg.with_settings(random_state=5).explain(x))
    with pytest.raises(ValueError, match="n_samples"):
        sg.with_settings(n_samples=0)
    with pytest.raises(TypeError, match="no setting"):
        sg.with_settings(baselines=0.0)


def test_torch_bad_settings_fail_in_the_constructor():
    net, _ = _torch_problem()
    with pytest.raises(ValueError, match="window"):
        pellucid.Occlusion(net, window=0)
    with pytest.raises(ValueError, match="strides"):
        pellucid.Occlusion(net, strides=(1, 0, 1))
    with pytest.raises(ValueError, match="random_state"):
        pellucid.SmoothGrad(net, random_state=-1)
    with pytest.raises(ValueError, match="random_state"):
        pellucid.GradientShap(net, np.zeros((2, 1, 4, 4)), random_state="seed")
    with pytest.raises(ValueError, match="stdev"):
        pellucid.GradientShap(net, np.zeros((2, 1, 4, 4)), stdev=-0.1)
    with pytest.raises(ValueError, match="batch_size"):
        pellucid.Saliency(net, batch_size=0)
    with pytest.raises(ValueError, match="Unknown canonizer 'merge_batchnorms'"):
        pellucid.Lrp(net, canonizers=("merge_batchnorms",))
    assert pellucid.Lrp(net, canonizers="merge_batchnorm").canonizers == "merge_batchnorm"


def test_integrated_gradients_per_call_baselines_are_data():
    """Per-row baselines given to explain() are that call's data: the same bytes as
    the constructor's, no warning, and the constructor's baselines otherwise."""
    net, x = _torch_problem()
    b = x.flip(0) * 0.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_call = pellucid.IntegratedGradients(net, n_steps=8).explain(x, baselines=b)
    built = pellucid.IntegratedGradients(net, b, n_steps=8).explain(x)
    _same(per_call, built)
    _same(pellucid.IntegratedGradients(net, b, n_steps=8).explain(x, baselines=None), built)
    with pytest.raises(TypeError, match="unexpected keyword"):
        pellucid.IntegratedGradients(net, n_steps=8).explain(x, n_steps=4)
