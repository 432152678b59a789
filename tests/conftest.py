"""Shared fixtures: small deterministic data sets and models."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def credit_small():
    from pellucid.datasets import credit

    return credit(n_rows=600, random_state=0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
