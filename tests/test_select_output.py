"""Explanation.select_output: the one way to pick one output of an explanation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import pellucid
from pellucid import Explanation
from pellucid._results import OutputSelectionError


@pytest.fixture(scope="module")
def iris_explanation():
    """ExactShap of a 3-class logistic regression's probabilities (string class labels)."""
    data = load_iris(as_frame=True)
    X = data.data
    y = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    model = LogisticRegression(max_iter=1000).fit(X, y)
    rows = X.iloc[[0, 60, 120, 75]]
    exp = pellucid.explain(model, rows, background=X.iloc[::5], method="exact_shap")
    return model, rows, exp


def test_three_classes_by_label_and_index_equal_slicing(iris_explanation):
    model, rows, exp = iris_explanation
    assert exp.output_names == tuple(model.classes_)
    for j, label in enumerate(model.classes_):
        for key in (label, j, j - 3):
            one = exp.select_output(key)
            assert one.values.shape == (4, 4) and one.output_names is None
            np.testing.assert_array_equal(one.values, exp.values[:, :, j])
            np.testing.assert_array_equal(one.base_values, exp.base_values[:, j])
            np.testing.assert_array_equal(one.output, exp.output[:, j])
            sliced = exp[:, :, j]
            np.testing.assert_array_equal(one.values, sliced.values)
            np.testing.assert_array_equal(one.base_values, sliced.base_values)


def test_selected_output_is_additive_to_the_models_probability(iris_explanation):
    model, rows, exp = iris_explanation
    proba = model.predict_proba(rows)
    for j, label in enumerate(model.classes_):
        one = exp.select_output(label)
        # Exact Shapley values are efficient: base + sum = the model's own probability.
        np.testing.assert_allclose(one.base_values + one.values.sum(axis=1), proba[:, j], atol=1e-9)
        np.testing.assert_allclose(one.additivity_gap, 0.0, atol=1e-9)


def test_predicted_picks_each_rows_largest_output(iris_explanation):
    model, rows, exp = iris_explanation
    predicted = np.argmax(model.predict_proba(rows), axis=1)
    assert len(set(predicted)) == 3  # the rows were chosen to cover every class
    np.testing.assert_array_equal(exp.output_index("predicted"), predicted)
    one = exp.select_output("predicted")
    np.testing.assert_array_equal(one.values, exp.values[np.arange(4), :, predicted])
    np.testing.assert_array_equal(one.output, exp.output[np.arange(4), predicted])
    np.testing.assert_allclose(one.additivity_gap, 0.0, atol=1e-9)


def test_bad_label_names_the_available_outputs(iris_explanation):
    _, _, exp = iris_explanation
    with pytest.raises(OutputSelectionError, match=r"Unknown output 'rose'.*'setosa'"):
        exp.select_output("rose")
    with pytest.raises(KeyError):  # as Explanation[..., "rose"] would
        exp.select_output("rose")
    with pytest.raises(IndexError, match="out of range for the 3 outputs"):
        exp.select_output(3)
    with pytest.raises(ValueError, match=r"3 outputs \['setosa', 'versicolor', 'virginica'\]"):
        exp.select_output()  # no default among three


def _binary(**extra):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5, 3, 2))
    base = rng.normal(size=(5, 2))
    return Explanation(
        values=values,
        base_values=base,
        output=base + values.sum(axis=1),
        feature_names=("a", "b", "c"),
        output_names=("0", "1"),
        **extra,
    )


def test_default_of_two_outputs_is_the_positive_class():
    exp = _binary()
    np.testing.assert_array_equal(exp.select_output().values, exp.values[..., 1])
    # A numeric class label is given as text; an int is a position.
    np.testing.assert_array_equal(exp.select_output("0").values, exp.values[..., 0])
    np.testing.assert_array_equal(exp.select_output(0).values, exp.values[..., 0])


def test_per_output_diagnostics_are_cut_along():
    fidelity = np.arange(10.0).reshape(5, 2)
    row_id = np.arange(5)
    exp = _binary(diagnostics={"fidelity": fidelity, "row_id": row_id})
    one = exp.select_output("0")
    np.testing.assert_array_equal(one.diagnostics["fidelity"], fidelity[:, 0])
    np.testing.assert_array_equal(one.diagnostics["row_id"], row_id)


def test_single_output_is_returned_as_is_and_other_choices_refused():
    exp = Explanation(values=np.ones((2, 3)), base_values=np.zeros(2))
    for key in (None, 0, -1, "predicted"):
        assert exp.select_output(key) is exp
    with pytest.raises(ValueError, match="single output; output='yes'"):
        exp.select_output("yes")
    with pytest.raises(ValueError, match="single output"):
        exp.select_output(1)


def test_predicted_without_output_or_base_values_is_refused():
    exp = Explanation(values=np.ones((2, 3, 3)), output_names=("x", "y", "z"))
    with pytest.raises(ValueError, match="needs the explained output or base_values"):
        exp.select_output("predicted")


def test_image_shaped_values_keep_their_feature_axes():
    values = np.arange(2 * 4 * 4 * 3, dtype=float).reshape(2, 4, 4, 3)
    exp = Explanation(values=values, output_names=("a", "b", "c"), base_values=np.zeros((2, 3)))
    np.testing.assert_array_equal(exp.select_output("b").values, values[..., 1])
    picked = exp.select_output("predicted")  # every row's largest total is output "c"
    np.testing.assert_array_equal(picked.values, values[..., 2])
