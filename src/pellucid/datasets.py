"""Bundled and synthetic data sets. Nothing is downloaded.

``breast_cancer``, ``diabetes`` and ``digits`` are scikit-learn's bundled
copies as DataFrames. ``credit`` is a synthetic credit-scoring table whose
true default probability is a documented function of the features
(:func:`credit_logit`, :func:`credit_terms`), so every feature's true effect
is known and explanations can be held against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Dataset",
    "breast_cancer",
    "credit",
    "credit_logit",
    "credit_terms",
    "diabetes",
    "digits",
]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``X`` (DataFrame), target ``y`` (Series) and what they are.

    Unpacks as ``X, y = datasets.credit()``.
    """

    X: pd.DataFrame
    y: pd.Series
    task: str
    description: str
    categorical: tuple[str, ...] = ()

    def __iter__(self):
        return iter((self.X, self.y))

    @property
    def frame(self) -> pd.DataFrame:
        return self.X.assign(**{str(self.y.name): self.y})


def _sklearn_dataset(loader: Any, task: str, name: str) -> Dataset:
    bunch = loader(as_frame=True)
    X = bunch.data.copy()
    y = bunch.target.rename(name)
    return Dataset(X, y, task, bunch.DESCR.split("\n\n")[0].strip())


def breast_cancer() -> Dataset:
    """Wisconsin breast cancer: 569 rows, 30 numeric features, binary target (1 = benign)."""
    from sklearn.datasets import load_breast_cancer

    return _sklearn_dataset(load_breast_cancer, "binary", "benign")


def diabetes() -> Dataset:
    """Diabetes progression: 442 rows, 10 standardised features, regression target."""
    from sklearn.datasets import load_diabetes

    return _sklearn_dataset(load_diabetes, "regression", "progression")


def digits() -> Dataset:
    """8x8 handwritten digits: 1,797 rows, 64 pixel features (0-16), 10 classes."""
    from sklearn.datasets import load_digits

    return _sklearn_dataset(load_digits, "multiclass", "digit")


# ---------------------------------------------------------------- credit

EMPLOYMENT = {"employed": 0.0, "self_employed": 0.3, "unemployed": 1.2, "retired": 0.2}
HOUSING = {"own": -0.3, "mortgage": 0.0, "rent": 0.3}
INTERCEPT = -2.0


def credit(n_rows: int = 5000, random_state: int | None = 0) -> Dataset:
    """Synthetic credit-scoring data with a known true default probability.

    Columns (drawn independently of each other):

    ========================  ===============================================
    age                        years, uniform integer 21..75
    income                     yearly, log-normal, median 50,000
    debt_to_income             ratio, 0.8 * Beta(2, 5)
    credit_history_years       uniform 0..30
    late_payments              count, Poisson(0.7)
    loan_amount                log-normal, median 15,000
    savings                    log-normal, median 5,000; 20% missing (NaN)
    employment                 category: employed, self_employed, unemployed, retired
    housing                    category: own, mortgage, rent
    sex                        category: female, male; no effect on default
    ========================  ===============================================

    The true log-odds of ``default`` (1 = default, the "decline" class) is
    :func:`credit_logit`, the sum of the per-feature terms of
    :func:`credit_terms` plus one interaction, ``debt_to_income`` with
    ``late_payments``. ``y`` is drawn from Bernoulli(sigmoid(logit)).
    """
    if int(n_rows) < 1:
        raise ValueError(f"n_rows must be a positive integer; got {n_rows!r}.")
    rng = np.random.default_rng(random_state)
    n = int(n_rows)
    savings = np.round(np.exp(rng.normal(np.log(5000), 1.0, n)), 2)
    savings[rng.random(n) < 0.2] = np.nan
    X = pd.DataFrame(
        {
            "age": rng.integers(21, 76, n),
            "income": np.round(np.exp(rng.normal(np.log(50_000), 0.5, n)), 0),
            "debt_to_income": np.round(0.8 * rng.beta(2, 5, n), 4),
            "credit_history_years": np.round(rng.uniform(0, 30, n), 1),
            "late_payments": rng.poisson(0.7, n),
            "loan_amount": np.round(np.exp(rng.normal(np.log(15_000), 0.6, n)), 0),
            "savings": savings,
            "employment": pd.Categorical(
                rng.choice(list(EMPLOYMENT), n, p=[0.6, 0.15, 0.1, 0.15]),
                categories=list(EMPLOYMENT),
            ),
            "housing": pd.Categorical(
                rng.choice(list(HOUSING), n, p=[0.3, 0.4, 0.3]), categories=list(HOUSING)
            ),
            "sex": pd.Categorical(rng.choice(["female", "male"], n), categories=["female", "male"]),
        }
    )
    p = 1.0 / (1.0 + np.exp(-credit_logit(X)))
    y = pd.Series((rng.random(n) < p).astype(int), name="default")
    return Dataset(
        X,
        y,
        "binary",
        "Synthetic credit scoring with known true effects.",
        categorical=("employment", "housing", "sex"),
    )


def credit_terms(X: pd.DataFrame) -> pd.DataFrame:
    """The true log-odds of default, term by term (one column per feature, plus the interaction).

    ``credit_logit(X) == INTERCEPT + credit_terms(X).sum(axis=1)``.
    """
    late = X["late_payments"].to_numpy(float)
    dti = X["debt_to_income"].to_numpy(float)
    savings = X["savings"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        savings_term = np.where(
            np.isnan(savings), 0.3, -0.25 * np.log10(np.maximum(savings, 1) / 1000)
        )
    return pd.DataFrame(
        {
            "age": 0.0008 * (X["age"].to_numpy(float) - 40) ** 2,
            "income": -0.8 * np.log(X["income"].to_numpy(float) / 50_000),
            "debt_to_income": 4.0 * (dti - 0.25),
            "credit_history_years": -0.03 * (X["credit_history_years"].to_numpy(float) - 10),
            "late_payments": 0.6 * late,
            "loan_amount": 0.25 * np.log(X["loan_amount"].to_numpy(float) / 15_000),
            "savings": savings_term,
            "employment": X["employment"].astype(str).map(EMPLOYMENT).to_numpy(float),
            "housing": X["housing"].astype(str).map(HOUSING).to_numpy(float),
            "sex": np.zeros(len(X)),
            "debt_to_income:late_payments": 0.8 * np.maximum(dti - 0.4, 0) * late,
        },
        index=X.index,
    )


def credit_logit(X: pd.DataFrame) -> np.ndarray:
    """True log-odds of default for rows of :func:`credit` data."""
    return INTERCEPT + credit_terms(X).sum(axis=1).to_numpy()
