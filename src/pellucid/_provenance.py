"""One provenance record: what was run, on what, with which software, when.

The model card and the report state the same facts about a run; :func:`provenance`
is the one function that gathers them into a :class:`Provenance` (a result with
the shared versioned JSON), and each artefact adds only what is its own (the
report's section times, say).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._results import _clip, _JsonMixin

__all__ = ["Provenance", "data_hash", "model_hash", "provenance"]

# Packages whose version shapes a result; the model's own library is added when known.
_PACKAGES = ("pellucid", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "jinja2")
_MODEL_LIBRARIES = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "torch": "torch",
    "sklearn": "scikit-learn",
}


@dataclass(frozen=True, eq=False)
class Provenance(_JsonMixin):
    """The reproducibility record of a model card or a report.

    ``created``: UTC time, ``YYYY-MM-DDTHH:MM:SSZ``. ``model_hash``: joblib's
    content hash of the fitted model (or why there is none);
    ``model_params_sha256``: SHA-256 of its plain ``get_params`` values.
    ``data_hash``/``target_hash``: SHA-256 over values, column names and dtypes
    (``target_hash`` is None without a target). ``versions``: package ->
    version, the model's library included.
    """

    created: str
    random_state: Any
    model_class: str
    model_hash: str
    model_params_sha256: str
    data_hash: str
    target_hash: str | None
    n_rows: int
    n_features: int
    versions: Mapping[str, str] = field(default_factory=dict)
    platform: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "versions", dict(self.versions))

    def __repr__(self) -> str:
        return _clip(
            f"Provenance(created={self.created!r}, model={self.model_class!r}, "
            f"{self.n_rows} rows x {self.n_features} features, data {self.data_hash[:19]}...)"
        )


def provenance(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    random_state: Any = None,
    created: str | _dt.datetime | None = None,
) -> Provenance:
    """The provenance record of a run of ``model`` on ``X`` (and ``y``).

    ``model`` is the fitted model itself or a :class:`pellucid.Model` wrapping it.
    ``created`` fixes the timestamp (a string is kept as given, for byte-identical
    artefacts); by default it is now.
    """
    raw = getattr(model, "raw_model", model)
    if created is None:
        created = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(created, _dt.datetime):
        created = created.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = _model_params(raw)
    shape = np.shape(X)
    return Provenance(
        created=str(created),
        random_state=random_state,
        model_class=f"{type(raw).__module__}.{type(raw).__name__}",
        model_hash=model_hash(raw),
        model_params_sha256=hashlib.sha256(
            json.dumps(params, sort_keys=True, default=str).encode()
        ).hexdigest(),
        data_hash=data_hash(X),
        target_hash=None if y is None else data_hash(y),
        n_rows=int(shape[0]),
        n_features=int(shape[1]) if len(shape) > 1 else 1,
        versions=_versions(raw),
        platform=f"{platform.system()} {platform.machine()}, {sys.platform}",
    )


def model_hash(model: Any) -> str:
    """A content hash of the fitted model (joblib's pickling hash), or why there is none."""
    import joblib

    try:
        return "md5:" + joblib.hash(model)
    except Exception as exc:  # noqa: BLE001 - some models cannot be pickled; say so
        return f"unavailable ({type(exc).__name__})"


def data_hash(X: Any) -> str:
    """SHA-256 over the data's values, column names and dtypes (row order matters)."""
    import pandas as pd

    h = hashlib.sha256()
    if isinstance(X, (pd.DataFrame, pd.Series)):
        frame = X.to_frame() if isinstance(X, pd.Series) else X
        h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    else:
        arr = np.ascontiguousarray(np.asarray(X))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        if arr.dtype.kind == "O":
            h.update(pd.util.hash_array(arr.ravel().astype(str)).tobytes())
        else:
            h.update(arr.tobytes())
    return "sha256:" + h.hexdigest()


def _versions(raw: Any) -> dict[str, str]:
    from importlib import metadata

    names = list(_PACKAGES)
    library = _MODEL_LIBRARIES.get(type(raw).__module__.split(".")[0])
    if library is not None and library not in names:
        names.append(library)
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _model_params(raw: Any) -> dict[str, Any]:
    if not hasattr(raw, "get_params"):
        return {}
    try:
        params = raw.get_params(deep=False)
    except Exception:  # noqa: BLE001 - a model's own get_params may be broken; params are optional
        return {}
    return {k: v for k, v in params.items() if v is None or isinstance(v, (str, int, float, bool))}
