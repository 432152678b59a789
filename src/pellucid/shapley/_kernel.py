"""KernelShap: the Shapley kernel regression from a budget of sampled coalitions.

Design (per explained row):

* Each background row plays its own single-baseline game with its own
  coalitions (``design="per_background"``, the default for the identity
  link): the interventional game is the weighted mean of these games, so
  is its Shapley value, and the independent errors of the games average
  out, at the same ``budget x n_background`` model rows as one shared set
  of coalitions (``design="shared"``, used for ``link="logit"``).

* Coalitions come in antithetic pairs ``(S, complement of S)``; a pair is
  the sampling unit. Pairs are stratified by coalition size ``s`` (with its
  complement's size ``p - s``).
* The budget is allocated to size strata in proportion to the leverage
  scores of the constrained regression (Leverage SHAP, Musco & Witter, ICLR
  2025: equal mass per coalition size). A stratum whose share covers all its
  pairs is enumerated exactly (the smallest and largest sizes first, since
  they have the fewest coalitions); the rest are sampled without replacement.
* Each sampled pair is weighted by its Shapley kernel weight times the
  inverse of its inclusion probability (Horvitz-Thompson), so the weighted
  regression's normal equations are unbiased for the full ones, and the
  regression is solved with the efficiency constraint imposed exactly.
* Standard errors: with one shared game, the stratified delete-one-pair
  jackknife of the constrained regression (each replicate re-solved from
  updated normal equations, so it costs no model calls); with one game per
  background row, the linearised (sandwich) variance with each pair's
  leverage correction (HC3, close to the jackknife), summed over the
  independent games. Both stratified, with the finite-population
  correction. Enumerated strata add no variance; with the whole budget
  enumerated the values are exact and the errors zero. The jackknife covers
  better than the linearised (sandwich) variance at small budgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, combinations
from typing import Any

import numpy as np

from .._protocol import UNSET
from .._results import Explanation
from ..scale import scalable
from ._base import SampledShapleyExplainer

__all__ = ["KernelShap"]

#: Stratum preference ~ (kernel mass of the size)^ALPHA; 0 is leverage-score sampling.
ALPHA = 0.0


@dataclass(frozen=True)
class _Stratum:
    size: int  # coalition size s <= p - s
    population: int  # pairs in the stratum
    n: int  # pairs drawn (== population when enumerated)
    kernel: float  # Shapley kernel weight of one coalition of this size


@dataclass(frozen=True)
class _Design:
    """How one row's budget is spent: enumerated and sampled strata, or iid draws."""

    strata: tuple[_Stratum, ...]
    iid: tuple[_Stratum, ...]  # strata drawn iid (budget too small to stratify)
    iid_n: int
    iid_prob: np.ndarray


@dataclass(frozen=True)
class _Plan:
    masks: np.ndarray  # (2 * units, count, p): unit u is rows 2u (S) and 2u + 1 (complement)
    weights: np.ndarray  # (2 * units,)
    unit_stratum: np.ndarray  # (units,), -1 for enumerated pairs
    stratum_factor: np.ndarray  # per sampled stratum: fpc * n / (n - 1)
    first: np.ndarray  # (count, units, p): S of each unit, games first, for the solves


def kernel_weight(p: int, s: int) -> float:
    """Shapley kernel weight of one coalition of size s among p players."""
    return (p - 1) / (math.comb(p, s) * s * (p - s))


def _population(p: int, s: int) -> int:
    return math.comb(p, s) if 2 * s != p else math.comb(p, s) // 2


@lru_cache(maxsize=64)
def _design(p: int, budget: int) -> _Design:
    units = budget // 2
    sizes = list(range(1, p // 2 + 1))
    pref = {s: (1.0 if 2 * s == p else 2.0) * (1.0 / (s * (p - s))) ** ALPHA for s in sizes}
    pop = {s: _population(p, s) for s in sizes}
    active = list(sizes)
    done: list[_Stratum] = []
    # Water-filling: enumerate every stratum whose share covers all its pairs.
    changed = True
    while changed and active:
        changed = False
        total = sum(pref[s] for s in active)
        for s in list(active):
            if units * pref[s] / total >= pop[s]:
                done.append(_Stratum(s, pop[s], pop[s], kernel_weight(p, s)))
                units -= pop[s]
                active.remove(s)
                changed = True
    if not active or units <= 0:
        return _Design(tuple(done), (), 0, np.zeros(0))
    total = sum(pref[s] for s in active)
    if units < 2 * len(active):
        # Too few pairs to give every stratum two: draw pairs iid from the preference.
        iid = tuple(_Stratum(s, pop[s], 0, kernel_weight(p, s)) for s in active)
        prob = np.array([pref[s] / total for s in active])
        return _Design(tuple(done), iid, units, prob)
    # Two pairs each (for a variance), the rest in proportion, largest remainders first.
    extra = units - 2 * len(active)
    share = np.array([extra * pref[s] / total for s in active])
    alloc = np.floor(share).astype(int)
    left = extra - int(alloc.sum())
    alloc[np.argsort(-(share - alloc), kind="stable")[:left]] += 1
    for s, a in zip(active, alloc, strict=True):
        done.append(_Stratum(s, pop[s], min(pop[s], 2 + int(a)), kernel_weight(p, s)))
    return _Design(tuple(done), (), 0, np.zeros(0))


#: Subset tables up to this many members are kept (a few hundred kB at most): drawing
#: a row number from one is cheaper than drawing a key per player and partitioning them.
TABLE_CELLS = 400_000


@lru_cache(maxsize=32)
def _all_subsets(free: int, size: int) -> np.ndarray:
    """Every subset of ``size`` of ``free`` players, as rows of its members."""
    n = math.comb(free, size)
    flat = chain.from_iterable(combinations(range(free), size))  # lexicographic order
    members = np.fromiter(flat, dtype=np.min_scalar_type(free), count=n * size)
    members = members.reshape(n, size)
    members.flags.writeable = False
    return members


def _random_subsets(rng: np.random.Generator, shape: tuple[int, ...], free: int, size: int):
    """Uniform subsets of ``size`` of ``free`` players: the ``size`` smallest of iid keys."""
    keys = rng.random((*shape, free))
    if not size:
        return np.zeros(keys.shape, dtype=bool)
    # The keys up to the size-th smallest (a comparison is cheaper than scattering indices).
    out = keys <= np.partition(keys, size - 1, axis=-1)[..., size - 1 : size]
    if out.sum(axis=-1).min() != size or out.sum(axis=-1).max() != size:  # a tie: ~never
        out = np.zeros(keys.shape, dtype=bool)
        pick = np.argpartition(keys, size - 1, axis=-1)[..., :size]
        np.put_along_axis(out, pick, True, axis=-1)
    return out


def _draw_pairs(
    rng: np.random.Generator, p: int, s: int, n: int, out: np.ndarray, at: int, replace: bool
) -> None:
    """Fill ``out[:, at : at + n]`` (out: count games, pairs, p) with n pairs (as the
    mask of S) of stratum s per game, distinct within a game unless ``replace``; for
    2s == p, S holds player 0."""
    from ._kernels import distinct_draws, table_rows  # numba: imported when first needed

    count = out.shape[0]
    half = 2 * s == p
    free, size = (p - 1, s - 1) if half else (p, s)
    population = math.comb(free, size)
    if population * size <= TABLE_CELLS:
        if replace:
            pick = rng.integers(0, population, (count, n))
        elif n >= population:
            pick = np.broadcast_to(np.arange(population), (count, population))
        else:
            pick = distinct_draws(rng.random((count, n)), population)
        table_rows(_all_subsets(free, size), pick, out, int(half), at)
        return
    chosen = _random_subsets(rng, (count, n), free, size)
    while not replace:
        dup = _repeats(chosen)
        if not dup.any():
            break
        chosen[dup] = _random_subsets(rng, (int(dup.sum()),), free, size)
    out[:, at : at + n, int(half) :] = chosen
    if half:
        out[:, at : at + n, 0] = True


def _repeats(chosen: np.ndarray) -> np.ndarray:
    """(count, n) bool: rows equal to an earlier row of the same game."""
    count, n, free = chosen.shape
    if free <= 63:
        codes = chosen.astype(np.int64) @ (np.int64(1) << np.arange(free, dtype=np.int64))
        ranked = np.sort(codes, axis=1)
        if not (ranked[:, 1:] == ranked[:, :-1]).any():  # the usual case: no repeats
            return np.zeros((count, n), dtype=bool)
        order = np.argsort(codes, axis=1, kind="stable")
        ranked = np.take_along_axis(codes, order, axis=1)
        same = np.zeros((count, n), dtype=bool)
        same[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
        out = np.zeros((count, n), dtype=bool)
        np.put_along_axis(out, order, same, axis=1)
        return out
    packed = np.packbits(chosen, axis=2)
    out = np.ones((count, n), dtype=bool)
    for c in range(count):
        _, first = np.unique(packed[c], axis=0, return_index=True)
        out[c, first] = False
    return out


class KernelShap(SampledShapleyExplainer):
    """Kernel SHAP with paired, leverage-score, stratified sampling and exact efficiency.

    ``KernelShap(model, data, budget="auto", random_state=None, link="identity",
    feature_groups=None, ...)``; ``explain(X)``. ``budget`` counts
    coalitions per row and background row besides the empty and the full
    one (rounded down to an even number: coalitions come in complementary
    pairs), so the model sees ``budget x n_background`` rows per explained
    row, as with shap's ``nsamples``. ``design``: see
    :class:`~pellucid.shapley._base.SampledShapleyExplainer`. "auto" is
    ``2048 + 2 * n_players``, capped at all ``2**n_players - 2`` coalitions,
    where the result is exact. ``std_errors`` are honest standard errors:
    about 95% of exact values lie within 1.96 of them. The other settings:
    :class:`~pellucid.shapley._base.ShapleyExplainer`.

    Examples
    --------
    >>> ks = pellucid.KernelShap(model, pellucid.summarize(X_train, 50), budget=1024, random_state=0)
    >>> exp = ks.explain(X_test[:10])
    >>> exp.values, exp.std_errors
    """

    method = "kernel_shap"

    @scalable()
    def explain(
        self, X: Any, *, first_row: int = 0, budget: Any = UNSET, random_state: Any = UNSET
    ) -> Explanation:
        """Shapley value estimates and standard errors for each row of X.

        ``first_row`` is the position of X's first row in a larger table split
        into chunks: row seeds follow it, so chunked runs give identical numbers.
        ``budget`` and ``random_state`` here are deprecated: they belong to the constructor.
        """
        settings = self._with_overrides(budget=budget, random_state=random_state)
        nbudget = self._budget(settings["budget"])
        seed = settings["random_state"]
        return self._explain(
            X,
            nbudget,
            seed,
            {"budget": nbudget, "random_state": _plain(seed), "design": self.design},
            first_row=first_row,
        )

    def _budget(self, budget: Any) -> int:
        p = self.game.n_players
        full = 2**p - 2 if p < 62 else 2**62
        if isinstance(budget, str) and budget == "auto":
            return min(full, 2048 + 2 * p)
        if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool):
            raise TypeError(f"budget must be 'auto' or an int; got {budget!r}.")
        if budget < min(4, full):
            raise ValueError(f"budget must be at least {min(4, full)} coalitions; got {budget}.")
        return int(min(budget, full))

    def _plan(self, rng: np.random.Generator | None, budget: int, count: int) -> _Plan:
        assert rng is not None
        p = self.game.n_players
        if p == 1:
            return _Plan(
                np.zeros((0, count, 1), bool),
                np.zeros(0),
                np.zeros(0, np.intp),
                np.zeros(0),
                np.zeros((count, 0, 1), bool),
            )
        design = _design(p, budget)
        first = np.empty((count, sum(st.n for st in design.strata) + design.iid_n, p), bool)
        at = 0
        weights: list[np.ndarray] = []
        stratum: list[np.ndarray] = []
        factors: list[float] = []
        for st in design.strata:
            _draw_pairs(rng, p, st.size, st.n, first, at, replace=False)
            at += st.n
            weights.append(np.full(st.n, st.kernel * st.population / st.n))
            if st.n < st.population:
                stratum.append(np.full(st.n, len(factors)))
                fpc = 1.0 - st.n / st.population
                factors.append(fpc * st.n / (st.n - 1))
            else:
                stratum.append(np.full(st.n, -1))
        if design.iid_n:
            # Strata drawn once per row, so every game shares the weights.
            which = rng.choice(len(design.iid), design.iid_n, p=design.iid_prob)
            for j, st in enumerate(design.iid):
                c = int((which == j).sum())
                if c == 0:
                    continue
                _draw_pairs(rng, p, st.size, c, first, at, replace=True)
                at += c
                w = st.kernel * st.population / (design.iid_n * design.iid_prob[j])
                weights.append(np.full(c, w))
                stratum.append(np.full(c, len(factors)))
            n = design.iid_n
            factors.append(n / (n - 1) if n > 1 else np.nan)
        from ._kernels import pair_masks  # numba: imported when first needed

        unit_w = np.concatenate(weights)
        return _Plan(
            pair_masks(first),
            np.repeat(unit_w, 2),
            np.concatenate(stratum),
            np.asarray(factors, float),
            first,
        )

    def _solve(
        self, plan: _Plan, f: np.ndarray, f_empty: np.ndarray, f_full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        p, k = self.game.n_players, f_full.shape[0]
        count = f_empty.shape[0]
        delta = f_full[None, :] - f_empty  # (count, k)
        if p == 1:
            return delta[:, None, :], np.zeros((count, 1, k))
        from ._kernels import paired_regression  # numba: imported when first needed

        # Pairs (S, complement of S): the complement's row is 1 - z, so only S's masks are
        # needed, and every sum over the two rows of a pair is written with z alone.
        w = plan.weights[0::2]  # (u,)
        y_in = np.ascontiguousarray(f[0::2].transpose(1, 0, 2) - f_empty[:, None, :])  # v(S)
        y_out = np.ascontiguousarray(f[1::2].transpose(1, 0, 2) - f_empty[:, None, :])  # v(~S)
        phi, var, ok, A, b = paired_regression(
            plan.first, w, y_in, y_out, delta, plan.unit_stratum, plan.stratum_factor
        )
        for g in np.flatnonzero(~ok):
            # Too few coalitions to pin every player down: the estimate is a minimum-norm
            # solution and its error cannot be estimated (the kernel left it NaN).
            phi[g] = _min_norm_solve(A[g], b[g], delta[g])
        if count == 1 and ok[0]:
            Z = plan.first[0].astype(np.float64)
            d = y_in[0] - y_out[0]
            se = self._jackknife(plan, Z, Z * w[:, None], w, d, y_out[0], A[0], b[0], delta[0])
            return phi, se[None]
        return phi, np.sqrt(var)

    @staticmethod
    def _jackknife(
        plan: _Plan,
        Z: np.ndarray,
        WZ: np.ndarray,
        w: np.ndarray,
        d: np.ndarray,
        y_out: np.ndarray,
        A: np.ndarray,
        b: np.ndarray,
        delta: np.ndarray,
    ) -> np.ndarray:
        """Stratified delete-one-pair jackknife of the constrained regression.

        Pair u (rows S and its complement, S's mask z, weight w) adds
        w (z z' + (1 - z)(1 - z)') to A and w (z v(S) + (1 - z) v(~S)) to b.
        """
        p, k = A.shape[0], b.shape[1]
        var = np.zeros((p, k))
        unit_A = (
            2.0 * np.einsum("up,uq->upq", WZ, Z)
            - WZ[:, :, None]
            - WZ[:, None, :]
            + w[:, None, None]
        )
        unit_b = np.einsum("up,uk->upk", WZ, d) + (w[:, None] * y_out)[:, None, :]
        for h, factor in enumerate(plan.stratum_factor):
            members = np.flatnonzero(plan.unit_stratum == h)
            n_h = members.size
            if n_h < 2:
                return np.full((p, k), np.nan)
            A_h, b_h = unit_A[members].sum(axis=0), unit_b[members].sum(axis=0)
            scale = n_h / (n_h - 1)
            reps = np.empty((n_h, p, k))
            step = max(1, 2_000_000 // (p * p))
            for start in range(0, n_h, step):
                sel = members[start : start + step]
                A_rep = (A - A_h + scale * A_h)[None] - scale * unit_A[sel]
                b_rep = (b - b_h + scale * b_h)[None] - scale * unit_b[sel]
                with np.errstate(all="ignore"):  # a singular replicate -> unknown error
                    reps[start : start + sel.size] = _constrained_solve_many(A_rep, b_rep, delta)
            if not np.isfinite(reps).all():
                return np.full((p, k), np.nan)
            # factor = fpc * n / (n - 1); the jackknife wants fpc * (n - 1) / n.
            fpc = factor * (n_h - 1) / n_h
            var += fpc * (n_h - 1) / n_h * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0)
        return np.sqrt(var)


def _min_norm_solve(A: np.ndarray, b: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """argmin (phi' A phi - 2 b' phi) subject to sum(phi) = delta, for each column of b,
    for a singular A: the minimum-norm solution of the KKT system."""
    p = A.shape[0]
    kkt = np.zeros((p + 1, p + 1))
    kkt[:p, :p], kkt[:p, p], kkt[p, :p] = A, 1.0, 1.0
    rhs = np.vstack([b, delta[None, :]])
    return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:p]


def _constrained_solve_many(A: np.ndarray, b: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """argmin (phi' A phi - 2 b' phi) subject to sum(phi) = delta over a stack:
    A (r, p, p), b (r, p, k) -> phi (r, p, k)."""
    r, p, k = b.shape
    rhs = np.concatenate([b, np.ones((r, p, 1))], axis=2)
    try:
        sol = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.pinv(A) @ rhs
    Ab, a1 = sol[..., :k], sol[..., k]
    c = a1.sum(axis=1)
    return Ab - a1[:, :, None] * ((Ab.sum(axis=1) - delta[None, :]) / c[:, None])[:, None, :]


def _plain(random_state: Any) -> Any:
    return random_state if isinstance(random_state, (int, np.integer, type(None))) else "generator"
