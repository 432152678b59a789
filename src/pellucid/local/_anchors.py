"""Anchors for tabular data and text: high-precision rules around one prediction.

Candidate predicates for a tabular row are, per feature, ``feature == value``
for categorical columns, ``feature is missing`` for a missing value, and for
numeric columns one predicate per quartile edge that holds on the row:
``feature <= q`` for edges at or above its value, ``feature > q`` for edges
below it (alibi's candidates; two bounds from one side never go together). Samples conditioned on an
anchor copy the anchored columns from one training row that satisfies the
whole anchor (or the explained row itself), and every other column from
another random training row, so samples stay in the user's units and dtypes.
Coverage is the share of training rows the anchor applies to. As in the
paper's code and alibi, samples drawn for an anchor that happen to satisfy
one more predicate also count for the extended anchor, so an anchor's
precision pools its own samples with those inherited from its parent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._model import Model, as_model
from .._protocol import UNSET, ExplainerBase, renamed_argument, warn_per_call
from .._random import check_random_state
from .._results import Anchor, Predicate
from ._anchor_search import Batch, SearchResult, anchor_search, run_searches
from ._tabular import DISCRETIZERS, TabularDomain, seed_sequences
from ._text import TokenizedText, Tokenizer, _spans, text_predict

__all__ = ["Anchors", "AnchorsText"]


#: The search settings of Anchors and AnchorsText, read when ``explain`` runs.
SEARCH_SETTINGS = (
    "threshold",
    "delta",
    "tau",
    "beam_size",
    "batch_size",
    "max_anchor_size",
    "n_examples",
    "random_state",
)


def _check_search_options(threshold: float, delta: float, tau: float, beam_size: int) -> None:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}.")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1); got {delta!r}.")
    if not 0 < tau < 1:
        raise ValueError(f"tau must be in (0, 1); got {tau!r}.")
    if int(beam_size) < 1:
        raise ValueError(f"beam_size must be a positive integer; got {beam_size!r}.")


def _labels_of(pred: np.ndarray, binary_margin: bool) -> np.ndarray:
    """Predicted class per row: argmax of scores, sign of a binary margin, or the label itself."""
    pred = np.asarray(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        return pred.argmax(axis=1)
    pred = pred.reshape(len(pred))
    if binary_margin:
        return (pred > 0).astype(np.intp)
    return pred


class Anchors(ExplainerBase):
    """Anchors (Ribeiro et al., AAAI 2018) for tabular classifiers.

    Parameters
    ----------
    model:
        Any classifier :func:`pellucid.as_model` accepts, Pipelines on raw
        columns included; a callable returning class scores or labels works too.
    data:
        DataFrame or array of training rows that samples and coverage come
        from (``training_data=`` is its deprecated name).
    threshold, delta, tau, beam_size, batch_size, max_anchor_size, n_examples:
        The search (KL-LUCB beam search): the precision an anchor must reach,
        its confidence ``1 - delta``, the tolerance ``tau``, anchors kept per
        step, samples per precision update, the longest anchor (None: no
        limit), and examples kept.
    random_state:
        Seed: row ``i`` of ``explain_rows`` uses ``(random_state, i)``
        (:mod:`pellucid._random`).
    categorical_features:
        "auto" (non-numeric columns) or names / positions of categorical columns.
    discretize:
        "quartile" (default) or "decile": the bins numeric predicates are cut at.
    coverage_samples:
        Training rows (at most) used to measure coverage.
    """

    _renamed = {"training_data": "data"}
    _call_settings = SEARCH_SETTINGS

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        threshold: float = 0.95,
        delta: float = 0.1,
        tau: float = 0.15,
        beam_size: int = 2,
        batch_size: int = 100,
        max_anchor_size: int | None = None,
        n_examples: int = 10,
        random_state: Any = None,
        categorical_features: Any = "auto",
        discretize: str = "quartile",
        coverage_samples: int = 10_000,
        training_data: Any = UNSET,
    ) -> None:
        data = renamed_argument("Anchors", "training_data", "data", training_data, data)
        if data is None:
            raise TypeError("Anchors needs training data: Anchors(model, data).")
        _check_search_options(threshold, delta, tau, beam_size)
        self.threshold, self.delta, self.tau = threshold, delta, tau
        self.beam_size, self.batch_size = int(beam_size), int(batch_size)
        self.max_anchor_size, self.n_examples = max_anchor_size, int(n_examples)
        self.random_state = check_random_state(random_state)
        self.categorical_features = categorical_features
        if discretize not in DISCRETIZERS:
            raise ValueError(f"discretize must be one of {list(DISCRETIZERS)}; got {discretize!r}.")
        self.model: Model = as_model(model)
        if self.model.task == "regression" and self.model.kind != "callable":
            raise TypeError(
                "Anchors explains classifiers: the model is a regressor. Wrap a function that "
                "returns classes (for example a threshold on the prediction) to explain it."
            )
        self.domain = TabularDomain(
            data,
            categorical_features=categorical_features,
            quantiles=DISCRETIZERS[discretize],
        )
        self.discretize = discretize
        self.coverage_samples = int(coverage_samples)
        self.model_rows = 0

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.domain.feature_names

    def _predict_labels(self, samples: Any) -> np.ndarray:
        self.model_rows += len(samples)
        pred = self.model.predict(samples, check=False)
        binary_margin = self.model.task == "binary" and self.model.output != "probability"
        return _labels_of(pred, binary_margin)

    def explain(
        self,
        x: Any,
        *,
        threshold: Any = UNSET,
        delta: Any = UNSET,
        tau: Any = UNSET,
        beam_size: Any = UNSET,
        batch_size: Any = UNSET,
        max_anchor_size: Any = UNSET,
        n_examples: Any = UNSET,
        random_state: Any = UNSET,
    ) -> Anchor:
        """Find an anchor for one row ``x`` (a one-row DataFrame, a Series or a 1-D array).

        The keyword arguments are deprecated: they belong to the constructor."""
        given = dict(
            threshold=threshold,
            delta=delta,
            tau=tau,
            beam_size=beam_size,
            batch_size=batch_size,
            max_anchor_size=max_anchor_size,
            n_examples=n_examples,
            random_state=random_state,
        )
        warn_per_call(self, given)
        rows = self.domain.check_rows(x, name="x")
        if len(rows) != 1:
            raise ValueError(
                f"explain takes one row; got {len(rows)}. Use explain_rows for several."
            )
        return self._explain_rows(rows, self._with_overrides(**given))[0]

    def explain_rows(
        self,
        X: Any,
        *,
        threshold: Any = UNSET,
        delta: Any = UNSET,
        tau: Any = UNSET,
        beam_size: Any = UNSET,
        batch_size: Any = UNSET,
        max_anchor_size: Any = UNSET,
        n_examples: Any = UNSET,
        random_state: Any = UNSET,
    ) -> list[Anchor]:
        """One anchor per row of ``X``; the searches share batched model calls.

        Row ``i`` uses a seed fixed by ``(random_state, i)``, so its anchor is
        the same as ``explain(X.iloc[[i]])`` would give with that seed only for
        ``i == 0``; what is guaranteed is that the same call gives the same anchors.
        The keyword arguments are deprecated: they belong to the constructor.
        """
        given = dict(
            threshold=threshold,
            delta=delta,
            tau=tau,
            beam_size=beam_size,
            batch_size=batch_size,
            max_anchor_size=max_anchor_size,
            n_examples=n_examples,
            random_state=random_state,
        )
        warn_per_call(self, given)
        return self._explain_rows(X, self._with_overrides(**given))

    def _explain_rows(self, X: Any, settings: dict[str, Any]) -> list[Anchor]:
        threshold, delta, tau = settings["threshold"], settings["delta"], settings["tau"]
        beam_size, batch_size = settings["beam_size"], settings["batch_size"]
        max_anchor_size, n_examples = settings["max_anchor_size"], settings["n_examples"]
        random_state = settings["random_state"]
        _check_search_options(threshold, delta, tau, beam_size)
        rows = self.domain.check_rows(X)
        dom = self.domain
        n = len(rows)
        seeds = seed_sequences(random_state, n)
        store = dom.store_with(rows)
        store_codes = np.concatenate([dom.codes, dom.encode(rows)], axis=0)
        start_rows = self.model_rows
        targets = self._predict_labels(
            dom.build(
                store, np.arange(dom.n_train, dom.n_train + n)[:, None].repeat(dom.n_features, 1)
            )
        )
        states = [
            _RowState(self, store, store_codes, i, targets[i], np.random.default_rng(seeds[i]))
            for i in range(n)
        ]
        searches = [
            anchor_search(
                len(s.candidates),
                s.coverage_bits,
                exclusive=s.exclusive,
                threshold=threshold,
                delta=delta,
                tau=tau,
                beam_size=int(beam_size),
                batch_size=int(batch_size),
                max_anchor_size=max_anchor_size,
                n_examples=int(n_examples),
                columns=s.features.tolist(),
            )
            for s in states
        ]

        def answer(requests: list[tuple[int, tuple[int, ...], int]]) -> list[Batch]:
            sources = [states[i].sample(a, k) for i, a, k in requests]
            flat = np.concatenate([src for src, _ in sources], axis=0)
            labels = self._predict_labels(dom.build(store, flat))
            out, pos = [], 0
            for (i, _, k), (src, bits) in zip(requests, sources, strict=True):
                lab = labels[pos : pos + k] == states[i].target
                out.append(Batch(bits, lab, src))
                pos += k
            return out

        results = run_searches(searches, answer)
        params = {
            "threshold": threshold,
            "delta": delta,
            "tau": tau,
            "beam_size": int(beam_size),
            "batch_size": int(batch_size),
            "random_state": random_state if isinstance(random_state, int) else None,
        }
        rows_used = self.model_rows - start_rows
        return [
            s.to_anchor(r, params, n_examples, rows_used / n)
            for s, r in zip(states, results, strict=True)
        ]


class _RowState:
    """Candidate predicates and conditioned sampling for one explained row."""

    def __init__(
        self,
        owner: Anchors,
        store: pd.DataFrame,
        store_codes: np.ndarray,
        i: int,
        target: Any,
        rng: np.random.Generator,
    ) -> None:
        dom = owner.domain
        self.owner, self.store, self.i, self.target, self.rng = owner, store, i, target, rng
        self.n_train = dom.n_train
        self.row_index = dom.n_train + i
        code = store_codes[self.row_index]
        row = store.iloc[self.row_index]
        feats: list[int] = []
        allowed: list[np.ndarray] = []
        preds: list[Predicate] = []
        # Predicates on one column that bound it from the same side are nested:
        # never two of them in one anchor.
        self.exclusive: list[list[int]] = []
        for j, col in enumerate(dom.columns):
            c = int(code[j])
            value = row.iloc[j]
            n_bins = len(col.edges) + 1
            if c == col.missing_code or col.categorical or c == col.unseen_code:
                ok = np.zeros(col.n_codes, dtype=bool)
                ok[c] = True
                feats.append(j)
                allowed.append(ok)
                missing = c == col.missing_code
                preds.append(Predicate(col.name, "==", float("nan") if missing else _plain(value)))
                continue
            # Every bin edge gives one predicate that holds on the row (alibi's candidates):
            # "<= edge" for edges at or above the row's bin, "> edge" for those below it.
            below: list[int] = []
            above: list[int] = []
            for k, edge in enumerate(col.edges):
                ok = np.zeros(col.n_codes, dtype=bool)
                if c <= k:
                    ok[: k + 1] = True
                    op, side = "<=", above
                else:
                    ok[k + 1 : n_bins] = True
                    op, side = ">", below
                side.append(len(preds))
                feats.append(j)
                allowed.append(ok)
                preds.append(Predicate(col.name, op, _plain(edge)))
            self.exclusive += [g for g in (below, above) if len(g) > 1]
        self.features = np.array(feats, dtype=np.intp)
        self.candidates = preds
        # bits[r, k]: candidate k holds on training row r (last row: the explained row).
        src_rows = np.r_[np.arange(dom.n_train), self.row_index]
        self.bits = (
            np.column_stack([allowed[k][store_codes[src_rows, j]] for k, j in enumerate(feats)])
            if feats
            else np.zeros((len(src_rows), 0), dtype=bool)
        )
        n_cov = min(owner.coverage_samples, dom.n_train)
        cov_rows = (
            np.arange(dom.n_train)
            if n_cov == dom.n_train
            else np.sort(rng.choice(dom.n_train, n_cov, replace=False))
        )
        self.coverage_bits = self.bits[cov_rows]
        self._pools: dict[tuple[int, ...], np.ndarray] = {}

    def _pool(self, anchor: tuple[int, ...]) -> np.ndarray:
        pool = self._pools.get(anchor)
        if pool is None:
            pool = np.flatnonzero(self.bits[:, list(anchor)].all(axis=1))
            pool[pool == self.n_train] = self.row_index
            self._pools[anchor] = pool
        return pool

    def sample(self, anchor: tuple[int, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Source-row matrix (n, d) of samples conditioned on ``anchor`` and their candidate bits."""
        d = self.owner.domain.n_features
        base = self.rng.integers(self.n_train, size=n)
        source = np.repeat(base[:, None], d, axis=1)
        if anchor:
            pool = self._pool(anchor)
            picked = pool[self.rng.integers(len(pool), size=n)]
            cols = np.unique(self.features[list(anchor)])
            source[:, cols] = picked[:, None]
        src_bits_rows = np.where(source == self.row_index, self.n_train, source)
        bits = self.bits[src_bits_rows[:, self.features], np.arange(len(self.features))]
        return source, bits

    def to_anchor(
        self, r: SearchResult, params: dict[str, Any], n_examples: int, rows_per_row: float
    ) -> Anchor:
        dom = self.owner.domain
        classes = self.owner.model.classes
        prediction = (
            _plain(classes[int(self.target)])
            if classes is not None and np.issubdtype(np.asarray(self.target).dtype, np.integer)
            else _plain(self.target)
        )
        covered = failed = None
        if r.examples is not None:
            src = np.stack(r.examples.payload)
            lab = r.examples.labels
            frame = dom.build(self.store, src)
            arr = (
                frame.to_numpy(dtype=object)
                if isinstance(frame, pd.DataFrame)
                else np.asarray(frame, dtype=object)
            )
            covered = arr[lab][:n_examples]
            failed = arr[~lab][:n_examples]
        return Anchor(
            predicates=tuple(self.candidates[k] for k in r.anchor),
            precision=float(r.precision),
            coverage=float(r.coverage),
            prediction=prediction,
            feature_names=dom.feature_names,
            examples_covered=covered,
            examples_failed=failed,
            method="anchors",
            params={
                **params,
                "precision_lower_bound": float(r.precision_lower),
                "success": bool(r.success),
                "model_rows": int(round(rows_per_row)),
            },
        )


def _plain(v: Any) -> Any:
    """numpy scalars to Python ones, for readable rules and JSON."""
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------- text


class AnchorsText(ExplainerBase):
    """Anchors for text classifiers: which words keep the prediction when others are masked.

    Parameters
    ----------
    model:
        A callable ``f(list[str]) -> scores (n, k) or labels (n,)``, or an
        estimator with ``predict_proba`` on raw texts (a text Pipeline).
    tokenizer:
        ``f(str) -> list[str]`` of tokens found in the text in order; words
        (``\\w+``) when None.
    mask:
        What replaces a hidden word: None removes it, a string such as "UNK" stands in.
    sample_proba:
        Chance that each word outside the anchor is hidden in a sample.
        Coverage is the share of such perturbed texts that keep every word
        of the anchor (about ``(1 - sample_proba) ** len(anchor)``).
    threshold, delta, tau, beam_size, batch_size, max_anchor_size, n_examples, random_state:
        The search and its seed, as for :class:`Anchors`.
    """

    _call_settings = SEARCH_SETTINGS

    def __init__(
        self,
        model: Any,
        *,
        threshold: float = 0.95,
        delta: float = 0.1,
        tau: float = 0.15,
        beam_size: int = 2,
        batch_size: int = 100,
        max_anchor_size: int | None = None,
        n_examples: int = 10,
        random_state: Any = None,
        tokenizer: Tokenizer | None = None,
        mask: str | None = "UNK",
        sample_proba: float = 0.5,
        coverage_samples: int = 10_000,
    ) -> None:
        if not 0 < sample_proba < 1:
            raise ValueError(f"sample_proba must be in (0, 1); got {sample_proba!r}.")
        _check_search_options(threshold, delta, tau, beam_size)
        self.threshold, self.delta, self.tau = threshold, delta, tau
        self.beam_size, self.batch_size = int(beam_size), int(batch_size)
        self.max_anchor_size, self.n_examples = max_anchor_size, int(n_examples)
        self.random_state = check_random_state(random_state)
        self._predict = text_predict(model)
        self.tokenizer = tokenizer
        self.mask = mask
        self.sample_proba = float(sample_proba)
        self.coverage_samples = int(coverage_samples)
        self.model_rows = 0

    def _labels(self, texts: list[str]) -> np.ndarray:
        self.model_rows += len(texts)
        return _labels_of(self._predict(texts), binary_margin=False)

    def explain(
        self,
        text: str,
        *,
        threshold: Any = UNSET,
        delta: Any = UNSET,
        tau: Any = UNSET,
        beam_size: Any = UNSET,
        batch_size: Any = UNSET,
        max_anchor_size: Any = UNSET,
        n_examples: Any = UNSET,
        random_state: Any = UNSET,
    ) -> Anchor:
        """Anchor of one text. Predicates read ``word >= 1`` (the word occurs);
        :meth:`covers` applies the rule to other texts. The keyword arguments are
        deprecated: they belong to the constructor."""
        given = dict(
            threshold=threshold,
            delta=delta,
            tau=tau,
            beam_size=beam_size,
            batch_size=batch_size,
            max_anchor_size=max_anchor_size,
            n_examples=n_examples,
            random_state=random_state,
        )
        warn_per_call(self, given)
        settings = self._with_overrides(**given)
        threshold, delta, tau = settings["threshold"], settings["delta"], settings["tau"]
        beam_size, batch_size = settings["beam_size"], settings["batch_size"]
        max_anchor_size, n_examples = settings["max_anchor_size"], settings["n_examples"]
        random_state = settings["random_state"]
        _check_search_options(threshold, delta, tau, beam_size)
        doc = TokenizedText(text, self.tokenizer)
        rng = np.random.default_rng(seed_sequences(random_state, 1)[0])
        start = self.model_rows
        target = self._labels([text])[0]
        d = doc.n_words
        cov_bits = rng.random((self.coverage_samples, d)) >= self.sample_proba

        def sample(anchor: tuple[int, ...], n: int) -> np.ndarray:
            keep = rng.random((n, d)) >= self.sample_proba
            keep[:, list(anchor)] = True
            return keep

        search = anchor_search(
            d,
            cov_bits,
            threshold=threshold,
            delta=delta,
            tau=tau,
            beam_size=int(beam_size),
            batch_size=int(batch_size),
            max_anchor_size=max_anchor_size,
            n_examples=int(n_examples),
        )

        def answer(requests: list[tuple[int, tuple[int, ...], int]]) -> list[Batch]:
            keeps = [sample(a, k) for _, a, k in requests]
            texts = doc.render(np.concatenate(keeps, axis=0), self.mask)
            labels = self._labels(texts) == target
            out, pos = [], 0
            for keep in keeps:
                k = len(keep)
                out.append(Batch(keep, labels[pos : pos + k], texts[pos : pos + k]))
                pos += k
            return out

        (r,) = run_searches([search], answer)
        covered = failed = None
        if r.examples is not None:
            texts = np.asarray(r.examples.payload, dtype=object)
            covered = texts[r.examples.labels][:n_examples]
            failed = texts[~r.examples.labels][:n_examples]
        return Anchor(
            predicates=tuple(Predicate(doc.words[k], ">=", 1) for k in r.anchor),
            precision=float(r.precision),
            coverage=float(r.coverage),
            prediction=_plain(target),
            feature_names=tuple(doc.words[k] for k in r.anchor),
            examples_covered=covered,
            examples_failed=failed,
            method="anchors_text",
            params={
                "threshold": threshold,
                "delta": delta,
                "tau": tau,
                "beam_size": int(beam_size),
                "mask": self.mask,
                "sample_proba": self.sample_proba,
                "random_state": random_state if isinstance(random_state, int) else None,
                "precision_lower_bound": float(r.precision_lower),
                "success": bool(r.success),
                "model_rows": int(self.model_rows - start),
            },
        )

    def covers(self, anchor: Anchor, texts: Sequence[str]) -> np.ndarray:
        """Boolean mask of the texts that contain every word of ``anchor``."""
        words = [p.feature for p in anchor.predicates]
        out = np.ones(len(texts), dtype=bool)
        for i, t in enumerate(texts):
            present = {t[a:b] for a, b in _spans(t, self.tokenizer)}
            out[i] = all(w in present for w in words)
        return out
