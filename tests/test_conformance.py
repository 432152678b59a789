"""Every registered method must honour the shared contracts.

Parametrised over the registry: a method joins this suite by being
registered. Attribution methods on tabular data are run on one small
regression and one small classification problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pellucid import Explanation, FeatureImportance, PartialDependence
from pellucid._registry import _METHODS, MethodSpec, available, get, register, spec

ALL = sorted(_METHODS)
TABULAR_ATTRIBUTION = available(kind="attribution", inputs="tabular")


def test_registry_entries_are_well_formed():
    for name in ALL:
        s = spec(name)
        assert s.name == name and ":" in s.target, s
        assert callable(get(name)), name


def test_registry_rejects_bad_entries():
    with pytest.raises(ValueError, match="kind"):
        register(MethodSpec("x", "m:a", "nonsense"))
    with pytest.raises(KeyError, match="Unknown method 'nope'"):
        spec("nope")
    if ALL:
        with pytest.raises(ValueError, match="already registered"):
            register(spec(ALL[0]))


@pytest.fixture(scope="module")
def problems():
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    y_reg = X["a"] * 2 + X["b"] - X["c"] * X["d"]
    y_clf = (y_reg > 0).astype(int)
    return {
        "regression": (
            GradientBoostingRegressor(n_estimators=20, max_depth=2, random_state=0).fit(X, y_reg),
            X,
        ),
        "binary": (
            GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(X, y_clf),
            X,
        ),
    }


def _explain(name, model, X, seed):
    cls = get(name)
    settings = {} if spec(name).exact else {"random_state": seed}
    return cls(model, X.iloc[:30], **settings).explain(X.iloc[:5])


def _own_output(model, rows, exp):
    """What the library itself predicts for ``rows``, in ``exp.output_kind``'s unit."""
    if not hasattr(model, "predict_proba"):
        assert exp.output_kind in ("regression", None), exp.output_kind
        return model.predict(rows)
    proba = model.predict_proba(rows)
    if exp.output_kind == "probability":
        return proba if exp.multi_output else proba[:, 1]
    assert exp.output_kind in ("log_odds", "raw_margin"), (exp.method, exp.output_kind)
    return model.decision_function(rows)


@pytest.mark.parametrize("name", TABULAR_ATTRIBUTION)
@pytest.mark.parametrize("task", ["regression", "binary"])
def test_tabular_attribution_contract(name, task, problems):
    model, X = problems[task]
    exp = _explain(name, model, X, seed=0)
    assert isinstance(exp, Explanation)
    assert exp.values.shape[:2] == (5, 4)
    assert exp.feature_names == ("a", "b", "c", "d")
    assert exp.method == name
    if exp.multi_output:
        assert exp.values.shape[2] == len(exp.output_names)
    if exp.base_values is not None:
        assert exp.base_values.shape == exp.values.shape[:1] + exp.values.shape[2:]
    if spec(name).additive:
        np.testing.assert_allclose(exp.additivity_gap, 0, atol=1e-6)
    if exp.output is not None:
        # The explained output is the model's own prediction, in the unit it names.
        np.testing.assert_allclose(
            exp.output, _own_output(model, X.iloc[:5], exp), rtol=1e-9, atol=1e-12
        )
    if spec(name).exact:
        assert exp.std_errors is None
    again = _explain(name, model, X, seed=0)
    np.testing.assert_array_equal(again.values, exp.values)  # same seed, same bytes
    back = Explanation.from_json(exp.to_json())
    np.testing.assert_array_equal(back.values, exp.values)


@pytest.mark.parametrize("name", available(kind="global"))
def test_global_contract(name, problems):
    model, X = problems["regression"]
    y = model.predict(X)
    result = get(name)(model, X, y, random_state=0)
    assert isinstance(result, FeatureImportance)
    assert result.feature_names == ("a", "b", "c", "d")


@pytest.mark.parametrize("name", available(kind="effect"))
def test_effect_contract(name, problems):
    model, X = problems["regression"]
    result = get(name)(model, X, "a")
    assert isinstance(result, PartialDependence)
    assert result.features == ("a",)
