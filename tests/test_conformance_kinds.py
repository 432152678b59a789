"""The shared contracts for every kind the registry holds beyond tabular attributions:
torch attributions, rules, text and image attributions, interactions and
counterfactuals. A method joins by being registered; the last test fails when a
registered method is exercised by no contract (here or in test_conformance.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pellucid import Anchor, Explanation, HStatistic, _dispatch
from pellucid._registry import _METHODS, available, get, spec

TORCH = available(kind="attribution", inputs="torch")
RULES_TABULAR = available(kind="rule", inputs="tabular")
RULES_TEXT = available(kind="rule", inputs="text")
ATTRIBUTION_TEXT = available(kind="attribution", inputs="text")
ATTRIBUTION_IMAGE = available(kind="attribution", inputs="image")
INTERACTIONS = available(kind="interaction")
COUNTERFACTUALS = available(kind="counterfactual")


@pytest.fixture(scope="module")
def tabular():
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = ((X["a"] > 0) & (X["b"] > -0.5)).astype(int)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=2, random_state=0).fit(X, y)
    return model, X


# ---------------------------------------------------------------- torch
@pytest.fixture(scope="module")
def torch_problem():
    torch = pytest.importorskip("torch")
    import torch_models

    model = torch_models.cnn(seed=0).eval()
    shape = (2, 8, 8)  # torch_models.cnn's input
    inputs = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return model, inputs


# Settings a method needs for this small input (a window that fits in (2, 8, 8)).
TORCH_SETTINGS = {"occlusion": {"window": (2, 4, 4), "strides": (1, 4, 4)}}


def _torch_explain(name, model, inputs, seed):
    data = inputs[:2] * 0 if spec(name).data == "required" else None
    seed_ = seed if spec(name).sampled else None
    settings = TORCH_SETTINGS.get(name, {})
    explainer = _dispatch.build(name, model, data, random_state=seed_, **settings)
    return explainer.explain(inputs, target=1)


@pytest.mark.parametrize("name", TORCH)
def test_torch_attribution_contract(name, torch_problem):
    import torch

    model, inputs = torch_problem
    exp = _torch_explain(name, model, inputs, seed=0)
    assert isinstance(exp, Explanation)
    assert exp.method == name
    assert exp.values.shape[0] == 3
    assert exp.values.shape[1:] in (tuple(inputs.shape[1:]), tuple(inputs.shape[2:]))
    assert np.isfinite(exp.values).all()
    if exp.output is not None:
        with torch.no_grad():
            own = model(inputs)[:, 1].double().numpy()
        np.testing.assert_allclose(np.asarray(exp.output).reshape(-1), own, rtol=1e-5, atol=1e-6)
    again = _torch_explain(name, model, inputs, seed=0)
    np.testing.assert_array_equal(again.values, exp.values)  # same seed, same bytes
    back = Explanation.from_json(exp.to_json())
    np.testing.assert_array_equal(back.values, exp.values)


# ---------------------------------------------------------------- rules
def _holds(predicate, row) -> bool:
    value = row[predicate.feature]
    ops = {
        "<=": lambda v, t: v <= t,
        "<": lambda v, t: v < t,
        ">": lambda v, t: v > t,
        ">=": lambda v, t: v >= t,
        "==": lambda v, t: v == t,
    }
    if predicate.op in ops:
        return bool(ops[predicate.op](value, predicate.value))
    if predicate.op == "in":
        return value in predicate.value
    raise AssertionError(f"unknown operator {predicate.op!r}")


@pytest.mark.parametrize("name", RULES_TABULAR)
def test_tabular_rule_contract(name, tabular):
    model, X = tabular
    row = X.iloc[[5]]
    rule = get(name)(model, X, random_state=0).explain(row)
    assert isinstance(rule, Anchor)
    assert 0.0 <= rule.precision <= 1.0 and 0.0 <= rule.coverage <= 1.0
    assert rule.prediction == model.predict(row)[0]
    for predicate in rule.predicates:  # the rule holds on the row it explains
        assert _holds(predicate, row.iloc[0]), predicate
    again = get(name)(model, X, random_state=0).explain(row)
    assert again.to_json() == rule.to_json()
    assert Anchor.from_json(rule.to_json()).to_json() == rule.to_json()


def _keyword_model(texts):
    p = np.array([0.9 if "good" in t.split() else 0.1 for t in texts])
    return np.column_stack([1 - p, p])


@pytest.mark.parametrize("name", RULES_TEXT)
def test_text_rule_contract(name):
    text = "the plot was good but the ending dragged on"
    rule = get(name)(_keyword_model, random_state=0).explain(text)
    assert isinstance(rule, Anchor)
    assert 0.0 <= rule.precision <= 1.0 and 0.0 <= rule.coverage <= 1.0
    assert all(p.feature in text.split() for p in rule.predicates)
    assert get(name)(_keyword_model, random_state=0).explain(text).to_json() == rule.to_json()


# ---------------------------------------------------------------- text and image
@pytest.mark.parametrize("name", ATTRIBUTION_TEXT)
def test_text_attribution_contract(name):
    text = "a good cast and a good score"
    exp = get(name)(_keyword_model, num_samples=300, random_state=0).explain(text)
    assert isinstance(exp, Explanation) and exp.method == name
    assert exp.values.shape[0] == 1 and exp.values.shape[1] == len(exp.feature_names)
    np.testing.assert_allclose(exp.output, _keyword_model([text]), atol=1e-12)
    again = get(name)(_keyword_model, num_samples=300, random_state=0).explain(text)
    np.testing.assert_array_equal(again.values, exp.values)


def _bright_corner(images):
    share = (np.asarray(images, dtype=float)[:, :4, :4] > 0.9).mean(axis=(1, 2, 3))
    p = 1 / (1 + np.exp(-(share - 0.25) * 10))
    return np.column_stack([1 - p, p])


@pytest.mark.parametrize("name", ATTRIBUTION_IMAGE)
def test_image_attribution_contract(name):
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.5, size=(16, 16, 3))
    image[:4, :4] = 1.0
    exp = get(name)(_bright_corner, num_samples=200, random_state=0).explain(image)
    assert isinstance(exp, Explanation) and exp.method == name
    assert exp.values.shape[:3] == (1, 16, 16)
    np.testing.assert_allclose(exp.output, _bright_corner(image[None]), atol=1e-12)
    again = get(name)(_bright_corner, num_samples=200, random_state=0).explain(image)
    np.testing.assert_array_equal(again.values, exp.values)


# ---------------------------------------------------------------- interactions
@pytest.mark.parametrize("name", INTERACTIONS)
def test_interaction_contract(name, tabular):
    from sklearn.linear_model import LinearRegression

    _, X = tabular
    additive = LinearRegression().fit(X, X["a"] - 2 * X["b"])
    h = get(name)(additive, X, ["a", "b"], random_state=0)
    assert isinstance(h, HStatistic) and h.method == name
    np.testing.assert_allclose(h.values, 0.0, atol=1e-12)  # no interaction in a sum
    model, _ = tabular
    h2 = get(name)(model, X, ["a", "b"], random_state=0)
    assert ((h2.values >= 0) & (h2.values <= 1)).all()


# ---------------------------------------------------------------- counterfactuals
@pytest.mark.parametrize("name", COUNTERFACTUALS)
def test_counterfactual_contract(name, tabular):
    model, X = tabular
    declined = X[model.predict(X) == 0].iloc[:3]
    found = get(name)(model, X, immutable=("d",), random_state=0).explain(declined)
    assert found.certificates and len(found.certificates) == 3
    for cf in found.counterfactuals:
        row = pd.DataFrame([cf.values], columns=list(found.feature_names))
        assert model.predict(row)[0] == 1 and cf.valid  # flips the model's own predict
        assert row["d"].iloc[0] == declined["d"].iloc[cf.row]  # immutable to the bit


# ---------------------------------------------------------------- every method covered
def test_every_registered_method_has_a_contract():
    from test_conformance import TABULAR_ATTRIBUTION

    covered = (
        set(TABULAR_ATTRIBUTION)
        | set(available(kind="global"))
        | set(available(kind="effect"))
        | set(TORCH)
        | set(RULES_TABULAR)
        | set(RULES_TEXT)
        | set(ATTRIBUTION_TEXT)
        | set(ATTRIBUTION_IMAGE)
        | set(INTERACTIONS)
        | set(COUNTERFACTUALS)
    )
    assert covered == set(_METHODS)
