"""What the three Shapley estimators share: the game, seeds, batching, the result.

Each estimator *plans* the coalitions of one row (from that row's own random
generator), the base class evaluates the plans of many rows in a few batched
model calls, and the estimator *solves* each row's plan from its values.
Row i's generator follows :mod:`pellucid._random`'s one rule, ``(random_state,
row key)``, so a row's numbers do not depend on how rows are batched or split
across workers.
"""

from __future__ import annotations

import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._protocol import UNSET, ExplainerBase, renamed_argument
from .._random import check_random_state, root_seed, row_generator, seed_entropy
from .._results import Explanation
from ..scale import check_fan_out
from ._game import DEFAULT_MAX_BATCH_ROWS, Game

__all__ = ["SampledShapleyExplainer", "ShapleyExplainer", "seed_entropy"]

#: Model rows (coalitions x background rows) of the explained rows evaluated and solved
#: together; with threads, the next groups' model calls run while a group is solved.
GROUP_ROWS = 32_768

_BLAS: Any = None


def _one_blas_thread() -> AbstractContextManager[Any]:
    """Limit BLAS to one thread (the library scan is done once: it takes tens of ms)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")  # type: ignore[no-any-return]


class ShapleyExplainer(ExplainerBase):
    """Base class: ``Cls(model, data, **settings).explain(X) -> Explanation``.

    Parameters
    ----------
    model:
        Any model :class:`pellucid.Model` accepts (or a Model).
    data:
        DataFrame or array of reference (background) rows, or
        ``pellucid.summarize(X, k)``. ``background=`` is its deprecated name.
    background_weights:
        Optional weight per background row.
    feature_groups:
        ``{name: [columns]}``: each group is one player; other columns play alone.
        ``groups=`` is its deprecated name.
    link:
        "identity" or "logit" (classifiers: explain the log-odds of the
        background-averaged probability, like shap's ``link="logit"``).
    max_batch_rows:
        Memory cap: rows (coalitions x background rows) per model call.
    model_threads:
        Threads calling the model on separate chunks of rows at once; the
        thread that ends a group of rows' last call solves that group. ``None`` (the
        default): one per core for scikit-learn, XGBoost, LightGBM and
        CatBoost models (thread-safe, and they release the GIL) when called
        from the main thread (not inside a Dask worker or a web server's
        thread; joblib workers get their share of cores through
        OMP_NUM_THREADS), one for other models (torch modules, callables);
        ``-1``: one per core. A
        model given more than one thread must be thread-safe. Results do not
        depend on it: the model calls are the same, whichever thread makes them.
        (Before this release the constructor called this ``n_jobs``.)
    n_jobs:
        How many rows are explained at once, in worker processes (joblib; a
        Dask cluster under ``joblib.parallel_config(backend="dask")``): see
        :func:`pellucid.scale.scalable`. None: every core from 64 rows on.
        Results do not depend on it.
    chunk_rows:
        Rows per worker task when ``n_jobs`` fans rows out.
    """

    method = ""
    exact = False
    _renamed = {"background": "data", "groups": "feature_groups"}
    _call_settings: ClassVar[tuple[str, ...]] = ("n_jobs", "chunk_rows")

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        background_weights: Any = None,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        model_threads: int | None = None,
        n_jobs: int | None = None,
        chunk_rows: int | None = None,
        background: Any = UNSET,
        groups: Any = UNSET,
    ) -> None:
        name = type(self).__name__
        # stacklevel 4: the user's call, through a subclass's constructor
        data = renamed_argument(name, "background", "data", background, data, stacklevel=4)
        feature_groups = renamed_argument(
            name, "groups", "feature_groups", groups, feature_groups, stacklevel=4
        )
        fan_out = check_fan_out(n_jobs, chunk_rows)
        _warn_old_n_jobs(name, n_jobs, model_threads)
        self.game = Game(
            model,
            data,
            background_weights=background_weights,
            feature_groups=feature_groups,
            link=link,
            max_batch_rows=max_batch_rows,
            model_threads=model_threads,
        )
        self.background_weights = background_weights
        self.feature_groups = (
            {str(k): list(v) for k, v in feature_groups.items()} if feature_groups else None
        )
        self.link = link
        self.max_batch_rows = int(max_batch_rows)
        self.model_threads = self.game.model_threads
        self.n_jobs, self.chunk_rows = fan_out

    @property
    def groups(self) -> dict[str, list[Any]] | None:
        """The feature groups (the old name of :attr:`feature_groups`)."""
        return self.feature_groups

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The players: column names, with each group as one name."""
        return self.game.player_names

    # -- the hooks -------------------------------------------------------------
    def _plan(self, rng: np.random.Generator | None, budget: int, count: int) -> Any:
        """Coalitions of one row for ``count`` games: an object whose ``masks`` is
        (m, count, n_players) bool (count is 1, or the number of background rows)."""
        raise NotImplementedError

    def _solve(
        self, plan: Any, f: np.ndarray, f_empty: np.ndarray, f_full: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Shapley values (count, n_players, k) and standard errors (or None) of the
        ``count`` games of one row, from values ``f`` (m, count, k) of its coalitions,
        ``f_empty`` (count, k) and ``f_full`` (k,)."""
        raise NotImplementedError

    def _budget(self, budget: Any) -> int:
        return 0

    def _per_background(self) -> bool:
        """Whether each background row plays its own game with its own coalitions."""
        return False

    def _combine_errors(self, plan: Any, weights: np.ndarray, se_c: np.ndarray) -> np.ndarray:
        """The standard error (p, k) of the weighted mean of ``count`` games' estimates
        with standard errors ``se_c`` (count, p, k): the games are independent, so
        their variances add."""
        return np.sqrt(np.einsum("c,cpk->pk", weights**2, se_c**2))

    # -- the lifecycle -------------------------------------------------------
    def _explain(
        self, X: Any, budget: Any, random_state: Any, params: dict, first_row: int = 0
    ) -> Explanation:
        game = self.game
        X = game.check_rows(X)
        n = X.shape[0]
        p, k = game.n_players, game.n_outputs
        B = len(game.background)
        per_bg = self._per_background()
        count = B if per_bg else 1
        # The games: one per background row (weights w_b), or the averaged one.
        weights = game.background.weights if per_bg else np.ones(1)
        f_empty = game.f_background if per_bg else game.v_empty[None, :]
        nbudget = self._budget(budget)
        root = None if self.exact else root_seed(random_state)
        v_full = game.output_of(X)  # (n, k)
        values = np.zeros((n, p, k))
        errors = None if self.exact else np.zeros((n, p, k))
        n_coal = np.zeros(n, dtype=np.int64)
        rows_X = game.model_rows(X)
        cap = max(1, min(game.max_batch_rows, GROUP_ROWS) // B)

        def groups() -> Iterator[tuple[int, list[Any]]]:
            """Consecutive explained rows and their plans, about GROUP_ROWS model rows."""
            row = 0
            while row < n:
                plans: list[Any] = []
                total = 0
                while row + len(plans) < n and (total < cap or not plans):
                    at = first_row + row + len(plans)
                    rng = None if root is None else row_generator(root, at)
                    plans.append(self._plan(rng, nbudget, count))
                    total += plans[-1].masks.shape[0]
                yield row, plans
                row += len(plans)

        def work(
            row: int, plans: list[Any], last: bool
        ) -> tuple[list[Callable[[], None]], Callable[[], None]]:
            """The model calls of a group of rows, and the solve to run once they are done."""
            counts = [pl.masks.shape[0] for pl in plans]
            rows = np.repeat(np.arange(row, row + len(plans)), counts)
            masks = np.concatenate([pl.masks for pl in plans])  # (m, count, p)
            f, calls = game.start(rows_X, rows, masks, last)
            return calls, partial(solve, row, plans, f)

        def solve(row: int, plans: list[Any], f: np.ndarray) -> None:
            if not per_bg:
                f = game.mean_value(f)[:, None, :]  # (m, 1, k)
            start = 0
            for j, plan in enumerate(plans):
                i, m_i = row + j, plan.masks.shape[0]
                phi_c, se_c = self._solve(plan, f[start : start + m_i], f_empty, v_full[i])
                start += m_i
                phi = np.einsum("c,cpk->pk", weights, phi_c)
                # Efficiency holds exactly: spread the rounding residue evenly.
                values[i] = phi + (v_full[i] - game.v_empty - phi.sum(axis=0)) / p
                if errors is not None and se_c is not None:
                    errors[i] = self._combine_errors(plan, weights, se_c)
                n_coal[i] = m_i

        works = (work(row, plans, row + len(plans) == n) for row, plans in groups())
        # The solves are small matrix products (or compiled loops): BLAS threads only add
        # overhead and oversubscribe the model's threads, so BLAS runs single-threaded.
        with _one_blas_thread():
            threads = game.threads()
            if threads > 1:
                _run_on_threads(works, threads)
            elif game.solver_thread():
                _run_pipelined(works)
            else:
                for calls, finish in works:
                    for call in calls:
                        call()
                    finish()
        return self._result(X, values, errors, v_full, n_coal, params)

    def _result(
        self,
        X: Any,
        values: np.ndarray,
        errors: np.ndarray | None,
        v_full: np.ndarray,
        n_coal: np.ndarray,
        params: dict,
    ) -> Explanation:
        game = self.game
        n = values.shape[0]
        base = np.broadcast_to(game.v_empty, (n, game.n_outputs))
        names = game.output_names if game.n_outputs > 1 else None
        if names is not None and len(names) != game.n_outputs:
            names = tuple(f"y{i}" for i in range(game.n_outputs))
        if names is None:
            values, base, v_full = values[..., 0], base[:, 0], v_full[:, 0]
            errors = None if errors is None else errors[..., 0]
        data = None
        if not game.grouped:
            data = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        return Explanation(
            values=values,
            base_values=np.array(base),
            data=data,
            feature_names=game.player_names,
            output_names=names,
            method=self.method,
            params={
                **params,
                "link": game.link,
                "n_background": len(game.background),
                "feature_groups": self.feature_groups,
            },
            std_errors=errors,
            output=v_full,
            diagnostics={"n_coalitions": n_coal},
            output_kind=game.output_kind,
        )


def _warn_old_n_jobs(name: str, n_jobs: Any, model_threads: Any) -> None:
    """``n_jobs`` given to a Shapley constructor used to mean threads calling the model;
    it now means rows at once in worker processes. Say so, unless ``model_threads``
    shows the caller knows the new names."""
    if n_jobs is None or model_threads is not None:
        return
    warnings.warn(
        f"{name}(n_jobs={n_jobs!r}) now means {n_jobs!r} rows explained at once in worker "
        f"processes. Before this release it meant threads calling the model: pass "
        f"model_threads={n_jobs!r} for that (and n_jobs=1 to stay in this process).",
        FutureWarning,
        stacklevel=4,
    )


def _run_pipelined(works: Iterator[tuple[list[Callable[[], None]], Callable[[], None]]]) -> None:
    """Every model call on this thread, in order, and each group's solve on one helper
    thread meanwhile: a model not known to be thread-safe is only ever called from the
    caller's thread, one call at a time, while our own compiled work (``nogil``) uses
    the second core. Each solve writes only its own rows, so the bytes are those of
    the sequential loop. At most two solves wait (for memory); the first exception
    of a call or a solve is raised here."""
    pool = ThreadPoolExecutor(1)
    pending: deque[Future[None]] = deque()
    try:
        for calls, finish in works:
            for call in calls:
                call()
            pending.append(pool.submit(finish))
            while len(pending) > 2:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_on_threads(
    works: Iterator[tuple[list[Callable[[], None]], Callable[[], None]]], threads: int
) -> None:
    """Run each work's calls on ``threads`` threads; the thread that ends a work's last
    call runs its finish (the solve), so no thread waits while another computes.

    The works are drawn (planned) on this thread, at most ``threads + 1`` ahead of
    their finishes (for memory): each holds a slot of a semaphore from submission to
    finish, so taking every slot at the end waits for all of them. The first
    exception of any call or finish is raised here; the calls after it are skipped.
    """
    pool = ThreadPoolExecutor(threads)
    slots = threading.Semaphore(threads + 1)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def settle(finish: Callable[[], None]) -> None:
        try:
            if not failures:
                finish()
        except BaseException as exc:  # noqa: BLE001 -- re-raised on the calling thread
            failures.append(exc)
        finally:
            slots.release()

    def run(call: Callable[[], None], left: list[int], finish: Callable[[], None]) -> None:
        try:
            if not failures:
                call()
        except BaseException as exc:  # noqa: BLE001 -- re-raised on the calling thread
            failures.append(exc)
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            settle(finish)

    try:
        for calls, finish in works:
            slots.acquire()
            if failures:
                slots.release()
                break
            if not calls:
                settle(finish)
            left = [len(calls)]
            for call in calls:
                pool.submit(run, call, left, finish)
        for _ in range(threads + 1):
            slots.acquire()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        raise failures[0]


DESIGNS = ("auto", "per_background", "shared")


class SampledShapleyExplainer(ShapleyExplainer):
    """A sampled estimator; ``design`` says how coalitions meet the background.

    ``"per_background"`` (the default for ``link="identity"``): Shapley
    values are linear in the game, and the interventional game is the
    weighted mean of one single-baseline game per background row, so each
    background row draws its own coalitions and the weighted mean of the
    per-row estimates is the estimate. The model is called on the same
    ``budget x n_background`` rows as with one shared set of coalitions, but
    the errors of different background rows are independent and average
    out. ``"shared"``: one set of coalitions valued against the whole
    background (needed for ``link="logit"``, where the game is not a mean).
    """

    _call_settings = ("budget", "random_state", "n_jobs", "chunk_rows")

    def __init__(
        self,
        model: Any,
        data: Any = None,
        *,
        budget: Any = "auto",
        random_state: Any = None,
        design: str = "auto",
        background_weights: Any = None,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        model_threads: int | None = None,
        n_jobs: int | None = None,
        chunk_rows: int | None = None,
        background: Any = UNSET,
        groups: Any = UNSET,
    ) -> None:
        super().__init__(
            model,
            data,
            background_weights=background_weights,
            feature_groups=feature_groups,
            link=link,
            max_batch_rows=max_batch_rows,
            model_threads=model_threads,
            n_jobs=n_jobs,
            chunk_rows=chunk_rows,
            background=background,
            groups=groups,
        )
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}; got {design!r}.")
        if design == "per_background" and self.game.link != "identity":
            raise ValueError(
                "design='per_background' needs link='identity': the logit of a mean is not "
                "a mean of single-baseline games. Use design='shared'."
            )
        self.budget = budget
        self._budget(budget)  # checked now: a bad budget fails where it is set
        self.random_state = check_random_state(random_state)
        if design == "auto":
            design = "per_background" if self.game.link == "identity" else "shared"
        self.design = design

    def _per_background(self) -> bool:
        return self.design == "per_background"
