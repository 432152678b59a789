"""The interventional (marginal) Shapley game over the user's raw features.

A *player* is one column of X, or one group of columns (``feature_groups=``). The
value of a coalition S for an explained row x is

    v(S) = link( sum_b w_b f(x_S, z_b,-S) )

where z_b are the background rows with weights w_b (summing to one): the
players in S take x's raw values and the others the background row's raw
values. The model sees DataFrames with the original columns and dtypes, so a
Pipeline with a OneHotEncoder is explained per original column.

The coalitions of many explained rows go through the model together, in calls
of at most ``max_batch_rows`` rows (coalitions x background rows), split into
chunks of about ``CALL_ROWS`` rows that threads share. The chunks depend only
on the data and ``max_batch_rows``, never on the number of threads, so threads
never change the numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X, feature_names_of
from .._model import THREAD_SAFE_KINDS, Model, as_model, available_cores, output_kind

__all__ = ["Background", "Game", "LINKS", "available_cores"]

LINKS = ("identity", "logit")
DEFAULT_MAX_BATCH_ROWS = 200_000
#: Rows per model call when the work is shared by threads: big enough that a call's own
#: overhead is small, small enough that a few explained rows give every thread work.
CALL_ROWS = 16384
_LOGIT_EPS = 1e-12


@dataclass(frozen=True, eq=False)
class Background:
    """Background rows and their weights (non-negative, summing to one)."""

    data: Any
    weights: np.ndarray

    def __len__(self) -> int:
        return int(self.weights.shape[0])


def _head(data: Any, n: int) -> Any:
    return data.iloc[:n] if isinstance(data, pd.DataFrame) else np.asarray(data)[:n]


def as_background(data: Any, weights: Any = None) -> Background:
    """Validate background data and weights; a :class:`Background` passes through."""
    if isinstance(data, Background):
        if weights is not None:
            raise ValueError("background is already weighted (a Background); do not pass weights.")
        return data
    if data is None:
        raise ValueError(
            "A background data set is needed: pass training rows, or pellucid.summarize(X, k)."
        )
    data = check_X(data, name="background")
    n = data.shape[0]
    if weights is None:
        w = np.full(n, 1.0 / n)
    else:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape[0] != n:
            raise ValueError(f"background has {n} rows but {w.shape[0]} weights were given.")
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"Background weight {w[pos]!r} at row {pos} is not a finite value >= 0."
            )
        if w.sum() <= 0:
            raise ValueError("Background weights sum to zero.")
        w = w / w.sum()
    return Background(data, w)


def _players(
    names: tuple[str, ...], groups: Mapping[str, Sequence[Any]] | None
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Player names and, per player, the positions of its columns (in column order)."""
    if not groups:
        return names, [np.array([j]) for j in range(len(names))]
    owner: dict[int, str] = {}
    for gname, cols in groups.items():
        if isinstance(cols, (str, int, np.integer)):
            cols = [cols]
        if len(cols) == 0:
            raise ValueError(f"Group {gname!r} has no columns.")
        for c in cols:
            if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and str(c) not in names:
                if not 0 <= int(c) < len(names):
                    raise DataError(f"Group {gname!r} names column position {c}, out of range.")
                pos = int(c)
            elif str(c) in names:
                pos = names.index(str(c))
            else:
                raise DataError(
                    f"Group {gname!r} names column {c!r}, which is not in X; columns: {list(names)}."
                )
            if pos in owner:
                raise DataError(
                    f"Column {names[pos]!r} is in two groups: {owner[pos]!r} and {gname!r}."
                )
            owner[pos] = str(gname)
    # Players in column order of their first column; ungrouped columns play alone.
    player_names: list[str] = []
    player_cols: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        key = owner.get(j, name)
        if key in player_cols and j not in owner:
            raise DataError(f"Column {name!r} has the same name as a group; rename the group.")
        if key not in player_cols:
            player_names.append(key)
            player_cols[key] = []
        player_cols[key].append(j)
    return tuple(player_names), [np.array(player_cols[p]) for p in player_names]


class Game:
    """Evaluate coalition values for explained rows against a weighted background."""

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        background_weights: Any = None,
        feature_groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        model_threads: int | None = None,
    ) -> None:
        if link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}; got {link!r}.")
        if int(max_batch_rows) < 1:
            raise ValueError(f"max_batch_rows must be positive; got {max_batch_rows!r}.")
        self.model: Model = as_model(model)
        if link == "logit" and not (
            self.model.is_classifier and self.model.output == "probability"
        ):
            raise ValueError(
                "link='logit' needs a classifier explained as probabilities; this model gives "
                f"{self.model.output!r} outputs of a {self.model.task} task."
            )
        self.link = link
        self.max_batch_rows = int(max_batch_rows)
        if model_threads is not None and (
            isinstance(model_threads, bool)
            or not isinstance(model_threads, (int, np.integer))
            or not (model_threads >= 1 or model_threads == -1)
        ):
            raise ValueError(
                f"model_threads must be None, -1 or a positive integer; got {model_threads!r}."
            )
        self.model_threads = None if model_threads is None else int(model_threads)
        bg = as_background(background, background_weights)
        self.background = bg
        self.is_frame = isinstance(bg.data, pd.DataFrame)
        self.columns = feature_names_of(bg.data)
        self.player_names, self.player_columns = _players(self.columns, feature_groups)
        self.grouped = bool(feature_groups)
        # column j -> its player, to expand player masks to column masks
        self._col_player = np.empty(len(self.columns), dtype=np.intp)
        for p, cols in enumerate(self.player_columns):
            self._col_player[cols] = p
        self._bg_frame = bg.data if self.is_frame else None
        self._uniform_numpy = self._single_numpy_dtype(bg.data)
        # Fast path: one numpy block when every column has the same numpy dtype.
        self._bg_array = (
            np.asarray(bg.data.to_numpy() if self.is_frame else bg.data)
            if self._uniform_numpy is not None
            else None
        )
        f_bg = self._predict(bg.data)
        self.n_outputs = f_bg.shape[1]
        self.output_names = self.model.output_names
        self.f_background = f_bg  # (B, k), unlinked
        self.mean_background = bg.weights @ f_bg  # (k,)
        self.v_empty = self._link(self.mean_background)
        #: The unit of the explained output (Explanation.output_kind).
        self.output_kind = (
            "log_odds" if link == "logit" else output_kind(self.model, _head(bg.data, 256))
        )

    @property
    def n_players(self) -> int:
        return len(self.player_names)

    @staticmethod
    def _single_numpy_dtype(data: Any) -> np.dtype | None:
        if not isinstance(data, pd.DataFrame):
            return np.asarray(data).dtype
        dtypes = set(data.dtypes)
        if len(dtypes) == 1:
            dt = next(iter(dtypes))
            if isinstance(dt, np.dtype) and dt.kind in "biuf":
                return dt
        return None

    def _predict(self, X: Any, check: bool = True) -> np.ndarray:
        out = self.model.predict(X, check=check)
        return out[:, None] if out.ndim == 1 else out

    def _link(self, p: np.ndarray) -> np.ndarray:
        if self.link == "identity":
            return p
        q = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
        return np.log(q) - np.log1p(-q)

    def check_rows(self, X: Any) -> Any:
        """Validate explained rows against the background's columns and kind."""
        X = check_X(X, allow_all_missing=True)  # one row may well have a missing value
        if isinstance(X, pd.DataFrame) != self.is_frame:
            raise DataError(
                "X and the background must both be DataFrames or both be arrays; got "
                f"X as {type(X).__name__} and the background as {type(self.background.data).__name__}."
            )
        names = feature_names_of(X)
        if names != self.columns:
            raise DataError(
                f"X's columns {list(names)} differ from the background's {list(self.columns)}."
            )
        return X

    def output_of(self, X: Any) -> np.ndarray:
        """The linked model output of the explained rows, (n, k)."""
        return self._link(self._predict(X))

    def threads(self) -> int:
        """Threads calling the model: ``model_threads``; or (None) one per core for the model
        kinds known to be thread-safe, called from the main thread, else one: a worker
        thread (a Dask worker, a web server) is already one of many."""
        if self.model_threads is None:
            if self.model.kind not in THREAD_SAFE_KINDS:
                return 1
            return available_cores() if threading.current_thread() is threading.main_thread() else 1
        return available_cores() if self.model_threads == -1 else self.model_threads

    def solver_thread(self) -> bool:
        """Whether, with one thread calling the model (a model not known to be
        thread-safe, ``model_threads=None``), a helper thread may solve while it calls: only
        from the main thread, with a second core (a worker thread is one of many)."""
        return (
            self.model_threads is None
            and self.model.kind not in THREAD_SAFE_KINDS
            and available_cores() > 1
            and threading.current_thread() is threading.main_thread()
        )

    def model_rows(self, X: Any) -> Any:
        """Explained rows as the hybrids are built from them (one numpy block if possible)."""
        if self._bg_array is not None:
            return X.to_numpy() if self.is_frame else np.asarray(X)
        return X

    def calls(self, m: int, last: bool = False) -> list[slice]:
        """Coalitions per model call: equal chunks of at most ``CALL_ROWS`` model rows
        (and ``max_batch_rows``), a quarter of that for the ``last`` coalitions of a
        run (so threads finish together), fixed by ``m``, ``last`` and the
        background, never by threads."""
        B = len(self.background)
        cap = min(self.max_batch_rows, CALL_ROWS // 4 if last else CALL_ROWS)
        per_call = max(1, cap // B)
        n_calls = max(1, -(-m // per_call))
        step = max(1, -(-m // n_calls))
        return [slice(s, min(m, s + step)) for s in range(0, m, step)]

    def start(
        self, X: Any, rows: np.ndarray, masks: np.ndarray, last: bool = False
    ) -> tuple[np.ndarray, list[Callable[[], None]]]:
        """Model outputs (m, B, k) at the hybrids of ``masks`` (m, 1 or B, n_players) of
        rows ``rows`` of X (from :meth:`model_rows`); unlinked.

        Background row b takes coalition ``masks[:, b]`` (or ``masks[:, 0]`` for all).
        The array is filled once every returned model call has run, in any order
        and on any thread.
        """
        m, B = masks.shape[0], len(self.background)
        out = np.empty((m, B, self.n_outputs))
        col_masks = masks[:, :, self._col_player] if self.grouped else masks

        def call(sl: slice) -> None:
            data = self._hybrid(X, rows[sl], col_masks[sl])
            out[sl] = self._predict(data, check=False).reshape(sl.stop - sl.start, B, -1)

        return out, [partial(call, sl) for sl in self.calls(m, last)]

    def mean_value(self, f: np.ndarray) -> np.ndarray:
        """v(S) (m, k): the linked weighted mean over the background of ``f`` (m, B, k)."""
        return self._link(np.einsum("mbk,b->mk", f, self.background.weights))

    def values(self, X: Any, rows: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """v(S) for coalitions ``masks`` (m, n_players) of rows ``rows`` (m,) of X -> (m, k)."""
        out, calls = self.start(self.model_rows(X), rows, masks[:, None, :])
        for call in calls:
            call()
        return self.mean_value(out)

    def _hybrid(self, X: Any, rows: np.ndarray, col_masks: np.ndarray) -> Any:
        """Rows (coalition, background row): x's values where the mask is on, else background.

        ``col_masks`` is (m, 1 or B, n_columns): one coalition for all background rows,
        or one per background row.
        """
        B = len(self.background)
        if self._bg_array is not None:
            from ._kernels import hybrid_rows  # numba: imported when first needed

            arr = hybrid_rows(col_masks, X[rows], self._bg_array).reshape(-1, len(self.columns))
            if self.is_frame:
                return pd.DataFrame(arr, columns=self._bg_frame.columns, copy=False)  # type: ignore[union-attr]
            return arr
        # Mixed dtypes: one index into (background rows, then explained rows) per column,
        # taken with pandas so categoricals, strings and nullable dtypes survive.
        assert self._bg_frame is not None
        base = np.broadcast_to(np.arange(B)[None, :], (rows.shape[0], B))
        own = (B + rows)[:, None]
        cols = {}
        for j, name in enumerate(self._bg_frame.columns):
            pool = pd.concat([self._bg_frame[name], X[name]], ignore_index=True)
            idx = np.where(col_masks[:, :, j], own, base).ravel()
            cols[name] = pool.array.take(idx)
        return pd.DataFrame(cols, columns=self._bg_frame.columns)
