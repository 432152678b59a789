"""Composites: maps of layer type -> LRP rule, registered by name.

A :class:`Composite` holds an ordered ``layer_map`` (the first matching
entry wins) and an optional ``first_map`` used for the first Linear/Conv
layer the forward pass runs (e.g. z-box for the input layer). The named
composites match zennit's: every one passes relevance unchanged through
activations and BatchNorm and uses the Norm rule for average pooling and
residual sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .canonizers import Sum
from .rules import (
    AlphaBeta,
    Epsilon,
    Flat,
    Gamma,
    Norm,
    Pass,
    Rule,
    ZBox,
    ZPlus,
    make_rule,
)

__all__ = [
    "ACTIVATIONS",
    "AVGPOOL",
    "BATCHNORM",
    "COMPOSITES",
    "CONV",
    "LINEAR",
    "Composite",
    "make_composite",
]

LINEAR = (torch.nn.Linear,)
CONV = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
BATCHNORM = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
AVGPOOL = (
    torch.nn.AvgPool1d,
    torch.nn.AvgPool2d,
    torch.nn.AvgPool3d,
    torch.nn.AdaptiveAvgPool1d,
    torch.nn.AdaptiveAvgPool2d,
    torch.nn.AdaptiveAvgPool3d,
)
ACTIVATIONS = (
    torch.nn.ReLU,
    torch.nn.LeakyReLU,
    torch.nn.ReLU6,
    torch.nn.PReLU,
    torch.nn.RReLU,
    torch.nn.ELU,
    torch.nn.SELU,
    torch.nn.CELU,
    torch.nn.GELU,
    torch.nn.SiLU,
    torch.nn.Mish,
    torch.nn.Softplus,
    torch.nn.Sigmoid,
    torch.nn.Tanh,
    torch.nn.Hardtanh,
    torch.nn.Hardsigmoid,
    torch.nn.Hardswish,
)
# parameter-free layers whose plain gradient is the right relevance flow
GRADIENT_OK = (
    torch.nn.MaxPool1d,
    torch.nn.MaxPool2d,
    torch.nn.MaxPool3d,
    torch.nn.AdaptiveMaxPool1d,
    torch.nn.AdaptiveMaxPool2d,
    torch.nn.AdaptiveMaxPool3d,
    torch.nn.Flatten,
    torch.nn.Unflatten,
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.Identity,
)

LayerMap = tuple[tuple[tuple[type, ...], Rule], ...]


@dataclass(frozen=True)
class Composite:
    """Rules by layer type. ``first_map`` applies to the first matching layer run."""

    layer_map: LayerMap
    first_map: LayerMap = ()
    name: str = ""

    def rule_for(self, module: torch.nn.Module, *, first: bool) -> Rule | None:
        if first:
            for types, rule in self.first_map:
                if isinstance(module, types):
                    return rule
        for types, rule in self.layer_map:
            if isinstance(module, types):
                return rule
        return None

    def has_first(self, module: torch.nn.Module) -> bool:
        return any(isinstance(module, types) for types, _ in self.first_map)


def base_map(stabilizer: float = 1e-6) -> LayerMap:
    """Entries every named composite shares (zennit's ``layer_map_base``)."""
    return (
        (ACTIVATIONS, Pass()),
        ((Sum,), Norm(stabilizer)),
        (AVGPOOL, Norm(stabilizer)),
        (BATCHNORM, Pass()),
    )


def epsilon_plus(epsilon: float = 1e-6, stabilizer: float = 1e-6, **_: Any) -> Composite:
    """z+ for convolutions, epsilon for dense layers."""
    return Composite(
        base_map(stabilizer) + ((CONV, ZPlus(stabilizer)), (LINEAR, Epsilon(epsilon))),
        name="epsilon_plus",
    )


def epsilon_alpha2_beta1(epsilon: float = 1e-6, stabilizer: float = 1e-6, **_: Any) -> Composite:
    """alpha2-beta1 for convolutions, epsilon for dense layers."""
    return Composite(
        base_map(stabilizer)
        + ((CONV, AlphaBeta(2.0, 1.0, stabilizer)), (LINEAR, Epsilon(epsilon))),
        name="epsilon_alpha2_beta1",
    )


def epsilon_gamma_box(
    low: Any = None,
    high: Any = None,
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    stabilizer: float = 1e-6,
    **_: Any,
) -> Composite:
    """z-box for the first convolution, gamma for the others, epsilon for dense layers."""
    return Composite(
        base_map(stabilizer) + ((CONV, Gamma(gamma, stabilizer)), (LINEAR, Epsilon(epsilon))),
        first_map=((CONV, ZBox(low, high, stabilizer)),),
        name="epsilon_gamma_box",
    )


def epsilon_plus_flat(epsilon: float = 1e-6, stabilizer: float = 1e-6, **_: Any) -> Composite:
    """flat for the first Linear/Conv layer, then z+ for convolutions, epsilon for dense layers."""
    return Composite(
        base_map(stabilizer) + ((CONV, ZPlus(stabilizer)), (LINEAR, Epsilon(epsilon))),
        first_map=((CONV + LINEAR, Flat(stabilizer)),),
        name="epsilon_plus_flat",
    )


COMPOSITES: dict[str, Callable[..., Composite]] = {
    "epsilon_plus": epsilon_plus,
    "epsilon_gamma_box": epsilon_gamma_box,
    "epsilon_alpha2_beta1": epsilon_alpha2_beta1,
    "epsilon_plus_flat": epsilon_plus_flat,
}


def single_rule(rule: Rule, stabilizer: float = 1e-6) -> Composite:
    """One rule for every Linear/Conv layer, the shared entries for the rest."""
    return Composite(base_map(stabilizer) + ((CONV + LINEAR, rule),), name=rule.name)


def make_composite(
    rule: str | Rule | None = None,
    composite: str | Composite | None = None,
    **options: Any,
) -> Composite:
    """The composite for ``rule=`` or ``composite=`` (default ``"epsilon_plus"``).

    ``options``: ``epsilon``, ``gamma``, ``stabilizer``, ``low``, ``high``.
    """
    if rule is not None and composite is not None:
        raise ValueError("Pass rule= or composite=, not both.")
    if rule is not None:
        return single_rule(make_rule(rule, **options), options.get("stabilizer", 1e-6))
    if composite is None:
        composite = "epsilon_plus"
    if isinstance(composite, Composite):
        return composite
    if composite not in COMPOSITES:
        raise ValueError(f"Unknown composite {composite!r}; available: {sorted(COMPOSITES)}.")
    made = COMPOSITES[composite](**options)
    if composite == "epsilon_gamma_box" and (
        options.get("low") is None or options.get("high") is None
    ):
        raise ValueError(
            "The epsilon_gamma_box composite needs the input's bounds: low= and high=."
        )
    return made
