"""One explainer protocol: settings in the constructor, data in ``explain``.

Every explainer is built as ``Explainer(model, data=None, **settings)``: the
constructor holds every setting, ``random_state`` included, and keeps each one
as an attribute of the same name (shown in the repr and in :attr:`settings`).
``explain(X, **per_call)`` takes the data to explain and only choices that
belong to one call (a target class, a desired outcome). So an explainer is a
complete, reusable description of a method: the registry, the dispatcher, the
CLI, the report and the service build one from ``(model, data, settings)`` and
call ``explain(X)``.

Names with one meaning each: ``data`` is the reference data (background rows,
training rows), ``feature_groups`` feature coalitions, ``n_jobs`` how many rows
are explained at once (worker processes, see :mod:`pellucid.scale`) and
``model_threads`` the threads inside model calls; ``chunk_rows`` the rows per
worker task.

For one release, settings passed to ``explain`` still override the
constructor's (with a FutureWarning naming the constructor argument), and the
old names of renamed arguments (``background=``, ``training_data=``,
``groups=``) are accepted with a FutureWarning.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "UNSET",
    "Explainer",
    "ExplainerBase",
    "renamed_argument",
    "warn_per_call",
    "with_seed",
]

#: Whether settings passed per call (and renamed arguments) warn. One switch, so a
#: release can turn every deprecation on together once the callers have moved.
WARN_DEPRECATED = True


class _Unset:
    """The default of a deprecated argument: tells "not given" from any value (None too)."""

    _instance: ClassVar[_Unset | None] = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self) -> str:  # one instance, also after pickling (worker processes)
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final[Any] = _Unset()


@runtime_checkable
class Explainer(Protocol):
    """What every registered explainer class provides.

    ``Explainer(model, data=None, **settings)`` holds every setting;
    ``explain(X, **per_call)`` explains the rows (or text, image, tensor) ``X``
    and returns a result object (:class:`~pellucid.Explanation`,
    :class:`~pellucid.Anchor`, ...).
    """

    def explain(self, X: Any, /) -> Any:
        """The result for the rows of ``X``."""
        ...


class ExplainerBase:
    """Settings as attributes, a short repr, and the one-release per-call overrides.

    The settings are the constructor's keyword-only parameters (all but
    ``model``, ``data`` and deprecated aliases, listed in ``_renamed``); each is
    stored as an attribute of the same name.
    """

    #: Deprecated constructor argument -> its new name.
    _renamed: ClassVar[Mapping[str, str]] = {}
    #: The settings read when ``explain`` runs (not baked into what the constructor
    #: computed): :meth:`with_settings` may change them on a copy.
    _call_settings: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The constructor's settings, in signature order."""
        params = inspect.signature(cls.__init__).parameters.values()
        return tuple(
            p.name
            for p in params
            if p.kind is p.KEYWORD_ONLY and p.name not in cls._renamed and p.name != "data"
        )

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting and its value, as given to the constructor (validated)."""
        return {name: getattr(self, name) for name in self.setting_names()}

    def with_settings(self, **changes: Any) -> Any:
        """A copy of this explainer with some settings changed (the model, the data
        and what was computed from them are shared, not copied). Only settings read
        when ``explain`` runs can change; for the others build a new explainer."""
        fixed = set(changes) - set(self._call_settings)
        if fixed:
            raise TypeError(
                f"{type(self).__name__}.with_settings can change {list(self._call_settings)}; "
                f"got {sorted(fixed)}: build a new {type(self).__name__} for those."
            )
        clone = copy.copy(self)
        for name, value in changes.items():
            setattr(clone, name, value)
        return clone

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.settings.items())
        return f"{type(self).__name__}({shown})"

    def _with_overrides(self, **given: Any) -> dict[str, Any]:
        """The settings, with each per-call value that was given (not UNSET) in place
        (silently: :func:`warn_per_call` says it once, where the call came in)."""
        return {
            **self.settings,
            **{k: v for k, v in given.items() if v is not UNSET},
        }


def with_seed(explainer: Any, random_state: Any) -> Any:
    """``explainer`` with ``random_state`` as its seed setting, for callers that seed
    each call (a seed per repeat); None when it holds no seed setting."""
    if "random_state" not in getattr(explainer, "_call_settings", ()):
        return None
    if random_state is None:
        return explainer
    return explainer.with_settings(random_state=random_state)


def warn_per_call(explainer: Any, given: Mapping[str, Any], stacklevel: int = 3) -> None:
    """FutureWarning for settings passed to ``explain`` rather than the constructor."""
    passed = [k for k, v in given.items() if v is not UNSET]
    if not passed or not WARN_DEPRECATED:
        return
    cls = type(explainer).__name__
    args = ", ".join(f"{k}=..." for k in passed)
    warnings.warn(
        f"{cls}.explain({args}) is deprecated: settings belong to the constructor, "
        f"{cls}(model, data, {args}).explain(X). Passing them to explain() will stop "
        "working in the next release.",
        FutureWarning,
        stacklevel=stacklevel,
    )


def renamed_argument(
    owner: str,
    old: str,
    new: str,
    old_value: Any,
    new_value: Any,
    default: Any = None,
    stacklevel: int = 3,
) -> Any:
    """The value of ``new`` when the caller may have used its deprecated name ``old``.

    ``old_value`` is UNSET when the old name was not given; giving both is an error.
    ``stacklevel``: the warning's, counted from here (3: the caller of the function
    that calls this one).
    """
    if old_value is UNSET:
        return new_value
    if new_value is not default:
        raise TypeError(f"{owner} got both {new}= and its old name {old}=; pass only {new}=.")
    if WARN_DEPRECATED:
        warnings.warn(
            f"{owner}({old}=...) is deprecated: the argument is now called {new}=. "
            f"{old}= will stop working in the next release.",
            FutureWarning,
            stacklevel=stacklevel,
        )
    return old_value


def _short(value: Any) -> str:
    """A setting's value in a few characters (arrays and tables by their shape)."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if hasattr(value, "shape") and hasattr(value, "dtypes"):
        return f"<{type(value).__name__} {tuple(value.shape)}>"
    if callable(value) and not isinstance(value, type):
        return f"<{getattr(value, '__name__', type(value).__name__)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
