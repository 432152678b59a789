"""LIME for tabular data: local weighted-ridge surrogates, stable and vectorised.

The method follows Ribeiro et al. (KDD 2016) and the defaults of the lime
package, so that the same discretisation and kernel give the same weights:

* ``discretize="quartile"`` (or ``"decile"``): each feature becomes a binary
  indicator "in the same quantile bin (or category) as the explained row".
  Samples draw every column independently from the training data, which is
  exactly lime's "pick a bin with its training frequency, then a value in
  the bin", except that the value is a real training value (so integer,
  string and categorical columns keep their dtype) instead of a truncated
  normal draw.
* ``discretize=None``: numeric features are drawn from a normal with the
  training mean and standard deviation and represented standardised,
  ``(x - mean) / std``; the weights are then per training standard deviation.
  Categorical features stay binary indicators.

Weights are ``sqrt(exp(-d**2 / kernel_width**2))`` of the Euclidean distance
to the row in that representation, ``kernel_width = 0.75 * sqrt(n_features)``
by default. The surrogate is a ridge regression (``alpha=1``) fitted to each
model output (every class probability for classifiers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._model import Model, as_model, output_kind
from .._protocol import UNSET, ExplainerBase, renamed_argument, warn_per_call
from .._random import check_random_state
from .._results import Explanation
from ..scale import check_fan_out, scalable
from ._surrogate import SELECTIONS, exp_kernel, fit_surrogate
from ._tabular import DISCRETIZERS, TabularDomain, seed_sequences

__all__ = ["Lime", "LimeStability"]

# Sample rows per model call; chunks of explained rows are sized to fit.
_ROWS_PER_CALL = 100_000

# With n_jobs=None, rows go to worker processes only from this many rows on.
# Starting a process pool and importing pellucid in each worker costs seconds
# (1.6 s on 2 cores, 6.7 s on 16), while one row at 5,000 samples costs about
# 15 ms for a 50-tree forest: below a few hundred rows the pool costs more
# than it saves. n_jobs=k asks for k workers at any size; the bytes are the
# same either way (seeds are keyed by row position).
FAN_OUT_ROWS = 512


def _check_counts(max_features: Any, num_samples: Any) -> tuple[int, int]:
    max_features, num_samples = int(max_features), int(num_samples)
    if max_features < 1:
        raise ValueError(f"max_features must be at least 1; got {max_features}.")
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2; got {num_samples}.")
    return max_features, num_samples


def max_features_argument(
    owner: str, max_features: Any, num_features: Any, default: Any, stacklevel: int = 4
) -> Any:
    """``max_features``, or the value of its deprecated name ``num_features`` (lime's
    spelling): a count of features is ``max_features`` across pellucid."""
    return renamed_argument(
        owner,
        "num_features",
        "max_features",
        num_features,
        max_features,
        default=default,
        stacklevel=stacklevel,
    )


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}.")


class Lime(ExplainerBase):
    """Local surrogate explanations (LIME) for tabular models.

    Parameters
    ----------
    model:
        Any model :func:`pellucid.as_model` accepts (a Pipeline on raw
        columns works: samples are drawn in the raw space with the raw dtypes).
    data:
        DataFrame or array of training rows the sampling distribution comes
        from (``training_data=`` is its deprecated name).
    categorical_features:
        "auto" (non-numeric columns), or names / positions of categorical columns.
    discretize:
        "quartile" (default), "decile" or None (keep numeric features continuous).
    kernel_width:
        Width of the exponential kernel; ``0.75 * sqrt(n_features)`` when None.
    feature_selection:
        "auto" (forward selection up to 6 features, else highest weights),
        "forward_selection", "highest_weights", "lasso_path" or "none".
    max_features:
        Features the surrogate may use (at least 1; ``num_features=`` is its
        deprecated name).
    num_samples:
        Perturbed samples per explained row (at least 2).
    random_state:
        Seed: row ``i`` of a table uses ``(random_state, i)`` (:mod:`pellucid._random`).
    n_jobs, chunk_rows:
        Rows explained at once in worker processes, and rows per worker task
        (:func:`pellucid.scale.scalable`); None: every core from 512 rows on.
    """

    _renamed = {"training_data": "data", "num_features": "max_features"}
    _call_settings = ("max_features", "num_samples", "random_state", "n_jobs", "chunk_rows")

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        max_features: int = 10,
        num_samples: int = 5000,
        random_state: Any = None,
        categorical_features: Any = "auto",
        discretize: str | None = "quartile",
        kernel_width: float | None = None,
        feature_selection: str = "auto",
        n_jobs: int | None = None,
        chunk_rows: int | None = None,
        training_data: Any = UNSET,
        num_features: Any = UNSET,
    ) -> None:
        data = renamed_argument("Lime", "training_data", "data", training_data, data)
        max_features = max_features_argument("Lime", max_features, num_features, default=10)
        if data is None:
            raise TypeError("Lime needs training data: Lime(model, data).")
        self.max_features, self.num_samples = _check_counts(max_features, num_samples)
        self.random_state = check_random_state(random_state)
        self.n_jobs, self.chunk_rows = check_fan_out(n_jobs, chunk_rows)
        self.categorical_features = categorical_features
        if discretize is not None:
            _check_choice("discretize", discretize, list(DISCRETIZERS) + [None])
        _check_choice("feature_selection", feature_selection, SELECTIONS)
        self.model: Model = as_model(model)
        quantiles = DISCRETIZERS[discretize] if discretize is not None else ()
        self.domain = TabularDomain(
            data, categorical_features=categorical_features, quantiles=quantiles
        )
        self.discretize = discretize
        d = self.domain.n_features
        self.kernel_width = (
            float(kernel_width) if kernel_width is not None else 0.75 * float(np.sqrt(d))
        )
        if not self.kernel_width > 0:
            raise ValueError(f"kernel_width must be positive; got {kernel_width!r}.")
        self.feature_selection = feature_selection
        # Columns that are sampled from a normal and represented standardised.
        self._continuous = np.array(
            [discretize is None and not c.categorical for c in self.domain.columns], dtype=bool
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.domain.feature_names

    # ------------------------------------------------------------ public API
    @scalable(min_rows=FAN_OUT_ROWS)
    def explain(
        self,
        X: Any,
        *,
        first_row: int = 0,
        max_features: Any = UNSET,
        num_samples: Any = UNSET,
        random_state: Any = UNSET,
        num_features: Any = UNSET,
    ) -> Explanation:
        """Explain each row of ``X``.

        Returns an :class:`Explanation` whose ``values`` are the surrogate's
        weights (zero for features it did not select), ``(n, d)`` for one
        output or ``(n, d, k)`` for a classifier's ``k`` class probabilities;
        ``base_values`` the surrogate's intercept; ``output`` the model's
        prediction; ``diagnostics`` ``fidelity`` (weighted R^2 of the
        surrogate), ``local_prediction`` (the surrogate at the row),
        ``intercept``, and ``conditions`` (what each feature's indicator
        means for that row, e.g. ``"income > 62,000"``).

        Row ``i`` uses a seed fixed by ``(random_state, first_row + i)``: the
        same seed gives identical output, however the rows are batched or
        split into chunks (``first_row``: the chunk's first row position).
        ``max_features`` (``num_features``), ``num_samples`` and ``random_state``
        here are deprecated: they belong to the constructor.
        """
        if num_features is not UNSET:
            max_features = max_features_argument(
                "Lime.explain", max_features, num_features, default=UNSET, stacklevel=5
            )
            warn_per_call(self, {"max_features": max_features}, stacklevel=4)
        settings = self._with_overrides(
            max_features=max_features, num_samples=num_samples, random_state=random_state
        )
        max_features, num_samples = _check_counts(settings["max_features"], settings["num_samples"])
        random_state = settings["random_state"]
        rows = self.domain.check_rows(X)
        n, d = len(rows), self.domain.n_features
        seeds = seed_sequences(random_state, n, first=int(first_row))
        store = self.domain.store_with(rows)
        row_codes = self.domain.encode(rows)
        chunk = max(1, _ROWS_PER_CALL // num_samples)
        parts = []
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            parts.extend(
                self._explain_chunk(store, rows, row_codes, idx, seeds, num_samples, max_features)
            )
        coef = np.stack([p[0] for p in parts])  # (n, d, k)
        intercept = np.stack([p[1] for p in parts])
        score = np.stack([p[2] for p in parts])
        local = np.stack([p[3] for p in parts])
        output = np.stack([p[4] for p in parts])
        raw = rows.to_numpy(dtype=object)
        conditions = np.array(
            [
                [
                    c.describe(int(row_codes[i, j]), raw[i, j])
                    for j, c in enumerate(self.domain.columns)
                ]
                for i in range(n)
            ],
            dtype=object,
        ).reshape(n, d)
        names = self.model.output_names
        if names is None:
            coef, intercept, score, local, output = (
                coef[..., 0],
                intercept[:, 0],
                score[:, 0],
                local[:, 0],
                output[:, 0],
            )
        return Explanation(
            values=coef,
            base_values=intercept,
            data=raw,
            feature_names=self.feature_names,
            output_names=names,
            method="lime",
            params={
                "discretize": self.discretize,
                "kernel_width": self.kernel_width,
                "feature_selection": self.feature_selection,
                "max_features": max_features,
                "num_samples": num_samples,
                "random_state": random_state if isinstance(random_state, int) else None,
                "model_output": self.model.output,
            },
            output=output,
            output_kind=output_kind(self.model, rows),
            diagnostics={
                "fidelity": score,
                "local_prediction": local,
                "intercept": intercept,
                "conditions": conditions,
            },
        )

    def stability(
        self,
        X: Any,
        *,
        seeds: int | Sequence[int] = 5,
        top_k: int = 5,
        max_features: int | None = None,
        num_samples: int | None = None,
        num_features: Any = UNSET,
    ) -> LimeStability:
        """Explain ``X`` under several seeds and report how much the top features agree.

        For each row (and the row's predicted class, for classifiers) the
        ``top_k`` features by absolute weight are compared between every pair
        of seeds: ``top_k_jaccard`` is the mean Jaccard overlap of those sets
        and ``rank_correlation`` the mean Spearman correlation of the absolute
        weights of all features. 1.0 means the explanation does not depend on
        the seed. ``max_features`` (``num_features=`` is its deprecated name) and
        ``num_samples``: the explainer's unless given.
        """
        max_features = max_features_argument(
            "Lime.stability", max_features, num_features, default=None
        )
        seed_list = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else list(seeds)
        if len(seed_list) < 2:
            raise ValueError("stability needs at least two seeds.")
        counts = {
            "max_features": self.max_features if max_features is None else max_features,
            "num_samples": self.num_samples if num_samples is None else num_samples,
        }
        exps = [self.with_settings(**counts, random_state=s).explain(X) for s in seed_list]
        W = np.stack([np.asarray(e.values) for e in exps])  # (s, n, d[, k])
        if W.ndim == 4:
            out = np.asarray(exps[0].output)
            cls = out.argmax(axis=1)
            W = W[:, np.arange(W.shape[1]), :, cls]  # (s, n, d)
        return _stability_of(np.abs(W), top_k, self.feature_names, seed_list)

    # ------------------------------------------------------------ internals
    def _explain_chunk(
        self,
        store: pd.DataFrame,
        rows: pd.DataFrame,
        row_codes: np.ndarray,
        idx: np.ndarray,
        seeds: list[np.random.SeedSequence],
        m: int,
        max_features: int,
    ) -> list[tuple[np.ndarray, ...]]:
        dom = self.domain
        d, n_train = dom.n_features, dom.n_train
        cont = self._continuous
        R = len(idx)
        source = np.empty((R, m, d), dtype=np.intp)
        normals = np.empty((R, m - 1, int(cont.sum())))
        nan_draw = np.empty((R, m - 1, int(cont.sum())))
        for r, i in enumerate(idx):
            rng = np.random.default_rng(seeds[i])
            source[r, 0] = n_train + i
            source[r, 1:] = rng.integers(n_train, size=(m - 1, d))
            if cont.any():
                normals[r] = rng.standard_normal((m - 1, int(cont.sum())))
                nan_draw[r] = rng.random((m - 1, int(cont.sum())))
        flat = source.reshape(R * m, d)
        overrides, Zc = self._continuous_columns(rows, idx, normals, nan_draw, m)
        samples = dom.build(store, flat, overrides)
        Y = self.model.predict(samples, check=False)
        Y = Y.reshape(R, m, -1)
        # Interpretable representation: indicator "same code as the row" for binned /
        # categorical columns, standardised value for continuous ones.
        all_codes = np.concatenate([dom.codes, row_codes], axis=0)
        same = all_codes[flat, np.arange(d)].reshape(R, m, d) == row_codes[idx][:, None, :]
        Z = same.astype(float)
        if cont.any():
            Z[:, :, cont] = Zc
        out: list[tuple[np.ndarray, ...]] = []
        for r in range(R):
            z0 = Z[r, 0]
            dist = np.sqrt(((Z[r] - z0) ** 2).sum(axis=1))
            w = exp_kernel(dist, self.kernel_width)
            s = fit_surrogate(
                Z[r],
                Y[r],
                w,
                max_features=max_features,
                feature_selection=self.feature_selection,
            )
            out.append((s.coef, s.intercept, s.score, s.local_prediction, Y[r, 0]))
        return out

    def _continuous_columns(
        self,
        rows: pd.DataFrame,
        idx: np.ndarray,
        normals: np.ndarray,
        nan_draw: np.ndarray,
        m: int,
    ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Normal draws for continuous columns: raw values and standardised representation."""
        cont_idx = np.flatnonzero(self._continuous)
        R = len(idx)
        overrides: dict[int, np.ndarray] = {}
        Zc = np.zeros((R, m, len(cont_idx)))
        for c, j in enumerate(int(x) for x in cont_idx):
            col = self.domain.columns[j]
            row_vals = rows.iloc[idx, j].to_numpy(dtype=float, na_value=np.nan)
            vals = np.empty((R, m))
            vals[:, 0] = row_vals
            vals[:, 1:] = col.mean + col.std * normals[:, :, c]
            if col.is_int:
                vals[:, 1:] = np.round(vals[:, 1:])
            if col.nan_rate > 0:
                vals[:, 1:][nan_draw[:, :, c] < col.nan_rate] = np.nan
            z = (vals - col.mean) / col.std
            # Missing values sit at the mean in the representation.
            Zc[:, :, c] = np.nan_to_num(z, nan=0.0)
            flat = vals.reshape(R * m)
            if col.is_int and not np.isnan(flat).any():
                overrides[j] = flat.astype(self.domain.frame.iloc[:, j].dtype)
            else:
                overrides[j] = flat
        return overrides, Zc


@dataclass(frozen=True)
class LimeStability:
    """Agreement of LIME's top features across seeds, per explained row.

    ``top_k_jaccard`` and ``rank_correlation`` are ``(n_rows,)``; ``top_features``
    is ``(n_seeds, n_rows, top_k)`` feature names.
    """

    top_k_jaccard: np.ndarray
    rank_correlation: np.ndarray
    top_features: np.ndarray
    seeds: tuple[int, ...]
    top_k: int

    @property
    def mean_jaccard(self) -> float:
        return float(np.mean(self.top_k_jaccard))

    @property
    def mean_rank_correlation(self) -> float:
        return float(np.nanmean(self.rank_correlation))


def _stability_of(
    A: np.ndarray, top_k: int, names: Sequence[str], seeds: Sequence[int]
) -> LimeStability:
    from scipy.stats import rankdata

    s, n, d = A.shape
    k = min(int(top_k), d)
    top = np.argsort(-A, axis=2, kind="stable")[:, :, :k]  # (s, n, k)
    jac = np.zeros(n)
    rho = np.zeros(n)
    pairs = [(a, b) for a in range(s) for b in range(a + 1, s)]
    ranks = rankdata(A, axis=2)
    for a, b in pairs:
        for i in range(n):
            sa, sb = set(top[a, i]), set(top[b, i])
            jac[i] += len(sa & sb) / len(sa | sb)
        ra, rb = ranks[a], ranks[b]
        ra = ra - ra.mean(axis=1, keepdims=True)
        rb = rb - rb.mean(axis=1, keepdims=True)
        den = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho += np.where(den > 0, (ra * rb).sum(axis=1) / den, np.nan)
    names_arr = np.asarray(names, dtype=object)
    return LimeStability(
        jac / len(pairs), rho / len(pairs), names_arr[top], tuple(int(x) for x in seeds), k
    )
