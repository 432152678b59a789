"""The Shapley kernels' numpy and compiled forms give the same bytes, so which one
runs (chosen per call by size and by the time this process has spent) never
changes a number; and a small KernelShap explanation never imports numba."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pellucid.shapley import _kernels, _kernels_numba


class _Always:
    def __init__(self, compiled: bool) -> None:
        self.answer = compiled

    def compiled(self, numpy_s: float) -> bool:
        return self.answer


@pytest.fixture
def numpy_form(monkeypatch):
    monkeypatch.setattr(_kernels, "TIERING", _Always(False))


def _regression_problem(rng, c, u, p, k, n_strata, singular, nan_factor):
    first = rng.random((c, u, p)) < rng.uniform(0.2, 0.8)
    if singular:  # two players always together: A is singular for game 0
        first[0, :, 1] = first[0, :, 0]
    factor = rng.random(n_strata) + 1.0
    if nan_factor:  # a stratum of one pair: n / (n - 1) is NaN
        factor[0] = np.nan
    return (
        first,
        rng.random(u) + 0.1,
        rng.normal(size=(c, u, k)),
        rng.normal(size=(c, u, k)),
        rng.normal(size=(c, k)),
        rng.integers(-1, n_strata, u),  # -1: an enumerated pair
        factor,
    )


@pytest.mark.parametrize("seed", range(40))
def test_paired_regression_numpy_is_the_compiled_bytes(seed, numpy_form):
    rng = np.random.default_rng(seed)
    c, u, p, k = (int(rng.integers(lo, hi)) for lo, hi in [(1, 6), (1, 60), (2, 13), (1, 4)])
    args = _regression_problem(
        rng, c, u, p, k, int(rng.integers(1, 4)), singular=seed % 4 == 0, nan_factor=seed % 5 == 0
    )
    got = _kernels.paired_regression(*args)
    want = _kernels_numba.paired_regression(*args)
    names = ["phi", "var", "ok", "A", "b"]
    for name, g, w in zip(names, got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert g.tobytes() == w.tobytes(), name
    if seed % 4 == 0:
        assert not got[2][0] and np.isnan(got[0][0]).all()  # singular: flagged, NaN


def test_paired_regression_solves_the_constrained_least_squares(numpy_form):
    """Closed form: phi minimises phi'A phi - 2 b'phi subject to sum(phi) = delta."""
    rng = np.random.default_rng(7)
    args = _regression_problem(rng, 3, 40, 6, 2, 2, singular=False, nan_factor=False)
    phi, _, ok, A, b = _kernels.paired_regression(*args)
    delta = args[4]
    assert ok.all()
    for g in range(3):
        kkt = np.block([[A[g], np.ones((6, 1))], [np.ones((1, 6)), np.zeros((1, 1))]])
        want = np.linalg.solve(kkt, np.vstack([b[g], delta[g][None]]))[:6]
        np.testing.assert_allclose(phi[g], want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_distinct_draws_numpy_is_the_compiled_draws(seed, numpy_form):
    rng = np.random.default_rng(seed)
    count, n = int(rng.integers(1, 6)), int(rng.integers(1, 40))
    population = n + int(rng.integers(0, 60))
    uniform = rng.random((count, n))
    got = _kernels.distinct_draws(uniform, population)
    np.testing.assert_array_equal(got, _kernels_numba.distinct_draws(uniform, population))
    assert all(len(set(row)) == n for row in got.tolist())
    assert got.min() >= 0 and got.max() < population


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8])
def test_hybrid_rows_numpy_is_the_compiled_bytes(dtype, monkeypatch):
    rng = np.random.default_rng(0)
    rows = (rng.normal(size=(30, 5)) * 10).astype(dtype)
    background = (rng.normal(size=(7, 5)) * 10).astype(dtype)
    if dtype == np.float64:  # a NaN with a payload is copied bit for bit
        background.view(np.uint64)[0, 0] = 0x7FF8000000000123
    elif dtype == np.float32:
        background.view(np.uint32)[0, 0] = 0x7FC00123
    for shared in (1, 7):
        masks = rng.random((30, shared, 5)) < 0.5
        monkeypatch.setattr(_kernels, "TIERING", _Always(False))
        got = _kernels.hybrid_rows(masks, rows, background)
        monkeypatch.setattr(_kernels, "TIERING", _Always(True))
        want = _kernels.hybrid_rows(masks, rows, background)
        assert got.dtype == want.dtype == dtype
        assert got.tobytes() == want.tobytes()
        ref = np.where(masks, rows[:, None, :], background[None])
        np.testing.assert_array_equal(got, ref)  # NaN == NaN here
        if dtype == np.float64:
            assert 0x7FF8000000000123 in got.view(np.uint64)


def test_table_rows_and_pair_masks_match_a_plain_loop():
    rng = np.random.default_rng(3)
    members = np.array([rng.choice(6, 3, replace=False) for _ in range(20)])
    pick = rng.integers(0, 20, (4, 9))
    for lead in (0, 1):
        out = rng.random((4, 12, 6 + lead)) < 0.5
        want = out.copy()
        for g in range(4):
            for i in range(9):
                want[g, 2 + i] = False
                want[g, 2 + i, :lead] = True
                want[g, 2 + i, lead + members[pick[g, i]]] = True
        _kernels.table_rows(members, pick, out, lead, 2)
        np.testing.assert_array_equal(out, want)
    first = rng.random((4, 9, 6)) < 0.5
    both = _kernels.pair_masks(first)
    np.testing.assert_array_equal(both[0::2], first.transpose(1, 0, 2))
    np.testing.assert_array_equal(both[1::2], ~first.transpose(1, 0, 2))


def test_tiering_compiles_large_calls_and_after_enough_numpy_time():
    tiering = _kernels._Tiering()
    assert tiering.compiled(tiering.CALL_LIMIT_S * 2)  # one large call
    assert tiering.spent_s == 0.0
    step = 2.0**-5  # exact in binary: the sums below are exact
    steps = int(tiering.PROCESS_LIMIT_S / step) + 1  # the last starts at the limit
    assert not any(tiering.compiled(step) for _ in range(steps))
    assert tiering.compiled(0.001)  # the process has spent enough in numpy


def test_small_kernelshap_never_imports_numba(tmp_path):
    """A small explanation in a fresh process runs in numpy: no numba import, no
    compilation (the cold start)."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import pellucid
        rng = np.random.default_rng(0)
        background, rows = rng.normal(size=(50, 8)), rng.normal(size=(5, 8))
        coef = rng.normal(size=8)
        def f(X):
            return np.tanh(np.asarray(X) @ coef)
        exp = pellucid.KernelShap(f, background, budget=64, random_state=0).explain(rows)
        assert np.isfinite(exp.values).all()
        print("numba" in sys.modules)
        """
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
