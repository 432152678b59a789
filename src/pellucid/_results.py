"""Result objects: what every method returns and every renderer reads.

All results are frozen dataclasses holding numpy arrays. Shape rules (see
docs/architecture.md):

* ``Explanation.values`` is ``(n_rows, *feature_shape)`` for one output and
  ``(n_rows, *feature_shape, n_outputs)`` for several; tabular methods have
  ``feature_shape == (n_features,)``.
* ``base_values`` is ``(n_rows,)`` or ``(n_rows, n_outputs)``.
* Sampled estimates carry ``std_errors`` of the same shape as ``values``.
"""

from __future__ import annotations

import html
import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ._registry import canonical

SCHEMA_VERSION = 1
# What an explained output is measured in (Explanation.output_kind).
OUTPUT_KINDS = ("probability", "log_odds", "raw_margin", "regression")

__all__ = [
    "OUTPUT_KINDS",
    "SCHEMA_VERSION",
    "Anchor",
    "Explanation",
    "FeatureImportance",
    "HStatistic",
    "PartialDependence",
    "Predicate",
]


# ---------------------------------------------------------------- JSON helpers


def _encode(value: Any) -> Any:
    """Encode arrays (with dtype) and scalars into JSON-safe structures."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            flat = [None if not np.isfinite(v) else float(v) for v in value.ravel()]
        elif value.dtype.kind in "iub":
            flat = value.ravel().tolist()
        else:
            flat = [_encode_cell(v) for v in value.ravel()]
        return {
            "__ndarray__": flat,
            "dtype": value.dtype.str if value.dtype.kind != "O" else "O",
            "shape": list(value.shape),
        }
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return _encode_scalar(value)


def _encode_cell(v: Any) -> Any:
    """A cell of an object array: as a scalar, but a NaN or infinity stays a float (in a
    column of mixed values, None and NaN are different missing values)."""
    if isinstance(v, (float, np.floating)) and not np.isfinite(v):
        return {"__float__": repr(float(v))}
    return _encode_scalar(v)


def _encode_scalar(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__ndarray__" in value:
        dtype = np.dtype(value["dtype"]) if value["dtype"] != "O" else np.dtype(object)
        flat = value["__ndarray__"]
        if dtype.kind in "fc":
            flat = [np.nan if v is None else v for v in flat]
        if dtype.kind == "O":
            flat = [float(v["__float__"]) if isinstance(v, dict) else v for v in flat]
        arr = np.array(flat, dtype=dtype) if flat else np.empty(0, dtype=dtype)
        return arr.reshape(value["shape"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class _JsonMixin:
    """to_json / from_json with a schema version and the result type's name."""

    _tuple_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        body = {f.name: _encode(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
        return {"schema_version": SCHEMA_VERSION, "type": type(self).__name__, **body}

    def to_json(self, path: str | None = None, *, indent: int | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    @classmethod
    def _check_header(cls, payload: Mapping[str, Any]) -> None:
        """Refuse a payload of another schema version or result type."""
        version = payload.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"Unsupported schema_version {version!r}; this pellucid reads {SCHEMA_VERSION}."
            )
        if payload.get("type") != cls.__name__:
            raise ValueError(
                f"Expected a {cls.__name__} payload, got type={payload.get('type')!r}."
            )

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]):
        cls._check_header(payload)
        kwargs = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in payload:
                continue
            value = _decode(payload[f.name])
            if f.name in cls._tuple_fields and value is not None:
                value = tuple(value)
            if f.name == "method":  # saved under an old alias (treeshap): the registered name
                value = canonical(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text_or_path: str):
        text = text_or_path
        if not text_or_path.lstrip().startswith("{"):
            with open(text_or_path, encoding="utf-8") as fh:
                text = fh.read()
        return cls.from_dict(json.loads(text))


def renderer(target: str) -> Any:
    """The render function a result names by import path, ``"module:function"``.

    Results sit below the render layer: like the registry naming methods, a result
    names its renderer and loads it only when asked to render, so no result module
    imports plots or the report.
    """
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _is_lazy(x: Any) -> bool:
    """A dask array: kept as it is until ``compute()``."""
    return type(x).__module__.split(".")[0] == "dask" and hasattr(x, "compute")


def _as_array(x: Any, dtype: Any = None) -> np.ndarray | None:
    if x is None or _is_lazy(x):
        return x
    return np.asarray(x, dtype=dtype)


def _freeze(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None or _is_lazy(arr):
        return arr
    if arr.flags.writeable:
        arr = arr.copy() if not arr.flags.owndata else arr
        arr.flags.writeable = False
    return arr


# ---------------------------------------------------------------- short reprs

REPR_LIMIT = 400  # characters of any result's repr: a summary, never the arrays


def _clip(text: str, limit: int = REPR_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _names(names: Sequence[Any] | None, shown: int = 6) -> str:
    """``'a', 'b', ... (+12 more)``: the first names of a possibly long list."""
    names = list(names or ())
    head = ", ".join(repr(n) for n in names[:shown])
    return head + (f", ... (+{len(names) - shown} more)" if len(names) > shown else "")


def _top(names: Sequence[str], scores: np.ndarray, k: int = 3) -> str:
    """The k largest scores by name, e.g. ``income 0.12, age 0.05``."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:k]
    return ", ".join(f"{names[i]} {scores[i]:.3g}" for i in order)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- Explanation

#: Diagnostics that hold one value per row and output (LIME's), cut along with the values
#: when one output is selected.
PER_OUTPUT_DIAGNOSTICS = ("fidelity", "local_prediction", "intercept")


class OutputSelectionError(KeyError, IndexError, ValueError):
    """:meth:`Explanation.select_output` cannot tell which output is meant: an unknown
    label (a KeyError), a position out of range (an IndexError), or no default among
    several outputs; a ValueError in every case (a bad argument value)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True, eq=False)
class Explanation(_JsonMixin):
    """Per-row attributions of a model's output to its input features.

    ``values``: ``(n_rows, n_features)`` for one output or
    ``(n_rows, n_features, n_outputs)`` for several (image and sequence
    methods use the input's own shape in place of ``n_features``).
    ``base_values``: the reference output, ``(n_rows,)`` or ``(n_rows, n_outputs)``.
    ``output``: the model output being explained, when known; for additive
    methods ``base_values + values.sum(features) == output`` and the residual
    is exposed as :attr:`additivity_gap` rather than hidden.
    ``std_errors``: standard errors of sampled estimates, ``None`` for exact ones.
    ``diagnostics``: per-row method diagnostics (e.g. LIME's ``fidelity``),
    each an array whose first axis is the rows.
    ``output_kind``: the unit of ``output``, ``base_values`` and ``values``: one of
    :data:`OUTPUT_KINDS` (``"probability"``, ``"log_odds"``, ``"raw_margin"`` (a
    model's untransformed score that is not log-odds, e.g. a Poisson log-rate),
    ``"regression"`` (the predicted value itself)); ``None`` when not known
    (e.g. an arbitrary callable or a neural network's logit).
    """

    values: np.ndarray
    base_values: np.ndarray | None = None
    data: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] | None = None
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    std_errors: np.ndarray | None = None
    output: np.ndarray | None = None
    diagnostics: Mapping[str, np.ndarray] = field(default_factory=dict)
    output_kind: str | None = None

    _tuple_fields = ("feature_names", "output_names")

    def __post_init__(self) -> None:
        values = self.values if _is_lazy(self.values) else np.asarray(self.values)
        if values.ndim < 2:
            raise ValueError(
                f"Explanation.values must have a row axis and a feature axis; got shape {values.shape}."
            )
        object.__setattr__(self, "values", _freeze(values))
        names = tuple(str(n) for n in self.feature_names) if self.feature_names else ()
        if not names and values.ndim - self._n_output_axes(values) == 2:
            names = tuple(f"x{i}" for i in range(values.shape[1]))
        object.__setattr__(self, "feature_names", names)
        if self.output_names is not None:
            object.__setattr__(self, "output_names", tuple(str(n) for n in self.output_names))
        for name in ("base_values", "std_errors", "output"):
            object.__setattr__(self, name, _freeze(_as_array(getattr(self, name), float)))
        object.__setattr__(self, "data", _freeze(_as_array(self.data)))
        object.__setattr__(
            self,
            "diagnostics",
            {k: _freeze(_as_array(v)) for k, v in self.diagnostics.items()},
        )
        object.__setattr__(self, "params", dict(self.params))
        if self.output_kind is not None and self.output_kind not in OUTPUT_KINDS:
            raise ValueError(
                f"output_kind must be one of {OUTPUT_KINDS} or None; got {self.output_kind!r}."
            )
        self._check_shapes()

    # -- shape bookkeeping ------------------------------------------------
    def _n_output_axes(self, values: np.ndarray) -> int:
        return 1 if self.output_names is not None and len(self.output_names) > 0 else 0

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_outputs(self) -> int:
        return len(self.output_names) if self.output_names else 1

    @property
    def multi_output(self) -> bool:
        return bool(self.output_names)

    @property
    def feature_shape(self) -> tuple[int, ...]:
        end = self.values.ndim - (1 if self.multi_output else 0)
        return tuple(self.values.shape[1:end])

    def _check_shapes(self) -> None:
        v = self.values
        if self.multi_output and v.shape[-1] != len(self.output_names or ()):
            raise ValueError(
                f"values has {v.shape[-1]} outputs on its last axis but output_names has "
                f"{len(self.output_names or ())}: {self.output_names}."
            )
        if len(self.feature_shape) == 1 and len(self.feature_names) != self.feature_shape[0]:
            raise ValueError(
                f"values has {self.feature_shape[0]} features but feature_names has "
                f"{len(self.feature_names)}."
            )
        row_shape = (v.shape[0],) + ((v.shape[-1],) if self.multi_output else ())
        for name in ("base_values", "output"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != row_shape:
                raise ValueError(f"{name} must have shape {row_shape}; got {arr.shape}.")
        if self.std_errors is not None and self.std_errors.shape != v.shape:
            raise ValueError(
                f"std_errors must match values' shape {v.shape}; got {self.std_errors.shape}."
            )
        if self.data is not None and self.data.shape[0] != v.shape[0]:
            raise ValueError(f"data has {self.data.shape[0]} rows but values has {v.shape[0]}.")
        for key, arr in self.diagnostics.items():
            if arr.ndim == 0 or arr.shape[0] != v.shape[0]:
                raise ValueError(
                    f"diagnostics[{key!r}] must have one entry per row ({v.shape[0]})."
                )

    # -- lazy (dask) results ---------------------------------------------------
    @property
    def is_lazy(self) -> bool:
        """True when the arrays are dask arrays not computed yet (see :meth:`compute`)."""
        return _is_lazy(self.values)

    def compute(self, **dask_options: Any) -> Explanation:
        """The in-memory Explanation: every lazy array computed in one pass.

        One pass matters: values, base values and diagnostics of a partition
        come from one explanation task, which then runs once.
        """
        names = ["values", "base_values", "data", "std_errors", "output"]
        lazy = {n: getattr(self, n) for n in names if _is_lazy(getattr(self, n))}
        lazy.update({f"diag:{k}": v for k, v in self.diagnostics.items() if _is_lazy(v)})
        if not lazy:
            return self
        import dask

        done = dict(zip(lazy, dask.compute(*lazy.values(), **dask_options), strict=True))
        diagnostics = {k: done.get(f"diag:{k}", v) for k, v in self.diagnostics.items()}
        fields_ = {n: done[n] for n in names if n in done}
        return replace(self, **fields_, diagnostics=diagnostics)

    # -- derived quantities -------------------------------------------------
    @property
    def additivity_gap(self) -> np.ndarray | None:
        """``base_values + sum(values over features) - output``; None when unknown."""
        if self.base_values is None or self.output is None:
            return None
        axes = tuple(range(1, 1 + len(self.feature_shape)))
        return self.base_values + self.values.sum(axis=axes) - self.output

    # -- slicing ------------------------------------------------------------
    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, key: Any) -> Explanation:
        """Slice by rows, then features (names or positions), then outputs (names or positions).

        Integer row indices keep the row axis (``exp[0]`` is a one-row Explanation).
        Selecting a single output drops the output axis.
        """
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) > 3:
            raise IndexError("Explanation takes at most 3 indices: rows, features, outputs.")
        rows = self._row_index(key[0]) if len(key) > 0 else slice(None)
        feats = self._feature_index(key[1]) if len(key) > 1 else slice(None)
        outs = self._output_index(key[2]) if len(key) > 2 else slice(None)
        return self._take(rows, feats, outs)

    def _row_index(self, k: Any) -> Any:
        if isinstance(k, (int, np.integer)):
            return [int(k)]
        return k

    def _feature_index(self, k: Any) -> Any:
        if len(self.feature_shape) != 1:
            if isinstance(k, slice) and k == slice(None):
                return k
            raise IndexError("Feature slicing by name needs a tabular Explanation.")
        return _resolve(k, self.feature_names, "feature")

    def _output_index(self, k: Any) -> Any:
        if not self.multi_output:
            if isinstance(k, slice) and k == slice(None):
                return k
            raise IndexError("This Explanation has a single output; there is no output axis.")
        return _resolve(k, self.output_names or (), "output")

    def _take(self, rows: Any, feats: Any, outs: Any) -> Explanation:
        single_output = isinstance(outs, int)
        tabular = len(self.feature_shape) == 1

        def cut_values(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            a = a[rows]
            if tabular:
                a = a[:, feats] if not isinstance(feats, int) else a[:, [feats]]
            if self.multi_output:
                a = a[..., outs]
            return a

        def cut_rowwise(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            a = a[rows]
            if self.multi_output:
                a = a[..., outs]
            return a

        names = self.feature_names
        if tabular and names:
            idx = np.arange(len(names))[feats] if not isinstance(feats, int) else [feats]
            names = tuple(names[i] for i in np.atleast_1d(idx))
        data = self.data
        if data is not None:
            data = data[rows]
            if tabular and data.ndim == 2:
                data = data[:, feats] if not isinstance(feats, int) else data[:, [feats]]
        out_names = self.output_names
        if self.multi_output:
            if single_output:
                out_names = None
            else:
                idx = np.arange(len(out_names or ()))[outs]
                out_names = tuple((out_names or ())[i] for i in np.atleast_1d(idx))
        # Feature subsets break additivity against the full output, so drop `output` then.
        keeps_all_features = isinstance(feats, slice) and feats == slice(None)
        return replace(
            self,
            values=cut_values(self.values),  # type: ignore[arg-type]
            std_errors=cut_values(self.std_errors),
            base_values=cut_rowwise(self.base_values),
            output=cut_rowwise(self.output) if keeps_all_features else None,
            data=data,
            feature_names=names,
            output_names=out_names,
            diagnostics={k: v[rows] for k, v in self.diagnostics.items()},
        )

    # -- one output -----------------------------------------------------------
    def output_index(self, output: Any = None) -> np.ndarray:
        """Per row, the position of the output that ``output`` names (shape ``(n_rows,)``).

        ``output`` is None (the only output, or the last of two: a binary
        classifier's positive class; with more outputs there is no default),
        a label (an entry of ``output_names``, compared as text), a position
        (an int; negative counts from the end) or ``"predicted"`` (each row's
        largest output, read from ``output`` or ``base_values + values``).
        """
        n = self.n_rows
        names = list(self.output_names or ())
        is_position = isinstance(output, (int, np.integer)) and not isinstance(
            output, (bool, np.bool_)
        )
        if not self.multi_output:
            if output is None or output == "predicted" or (is_position and int(output) in (0, -1)):
                return np.zeros(n, dtype=np.intp)
            raise OutputSelectionError(
                f"This Explanation has a single output; output={output!r} does not apply."
            )
        k = len(names)
        if output is None:
            if k > 2:
                raise OutputSelectionError(
                    f"This Explanation has {k} outputs {names}; pass output= a label, a "
                    "position or 'predicted' to say which one."
                )
            return np.full(n, k - 1, dtype=np.intp)
        if isinstance(output, str) and output == "predicted" and output not in names:
            return np.argmax(self._output_totals(), axis=1).astype(np.intp)
        if is_position:
            if not -k <= int(output) < k:
                raise OutputSelectionError(
                    f"output={int(output)} is out of range for the {k} outputs {names}."
                )
            return np.full(n, int(output) % k, dtype=np.intp)
        if str(output) not in names:
            raise OutputSelectionError(
                f"Unknown output {output!r}; this Explanation's outputs are {names}."
            )
        return np.full(n, names.index(str(output)), dtype=np.intp)

    def _output_totals(self) -> np.ndarray:
        """Per row and output, the explained model output (recorded, else base + values)."""
        if self.output is not None:
            return np.asarray(self.output)
        if self.base_values is None:
            raise OutputSelectionError(
                "output='predicted' needs the explained output or base_values; this "
                "Explanation has neither: pass a label or a position."
            )
        axes = tuple(range(1, 1 + len(self.feature_shape)))
        return np.asarray(self.base_values + np.asarray(self.values).sum(axis=axes))

    def select_output(self, output: Any = None) -> Explanation:
        """The Explanation of one output: ``values`` ``(n_rows, *feature_shape)``,
        ``base_values``, ``output`` ``(n_rows,)``.

        ``output`` as in :meth:`output_index`: None (the only output, or the
        positive class of two), a label, a position or ``"predicted"`` (each
        row its own largest output). Per-output diagnostics (LIME's fidelity,
        local prediction and intercept) are cut along. A label the Explanation
        does not have raises :class:`OutputSelectionError` naming the outputs
        it has.
        """
        positions = self.output_index(output)
        if not self.multi_output:
            return self
        k = self.n_outputs
        if positions.size and np.all(positions == positions[0]):
            pick: Any = int(positions[0])
        else:
            pick = positions  # one output per row ("predicted")
        rows = np.arange(self.n_rows)

        def cut(a: Any) -> Any:
            if a is None:
                return None
            return a[..., pick] if isinstance(pick, int) else a[rows, ..., pick]

        diagnostics = {
            key: cut(arr)
            if key in PER_OUTPUT_DIAGNOSTICS and arr.ndim == 2 and arr.shape[1] == k
            else arr
            for key, arr in self.diagnostics.items()
        }
        return replace(
            self,
            values=cut(self.values),
            std_errors=cut(self.std_errors),
            base_values=cut(self.base_values),
            output=cut(self.output),
            output_names=None,
            diagnostics=diagnostics,
        )

    # -- conversion -----------------------------------------------------------
    def to_frame(self) -> Any:
        """A DataFrame of values: one row per explained row (and output), one column per feature."""
        import pandas as pd

        if len(self.feature_shape) != 1:
            raise ValueError(
                "to_frame() needs a tabular Explanation (values of shape (n, d[, k]))."
            )
        if not self.multi_output:
            return pd.DataFrame(np.asarray(self.values), columns=list(self.feature_names))
        n, d, k = self.values.shape
        flat = np.asarray(self.values).transpose(0, 2, 1).reshape(n * k, d)
        index = pd.MultiIndex.from_product(
            [range(n), list(self.output_names or ())], names=["row", "output"]
        )
        return pd.DataFrame(flat, index=index, columns=list(self.feature_names))

    def mean_abs(self) -> np.ndarray:
        """Mean absolute attribution per feature (and output): the usual global summary."""
        return np.abs(self.values).mean(axis=0)

    def _repr_html_(self) -> str:
        head = (
            f"<b>Explanation</b> method={html.escape(self.method or '?')}, "
            f"{self.n_rows} rows, shape {self.values.shape}"
        )
        if len(self.feature_shape) != 1:
            return f"<div>{head}</div>"
        imp = self.mean_abs()
        if imp.ndim > 1:
            imp = imp.mean(axis=-1)
        order = np.argsort(-imp)[:20]
        rows = "".join(
            f"<tr><td>{html.escape(self.feature_names[i])}</td><td>{imp[i]:.4g}</td></tr>"
            for i in order
        )
        return (
            f"<div>{head}<table><thead><tr><th>feature</th><th>mean |value|</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        outputs = f", outputs=[{_names(self.output_names)}]" if self.multi_output else ""
        kind = f", output_kind={self.output_kind!r}" if self.output_kind else ""
        return _clip(
            f"Explanation(method={self.method!r}, {self.n_rows} rows, "
            f"values shape={tuple(self.values.shape)}, features=[{_names(self.feature_names)}]"
            f"{outputs}{kind}{', lazy' if self.is_lazy else ''})"
        )


def _resolve(k: Any, names: Sequence[str], what: str) -> Any:
    """Turn names into positions; leave slices and integer indices alone."""
    if isinstance(k, str):
        try:
            return list(names).index(k)
        except ValueError:
            raise KeyError(f"Unknown {what} {k!r}; known: {list(names)}") from None
    if isinstance(k, (list, tuple, np.ndarray)) and len(k) and isinstance(k[0], str):
        return [_resolve(x, names, what) for x in k]
    if isinstance(k, np.integer):
        return int(k)
    return k


# ---------------------------------------------------------------- FeatureImportance


@dataclass(frozen=True, eq=False)
class FeatureImportance(_JsonMixin):
    """Global importance per feature, with repeats and a 95% interval.

    ``importances`` is ``(n_features, n_repeats)``; mean, std and the interval
    are derived from it (``ci_low``/``ci_high`` use the t distribution).
    """

    importances: np.ndarray
    feature_names: tuple[str, ...]
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    baseline_score: float | None = None

    _tuple_fields = ("feature_names",)

    def __post_init__(self) -> None:
        imp = np.asarray(self.importances, dtype=float)
        if imp.ndim == 1:
            imp = imp[:, None]
        if imp.ndim != 2 or imp.shape[0] != len(self.feature_names):
            raise ValueError(
                f"importances must be (n_features={len(self.feature_names)}, n_repeats); "
                f"got {imp.shape}."
            )
        object.__setattr__(self, "importances", _freeze(imp))
        object.__setattr__(self, "feature_names", tuple(str(n) for n in self.feature_names))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def importances_mean(self) -> np.ndarray:
        return self.importances.mean(axis=1)

    @property
    def importances_std(self) -> np.ndarray:
        return self.importances.std(axis=1)

    def _half_width(self) -> np.ndarray:
        from scipy import stats

        r = self.importances.shape[1]
        if r < 2:
            return np.full(len(self.feature_names), np.nan)
        sem = self.importances.std(axis=1, ddof=1) / np.sqrt(r)
        return stats.t.ppf(0.975, r - 1) * sem

    @property
    def ci_low(self) -> np.ndarray:
        return self.importances_mean - self._half_width()

    @property
    def ci_high(self) -> np.ndarray:
        return self.importances_mean + self._half_width()

    def to_frame(self, sort: bool = True) -> Any:
        import pandas as pd

        frame = pd.DataFrame(
            {
                "feature": list(self.feature_names),
                "importance": self.importances_mean,
                "std": self.importances_std,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )
        if sort:
            frame = frame.sort_values("importance", ascending=False, kind="stable")
        return frame.reset_index(drop=True)

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}"))

    def __repr__(self) -> str:
        n, r = self.importances.shape
        return _clip(
            f"FeatureImportance(method={self.method!r}, {n} features x {r} repeats, "
            f"top: {_top(self.feature_names, self.importances_mean)})"
        )


# ---------------------------------------------------------------- PartialDependence


@dataclass(frozen=True, eq=False)
class PartialDependence(_JsonMixin):
    """Partial dependence, ICE or ALE of one or two features.

    ``grid_values``: one array per feature. ``average``:
    ``(n_outputs, len(grid_0)[, len(grid_1)])``. ``individual`` (ICE):
    ``(n_outputs, n_rows, len(grid_0)[, len(grid_1)])`` or None.
    ``kind`` is "average", "individual", "both" or "ale".
    """

    features: tuple[str, ...]
    grid_values: tuple[np.ndarray, ...]
    average: np.ndarray | None
    individual: np.ndarray | None = None
    kind: str = "average"
    output_names: tuple[str, ...] | None = None
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    categorical: tuple[bool, ...] = ()

    _tuple_fields = ("features", "grid_values", "output_names", "categorical")

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))
        object.__setattr__(
            self, "grid_values", tuple(_freeze(np.asarray(g)) for g in self.grid_values)
        )
        if len(self.grid_values) != len(self.features):
            raise ValueError("grid_values needs one array per feature.")
        object.__setattr__(self, "average", _freeze(_as_array(self.average, float)))
        object.__setattr__(self, "individual", _freeze(_as_array(self.individual, float)))
        if self.output_names is not None:
            object.__setattr__(self, "output_names", tuple(str(n) for n in self.output_names))
        if not self.categorical:
            object.__setattr__(self, "categorical", (False,) * len(self.features))
        object.__setattr__(self, "params", dict(self.params))
        grid_shape = tuple(len(g) for g in self.grid_values)
        if self.average is not None and self.average.shape[1:] != grid_shape:
            raise ValueError(
                f"average must be (n_outputs, *{grid_shape}); got {self.average.shape}."
            )
        if self.individual is not None and self.individual.shape[2:] != grid_shape:
            raise ValueError(
                f"individual must be (n_outputs, n_rows, *{grid_shape}); got {self.individual.shape}."
            )

    def to_frame(self) -> Any:
        """Long format: one row per (output, grid point)."""
        import pandas as pd

        if self.average is None:
            raise ValueError("This result holds only individual (ICE) curves.")
        grids = np.meshgrid(*self.grid_values, indexing="ij")
        outs = self.output_names or tuple(str(i) for i in range(self.average.shape[0]))
        parts = []
        for o, name in enumerate(outs):
            cols = {f: g.ravel() for f, g in zip(self.features, grids, strict=True)}
            cols["value"] = self.average[o].ravel()
            parts.append(pd.DataFrame({"output": name, **cols}))
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        grid = "x".join(str(len(g)) for g in self.grid_values)
        source = self.average if self.average is not None else self.individual
        n_outputs = 0 if source is None else source.shape[0]
        ice = "" if self.individual is None else f", ICE of {self.individual.shape[1]} rows"
        return _clip(
            f"PartialDependence(kind={self.kind!r}, features=[{_names(self.features)}], "
            f"grid {grid}, {n_outputs} output(s){ice}, method={self.method!r})"
        )

    def _repr_html_(self) -> str:
        """The average curve at up to 12 grid points (one feature), else the summary."""
        head = f"<b>{html.escape(repr(self))}</b>"
        if self.average is None or len(self.features) != 1:
            return f"<div>{head}</div>"
        grid = self.grid_values[0]
        at = np.unique(np.linspace(0, len(grid) - 1, min(len(grid), 12)).round().astype(int))
        outs = self.output_names or tuple(str(i) for i in range(self.average.shape[0]))
        rows = [
            [_cell(grid[i])] + [f"{self.average[o, i]:.4g}" for o in range(len(outs))] for i in at
        ]
        return f"<div>{head}{_html_table([self.features[0], *outs], rows)}</div>"


def _cell(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


# ---------------------------------------------------------------- HStatistic


@dataclass(frozen=True, eq=False)
class HStatistic(_JsonMixin):
    """Friedman's H-squared of a pair of features, or of one feature against all others.

    ``values``: one H^2 in [0, 1] per model output (0: no interaction).
    :attr:`value` (and ``float(result)``) is the number of a one-output model,
    as :func:`pellucid.h_statistic` returned before it returned this object.
    ``n_rows``: the rows the partial dependences were evaluated at.
    """

    features: tuple[str, ...]
    values: np.ndarray
    n_rows: int
    output_names: tuple[str, ...] | None = None
    method: str = "h_statistic"
    params: Mapping[str, Any] = field(default_factory=dict)

    _tuple_fields = ("features", "output_names")

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(str(f) for f in self.features))
        values = np.atleast_1d(np.asarray(self.values, dtype=float))
        if values.ndim != 1:
            raise ValueError(f"values must be one H^2 per output; got shape {values.shape}.")
        object.__setattr__(self, "values", _freeze(values))
        if self.output_names is not None:
            names = tuple(str(n) for n in self.output_names)
            if len(names) != len(values):
                raise ValueError(f"{len(values)} values but {len(names)} output_names.")
            object.__setattr__(self, "output_names", names)
        object.__setattr__(self, "n_rows", int(self.n_rows))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def pair(self) -> bool:
        """True for a pair's interaction, False for one feature's with all the others."""
        return len(self.features) == 2

    @property
    def value(self) -> float:
        """H^2 of a one-output model; several outputs: use :attr:`values`."""
        if len(self.values) != 1:
            raise ValueError(
                f"This model has {len(self.values)} outputs, so there is one H^2 per output: "
                "use .values (or .to_frame())."
            )
        return float(self.values[0])

    def __float__(self) -> float:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else repr(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # np.asarray(result) gives the values, so array code written for the old return works.
        return np.asarray(self.values if len(self.values) > 1 else self.values[0], dtype=dtype)

    def __lt__(self, other: Any) -> bool:
        return self.value < other

    def __le__(self, other: Any) -> bool:
        return self.value <= other

    def __gt__(self, other: Any) -> bool:
        return self.value > other

    def __ge__(self, other: Any) -> bool:
        return self.value >= other

    def to_frame(self) -> Any:
        """One row per output: the features, the output's name and its H^2."""
        import pandas as pd

        outs = self.output_names or tuple(str(i) for i in range(len(self.values)))
        return pd.DataFrame(
            {"features": " x ".join(self.features), "output": list(outs), "h2": self.values}
        )

    def __repr__(self) -> str:
        values = ", ".join(f"{v:.4g}" for v in self.values[:8])
        more = f", ... (+{len(self.values) - 8} more)" if len(self.values) > 8 else ""
        h2 = values if len(self.values) == 1 else f"[{values}{more}]"
        return _clip(
            f"HStatistic(features=[{_names(self.features)}], h2={h2}, n_rows={self.n_rows})"
        )

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4g}"))


# ---------------------------------------------------------------- Anchor


def exact_number(v: float) -> str:
    """The shortest text that reads back as exactly ``v``, with thousands separators.

    ``1080.5`` prints as ``1,080.5`` (never ``1,080``), ``1080.0`` as ``1,080``.
    """
    text = format(float(v), ",")
    return text[:-2] if text.endswith(".0") else text


def _is_missing(v: Any) -> bool:
    # JSON stores NaN as null, so None reads as "missing" too.
    return v is None or (isinstance(v, float) and np.isnan(v))


def _isna(col: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(col), dtype=bool)


@dataclass(frozen=True)
class Predicate:
    """One condition of an anchor rule: ``feature op value``."""

    feature: str
    op: str
    value: Any

    _OPS = ("<", "<=", ">", ">=", "==", "!=", "in")

    def __post_init__(self) -> None:
        if self.op not in self._OPS:
            raise ValueError(f"Unknown operator {self.op!r}; expected one of {self._OPS}.")

    def mask(self, column: Any) -> np.ndarray:
        col = np.asarray(column)
        if self.op == "in":
            return np.isin(col, list(self.value))
        if self.op in ("==", "!="):
            # "== nan" means "is missing" (Anchors uses it for a missing value).
            eq = _isna(col) if _is_missing(self.value) else col == self.value
            return eq if self.op == "==" else ~eq
        colf = col.astype(float)
        with np.errstate(invalid="ignore"):
            return {
                "<": colf < self.value,
                "<=": colf <= self.value,
                ">": colf > self.value,
                ">=": colf >= self.value,
            }[self.op]

    def __str__(self) -> str:
        v = self.value
        if self.op in ("==", "!=") and _is_missing(v):
            return f"{self.feature} is {'' if self.op == '==' else 'not '}missing"
        if isinstance(v, str):
            text = repr(v)
        elif isinstance(v, (float, np.floating)):
            text = exact_number(float(v))  # the printed rule is the rule mask() applies
        elif isinstance(v, (list, tuple)):
            text = "{" + ", ".join(repr(x) for x in v) + "}"
        else:
            text = str(v)
        return f"{self.feature} {self.op} {text}"


@dataclass(frozen=True, eq=False)
class Anchor(_JsonMixin):
    """A rule that holds the model's prediction fixed with high precision."""

    predicates: tuple[Predicate, ...]
    precision: float
    coverage: float
    prediction: Any = None
    feature_names: tuple[str, ...] = ()
    examples_covered: np.ndarray | None = None
    examples_failed: np.ndarray | None = None
    method: str = "anchors"
    params: Mapping[str, Any] = field(default_factory=dict)

    _tuple_fields = ("feature_names",)

    def __post_init__(self) -> None:
        preds = tuple(p if isinstance(p, Predicate) else Predicate(**p) for p in self.predicates)
        object.__setattr__(self, "predicates", preds)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def rule(self) -> str:
        return " AND ".join(str(p) for p in self.predicates) if self.predicates else "(any)"

    def covers(self, X: Any) -> np.ndarray:
        """Boolean mask of the rows of ``X`` (DataFrame, or array in feature_names order)."""
        import pandas as pd

        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.feature_names)
        mask = np.ones(len(frame), dtype=bool)
        for p in self.predicates:
            if p.feature not in frame.columns:
                raise KeyError(f"Column {p.feature!r} used by the anchor is missing from X.")
            mask &= p.mask(frame[p.feature].to_numpy())
        return mask

    def to_dict(self) -> dict[str, Any]:
        payload = super().to_dict()
        payload["predicates"] = [
            {"feature": p.feature, "op": p.op, "value": _encode(p.value)} for p in self.predicates
        ]
        return payload

    def __str__(self) -> str:
        return f"IF {self.rule} THEN predict {self.prediction!r} (precision {self.precision:.2f}, coverage {self.coverage:.2f})"

    def __repr__(self) -> str:
        return (
            f"Anchor(rule={_clip(self.rule, 240)!r}, prediction={_clip(repr(self.prediction), 40)}, "
            f"precision={self.precision:.3g}, coverage={self.coverage:.3g})"
        )

    def _repr_html_(self) -> str:
        rows = [[str(p)] for p in self.predicates] or [["(any)"]]
        head = (
            f"<b>Anchor</b>: predict {html.escape(repr(self.prediction))} with precision "
            f"{self.precision:.3g} on coverage {self.coverage:.3g} when all of"
        )
        return f"<div>{head}{_html_table(['condition'], rows)}</div>"
