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
    batch_arms: bool = True,
    n_examples: int = 10,
) -> Search:
    """Generator running the beam search; see the module docstring for the protocol.

    ``coverage_bits`` is ``(n_coverage_rows, n_candidates)``: which candidate
    predicates hold on data rows, for coverage. ``exclusive`` lists groups of
    candidates that never go into one anchor together.
    """
    stats = _Stats(n_candidates)
    order: dict[Anchor_t, tuple[int, ...]] = {(): ()}
    group = np.full(n_candidates, -1)
    for g, members in enumerate(exclusive):
        group[list(members)] = g

    def coverage(anchor: Anchor_t) -> float:
        if not anchor:
            return 1.0
        return float(coverage_bits[:, list(anchor)].all(axis=1).mean())

    def draw(anchors: list[Anchor_t], n: int) -> Generator[Request, list[Batch], None]:
        batches = yield [(a, n) for a in anchors]
        for a, b in zip(anchors, batches, strict=True):
            stats.add(a, b)

    def means_of(anchors: list[Anchor_t]) -> tuple[np.ndarray, np.ndarray]:
        pos, tot = zip(*(stats.counts(a) for a in anchors), strict=True)
        return np.array(pos), np.array(tot)

    def kl_lucb(anchors: list[Anchor_t], top_n: int) -> Generator[Request, list[Batch], np.ndarray]:
        """Indices of the ``top_n`` most precise anchors, to within ``tau`` (KL-LUCB).

        Kaufmann and Kalyanakrishnan sample the two critical arms per round
        (the best-looking arm outside the top set with the highest upper
        bound, the arm inside it with the lowest lower bound). With
        ``batch_arms`` every arm whose bound alone still breaks the stopping
        rule is sampled in the same round: the critical pair always is, so the
        stopping rule and its guarantee are unchanged, while one model call
        serves what would otherwise be many rounds.
        """
        pos, tot = means_of(anchors)
        empty = [a for a, t in zip(anchors, tot, strict=True) if t == 0]
        if empty:
            yield from draw(empty, 1)
            pos, tot = means_of(anchors)
        if len(anchors) <= top_n:
            return np.arange(len(anchors))
        t = 1
        while True:
            means = pos / tot
            order_ = np.argsort(means, kind="stable")
            beta = lucb_beta(len(anchors), t, delta)
            J, not_J = order_[-top_n:], order_[:-top_n]
            ub = kl_upper(means[not_J], beta / tot[not_J])
            lb = kl_lower(means[J], beta / tot[J])
            if ub.max() - lb.min() <= tau:
                return J
            if batch_arms:
                arms = np.r_[J[lb < ub.max() - tau], not_J[ub > lb.min() + tau]]
            else:
                arms = np.array([not_J[np.argmax(ub)], J[np.argmin(lb)]])
            yield from draw([anchors[i] for i in arms], batch_size)
            for i in arms:
                pos[i], tot[i] = stats.counts(anchors[i])
            t += 1

    def propose(previous: list[Anchor_t]) -> list[Anchor_t]:
        if not previous:
            out: list[Anchor_t] = []
            for c in range(n_candidates):
                a = (c,)
                stats.inherit((), a, c)
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
                stats.inherit(parent, child, c)
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
    while size <= max_size:
        cands = [a for a in propose(best_of_size[size - 1]) if coverage(a) > best_cov]
        if not cands:
            break
        chosen_idx = yield from kl_lucb(cands, min(beam_size, len(cands)))
        chosen = [cands[i] for i in chosen_idx]
        best_of_size[size] = chosen
        # Sample each chosen anchor until its precision is confidently on one side.
        while True:
            pos_c, tot_c = means_of(chosen)
            means = pos_c / tot_c
            lbs = kl_lower(means, beta_stop / tot_c)
            ubs = kl_upper(means, beta_stop / tot_c)
            more = ((means >= threshold) & (lbs < threshold - epsilon_stop)) | (
                (means < threshold) & (ubs >= threshold + epsilon_stop)
            )
            if not more.any():
                break
            yield from draw([a for a, m in zip(chosen, more, strict=True) if m], batch_size)
        covs = np.array([coverage(a) for a in chosen])
        valid = (means >= threshold) & (lbs > threshold - epsilon_stop)
        better = np.flatnonzero(valid & (covs > best_cov))
        if len(better):
            i = better[np.argmax(covs[better])]
            best, best_cov, best_lb = chosen[i], float(covs[i]), float(lbs[i])
            if best_cov >= 1.0:
                break
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
