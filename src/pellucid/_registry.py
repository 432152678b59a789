"""Methods registered by name.

The CLI, the report and the conformance tests enumerate this one table.
Entries name their implementation by import path, so listing methods
imports nothing heavy; :func:`get` imports on demand.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["MethodSpec", "available", "get", "register", "spec"]

KINDS = ("attribution", "global", "effect", "rule")
INPUTS = ("tabular", "text", "image", "torch")


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    ``target`` is "module:attribute"; ``kind`` what it returns
    (attribution -> Explanation, global -> FeatureImportance,
    effect -> PartialDependence, rule -> Anchor); ``inputs`` the data it takes;
    ``exact`` whether its numbers are exact (no sampling); ``additive``
    whether base_values + sum(values) reproduces the model output.
    """

    name: str
    target: str
    kind: str
    inputs: str = "tabular"
    exact: bool = False
    additive: bool = False
    summary: str = ""

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


_METHODS: dict[str, MethodSpec] = {}


def register(spec_: MethodSpec) -> MethodSpec:
    if spec_.kind not in KINDS:
        raise ValueError(f"Unknown kind {spec_.kind!r}; expected one of {KINDS}.")
    if spec_.inputs not in INPUTS:
        raise ValueError(f"Unknown inputs {spec_.inputs!r}; expected one of {INPUTS}.")
    if spec_.name in _METHODS:
        raise ValueError(f"A method named {spec_.name!r} is already registered.")
    _METHODS[spec_.name] = spec_
    return spec_


def available(kind: str | None = None, inputs: str | None = None) -> list[str]:
    """Names of registered methods, optionally of one kind and input type."""
    return [
        name
        for name, s in _METHODS.items()
        if (kind is None or s.kind == kind) and (inputs is None or s.inputs == inputs)
    ]


def spec(name: str) -> MethodSpec:
    try:
        return _METHODS[name]
    except KeyError:
        raise KeyError(f"Unknown method {name!r}; available: {sorted(_METHODS)}") from None


def get(name: str) -> Any:
    """The class or function registered under ``name``."""
    return spec(name).load()


# --- the table ------------------------------------------------------------
# One line per method. Keep it sorted by area.
_TABLE: list[MethodSpec] = [
    # MethodSpec("name", "pellucid.module:Attr", "attribution", exact=..., additive=..., summary=...),
    # issue 5: model-agnostic Shapley values
    MethodSpec(
        "exact_shap",
        "pellucid.shapley:ExactShap",
        "attribution",
        exact=True,
        additive=True,
        summary="Exact interventional Shapley values (all coalitions, <= 16 players)",
    ),
    MethodSpec(
        "kernel_shap",
        "pellucid.shapley:KernelShap",
        "attribution",
        additive=True,
        summary="Kernel SHAP: paired leverage-score sampling, exact efficiency, standard errors",
    ),
    MethodSpec(
        "permutation_shap",
        "pellucid.shapley:PermutationShap",
        "attribution",
        additive=True,
        summary="Antithetic permutation sampling of Shapley values, standard errors",
    ),
]
for _spec in _TABLE:
    register(_spec)
