"""Explainer-like test doubles for the pellucid.quality tests.

``BruteShap`` computes exact interventional Shapley values by enumerating
every coalition, the reference every exact method must match; the others are
deliberately bad explainers whose failures the metrics must catch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pellucid import Explanation, as_model
from pellucid._protocol import ExplainerBase
from pellucid.quality import brute_force_shapley


def _names(X: Any) -> list[str]:
    return [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else []


class BruteShap:
    """Exact interventional SHAP by brute force (deterministic; takes no seed)."""

    def __init__(self, model: Any, data: Any = None, output: Any = None) -> None:
        self.model, self.data, self.output = model, data, output

    def explain(self, X: Any) -> Explanation:
        bg = X if self.data is None else self.data
        phi = brute_force_shapley(self.model, X, bg, output=self.output)
        pred = as_model(self.model).predict(X)
        out = pred if pred.ndim == 1 else pred[:, 1 if self.output is None else self.output]
        return Explanation(
            values=phi,
            base_values=out - phi.sum(axis=1),
            output=out,
            feature_names=_names(X) or None,
            method="brute_shap",
        )


class NoisyShap(BruteShap, ExplainerBase):
    """Exact values plus seeded noise of standard deviation ``noise``: a stand-in sampled method.

    Built on the explainer protocol: its settings, the seed included, are constructor
    arguments, so ``pellucid.quality`` builds one per seed.
    """

    _call_settings = ("random_state",)

    def __init__(
        self, model: Any, data: Any = None, *, noise: float = 0.1, random_state: Any = None
    ) -> None:
        super().__init__(model, data)
        self.noise = noise
        self.random_state = random_state

    def explain(self, X: Any) -> Explanation:
        exact = super().explain(X)
        rng = np.random.default_rng(self.random_state)
        values = exact.values + rng.normal(scale=self.noise, size=exact.values.shape)
        return Explanation(values=values, feature_names=exact.feature_names, method="noisy")


class SeededInExplain(BruteShap):
    """The same noise under the old protocol (seed passed to ``explain``), which quality
    no longer recognises as sampled: it runs deterministically (its default seed)."""

    def __init__(self, model: Any, data: Any = None, noise: float = 0.1) -> None:
        super().__init__(model, data)
        self.noise = noise

    def explain(self, X: Any, random_state: Any = 0) -> Explanation:  # type: ignore[override]
        exact = super().explain(X)
        rng = np.random.default_rng(random_state)
        values = exact.values + rng.normal(scale=self.noise, size=exact.values.shape)
        return Explanation(values=values, feature_names=exact.feature_names, method="noisy")


class FixedPattern:
    """Ignores the model: the same attribution pattern for every row and every model."""

    def __init__(self, model: Any, data: Any = None) -> None:
        self.model = model

    def explain(self, X: Any) -> Explanation:
        d = X.shape[1]
        pattern = np.linspace(1.0, -1.0, d)
        return Explanation(
            values=np.tile(pattern, (X.shape[0], 1)),
            feature_names=_names(X) or None,
            method="fixed",
        )


def random_explanation(n: int, d: int, seed: int = 1, names: Any = None) -> Explanation:
    rng = np.random.default_rng(seed)
    return Explanation(values=rng.normal(size=(n, d)), feature_names=names)
