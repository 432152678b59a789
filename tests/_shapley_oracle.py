"""Reference explainers for the reason-code and service tests.

* BruteForceShap: exact interventional Shapley values by enumerating every
  coalition (2^d model calls per row, each averaged over the background).
* LinearLogitShap: the closed form for a Pipeline(ColumnTransformer(one-hot,
  passthrough), LogisticRegression) on its log-odds, per original column:
  phi_j = sum_{k in col j} w_k (z_k(x) - mean_background z_k).
Both follow the explainer protocol: Cls(model, background).explain(X).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from pellucid import Explanation, as_model


class BruteForceShap:
    name = "brute_force_shap"

    def __init__(self, model, data, *, output="log_odds"):
        self.model = as_model(model, output=output if as_model(model).is_classifier else None)
        self.background = data.reset_index(drop=True)

    def _values(self, x: pd.Series, coalitions: list[tuple[int, ...]]) -> np.ndarray:
        """v(S) = mean over the background of f(x_S, b_rest), for every S, in one model call."""
        n_bg, d = self.background.shape
        mask = np.zeros((len(coalitions), d), dtype=bool)
        for c, s in enumerate(coalitions):
            mask[c, list(s)] = True
        rows = np.repeat(mask, n_bg, axis=0)  # (n_coalitions * n_bg, d)
        cols = {}
        for j, name in enumerate(self.background.columns):
            bg = self.background[name]
            tiled = pd.Series(np.tile(bg.to_numpy(dtype=object), len(coalitions)), dtype=bg.dtype)
            cols[name] = tiled.where(~rows[:, j], x.iloc[j])
            cols[name] = cols[name].astype(bg.dtype)
        pred = np.asarray(self.model.predict(pd.DataFrame(cols)), dtype=float)
        return pred.reshape(len(coalitions), n_bg).mean(axis=1)

    def explain(self, X: pd.DataFrame) -> Explanation:
        d = X.shape[1]
        coalitions = [s for size in range(d + 1) for s in itertools.combinations(range(d), size)]
        phi = np.zeros((len(X), d))
        base = np.zeros(len(X))
        for r in range(len(X)):
            v = dict(zip(coalitions, self._values(X.iloc[r], coalitions), strict=True))
            base[r] = v[()]
            for i in range(d):
                others = [j for j in range(d) if j != i]
                for size in range(d):
                    w = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                    for s in itertools.combinations(others, size):
                        with_i = tuple(sorted((*s, i)))
                        phi[r, i] += w * (v[with_i] - v[s])
        return Explanation(
            values=phi,
            base_values=base,
            data=X.to_numpy(dtype=object),
            feature_names=tuple(X.columns),
            method=self.name,
            output=self.model.predict(X),
        )


class LinearLogitShap:
    name = "linear_logit_shap"

    def __init__(self, model, data):
        model = as_model(model).raw_model
        self.pipe = model
        self.pre = model[:-1]
        self.coef = model[-1].coef_[0]
        self.intercept = float(model[-1].intercept_[0])
        self.columns = list(data.columns)
        z = self._z(data)
        self.z_mean = z.mean(axis=0)
        # which original column each transformed feature comes from
        owner = []
        for name, trans, cols in self.pre[-1].transformers_:
            if trans == "drop":
                continue
            for c in cols:
                n_out = len(trans.categories_[list(cols).index(c)]) if name == "cat" else 1
                owner += [c] * n_out
        self.owner = np.array(owner)
        self.base = self.intercept + self.coef @ self.z_mean

    def _z(self, X):
        z = self.pre.transform(X)
        return np.asarray(z.toarray() if hasattr(z, "toarray") else z, dtype=float)

    def explain(self, X: pd.DataFrame) -> Explanation:
        contrib = (self._z(X) - self.z_mean) * self.coef
        phi = np.stack([contrib[:, self.owner == c].sum(axis=1) for c in self.columns], axis=1)
        return Explanation(
            values=phi,
            base_values=np.full(len(X), self.base),
            data=X.to_numpy(dtype=object),
            feature_names=tuple(self.columns),
            method=self.name,
            output=self.pipe.decision_function(X),
        )
