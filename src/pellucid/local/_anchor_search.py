"""The Anchors search: KL-LUCB best-arm identification inside a beam search.

Ribeiro, Singh and Guestrin, "Anchors: High-Precision Model-Agnostic
Explanations" (AAAI 2018). An anchor is a set of candidate predicates
(integers here); its precision is the probability that the model keeps its
prediction on samples drawn conditioned on the anchor, its coverage the
share of data it applies to. The search grows anchors one predicate at a
time, keeps the ``beam_size`` most precise (KL-LUCB, Kaufmann and
Kalyanakrishnan 2013), samples each until its precision is confidently above
or below the threshold, and returns the valid anchor with the largest
coverage.

The search is written as a generator: each time it needs model labels it
yields one *request* (a list of ``(anchor, n_samples)``) and receives, per
entry, a :class:`Batch` of sampled indicator rows and labels. A driver
answers the request with a single batched model call, and can run many
searches in lock-step so that one model call serves several explanations.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Anchor_t = tuple[int, ...]


@dataclass
class Batch:
    """Samples drawn conditioned on an anchor: which candidates hold, and the labels."""

    bits: np.ndarray  # (n, n_candidates) bool
    labels: np.ndarray  # (n,) bool: model keeps the explained prediction
    payload: Any = None  # domain data of the samples (for example rows)


@dataclass
class SearchResult:
    anchor: tuple[int, ...]  # candidate indices in the order they were added
    precision: float
    precision_lower: float
    coverage: float
    success: bool
    n_samples: int
    examples: Batch | None = None


Request = list[tuple[Anchor_t, int]]
Search = Generator[Request, list[Batch], SearchResult]


# ---------------------------------------------------------------- KL bounds


def kl_bernoulli(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL divergence between Bernoulli(p) and Bernoulli(q), clipped away from 0 and 1."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    q = np.clip(q, 1e-7, 1 - 1e-7)
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def _kl_bound(p: np.ndarray, level: np.ndarray, upper: bool, n_iter: int = 17) -> np.ndarray:
    """Bisection for the q on one side of p where KL(p, q) reaches ``level`` (vectorised).

    17 halvings of an interval at most 1 wide leave an error below 1e-5.
    """
    p = np.asarray(p, dtype=float)
    level = np.asarray(level, dtype=float)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    # KL(p, q) = const(p) - p log q - (1 - p) log(1 - q): only the q terms change in the loop.
    const = pc * np.log(pc) + (1 - pc) * np.log1p(-pc)
    step = np.sqrt(level / 2.0)  # Pinsker: the bound lies within this distance of p
    if upper:
        good, bad = p.copy(), np.minimum(p + step, 1.0)
    else:
        good, bad = p.copy(), np.maximum(p - step, 0.0)
    for _ in range(n_iter):
        mid = (good + bad) * 0.5
        q = np.minimum(np.maximum(mid, 1e-7), 1 - 1e-7)
        over = const - pc * np.log(q) - (1 - pc) * np.log1p(-q) > level
        bad = np.where(over, mid, bad)
        good = np.where(over, good, mid)
    return bad


def kl_upper(p: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Upper confidence bound: the largest q >= p with KL(p, q) <= level (to 1e-5)."""
    return _kl_bound(p, level, upper=True)


def kl_lower(p: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Lower confidence bound: the smallest q <= p with KL(p, q) <= level (to 1e-5)."""
    return _kl_bound(p, level, upper=False)


def lucb_beta(n_arms: int, t: int, delta: float) -> float:
    """Exploration rate of KL-LUCB (Kaufmann and Kalyanakrishnan 2013, with their constants)."""
    temp = np.log(405.5 * n_arms * t**1.1 / delta)
    return float(temp + np.log(temp))


# ---------------------------------------------------------------- state


@dataclass
class _Stats:
    """Samples seen by every anchor: a growing store of indicator rows and labels."""

    n_candidates: int
    bits: np.ndarray = field(init=False)
    labels: np.ndarray = field(init=False)
    size: int = 0
    idx: dict[Anchor_t, np.ndarray] = field(default_factory=dict)
    batches: list[Batch] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bits = np.zeros((4096, self.n_candidates), dtype=bool)
        self.labels = np.zeros(4096, dtype=bool)

    def add(self, anchor: Anchor_t, batch: Batch) -> None:
        n = len(batch.labels)
        if self.size + n > len(self.labels):
            grow = max(len(self.labels), n)
            self.bits = np.concatenate([self.bits, np.zeros((grow, self.n_candidates), bool)])
            self.labels = np.concatenate([self.labels, np.zeros(grow, bool)])
        self.bits[self.size : self.size + n] = batch.bits
        self.labels[self.size : self.size + n] = batch.labels
        new = np.arange(self.size, self.size + n)
        self.size += n
        old = self.idx.get(anchor)
        self.idx[anchor] = new if old is None else np.concatenate([old, new])
        self.batches.append(batch)
        self.starts.append(self.size - n)

    def examples(self, anchor: Anchor_t, n_examples: int) -> Batch | None:
        """Up to ``n_examples`` samples of ``anchor`` (its own or inherited) where the
        prediction held, and as many where it failed, with their payloads."""
        idx = self.idx.get(anchor)
        if idx is None or len(idx) == 0:
            return None
        lab = self.labels[idx]
        pick = np.r_[idx[lab][:n_examples], idx[~lab][:n_examples]]
        which: np.ndarray = np.asarray(np.searchsorted(np.array(self.starts), pick, "right")) - 1
        payload = [
            self.batches[int(which[t])].payload[int(pick[t]) - self.starts[int(which[t])]]
            for t in range(len(pick))
        ]
        return Batch(self.bits[pick], self.labels[pick], payload)

    def counts(self, anchor: Anchor_t) -> tuple[float, float]:
        idx = self.idx.get(anchor)
        if idx is None or len(idx) == 0:
            return 0.0, 0.0
        return float(self.labels[idx].sum()), float(len(idx))

    def inherit(self, parent: Anchor_t, child: Anchor_t, candidate: int) -> None:
        """Samples drawn for ``parent`` that satisfy ``candidate`` also count for ``child``."""
        if child in self.idx:
            return
        pidx = self.idx.get(parent, np.empty(0, dtype=np.intp))
        self.idx[child] = pidx[self.bits[pidx, candidate]]


def _key(anchor: Sequence[int]) -> Anchor_t:
    return tuple(sorted(set(anchor)))


# ---------------------------------------------------------------- search


def _samples_needed(pos: np.ndarray, tot: np.ndarray, floor: float, beta: float) -> np.ndarray:
    """Samples (in all) an arm of empirical precision ``pos / tot`` needs for its KL lower
    bound at level ``beta`` to clear ``floor``, if its precision stays what it is."""
    mean = np.where(tot > 0, pos / np.maximum(tot, 1), 1.0)
    gap = kl_bernoulli(np.maximum(mean, floor + 1e-3), np.full(len(mean), floor))
    return np.ceil(beta / np.maximum(gap, 1e-6))


def anchor_search(
    n_candidates: int,
    coverage_bits: np.ndarray,
    *,
    threshold: float,
    delta: float,
    tau: float,
    beam_size: int,
    batch_size: int = 100,
    min_samples_start: int = 100,
    epsilon_stop: float = 0.05,
    max_anchor_size: int | None = None,
    exclusive: Sequence[Sequence[int]] = (),
    n_examples: int = 10,
    first_draw: int = 16,
    columns: Sequence[int] | None = None,
) -> Search:
    """Generator running the search; see the module docstring for the protocol.

    ``coverage_bits`` is ``(n_coverage_rows, n_candidates)``: which candidate
    predicates hold on data rows, for coverage. ``exclusive`` lists groups of
    candidates that never go into one anchor together. ``columns`` (when the
    sampler copies an anchor's columns from one data row and the rest from
    another) is the column each candidate constrains: a parent's samples that
    satisfy a candidate count for the child only if the candidate's column is
    already anchored, since otherwise they keep that column's correlation with
    the unanchored ones, which the child's own samples do not (precision was
    overstated, e.g. 1.0 for a rule whose own distribution gives 0.52).

    Each size of anchor is handled in two steps that share every sample:

    1. *Early acceptance.* The anchor wanted is the valid one (precision
       confidently at least ``threshold``) of largest coverage, and no
       extension of an anchor covers more than it. So the candidates are
       certified in order of coverage: each round samples the undecided
       candidates that could still be the answer, each with about as many
       samples as its KL bound needs (at most ``batch_size``), and the first
       candidate, in coverage order, that is not confidently invalid is
       accepted once it is confidently valid.
    2. *Beam.* Only candidates covering more than the accepted anchor can
       have extensions worth trying; KL-LUCB picks the ``beam_size`` most
       precise of them (to within ``tau``), sampling in one round every arm
       whose bound still breaks its stopping rule, with batches that grow
       with the arm's sample count, so rows track what the bounds need.
    """
    stats = _Stats(n_candidates)

    def inherit(parent: Anchor_t, child: Anchor_t, c: int) -> None:
        if columns is None or columns[c] in {columns[k] for k in parent}:
            stats.inherit(parent, child, c)

    order: dict[Anchor_t, tuple[int, ...]] = {(): ()}
    group = np.full(n_candidates, -1)
    for g, members in enumerate(exclusive):
        group[list(members)] = g
    coverages: dict[Anchor_t, float] = {(): 1.0}

    def coverage(anchor: Anchor_t) -> float:
        cov = coverages.get(anchor)
        if cov is None:
            cov = float(coverage_bits[:, list(anchor)].all(axis=1).mean())
            coverages[anchor] = cov
        return cov

    def draw_each(
        anchors: list[Anchor_t], sizes: Sequence[int]
    ) -> Generator[Request, list[Batch], None]:
        batches = yield [(a, int(n)) for a, n in zip(anchors, sizes, strict=True)]
        for a, b in zip(anchors, batches, strict=True):
            stats.add(a, b)

    def draw(anchors: list[Anchor_t], n: int) -> Generator[Request, list[Batch], None]:
        yield from draw_each(anchors, [n] * len(anchors))

    def means_of(anchors: list[Anchor_t]) -> tuple[np.ndarray, np.ndarray]:
        if not anchors:
            return np.zeros(0), np.zeros(0)
        pos, tot = zip(*(stats.counts(a) for a in anchors), strict=True)
        return np.array(pos), np.array(tot)

    def grow(tot: np.ndarray) -> np.ndarray:
        """Next batch of an arm: as many samples as it has (doubling), within [first_draw, batch_size]."""
        return np.clip(tot, first_draw, batch_size).astype(int)

    def kl_lucb(anchors: list[Anchor_t], top_n: int) -> Generator[Request, list[Batch], np.ndarray]:
        """Indices of the ``top_n`` most precise anchors, to within ``tau`` (KL-LUCB).

        Kaufmann and Kalyanakrishnan sample the two critical arms per round
        (the best-looking arm outside the top set with the highest upper
        bound, the arm inside it with the lowest lower bound). Here the most
        violating arms on each side are sampled in the same round, each with
        the samples its bound needs to reach the other side's (at most double
        what it has): the critical pair always is, so the stopping rule and its
        guarantee are unchanged, while one model call serves many rounds.
        """
        pos, tot = means_of(anchors)
        empty = [a for a, t in zip(anchors, tot, strict=True) if t == 0]
        if empty:
            yield from draw(empty, first_draw)
            pos, tot = means_of(anchors)
        if len(anchors) <= top_n:
            return np.arange(len(anchors))
        t = 1
        while True:
            means = pos / tot
            order_ = np.argsort(-means, kind="stable")[::-1]
            beta = lucb_beta(len(anchors), t, delta)
            J, not_J = order_[-top_n:], order_[:-top_n]
            ub = kl_upper(means[not_J], beta / tot[not_J])
            lb = kl_lower(means[J], beta / tot[J])
            if ub.max() - lb.min() <= tau:
                return J
            # The most violating arms on each side, the critical pair first: a quarter
            # of the arms (at least 4) per side, so rounds are few and rows track need.
            critical = max(4, len(anchors) // 4)
            top = np.argsort(lb, kind="stable")[:critical]
            bottom = np.argsort(-ub, kind="stable")[:critical]
            top = top[lb[top] < ub.max() - tau]
            bottom = bottom[ub[bottom] > lb.min() + tau]
            arms = np.r_[J[top], not_J[bottom]]
            # Samples each arm needs for its bound to reach the other side's, if its mean holds.
            goal = np.r_[np.full(len(top), ub.max() - tau), np.full(len(bottom), lb.min() + tau)]
            m = means[arms]
            gap = np.where(
                np.r_[m[: len(top)] > goal[: len(top)], m[len(top) :] < goal[len(top) :]],
                kl_bernoulli(m, goal),
                0.0,
            )
            need = np.where(gap > 0, beta / np.maximum(gap, 1e-12), np.inf) - tot[arms]
            sizes = np.minimum(np.maximum(need, first_draw), grow(tot[arms])).astype(int)
            yield from draw_each([anchors[i] for i in arms], sizes)
            for i in arms:
                pos[i], tot[i] = stats.counts(anchors[i])
            t += 1

    def propose(previous: list[Anchor_t]) -> list[Anchor_t]:
        if not previous:
            out: list[Anchor_t] = []
            for c in range(n_candidates):
                a = (c,)
                inherit((), a, c)
                order[a] = (c,)
                out.append(a)
            return out
        seen: dict[Anchor_t, None] = {}
        for parent in previous:
            used_groups = {group[c] for c in parent if group[c] >= 0}
            for c in range(n_candidates):
                if c in parent or (group[c] >= 0 and group[c] in used_groups):
                    continue
                child = _key(parent + (c,))
                if child in seen:
                    continue
                seen[child] = None
                if child not in order:
                    order[child] = order[parent] + (c,)
                inherit(parent, child, c)
        return list(seen)

    # --- the empty anchor: is the prediction already stable everywhere?
    yield from draw([()], min_samples_start)
    pos, tot = stats.counts(())
    mean = pos / tot
    beta0 = np.log(1.0 / delta)
    lb = float(kl_lower(np.array([mean]), np.array([beta0 / tot]))[0])
    while mean > threshold and lb < threshold - tau:
        yield from draw([()], batch_size)
        pos, tot = stats.counts(())
        mean = pos / tot
        lb = float(kl_lower(np.array([mean]), np.array([beta0 / tot]))[0])
    if lb > threshold:
        return _result((), order, stats, lb, 1.0, True, n_examples)

    max_size = n_candidates if max_anchor_size is None else int(max_anchor_size)
    best_of_size: dict[int, list[Anchor_t]] = {0: []}
    best: Anchor_t = ()
    best_cov, best_lb = -1.0, 0.0
    size = 1
    beta_stop = np.log(1.0 / (delta / (1 + (beam_size - 1) * n_candidates)))
    floor = threshold - epsilon_stop
    while size <= max_size:
        cands = [a for a in propose(best_of_size[size - 1]) if coverage(a) > best_cov]
        if not cands:
            break
        # Coverage order, largest first; the stable sort keeps ties in proposal order.
        cands = [cands[i] for i in np.argsort([-coverage(a) for a in cands], kind="stable")]
        accepted = yield from _accept(cands, stats, draw_each, threshold, floor, beta_stop, grow)
        if accepted is not None:
            best, best_lb = accepted
            best_cov = coverage(best)
            if best_cov >= 1.0:
                break
        if all(coverage(a) <= best_cov for a in cands):
            break
        chosen_idx = yield from kl_lucb(cands, min(beam_size, len(cands)))
        best_of_size[size] = [cands[i] for i in chosen_idx]
        size += 1

    if best_cov >= 0:
        return _result(best, order, stats, best_lb, best_cov, True, n_examples)
    # No anchor reached the threshold: return the most precise of the beam's picks.
    pool = [a for s in sorted(best_of_size) for a in best_of_size[s]]
    if not pool:
        return _result((), order, stats, lb, 1.0, False, n_examples)
    idx = yield from kl_lucb(pool, 1)
    pick = pool[int(idx[-1])]
    p, n = stats.counts(pick)
    lb_pick = float(kl_lower(np.array([p / n]), np.array([beta_stop / n]))[0])
    return _result(pick, order, stats, lb_pick, coverage(pick), False, n_examples)


def _accept(
    cands: list[Anchor_t],
    stats: _Stats,
    draw_each: Any,
    threshold: float,
    floor: float,
    beta: float,
    grow: Any,
) -> Generator[Request, list[Batch], tuple[Anchor_t, float] | None]:
    """The widest confidently valid candidate (``cands`` in coverage order) and its
    lower bound, or None when every candidate is confidently invalid.

    Valid: precision at least ``threshold`` and KL lower bound above ``floor``;
    invalid: precision below ``threshold`` and upper bound below
    ``threshold + (threshold - floor)`` (alibi's and the paper's stopping rule).
    """
    ceiling = threshold + (threshold - floor)
    while True:
        counts = np.array([stats.counts(a) for a in cands], dtype=float)
        pos, tot = counts[:, 0], counts[:, 1]
        seen = tot > 0
        mean = np.where(seen, pos / np.maximum(tot, 1), 0.0)
        level = beta / np.maximum(tot, 1)
        lb = np.where(seen, kl_lower(mean, level), 0.0)
        ub = np.where(seen, kl_upper(mean, level), 1.0)
        valid = seen & (mean >= threshold) & (lb > floor)
        invalid = seen & (mean < threshold) & (ub < ceiling)
        open_ = np.flatnonzero(~invalid)
        if len(open_) == 0:
            return None
        lead = int(open_[0])
        if valid[lead]:
            return cands[lead], float(lb[lead])
        # Sample every undecided candidate up to the first one that looks valid:
        # any of them, if valid, is the answer; those after it cannot be.
        looks_valid = np.flatnonzero(~invalid & ~valid & seen & (mean >= threshold))
        last = int(looks_valid[0]) if len(looks_valid) else len(cands) - 1
        arms = [i for i in open_ if i <= last and not valid[i]]
        need = _samples_needed(pos[arms], tot[arms], floor, beta) - tot[arms]
        sizes = np.where(tot[arms] == 0, grow(tot[arms]), np.clip(need, 1, grow(tot[arms]))).astype(
            int
        )
        sizes = np.where(mean[arms] < threshold, grow(tot[arms]), sizes)
        yield from draw_each([cands[i] for i in arms], sizes)


def _result(
    anchor: Anchor_t,
    order: dict[Anchor_t, tuple[int, ...]],
    stats: _Stats,
    lower: float,
    cov: float,
    success: bool,
    n_examples: int,
) -> SearchResult:
    pos, tot = stats.counts(anchor)
    batch = stats.examples(anchor, n_examples)
    return SearchResult(
        anchor=order.get(anchor, anchor),
        precision=pos / tot if tot else float("nan"),
        precision_lower=lower,
        coverage=cov,
        success=success,
        n_samples=stats.size,
        examples=batch,
    )


def run_searches(searches: list[Search], answer: Any) -> list[SearchResult]:
    """Drive searches in lock-step; ``answer(list of (search_index, anchor, n))`` -> batches."""
    results: list[SearchResult | None] = [None] * len(searches)
    pending: dict[int, Request] = {}
    for i, s in enumerate(searches):
        try:
            pending[i] = next(s)
        except StopIteration as stop:
            results[i] = stop.value
    while pending:
        flat = [(i, a, n) for i, req in pending.items() for a, n in req]
        batches = answer(flat)
        pos = 0
        nxt: dict[int, Request] = {}
        for i, req in pending.items():
            mine = batches[pos : pos + len(req)]
            pos += len(req)
            try:
                nxt[i] = searches[i].send(mine)
            except StopIteration as stop:
                results[i] = stop.value
        pending = nxt
    return [r for r in results if r is not None]
