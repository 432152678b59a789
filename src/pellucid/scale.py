"""Explaining many rows: all local cores through joblib, a cluster through Dask.

Explainers' ``explain`` methods are wrapped by :func:`scalable`, which reads
two of the explainer's settings (constructor arguments, see
:mod:`pellucid._protocol`):

* ``n_jobs``: how many rows are explained at once: rows are split into chunks
  of ``chunk_rows`` explained in parallel by joblib, so
  ``joblib.parallel_config(backend="dask")`` moves the same work to a Dask
  cluster unchanged;
* Dask input: a ``dask.dataframe.DataFrame`` or ``dask.array.Array`` gives an
  :class:`~pellucid.Explanation` of lazy dask arrays, one explanation task per
  partition, where the partition lives; ``.compute()`` gives it in memory.

and accepts Dask input:

Results never depend on where they ran: the seed is drawn once, before the
fan-out, and each row's random numbers are keyed by its position in the whole
table (``first_row``), not by its position in a chunk or on a worker
(:mod:`pellucid._random`). The bytes are the same as far as the model's own
predictions are: a model whose prediction of the same rows differs by a last
bit in another process (a LogisticRegression's ``predict_proba`` through BLAS
did, by 1e-16) passes that difference on.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ._protocol import UNSET, warn_per_call
from ._random import seed_entropy
from ._results import Explanation

__all__ = ["check_fan_out", "concat", "explain_dask", "explain_rows", "is_dask", "scalable"]

#: Rows per chunk when fanning out: small enough to spread, large enough to amortise.
DEFAULT_CHUNK_ROWS = 256


def is_dask(X: Any) -> bool:
    """True for a dask DataFrame or dask Array (checked without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed")


def _fixed_seed(random_state: Any) -> Any:
    """Draw one seed before any fan-out, so every chunk shares it (an int, or the
    SeedSequence given)."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    return seed_entropy(random_state)


def _prepare_kwargs(explainer: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The per-call arguments every chunk gets: the explainer's seed drawn once."""
    if hasattr(explainer, "random_state"):
        seed = kwargs.get("random_state", explainer.random_state)
        kwargs = {**kwargs, "random_state": _fixed_seed(seed)}
    return kwargs


def _takes_first_row(explain: Callable[..., Any]) -> bool:
    return "first_row" in inspect.signature(explain).parameters


def _run_chunk(explainer: Any, X: Any, first_row: int, kwargs: dict[str, Any]) -> Explanation:
    from joblib import parallel_config

    inner = type(explainer).explain.__wrapped__
    if _takes_first_row(inner):
        kwargs = {**kwargs, "first_row": first_row}
    # One chunk runs on one core: the model's own joblib parallelism (a forest's
    # predict) would oversubscribe it and sum trees in a different order.
    with parallel_config(backend="sequential"):
        return inner(explainer, X, **kwargs)


def _take_rows(X: Any, start: int, stop: int) -> Any:
    return X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]


def check_fan_out(n_jobs: Any, chunk_rows: Any) -> tuple[int | None, int | None]:
    """Validate the ``n_jobs`` and ``chunk_rows`` settings where they are set."""
    for name, value in (("n_jobs", n_jobs), ("chunk_rows", chunk_rows)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer))
        ):
            raise TypeError(f"{name} must be None or an int; got {value!r}.")
    if n_jobs is not None and n_jobs == 0:
        raise ValueError("n_jobs must be a positive number, -1 (all cores) or None; got 0.")
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive number or None; got {chunk_rows}.")
    return (
        None if n_jobs is None else int(n_jobs),
        None if chunk_rows is None else int(chunk_rows),
    )


def _resolve_n_jobs(n_jobs: int | None, n_rows: int, min_rows: int) -> int:
    """None: all cores when there is enough work (``min_rows``), else one."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores if n_rows >= min_rows else 1
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive number, -1 (all cores) or None; got 0.")
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def explain_rows(
    explainer: Any,
    X: Any,
    *,
    n_jobs: int | None = None,
    chunk_rows: int | None = None,
    **kwargs: Any,
) -> Explanation:
    """Explain the rows of an in-memory X in chunks, in parallel with joblib."""
    from joblib import Parallel, delayed

    kwargs = _prepare_kwargs(explainer, kwargs)
    n = len(X)
    size = int(chunk_rows or max(1, min(DEFAULT_CHUNK_ROWS, -(-n // (os.cpu_count() or 1)))))
    starts = range(0, n, size)
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_run_chunk)(explainer, _take_rows(X, s, s + size), s, kwargs) for s in starts
    )
    return concat(parts)


def concat(parts: Sequence[Explanation]) -> Explanation:
    """Stack Explanations of consecutive row chunks into one."""
    if not parts:
        raise ValueError("Nothing to concatenate.")
    first = parts[0]
    if len(parts) == 1:
        return first

    def stack(name: str) -> Any:
        arrays = [getattr(p, name) for p in parts]
        return None if arrays[0] is None else np.concatenate(arrays, axis=0)

    diagnostics = {
        k: np.concatenate([p.diagnostics[k] for p in parts], axis=0) for k in first.diagnostics
    }
    return replace(
        first,
        values=stack("values"),
        base_values=stack("base_values"),
        data=stack("data"),
        std_errors=stack("std_errors"),
        output=stack("output"),
        diagnostics=diagnostics,
    )


# ---------------------------------------------------------------- dask


def _partitions(X: Any) -> tuple[list[Any], list[int], Any]:
    """Delayed row blocks of X, their lengths, and X's first row in memory."""
    import dask

    if hasattr(X, "map_partitions"):  # dask DataFrame
        lengths = [int(v) for v in X.map_partitions(len).compute()]
        return list(X.to_delayed()), lengths, X.head(1, npartitions=-1)
    X = X.rechunk({1: -1}) if X.ndim == 2 else X
    blocks = X.to_delayed()
    blocks = list(blocks[:, 0]) if blocks.ndim == 2 else list(blocks.ravel())
    head = dask.compute(X[:1])[0]
    return blocks, [int(c) for c in X.chunks[0]], head


def explain_dask(explainer: Any, X: Any, **kwargs: Any) -> Explanation:
    """A lazy Explanation of a dask DataFrame or Array: one task per partition.

    The explainer (model and background inside) enters the task graph once,
    as one key, so it is shipped to each worker once rather than per partition.
    """
    import dask
    import dask.array as da

    kwargs = _prepare_kwargs(explainer, kwargs)
    blocks, lengths, head = _partitions(X)
    meta = _run_chunk(explainer, head, 0, kwargs)  # shapes, names and dtypes of the result
    shared = dask.delayed(explainer, pure=True, traverse=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    tasks = [
        dask.delayed(_run_chunk, pure=True)(shared, block, int(off), kwargs)
        for block, off in zip(blocks, offsets, strict=True)
    ]

    def lazy(get: Callable[[Any], Any], like: Any) -> Any:
        if like is None:
            return None
        like = np.asarray(like)
        pieces = [
            da.from_delayed(dask.delayed(get)(t), shape=(n, *like.shape[1:]), dtype=like.dtype)
            for t, n in zip(tasks, lengths, strict=True)
        ]
        return da.concatenate(pieces, axis=0)

    return replace(
        meta,
        values=lazy(_get_values, meta.values),
        base_values=lazy(_get_base_values, meta.base_values),
        data=lazy(_get_data, meta.data),
        std_errors=lazy(_get_std_errors, meta.std_errors),
        output=lazy(_get_output, meta.output),
        diagnostics={
            k: lazy(functools.partial(_get_diagnostic, k), v) for k, v in meta.diagnostics.items()
        },
    )


# Module-level getters keep the task graph picklable and its keys deterministic.
def _get_values(e: Explanation) -> Any:
    return e.values


def _get_base_values(e: Explanation) -> Any:
    return e.base_values


def _get_data(e: Explanation) -> Any:
    return e.data


def _get_std_errors(e: Explanation) -> Any:
    return e.std_errors


def _get_output(e: Explanation) -> Any:
    return e.output


def _get_diagnostic(key: str, e: Explanation) -> Any:
    return e.diagnostics[key]


# ---------------------------------------------------------------- the wrapper


def scalable(
    min_rows: int = 64,
) -> Callable[[Callable[..., Explanation]], Callable[..., Explanation]]:
    """Decorate an explainer's ``explain(self, X, **per_call)`` with ``n_jobs`` and Dask input.

    ``n_jobs`` and ``chunk_rows`` are the explainer's settings (attributes set by
    its constructor). For one release ``explain`` also takes them, and any other
    setting of the explainer, as per-call overrides (FutureWarning).
    ``min_rows``: with ``n_jobs=None``, rows are fanned out over all cores
    only from this many rows on (explainers that are already parallel inside,
    like TreeShap's compiled kernel, set it very high).
    """

    def decorate(explain: Callable[..., Explanation]) -> Callable[..., Explanation]:
        @functools.wraps(explain)
        def wrapper(
            self: Any,
            X: Any,
            *args: Any,
            n_jobs: Any = UNSET,
            chunk_rows: Any = UNSET,
            **kwargs: Any,
        ) -> Explanation:
            if args:
                raise TypeError("explain() takes the rows positionally and options by keyword.")
            settings = set(getattr(self, "setting_names", tuple)())
            warn_per_call(
                self,
                {
                    "n_jobs": n_jobs,
                    "chunk_rows": chunk_rows,
                    **{k: v for k, v in kwargs.items() if k in settings},
                },
            )
            if n_jobs is UNSET:
                n_jobs = getattr(self, "n_jobs", None)
            if chunk_rows is UNSET:
                chunk_rows = getattr(self, "chunk_rows", None)
            if is_dask(X):
                return explain_dask(self, X, **kwargs)
            n_rows = _n_rows(X)
            jobs = _resolve_n_jobs(n_jobs, n_rows, min_rows)
            if jobs == 1 or n_rows == 1:
                return explain(self, X, **kwargs)
            return explain_rows(self, X, n_jobs=jobs, chunk_rows=chunk_rows, **kwargs)

        # Advertise n_jobs/chunk_rows in the signature (as the deprecated per-call
        # overrides of the explainer's settings they are).
        wrapper.__signature__ = _with_scale_options(explain)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _with_scale_options(explain: Callable[..., Any]) -> inspect.Signature:
    sig = inspect.signature(explain)
    params = list(sig.parameters.values())
    extra = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=UNSET, annotation="int | None"
        )
        for name in ("n_jobs", "chunk_rows")
        if name not in sig.parameters
    ]
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    return sig.replace(parameters=params[:at] + extra + params[at:])


def _n_rows(X: Any) -> int:
    if isinstance(X, pd.Series) or (isinstance(X, np.ndarray) and X.ndim == 1):
        return 1  # one row given as a vector: its length counts features, not rows
    try:
        return len(X)
    except TypeError:
        return int(np.shape(X)[0])
