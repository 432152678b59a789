"""Model files never run code: crafted skops files, tampered trees, hostile files of every kind.

The crafted files are written by hand in skops' format (a zip holding
``schema.json``): an object's state is a node naming its type (``__module__``
and ``__class__``) and a ``__loader__`` that says how skops rebuilds it. A
``ConstructorFromReduceNode`` calls its type with its content as arguments,
so ``list(map(partial(eval, EXPR), [{}]))`` evaluates EXPR while loading,
when ``builtins`` and ``functools.partial`` are trusted wholesale.
"""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import pellucid
from pellucid._io import (
    PARTIAL_FUNCTIONS,
    SKLEARN_FUNCTIONS,
    SKLEARN_HELPER_TYPES,
    ModelFileError,
    UntrustedModelError,
    allowed_skops_types,
    check_tree_arrays,
    load_model,
)

_ids = itertools.count(1)


def _node(module: str, cls: str, loader: str, **rest: object) -> dict[str, object]:
    return {
        "__class__": cls,
        "__module__": module,
        "__loader__": loader,
        "__id__": next(_ids),
        **rest,
    }


def _json(value: object) -> dict[str, object]:
    return _node(
        "builtins", type(value).__name__, "JsonNode", content=json.dumps(value), is_json=True
    )


def _tuple(*items: object) -> dict[str, object]:
    return _node("builtins", "tuple", "TupleNode", content=list(items))


def _call(module: str, cls: str, *args: object) -> dict[str, object]:
    """A node that calls ``module.cls(*args)`` while the file loads."""
    return _node(module, cls, "ConstructorFromReduceNode", content=_tuple(*args))


def _empty_dict() -> dict[str, object]:
    return _node(
        "builtins",
        "dict",
        "DictNode",
        content={},
        key_types=_node("builtins", "list", "ListNode", content=[]),
    )


def _eval_through_partial(expr: str) -> dict[str, object]:
    partial = _node(
        "functools",
        "partial",
        "PartialNode",
        content={
            "func": _node("builtins", "eval", "TypeNode"),
            "args": _tuple(_json(expr)),
            "kwds": _empty_dict(),
            "namespace": _json(None),
        },
    )
    rows = _node("builtins", "list", "ListNode", content=[_empty_dict()])
    return _call("builtins", "list", _call("builtins", "map", partial, rows))


def _os_system(command: str) -> dict[str, object]:
    commands = _node("builtins", "list", "ListNode", content=[_json(command)])
    system = _node("posix", "system", "TypeNode")
    return _call("builtins", "list", _call("builtins", "map", system, commands))


def _with_payload(path: Path, payload: dict[str, object]) -> Path:
    """A real fitted LogisticRegression whose ``C`` is replaced by ``payload``."""
    model = LogisticRegression().fit(np.arange(20.0).reshape(10, 2), [0, 1] * 5)
    source = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    schema = json.loads(source.read("schema.json"))
    schema["content"]["content"]["C"] = payload
    with zipfile.ZipFile(path, "w") as out:
        for name in source.namelist():
            data = json.dumps(schema) if name == "schema.json" else source.read(name)
            out.writestr(name, data)
    return path


def _marker_expr(marker: Path) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"


@pytest.fixture
def hostile(tmp_path):
    marker = tmp_path / "payload-ran"
    files = {
        "eval_partial": _with_payload(
            tmp_path / "eval.skops", _eval_through_partial(_marker_expr(marker))
        ),
        "os_system": _with_payload(tmp_path / "system.skops", _os_system(f"touch {marker}")),
    }
    return marker, files


@pytest.mark.parametrize(
    ("kind", "named"), [("eval_partial", "builtins.eval"), ("os_system", "posix.system")]
)
def test_crafted_skops_refused_before_payload_runs(hostile, kind, named):
    marker, files = hostile
    with pytest.raises(UntrustedModelError, match=named.replace(".", r"\.")):
        load_model(files[kind])
    assert not marker.exists()


def test_crafted_skops_refused_by_cli_evaluate(hostile, tmp_path):
    marker, files = hostile
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "y": [0, 1]}).to_csv(data, index=False)
    for path in files.values():
        done = subprocess.run(
            [sys.executable, "-m", "pellucid", "evaluate", str(path), str(data), "--target", "y"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "does not load without trust" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert not marker.exists()


def test_skops_itself_refuses_the_crafted_files(hostile):
    # The payload really is one skops considers unsafe: pellucid must not be laxer.
    _, files = hostile
    for path in files.values():
        assert "builtins.eval" in sio.get_untrusted_types(file=path) or (
            "posix.system" in sio.get_untrusted_types(file=path)
        )


def test_partial_around_an_allowed_function_other_than_check_array_is_refused(tmp_path):
    partial = _node(
        "functools",
        "partial",
        "PartialNode",
        content={
            "func": _node(
                "sklearn.feature_selection._univariate_selection", "f_classif", "FunctionNode"
            ),
            "args": _tuple(),
            "kwds": _empty_dict(),
            "namespace": _json(None),
        },
    )
    path = _with_payload(tmp_path / "partial.skops", partial)
    with pytest.raises(UntrustedModelError, match=r"functools\.partial\(sklearn"):
        load_model(path)


def test_allowlist_names_types_not_packages():
    allowed = allowed_skops_types()
    assert not any(t.startswith(("builtins.", "os.", "posix.", "subprocess.")) for t in allowed)
    assert not any(t.endswith(".") for t in allowed)
    outside_sklearn = {t for t in allowed if not t.startswith("sklearn.")}
    assert outside_sklearn == {
        "numpy.dtype",
        "functools.partial",
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
    }


@pytest.mark.parametrize("name", [*SKLEARN_HELPER_TYPES, *SKLEARN_FUNCTIONS, *PARTIAL_FUNCTIONS])
def test_each_named_helper_exists_where_the_allowlist_says(name):
    # A type that moved in a new scikit-learn would silently stop being trusted.
    import importlib

    module, _, attr = name.rpartition(".")
    assert hasattr(importlib.import_module(module), attr)


def _frame(n: int = 240) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        }
    )
    return X, pd.Series((X["a"] + X["b"] > 0).astype(int), name="y")


def _real_models() -> dict[str, tuple[object, bool]]:
    """name -> (unfitted model, takes the categorical column)."""
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["a", "b"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"]),
        ]
    )
    return {
        "pipeline_onehot_logistic": (Pipeline([("pre", pre), ("m", LogisticRegression())]), True),
        "hist_gradient_boosting_categorical": (
            HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype"),
            True,
        ),
        "random_forest": (RandomForestClassifier(n_estimators=5, random_state=0), False),
        "gradient_boosting": (GradientBoostingClassifier(n_estimators=5), False),
        "calibrated_forest": (
            CalibratedClassifierCV(RandomForestClassifier(n_estimators=5, random_state=0), cv=3),
            False,
        ),
    }


@pytest.mark.parametrize("name", list(_real_models()))
def test_real_models_round_trip_through_save_model(tmp_path, name):
    model, categorical = _real_models()[name]
    X, y = _frame()
    X = X if categorical else X[["a", "b"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, y)
    path = pellucid.save_model(model, tmp_path / f"{name}.skops")
    back = load_model(path)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_save_model_refuses_what_load_model_would_refuse(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    model = Pipeline([("f", FunctionTransformer(lambda v: v)), ("m", LogisticRegression())]).fit(
        np.arange(20.0).reshape(10, 2), [0, 1] * 5
    )
    with pytest.raises(ValueError, match="would not load back"):
        pellucid.save_model(model, tmp_path / "m.skops")
    assert not (tmp_path / "m.skops").exists()


def test_save_model_suffix_must_fit_the_kind(tmp_path):
    model = LogisticRegression().fit(np.arange(20.0).reshape(10, 2), [0, 1] * 5)
    with pytest.raises(ValueError, match=r"\.skops"):
        pellucid.save_model(model, tmp_path / "m.joblib")


def test_forest_with_child_index_out_of_range_is_refused():
    from sklearn.tree._tree import Tree

    X, y = _frame()
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(X[["a", "b"]], y)
    tree = forest.estimators_[1].tree_
    state = tree.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"]["left_child"][0] = 10**6
    bad = Tree(tree.n_features, np.asarray(tree.n_classes), tree.n_outputs)
    bad.__setstate__(state)
    forest.estimators_[1].tree_ = bad
    with pytest.raises(ModelFileError, match="decision tree"):
        check_tree_arrays(forest)


@pytest.mark.parametrize(("field", "value"), [("left", 10**6), ("feature_idx", 7), ("right", 0)])
def test_hist_gradient_boosting_with_tampered_nodes_is_refused(field, value):
    X, y = _frame()
    model = HistGradientBoostingClassifier(max_iter=3, categorical_features="from_dtype").fit(X, y)
    check_tree_arrays(model)  # the untouched model passes
    nodes = model._predictors[2][0].nodes
    root_split = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
    nodes[field][root_split] = value
    with pytest.raises(ModelFileError, match="histogram gradient-boosting"):
        check_tree_arrays(model)


def _garbage(path: Path) -> Path:
    path.write_bytes(b"\x00\x01 not a model at all \xff" * 10)
    return path


@pytest.mark.parametrize("suffix", [".skops", ".txt", ".cbm", ".json", ".ubj", ".joblib"])
def test_unreadable_model_files_give_one_clear_error(tmp_path, suffix):
    path = _garbage(tmp_path / f"model{suffix}")
    with pytest.raises(ValueError) as info:
        load_model(path, trust_pickle=True)
    message = str(info.value)
    assert path.name in message and "\n" not in message and len(message) < 400


def test_a_json_file_that_is_not_xgboost(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"hello": "world"}')
    with pytest.raises(ModelFileError, match="not a readable XGBoost model file"):
        load_model(path)


def test_a_folder_is_not_a_model_file(tmp_path):
    folder = tmp_path / "model.skops"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(folder)
