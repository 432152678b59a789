"""One randomness rule, over the registry: same seed, same bytes, wherever rows run.

Every sampled tabular method registered is built with its seed in the
constructor and must give identical bytes whatever ``n_jobs`` (1 or 2 worker
processes) and ``chunk_rows``, and different bytes for a different seed. A
method joins by being registered; one without a case here fails the first test.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from pellucid._random import check_random_state, root_seed, row_generator, row_seed
from pellucid._registry import _METHODS, get, spec

#: Cheap settings per sampled tabular method (the seed is added by the tests).
CHEAP = {
    "kernel_shap": {"budget": 16},  # of 62 coalitions: sampled
    "permutation_shap": {"budget": 40},
    "lime": {"num_samples": 150},
    "anchors": {"batch_size": 50, "coverage_samples": 200},
    "permutation_importance": {"n_repeats": 3},
}
SAMPLED = sorted(n for n, s in _METHODS.items() if s.sampled and s.inputs == "tabular")


@pytest.fixture(scope="module")
def problem():
    """A model whose own predictions are reproducible bit for bit in any process and
    batch (tree sums in a fixed order). Not every model is: a LogisticRegression's
    ``predict_proba`` of the same rows differed by 1e-16 between this process and a
    joblib worker (BLAS), which no seeding rule can undo."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(80, 6)), columns=list("abcdef"))
    # Three-way interactions: antithetic permutations are not exact for them.
    y = (X["a"] - X["b"] * X["c"] + X["d"] * X["e"] * X["f"] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    return model.fit(X, y), X, y


def _arrays(result):
    """The bytes of a result: every array field (an Anchor: its JSON)."""
    if isinstance(result, list):
        return [r.to_json() for r in result]
    if hasattr(result, "importances"):
        return [result.importances.tobytes()]
    fields = ("values", "base_values", "std_errors", "output")
    return [np.asarray(getattr(result, f)).tobytes() for f in fields]


def _run(name, problem, seed, **fan_out):
    model, X, y = problem
    target = get(name)
    settings = {**CHEAP[name], "random_state": seed}
    if not inspect.isclass(target):  # a function: data and settings in one call
        return target(model, X, y, **settings, **fan_out)
    if "model_threads" in target.setting_names():
        settings["model_threads"] = 1  # n_jobs alone once meant model threads: it warns
    explainer = target(model, X.iloc[:30], **settings, **fan_out)
    rows = X.iloc[40:46]
    if hasattr(explainer, "explain_rows"):
        return explainer.explain_rows(rows)
    return explainer.explain(rows)


def test_every_sampled_tabular_method_has_a_case():
    assert set(SAMPLED) <= set(CHEAP), set(SAMPLED) - set(CHEAP)


def _fan_outs(name):
    target = get(name)
    names = (
        target.setting_names()
        if inspect.isclass(target) and hasattr(target, "setting_names")
        else tuple(inspect.signature(target).parameters)
    )
    if "chunk_rows" in names:
        return [{"n_jobs": 2, "chunk_rows": 2}, {"n_jobs": 2, "chunk_rows": 4}]
    if "n_jobs" in names:
        return [{"n_jobs": 2}]
    return []


@pytest.mark.parametrize("name", SAMPLED)
def test_same_seed_same_bytes_whatever_n_jobs_and_chunks(name, problem):
    one = _arrays(_run(name, problem, 11, **({"n_jobs": 1} if _fan_outs(name) else {})))
    assert _arrays(_run(name, problem, 11)) == one
    for fan_out in _fan_outs(name):
        assert _arrays(_run(name, problem, 11, **fan_out)) == one, fan_out
    assert _arrays(_run(name, problem, 12)) != one


@pytest.mark.parametrize("name", ["kernel_shap", "permutation_shap", "lime"])
def test_a_row_draws_by_its_key_not_its_chunk(name, problem):
    """Row 43 explained alone (its key given as first_row) has the bytes it has
    inside the table."""
    model, X, _ = problem
    explainer = get(name)(model, X.iloc[:30], **CHEAP[name], random_state=3)
    table = explainer.explain(X.iloc[40:46])
    alone = explainer.explain(X.iloc[43:44], first_row=3)
    assert np.asarray(alone.values).tobytes() == np.asarray(table.values)[3:4].tobytes()
    shifted = explainer.explain(X.iloc[43:44], first_row=0)
    assert np.asarray(shifted.values).tobytes() != np.asarray(table.values)[3:4].tobytes()


def test_row_seeds_keep_their_bytes():
    """An int seed s gives row r SeedSequence(s, spawn_key=(r,)), numpy's own numbering."""
    want = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(7,))).random(4)
    np.testing.assert_array_equal(row_generator(5, 7).random(4), want)
    np.testing.assert_array_equal(row_generator(root_seed(5), 7).random(4), want)
    parent = np.random.SeedSequence(9)
    assert row_seed(parent, 2).spawn_key == (2,)
    assert row_seed(parent.spawn(1)[0], 2).spawn_key == (0, 2)


def test_generators_are_drawn_once_and_bad_seeds_are_refused():
    a = root_seed(np.random.default_rng(0))
    b = root_seed(np.random.default_rng(0))
    assert a.entropy == b.entropy
    gen = np.random.default_rng(0)
    assert root_seed(gen).entropy != root_seed(gen).entropy  # the generator advances
    assert (
        root_seed(np.random.RandomState(0)).entropy == root_seed(np.random.RandomState(0)).entropy
    )
    with pytest.raises(ValueError, match="-3"):
        check_random_state(-3)
    with pytest.raises(TypeError, match="str"):
        check_random_state("0")
    with pytest.raises(TypeError, match="bool"):
        check_random_state(True)
    assert spec("kernel_shap").sampled


# permutation_importance draws as scikit-learn does, which takes no Generator.
@pytest.mark.parametrize("name", [n for n in SAMPLED if inspect.isclass(get(n)) and _fan_outs(n)])
def test_a_generator_seed_is_drawn_once_the_same_way_whatever_n_jobs(name, problem):
    """A numpy Generator gives one integer seed per call, drawn alike in one process
    and before a fan-out (LIME once drew it differently, so n_jobs changed its bytes)."""
    one = _arrays(_run(name, problem, np.random.default_rng(5), n_jobs=1))
    for fan_out in _fan_outs(name):
        assert _arrays(_run(name, problem, np.random.default_rng(5), **fan_out)) == one, fan_out
