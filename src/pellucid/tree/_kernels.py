"""What every compiled tree kernel shares: the ensemble's arrays as one named structure,
how a row goes at a split, and the rows kernels' two compilations.

The kernels live by algorithm family: ``_kernels_predict.py`` (predictions, leaf
indices, split decisions, partial dependence and ICE), ``_kernels_path.py``
(path-dependent TreeSHAP and its interaction values) and
``_kernels_interventional.py`` (interventional TreeSHAP against background rows).
Each takes the ensemble as one :class:`NodeArrays` (``TreeEnsemble.nodes``), a
NamedTuple numba compiles as a struct of arrays: ``nodes.left[n]`` costs what a
positional array argument costs.

numba's on-disk cache keys a kernel by its own file only: after editing a helper
here (``goes_left`` is inlined into the family files' kernels), delete the
``__pycache__`` folder of this package, or the families keep their compiled copies.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numba import njit


class NodeArrays(NamedTuple):
    """A ``TreeEnsemble``'s node arrays as the kernels read them (see ``_ensemble.py``):
    children (-1 at leaves), split feature and threshold (go left when ``x <= threshold``),
    the NaN direction, the split kind, categorical direction tables (per node: start and
    length in ``cat_dir``, the direction of any other value), cover, leaf values per
    column, where each tree starts, which output each tree adds to (-1: column j to
    output j) and the base output."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    kind: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    cat_other: np.ndarray
    cat_dir: np.ndarray
    cover: np.ndarray
    value: np.ndarray
    tree_start: np.ndarray
    tree_output: np.ndarray
    base: np.ndarray


CHUNK = 64


_small = threading.local()


@contextmanager
def small_problem() -> Iterator[None]:
    """Within this block (on this thread) rows kernels run their serial compilations."""
    before = getattr(_small, "on", False)
    _small.on = True
    try:
        yield
    finally:
        _small.on = before


class RowsKernel:
    """A kernel over rows compiled two ways, each only when first called: with
    ``parallel=True`` (rows spread over numba's threads), and serially, used inside
    :func:`small_problem` (work too small to wake threads for: see ``tree._explainer``).

    A serial compile takes a fraction of a parallel one (no parfor passes, no gufunc),
    so the first explanation of a small problem on a new install compiles only the
    serial kernels. Both run the same code on each row, so their answers are the
    same bytes. The serial twin is a copy of the function under another name, so
    numba's on-disk cache (keyed by qualified name, not by the parallel flag) keeps
    the two apart. Large problems always run the parallel compilation, whatever the
    thread count: LLVM vectorises the serial one's inner loops less (up to 5x slower
    per row), which costs little on the small problems it runs.
    """

    def __init__(self, fn: Any) -> None:
        self.py_func = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self._parallel: Any = None
        self._serial: Any = None

    @property
    def parallel(self) -> Any:
        if self._parallel is None:
            self._parallel = njit(parallel=True, cache=True)(self.py_func)
        return self._parallel

    @property
    def serial(self) -> Any:
        if self._serial is None:
            fn = self.py_func
            twin = types.FunctionType(
                fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__
            )
            twin.__qualname__ = fn.__qualname__ + "_serial"
            self._serial = njit(cache=True)(twin)
        return self._serial

    def __call__(self, *args: Any) -> Any:
        if getattr(_small, "on", False):
            return self.serial(*args)
        return self.parallel(*args)


def rows_kernel(fn: Any) -> RowsKernel:
    return RowsKernel(fn)


@njit(inline="always", cache=True)
def by_state(s, x0, x2, x3):
    """The term for a row's state at a node, s = 2 * (on the path) + (goes left): x3,
    x2, or x0 for a row off the path (s 0 or 1); a select, no branch, in inner loops."""
    return x3 if s == 3 else (x2 if s == 2 else x0)


@njit(inline="always", cache=True)
def goes_left(v, n, nodes):
    """Whether value ``v`` goes left at split ``n`` (NaN, LightGBM's zero-as-missing and
    categorical tables included)."""
    if np.isnan(v):
        return nodes.default_left[n]
    k = nodes.kind[n]
    if k == 0:
        return v <= nodes.threshold[n]
    if k == 2:
        if -1e-35 <= v <= 1e-35:
            return nodes.default_left[n]
        return v <= nodes.threshold[n]
    d = nodes.cat_other[n]
    if v >= 0.0 and v < nodes.cat_len[n]:
        d = nodes.cat_dir[nodes.cat_start[n] + np.int64(v)]
    if d == 2:
        return nodes.default_left[n]
    return d == 0


@njit(cache=True)
def leaf_of(x, root, nodes):
    """The leaf row ``x`` reaches from node ``root``."""
    left, right, feature = nodes.left, nodes.right, nodes.feature
    n = root
    while left[n] >= 0:
        if goes_left(x[feature[n]], n, nodes):
            n = left[n]
        else:
            n = right[n]
    return n
