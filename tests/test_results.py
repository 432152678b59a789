from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from pellucid import Anchor, Explanation, FeatureImportance, PartialDependence, Predicate


def make_explanation(n=4, d=3, k=None, rng=None):
    rng = rng or np.random.default_rng(0)
    shape = (n, d) if k is None else (n, d, k)
    values = rng.normal(size=shape)
    base = rng.normal(size=(n,) if k is None else (n, k))
    output = base + values.sum(axis=1)
    return Explanation(
        values=values,
        base_values=base,
        data=rng.normal(size=(n, d)),
        feature_names=[f"f{i}" for i in range(d)],
        output_names=None if k is None else [f"c{j}" for j in range(k)],
        method="test",
        params={"alpha": 1},
        std_errors=np.abs(values) / 10,
        output=output,
        diagnostics={"fidelity": np.linspace(0, 1, n)},
    )


def test_shapes_and_gap():
    e = make_explanation(k=2)
    assert e.values.shape == (4, 3, 2)
    assert e.n_outputs == 2 and e.multi_output and e.feature_shape == (3,)
    np.testing.assert_allclose(e.additivity_gap, 0, atol=1e-12)


def test_frozen_and_readonly():
    e = make_explanation()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.values = np.zeros((4, 3))  # type: ignore[misc]
    with pytest.raises(ValueError):
        e.values[0, 0] = 1.0


def test_slicing_rows_features_outputs():
    e = make_explanation(k=2)
    one = e[1]
    assert one.values.shape == (1, 3, 2)
    np.testing.assert_array_equal(one.values[0], e.values[1])
    sub = e[:, ["f2", "f0"]]
    np.testing.assert_array_equal(sub.values, e.values[:, [2, 0]])
    assert sub.feature_names == ("f2", "f0")
    assert sub.output is None  # a feature subset is no longer additive to the output
    np.testing.assert_array_equal(sub.data, e.data[:, [2, 0]])
    cls = e[:, :, "c1"]
    assert cls.output_names is None and cls.values.shape == (4, 3)
    np.testing.assert_array_equal(cls.values, e.values[..., 1])
    np.testing.assert_allclose(cls.additivity_gap, 0, atol=1e-12)
    np.testing.assert_array_equal(e[1:3].diagnostics["fidelity"], e.diagnostics["fidelity"][1:3])


def test_unknown_names_raise():
    e = make_explanation(k=2)
    with pytest.raises(KeyError, match="nope"):
        e[:, "nope"]
    with pytest.raises(KeyError, match="c9"):
        e[:, :, "c9"]
    with pytest.raises(IndexError):
        make_explanation()[:, :, 0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(values=np.zeros(3)), "row axis"),
        (dict(values=np.zeros((2, 3)), feature_names=["a", "b"]), "feature_names"),
        (dict(values=np.zeros((2, 3)), base_values=np.zeros(3)), "base_values"),
        (dict(values=np.zeros((2, 3, 2)), output_names=["a"]), "output_names"),
        (dict(values=np.zeros((2, 3)), std_errors=np.zeros((2, 2))), "std_errors"),
        (dict(values=np.zeros((2, 3)), data=np.zeros((3, 3))), "data has 3 rows"),
    ],
)
def test_shape_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Explanation(**kwargs)


def test_to_frame():
    e = make_explanation(k=2)
    frame = e.to_frame()
    assert list(frame.columns) == ["f0", "f1", "f2"]
    assert frame.shape == (8, 3)
    np.testing.assert_array_equal(frame.loc[(1, "c1")].to_numpy(), e.values[1, :, 1])
    single = make_explanation().to_frame()
    np.testing.assert_array_equal(single.to_numpy(), make_explanation().values)


def test_json_round_trip_with_nan_and_strings():
    e = make_explanation(k=2)
    data = np.array([[1.5, "rent", np.nan]] * 4, dtype=object)
    e = dataclasses.replace(e, data=data)
    back = Explanation.from_json(e.to_json())
    for name in ("values", "base_values", "std_errors", "output"):
        np.testing.assert_array_equal(getattr(back, name), getattr(e, name))
    assert back.feature_names == e.feature_names and back.output_names == e.output_names
    # a missing cell comes back missing as it went in (NaN), not coerced to None
    assert back.data[0, 1] == "rent" and back.data[0, 0] == 1.5
    assert isinstance(back.data[0, 2], float) and np.isnan(back.data[0, 2])
    assert back.params == {"alpha": 1} and back.method == "test"
    np.testing.assert_array_equal(back.diagnostics["fidelity"], e.diagnostics["fidelity"])
    payload = json.loads(e.to_json())
    assert payload["schema_version"] == 1 and payload["type"] == "Explanation"


def test_json_rejects_other_versions(tmp_path):
    payload = json.loads(make_explanation().to_json())
    payload["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version 99"):
        Explanation.from_dict(payload)
    path = tmp_path / "e.json"
    make_explanation().to_json(str(path))
    assert Explanation.from_json(str(path)).n_rows == 4


def test_image_shaped_explanation():
    e = Explanation(values=np.ones((2, 1, 4, 4)), base_values=np.zeros(2), output=np.full(2, 16.0))
    assert e.feature_shape == (1, 4, 4)
    np.testing.assert_allclose(e.additivity_gap, 0)
    assert e[0].values.shape == (1, 1, 4, 4)


def test_repr_html_lists_features():
    html = make_explanation()._repr_html_()
    assert "f0" in html and "<table>" in html


def test_feature_importance_interval():
    imp = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    fi = FeatureImportance(importances=imp, feature_names=["a", "b"])
    np.testing.assert_allclose(fi.importances_mean, [2.0, 0.0])
    # t(0.975, 2) * 1 / sqrt(3)
    np.testing.assert_allclose(fi.ci_high[0] - 2.0, 4.302652729749464 / np.sqrt(3), rtol=1e-12)
    assert fi.to_frame()["feature"].tolist() == ["a", "b"]
    back = FeatureImportance.from_json(fi.to_json())
    np.testing.assert_array_equal(back.importances, imp)
    with pytest.raises(ValueError, match="n_features=2"):
        FeatureImportance(importances=np.zeros((3, 2)), feature_names=["a", "b"])


def test_partial_dependence_shapes_and_frame():
    pd_ = PartialDependence(
        features=("a", "b"),
        grid_values=(np.array([0.0, 1.0]), np.array([5.0, 6.0, 7.0])),
        average=np.arange(6.0).reshape(1, 2, 3),
        output_names=("y",),
    )
    frame = pd_.to_frame()
    assert frame.shape == (6, 4)
    assert frame.loc[(frame.a == 1.0) & (frame.b == 7.0), "value"].item() == 5.0
    back = PartialDependence.from_json(pd_.to_json())
    np.testing.assert_array_equal(back.average, pd_.average)
    with pytest.raises(ValueError, match="average"):
        PartialDependence(features=("a",), grid_values=(np.zeros(3),), average=np.zeros((1, 4)))


def test_anchor_rule_and_covers():
    anchor = Anchor(
        predicates=(Predicate("income", ">", 52000.0), Predicate("housing", "==", "rent")),
        precision=0.97,
        coverage=0.2,
        prediction=1,
    )
    assert anchor.rule == "income > 52,000 AND housing == 'rent'"
    X = pd.DataFrame({"income": [60000, 40000, 60000], "housing": ["rent", "rent", "own"]})
    np.testing.assert_array_equal(anchor.covers(X), [True, False, False])
    back = Anchor.from_json(anchor.to_json())
    assert back.predicates == anchor.predicates
    with pytest.raises(ValueError, match="operator"):
        Predicate("a", "~", 1)
    with pytest.raises(KeyError, match="income"):
        anchor.covers(X.drop(columns="income"))
