"""The dispatcher: which method explains a model, how it is built, and its fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pellucid
from pellucid import UnsupportedModelError
from pellucid._dispatch import (
    EXACT_MAX_PLAYERS,
    KERNEL_MAX_PLAYERS,
    build,
    build_best,
    choose,
    model_kind,
)
from pellucid.shapley._explain import CostWarning


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=120, n_features=4, random_state=0)
    return pd.DataFrame(X, columns=list("abcd")), y


def test_tree_model_gets_treeshap(regression):
    X, y = regression
    forest = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    assert model_kind(forest) == "tree"
    assert choose(forest, 4).method == "tree_shap"
    assert choose(pellucid.Model(forest), 4).method == "tree_shap"  # through the adapter
    # TreeShap attributes single features: grouped features go to a model-agnostic method.
    assert choose(forest, 2, feature_groups={"ab": ["a", "b"]}).method == "exact_shap"


def test_linear_model_gets_an_exact_method(regression):
    X, y = regression
    linear = LinearRegression().fit(X, y)
    assert model_kind(linear) == "linear"
    assert choose(linear, 4, additive=True).method == "exact_shap"
    assert choose(linear, EXACT_MAX_PLAYERS + 5, additive=True).method == "permutation_shap"
    # Not additive in the explained unit (a probability): sized like any other model.
    assert choose(linear, EXACT_MAX_PLAYERS + 5).method == "kernel_shap"
    # A Pipeline is not a bare linear model.
    assert model_kind(make_pipeline(StandardScaler(), linear)) == "other"


def test_wide_linear_model_explained_exactly_by_permutations():
    """Above EXACT_MAX_PLAYERS, a linear regressor gets permutation sampling, which is exact
    for it: the closed form coef_j * (x_j - mean of the background's column j)."""
    d = EXACT_MAX_PLAYERS + 2
    X, y = make_regression(n_samples=80, n_features=d, random_state=1)
    model = LinearRegression().fit(X, y)
    background, rows = X[:40], X[40:45]
    exp = pellucid.explain(model, rows, background=background, random_state=0)
    assert exp.method == "permutation_shap"
    expected = model.coef_ * (rows - background.mean(axis=0))
    np.testing.assert_allclose(exp.values, expected, rtol=1e-9, atol=1e-9)


def test_torch_model_gets_its_method():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert model_kind(net) == "torch"
    assert choose(net, 4, inputs="torch").method == "integrated_gradients"
    built = build("integrated_gradients", net)
    assert type(built).__name__ == "IntegratedGradients"
    # Given a table, a torch module is called like any other model.
    assert choose(net, 4).method == "exact_shap"


def test_other_models_by_size(regression):
    X, y = regression
    knn = KNeighborsRegressor().fit(X, y)
    assert model_kind(knn) == "other"
    assert choose(knn, EXACT_MAX_PLAYERS).method == "exact_shap"
    assert choose(knn, EXACT_MAX_PLAYERS + 1).method == "kernel_shap"
    assert choose(knn, KERNEL_MAX_PLAYERS).method == "kernel_shap"
    assert choose(knn, KERNEL_MAX_PLAYERS + 1).method == "permutation_shap"


def test_build_reads_capabilities_not_signatures(regression):
    X, y = regression
    knn = KNeighborsRegressor().fit(X, y)
    # random_state goes to sampled methods only; an exact one has no seed to take.
    exact = build("exact_shap", knn, X[:10], random_state=3)
    assert type(exact).__name__ == "ExactShap"
    kernel = build("kernel_shap", knn, X[:10], random_state=3, budget=32)
    assert kernel.random_state == 3 and kernel.budget == 32
    with pytest.raises(ValueError, match="kernel_shap needs reference data"):
        build("kernel_shap", knn)
    with pytest.raises(TypeError):  # a setting the method does not take is an error
        build("exact_shap", knn, X[:10], budget=32)


def test_tree_method_refuses_other_models_as_unsupported(regression):
    X, y = regression
    knn = KNeighborsRegressor().fit(X, y)
    with pytest.raises(UnsupportedModelError, match="tree_shap explains tree models only"):
        build("tree_shap", knn, X[:10])
    with pytest.raises(UnsupportedModelError, match="torch models only"):
        build("saliency", knn)


def test_unreadable_tree_model_falls_back_with_the_reason(regression):
    """A Pipeline around trees is not read by TreeShap: the fallback says why."""
    X, y = regression
    pipe = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=3, random_state=0))
    pipe.fit(X, y)
    choice, explainer = build_best(pipe, X[:20], 4, first="tree_shap")
    assert choice.method == "exact_shap" and choice.fell_back
    assert choice.refused[0][0] == "tree_shap"
    assert "Pipeline" in choice.refused[0][1]
    assert "tree_shap could not explain this model" in choice.note()
    assert type(explainer).__name__ == "ExactShap"


def test_explain_falls_back_when_treeshap_refuses_the_model():
    """TreeShap cannot read a Pipeline: explain warns with the cost, falls back and records
    the reason in the explanation's params."""
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    labels = (y > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), model).fit(X, labels)
    with pytest.warns(CostWarning, match="explaining with exact_shap instead"):
        exp = pellucid.explain(pipe, X[:3], background=X[:30], method="tree_shap")
    assert exp.method == "exact_shap"
    assert "tree_shap could not explain this model" in exp.params["method_choice"]
    assert "Pipeline" in exp.params["method_choice"]


def test_explain_falls_back_when_treeshap_refuses_the_unit():
    """A Poisson forest's prediction is exp(raw sum), not the sum TreeShap explains."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X, np.exp(y / 100))
    assert choose(model, 3).method == "tree_shap"
    with pytest.warns(CostWarning, match="not exp\\(raw sum\\)"):
        exp = pellucid.explain(model, X[:3], background=X[:30])
    assert exp.method == "exact_shap"
    assert "the prediction" in exp.params["method_choice"]
    np.testing.assert_allclose(exp.additivity_gap, 0.0, atol=1e-9)


def test_other_errors_are_not_taken_for_a_misfit(regression):
    """Only UnsupportedModelError means "does not fit": a bad setting is a real error."""
    X, y = regression
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="output must be one of"):
        build_best(forest, X[:20], 4, settings={"tree_shap": {"output": "nonsense"}})


def test_settings_and_first_choice_under_the_old_name_treeshap(regression):
    X, y = regression
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    choice, explainer = build_best(forest, X[:20], 4, first="treeshap")
    assert choice.method == "tree_shap" and type(explainer).__name__ == "TreeShap"
    with pytest.raises(ValueError, match="output must be one of"):  # the setting reached it
        build_best(forest, X[:20], 4, settings={"treeshap": {"output": "nonsense"}})
    both = {"treeshap": {}, "tree_shap": {}}
    with pytest.raises(ValueError, match="'tree_shap' given twice"):
        build_best(forest, X[:20], 4, settings=both)


def test_logistic_probability_is_not_treated_as_additive():
    X, y = make_regression(n_samples=60, n_features=EXACT_MAX_PLAYERS + 1, random_state=0)
    model = LogisticRegression(max_iter=500).fit(X, (y > 0).astype(int))
    from pellucid.shapley._explain import _additive_unit

    assert not _additive_unit(model, "probability")
    assert _additive_unit(model, "log_odds")


@pytest.mark.parametrize("name", pellucid._registry.available(kind="attribution", inputs="tabular"))
def test_every_tabular_attribution_method_builds_from_model_data_settings(name, regression):
    """Only (model, data, settings) through the dispatcher, then explain(X); a sampled
    method repeats its bytes for the same seed."""
    X, y = regression
    forest = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    first = build(name, forest, X[:30], random_state=5).explain(X[:3])
    assert isinstance(first, pellucid.Explanation) and first.values.shape == (3, 4)
    if pellucid._registry.spec(name).sampled:
        again = build(name, forest, X[:30], random_state=5).explain(X[:3])
        assert again.values.tobytes() == first.values.tobytes()
