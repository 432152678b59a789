"""The interventional (marginal) Shapley game over the user's raw features.

A *player* is one column of X, or one group of columns (``groups=``). The
value of a coalition S for an explained row x is

    v(S) = link( sum_b w_b f(x_S, z_b,-S) )

where z_b are the background rows with weights w_b (summing to one): the
players in S take x's raw values and the others the background row's raw
values. The model sees DataFrames with the original columns and dtypes, so a
Pipeline with a OneHotEncoder is explained per original column.

All coalitions of all rows being explained go through the model in as few
calls as ``max_batch_rows`` (coalitions x background rows) allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._data import DataError, check_X, feature_names_of
from .._model import Model, as_model

__all__ = ["Background", "Game", "LINKS"]

LINKS = ("identity", "logit")
DEFAULT_MAX_BATCH_ROWS = 200_000
_LOGIT_EPS = 1e-12


@dataclass(frozen=True, eq=False)
class Background:
    """Background rows and their weights (non-negative, summing to one)."""

    data: Any
    weights: np.ndarray

    def __len__(self) -> int:
        return int(self.weights.shape[0])


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
        groups: Mapping[str, Sequence[Any]] | None = None,
        link: str = "identity",
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        n_jobs: int = 1,
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
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
            raise ValueError(f"n_jobs must be a positive integer; got {n_jobs!r}.")
        self.n_jobs = int(n_jobs)
        bg = as_background(background, background_weights)
        self.background = bg
        self.is_frame = isinstance(bg.data, pd.DataFrame)
        self.columns = feature_names_of(bg.data)
        self.player_names, self.player_columns = _players(self.columns, groups)
        self.grouped = bool(groups)
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
        X = check_X(X)
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

    def values(self, X: Any, rows: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """v(S) for coalitions ``masks`` (m, n_players) of rows ``rows`` (m,) of X -> (m, k)."""
        f = self._evaluate(X, rows, masks[:, None, :])  # (m, B, k)
        return self._link(np.einsum("mbk,b->mk", f, self.background.weights))

    def values_per_background(self, X: Any, rows: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Model outputs (m, B, k) where background row b takes coalition ``masks[:, b]``.

        ``masks`` is (m, B, n_players): each background row plays its own
        single-baseline game, with its own coalitions. Unlinked.
        """
        return self._evaluate(X, rows, masks)

    def _evaluate(self, X: Any, rows: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """f at the hybrids of ``masks`` (m, 1 or B, n_players) -> (m, B, k), batched."""
        m = masks.shape[0]
        B = len(self.background)
        out = np.empty((m, B, self.n_outputs))
        step = max(1, min(self.max_batch_rows // B, -(-m // self.n_jobs)))
        col_masks = masks[:, :, self._col_player]
        if self._bg_array is not None:
            X = X.to_numpy() if self.is_frame else np.asarray(X)

        def chunk(start: int) -> np.ndarray:
            sl = slice(start, min(m, start + step))
            data = self._hybrid(X, rows[sl], col_masks[sl])
            return self._predict(data, check=False).reshape(sl.stop - sl.start, B, -1)

        starts = list(range(0, m, step))
        if self.n_jobs == 1 or len(starts) == 1:
            parts = [chunk(s) for s in starts]
        else:
            # Threads: model libraries release the GIL while predicting.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.n_jobs) as pool:
                parts = list(pool.map(chunk, starts))
        for start, part in zip(starts, parts, strict=True):
            out[start : start + part.shape[0]] = part
        return out

    def _hybrid(self, X: Any, rows: np.ndarray, col_masks: np.ndarray) -> Any:
        """Rows (coalition, background row): x's values where the mask is on, else background.

        ``col_masks`` is (m, 1 or B, n_columns): one coalition for all background rows,
        or one per background row.
        """
        B = len(self.background)
        if self._bg_array is not None:
            bg = self._bg_array
            arr = np.where(col_masks, X[rows][:, None, :], bg[None, :, :])
            arr = arr.reshape(-1, len(self.columns))
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
