"""The registry is the one list of methods: every public method is in it, under one naming rule."""

from __future__ import annotations

import inspect

import pytest

import pellucid
from pellucid._registry import (
    ALIASES,
    KINDS,
    MODEL_KINDS,
    NAME_RULE,
    RETURNS,
    MethodSpec,
    available,
    canonical,
    get,
    register,
    spec,
)

# Packages whose public callables are explanation methods.
METHOD_PACKAGES = ("pellucid.shapley", "pellucid.local", "pellucid.effects", "pellucid.tree")
# Public names of those packages that are helpers or results, not methods.
NOT_METHODS = {
    "explain",  # dispatches to registered methods
    "summarize",  # shrinks a background
    "read_ensemble",
    "LimeStability",
}


def _public_methods() -> set[str]:
    found = set()
    for name in pellucid.__all__:
        module = pellucid._EXPORTS.get(name)
        if module not in METHOD_PACKAGES or name in NOT_METHODS:
            continue
        obj = getattr(pellucid, name)
        if inspect.isclass(obj) and not hasattr(obj, "explain"):
            continue  # a result type
        found.add(f"{module}:{name}")
    return found


def test_every_public_method_is_registered():
    registered = {spec(n).target for n in available()}
    missing = _public_methods() - registered
    assert not missing, f"Register these in pellucid/_registry.py: {sorted(missing)}"
    assert {"pellucid.effects:h_statistic", "pellucid.local:LimeText"} <= registered
    assert {"pellucid.local:LimeImage", "pellucid.local:AnchorsText"} <= registered


def test_names_follow_one_rule():
    for name in available():
        assert NAME_RULE.fullmatch(name), name
    with pytest.raises(ValueError, match="snake_case"):
        register(MethodSpec("KernelShap2", "m:a", "attribution"))
    with pytest.raises(ValueError, match="snake_case"):
        register(MethodSpec("kernel-shap", "m:a", "attribution"))


def test_tree_shap_is_registered_and_treeshap_is_its_silent_alias():
    # Silent: the suite turns warnings into errors, so a warning would fail here.
    assert "tree_shap" in available() and "tree_shap" in available(kind="attribution")
    assert "treeshap" not in available()  # listed once, under its registered name
    assert spec("treeshap") is spec("tree_shap")
    assert spec("treeshap").name == "tree_shap"
    assert pellucid.get_method("treeshap") is pellucid.get_method("tree_shap") is pellucid.TreeShap
    assert canonical("treeshap") == "tree_shap"
    assert canonical("kernel_shap") == "kernel_shap" and canonical("auto") == "auto"
    with pytest.raises(ValueError, match="already registered"):
        register(MethodSpec("treeshap", "m:a", "attribution"))
    for alias, name in ALIASES.items():
        assert name in available() and alias not in available()


def test_capabilities():
    for name in available():
        s = spec(name)
        assert s.kind in KINDS and set(s.models) <= set(MODEL_KINDS)
        assert s.sampled is (not s.exact)
        assert s.returns == RETURNS[s.kind]
    assert spec("tree_shap").models == ("tree",)
    assert all(spec(n).models == ("torch",) for n in available(inputs="torch"))
    assert spec("kernel_shap").models == ("any",) and spec("kernel_shap").sampled
    with pytest.raises(ValueError, match="models"):
        register(MethodSpec("x_method", "m:a", "attribution", models=("gpu",)))


def test_every_kind_returns_its_result_type():
    """RETURNS names the class each kind's method gives back (checked where it is cheap)."""
    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 2))
    h = get("h_statistic")(lambda Z: np.asarray(Z)[:, 0] * np.asarray(Z)[:, 1], X, [0, 1])
    assert type(h).__name__ == RETURNS["interaction"]
    for result in RETURNS.values():
        assert result in pellucid.__all__, result
