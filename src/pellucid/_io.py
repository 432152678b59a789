"""Loading models and data files for the CLI and the service.

Unpickling runs arbitrary code, so joblib/pickle files load only when the
caller says they trust the file; skops files load only the types skops
trusts plus scikit-learn/NumPy/SciPy ones, unless the caller trusts the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["UntrustedModelError", "load_data", "load_model", "save_model"]

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
_SAFE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "functools.partial")


class UntrustedModelError(ValueError):
    """A model file would run code when loaded and was not marked as trusted."""


def load_model(path: str | Path, *, trust_pickle: bool = False) -> Any:
    """Load a model file: skops, XGBoost JSON/UBJ, LightGBM text, CatBoost .cbm,
    or joblib/pickle when ``trust_pickle`` is set."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        risky = [t for t in untrusted if not t.startswith(_SAFE_PREFIXES)]
        if risky and not trust_pickle:
            raise UntrustedModelError(
                f"{path.name} contains types that are not known to be safe: {risky}. "
                "Pass --trust-pickle (trust_pickle=True) only if you trust where the file came from."
            )
        return sio.load(path, trusted=untrusted)
    if suffix in (".json", ".ubj"):
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster
    if suffix == ".txt":
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))
    if suffix == ".cbm":
        import catboost

        model = catboost.CatBoost()
        model.load_model(str(path))
        return model
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise UntrustedModelError(
                f"Refusing to load {path.name}: unpickling a file runs code from it. "
                "Pass --trust-pickle (trust_pickle=True) if you trust where it came from, "
                "or save the model with skops (.skops) instead."
            )
        import joblib

        return joblib.load(path)
    raise ValueError(
        f"Unknown model file type {suffix!r} for {path.name}; expected .skops, .json/.ubj (XGBoost), "
        ".txt (LightGBM), .cbm (CatBoost), or .joblib/.pkl with --trust-pickle."
    )


def save_model(model: Any, path: str | Path) -> Path:
    """Save a model in the safe format for its kind (skops for scikit-learn)."""
    path = Path(path)
    root = type(model).__module__.split(".")[0]
    if path.suffix == ".skops":
        import skops.io as sio

        sio.dump(model, path)
    elif root == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        booster.save_model(str(path))
    elif root == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        booster.save_model(str(path))
    else:
        raise ValueError(f"Don't know how to save {type(model).__name__} as {path.suffix!r}.")
    return path


def load_data(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Data file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(
        f"Unknown data file type {suffix!r} for {path.name}; expected .csv or .parquet."
    )
