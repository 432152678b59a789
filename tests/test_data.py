"""Every bad-input case gets an error that names the column, row or value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pellucid import DataError, Model
from pellucid._data import Schema, check_X, check_X_y, feature_names_of


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "age": [30.0, 40.0, np.nan],
            "housing": pd.Categorical(["rent", "own", "rent"]),
            "name": ["a", "b", None],
            "flag": [True, False, True],
        }
    )


def test_valid_mixed_frame_passes_unchanged(frame):
    assert check_X(frame) is frame


def test_empty():
    with pytest.raises(DataError, match="empty: 0 rows"):
        check_X(pd.DataFrame({"a": []}))
    with pytest.raises(DataError, match="empty"):
        check_X(np.zeros((3, 0)))


def test_all_nan_column_named(frame):
    frame["age"] = np.nan
    with pytest.raises(DataError, match="Column 'age' of X is all missing"):
        check_X(frame)
    frame["age"] = 1.0
    frame["name"] = None
    with pytest.raises(DataError, match="Column 'name' of X is all missing"):
        check_X(frame)


def test_inf_names_column_row_and_value():
    X = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, -np.inf]}, index=["r1", "r2"])
    with pytest.raises(DataError, match=r"Column 'b' of X has an infinite value -inf at row 'r2'"):
        check_X(X)
    with pytest.raises(DataError, match=r"Column 'x1' of X has an infinite value inf at row 0"):
        check_X(np.array([[1.0, np.inf]]))


def test_nan_rejected_only_when_asked():
    X = pd.DataFrame({"a": [1.0, np.nan]})
    check_X(X)
    with pytest.raises(DataError, match="Column 'a' of X has a missing value .* row 1"):
        check_X(X, allow_nan=False)


def test_not_two_dimensional():
    with pytest.raises(DataError, match="2-D"):
        check_X(np.zeros(3))
    with pytest.raises(DataError, match="Series"):
        check_X(pd.Series([1, 2]))
    with pytest.raises(DataError, match="None"):
        check_X(None)


def test_duplicated_columns():
    X = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError, match="duplicated column names: \\['a'\\]"):
        check_X(X)


def test_mismatched_row_counts():
    with pytest.raises(DataError, match="X has 3 rows but y has 2"):
        check_X_y(np.zeros((3, 2)), [0, 1])


def test_bad_target_values():
    with pytest.raises(DataError, match="y has a non-finite value nan at row 1"):
        check_X_y(np.zeros((2, 1)), [0.0, np.nan])
    with pytest.raises(DataError, match="y has a missing value at row 0"):
        check_X_y(np.zeros((2, 1)), pd.Series([None, "a"], dtype=object))


def test_schema_missing_extra_and_order(frame):
    schema = Schema.from_data(frame)
    with pytest.raises(DataError, match=r"missing column\(s\) \['flag'\]"):
        schema.validate(frame.drop(columns="flag"))
    with pytest.raises(DataError, match=r"unexpected column\(s\) \['zip'\]"):
        schema.validate(frame.assign(zip=1))
    with pytest.raises(DataError, match="different order"):
        schema.validate(frame[["housing", "age", "name", "flag"]])


def test_schema_wrong_dtype_names_value(frame):
    schema = Schema.from_data(frame)
    bad = frame.astype({"age": object})
    bad.loc[1, "age"] = "forty"
    with pytest.raises(
        DataError, match=r"Column 'age' of X should be numeric but holds 'forty' at row 1"
    ):
        schema.validate(bad)
    bad = frame.assign(housing=[1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="Column 'housing' of X should be categorical"):
        schema.validate(bad)


def test_schema_unknown_category(frame):
    schema = Schema.from_data(frame)
    new = frame.assign(housing=pd.Categorical(["rent", "castle", "own"]))
    schema.validate(new)  # categories are only checked on request
    with pytest.raises(DataError, match="unknown category 'castle' at row 1"):
        schema.validate(new, check_categories=True)


def test_feature_names():
    assert feature_names_of(np.zeros((2, 3))) == ("x0", "x1", "x2")
    assert feature_names_of(np.zeros((2, 2)), ["a", "b"]) == ("a", "b")
    with pytest.raises(DataError, match="2 feature_names for 3 columns"):
        feature_names_of(np.zeros((2, 3)), ["a", "b"])


def test_model_rejects_missing_extra_and_reordered_columns():
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})
    m = Model(LinearRegression().fit(X, [0.0, 1.0, 2.0]))
    with pytest.raises(DataError, match=r"missing \['b'\]"):
        m.predict(X[["a"]])
    with pytest.raises(DataError, match=r"unexpected \['c'\]"):
        m.predict(X.assign(c=1.0))
    with pytest.raises(DataError, match="different order"):
        m.predict(X[["b", "a"]])
    with pytest.raises(DataError, match="expects 2"):
        m.predict(np.zeros((2, 3)))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("allow_nan", [True, False])
@pytest.mark.parametrize("allow_all_missing", [True, False])
def test_numeric_arrays_get_the_same_errors_as_frames(seed, allow_nan, allow_all_missing):
    """A float array is checked all at once; it must fail exactly where, and with
    exactly the message, that its DataFrame (columns x0, x1, ...) fails."""
    from pellucid._data import as_frame

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 5)).astype(np.float32 if seed % 2 else np.float64)
    for _ in range(seed % 4):  # a few problems in random places
        i, j = rng.integers(0, 6), rng.integers(0, 5)
        X[i, j] = rng.choice([np.nan, np.inf, -np.inf])
    if seed % 3 == 0:
        X[:, rng.integers(0, 5)] = np.nan
    kw = dict(allow_nan=allow_nan, allow_all_missing=allow_all_missing)
    try:
        check_X(as_frame(X), **kw)
        want = None
    except DataError as exc:
        want = str(exc)
    if want is None:
        assert check_X(X, **kw) is X
    else:
        with pytest.raises(DataError) as got:
            check_X(X, **kw)
        assert str(got.value) == want
