"""What every PyTorch explainer shares: inputs, targets, batching and the lifecycle.

:meth:`TorchExplainer.explain` converts the inputs to the model's device and
dtype, puts the model in eval mode, lets the subclass register its hooks (or
canonizers), calls the one abstract method :meth:`TorchExplainer._attribute`,
and always removes the hooks and restores the training flags in ``finally``,
so the model leaves exactly as it came, even on error.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .._protocol import ExplainerBase
from .._results import Explanation

__all__ = ["TorchExplainer", "as_module"]


def as_module(model: Any) -> torch.nn.Module:
    """The ``torch.nn.Module`` behind ``model`` (a module or a pellucid ``Model`` wrapping one)."""
    raw = getattr(model, "raw_model", model)
    if not isinstance(raw, torch.nn.Module):
        raise TypeError(
            f"Expected a torch.nn.Module (or pellucid.Model wrapping one); got {type(raw).__name__}."
        )
    return raw


def model_device_dtype(model: torch.nn.Module) -> tuple[torch.device, torch.dtype | None]:
    """Device and floating dtype of the model's first floating parameter or buffer."""
    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), None


# Default samples per forward/backward pass. On a GPU a pass should be big enough for
# the arithmetic, not the kernel launches, to set the time. On the CPU a pass holds
# about CPU_PASS_ELEMENTS input numbers (512 KiB in float32), between 1 and
# CPU_MAX_PASS samples: bigger passes allocate activations that glibc may hand back to
# the OS when the pass ends and fault in again (zeroed) in the next one. Measured on
# the 2-core dev VM (1 thread): a 160-image gradient pass of a 3x32x32 CNN took ~25%
# longer than four 40-image passes when that happened, and about 3% less when it did
# not; on 8x8 digits, 500-image passes beat 250-image ones either way.
DEFAULT_PASS = 256
CPU_PASS_ELEMENTS = 2**17
CPU_MAX_PASS = 512


def pass_size(batch_size: int | None, x: torch.Tensor) -> int:
    """Samples per pass: ``batch_size`` if given, else the default for ``x``'s device."""
    if batch_size is not None:
        return batch_size
    if x.device.type != "cpu":
        return DEFAULT_PASS
    per_row = max(1, x.numel() // max(1, x.shape[0]))
    return max(1, min(CPU_MAX_PASS, CPU_PASS_ELEMENTS // per_row))


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def select(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The explained output of each row: ``out[i, targets[i]]`` (or ``out[i]`` for one output)."""
    if out.ndim == 1:
        return out
    if out.ndim == 2:
        if out.shape[1] == 1:
            return out[:, 0]
        return out.gather(1, targets.view(-1, 1)).squeeze(1)
    raise ValueError(
        f"The model's output must be (n,) or (n, n_outputs); got shape {tuple(out.shape)}."
    )


def resolve_targets(out: torch.Tensor, target: Any, rows: slice) -> torch.Tensor:
    """Per-row target indices for the rows ``rows`` of the full input.

    ``target`` is None (the predicted class), an int or a numpy array of one int
    per input row (checked on the host, so no GPU sync), or a tensor made
    internally (already checked).
    """
    n = out.shape[0]
    if target is None:
        if out.ndim == 2 and out.shape[1] > 1:
            return out.detach().argmax(dim=1)
        return torch.zeros(n, dtype=torch.long, device=out.device)
    if isinstance(target, torch.Tensor):
        return target[rows]
    k = out.shape[1] if out.ndim == 2 else 1
    arr = np.full(n, target) if np.ndim(target) == 0 else np.asarray(target)[rows]
    bad = np.flatnonzero((arr < 0) | (arr >= k))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"target {int(arr[i])} (row {rows.start + i}) is out of range for a model "
            f"with {k} output(s)."
        )
    return from_array(arr, torch.long).to(out.device, non_blocking=True)


def check_target(target: Any, n: int) -> Any:
    """Validate the shape of a user target once, at the boundary."""
    if target is None or isinstance(target, (int, np.integer)):
        return target
    arr = np.asarray(target.detach().cpu() if isinstance(target, torch.Tensor) else target)
    if arr.ndim == 0:
        return int(arr)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(
            f"target must be None, an int or one int per row ({n}); got shape {arr.shape}."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"target must hold integers; got dtype {arr.dtype}.")
    return arr


def from_array(arr: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``torch.as_tensor(arr)``, copying a read-only array first: torch cannot wrap one
    (it warns), and pellucid hands out read-only arrays (``Explanation`` fields, the
    batches explainers pass to a model)."""
    return torch.as_tensor(arr if arr.flags.writeable else arr.copy(), dtype=dtype)


def to_tensor(x: Any, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """Inputs (tensor, array, DataFrame, list) as a tensor on the model's device and dtype."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        if hasattr(x, "to_numpy"):
            x = x.to_numpy()
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"Inputs must be numeric; got dtype {arr.dtype}.")
        t = from_array(arr)
    if dtype is None:
        dtype = t.dtype if t.is_floating_point() else torch.get_default_dtype()
    t = t.to(device=device, dtype=dtype)
    if t.ndim < 2:
        raise ValueError(
            f"Inputs need a row axis and at least one feature axis; got shape {tuple(t.shape)}."
        )
    if t.shape[0] == 0:
        raise ValueError("Inputs have no rows.")
    if not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).reshape(t.shape[0], -1).any(dim=1).nonzero()[0, 0]
        raise ValueError(f"Inputs contain NaN or infinite values (row {int(bad)}).")
    return t


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Detached CPU copy; bfloat16/float16 become float32 (numpy has no bfloat16)."""
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    # copy once, straight into an array that owns its memory (Explanation keeps it as is)
    out = np.empty(tuple(t.shape), dtype=torch.empty(0, dtype=t.dtype).numpy().dtype)
    torch.from_numpy(out).copy_(t)
    return out


def hooks_snapshot(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """Number of hooks of each kind on every submodule (used by tests and checks)."""
    kinds = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
    )
    return {name: tuple(len(getattr(m, k, {})) for k in kinds) for name, m in model.named_modules()}


@dataclass
class Result:
    """What :meth:`TorchExplainer._attribute` returns; the base class builds the Explanation."""

    values: torch.Tensor
    output: torch.Tensor | None = None
    base_values: torch.Tensor | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    std_errors: torch.Tensor | None = None


class TorchExplainer(ExplainerBase):
    """Base class: the lifecycle around one abstract method, ``_attribute``.

    Follows the explainer protocol (:mod:`pellucid._protocol`):
    ``Explainer(model, baselines, **settings)`` holds every setting (validated
    there, shown in the repr and :attr:`settings`); ``explain(inputs, *,
    target=None)`` takes the inputs and each row's target, and subclasses add
    only per-call data (integrated gradients' per-row ``baselines``).
    ``baselines`` are the reference data (like the tabular explainers' ``data``),
    so they are not among the settings.

    ``batch_size``: at most this many samples (input rows, noisy copies, path
    points) per forward/backward pass, which bounds memory. None (default): 256
    on a GPU; on the CPU as many as keep a pass's input to about 2**17 numbers
    (at most 512), which keeps big activations out of page faults.
    """

    method = ""
    #: The constructor's reference-data argument (not a setting).
    _data_arg: ClassVar[str] = "baselines"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every setting is read when explain runs: with_settings may change any of them
        cls._call_settings = cls.setting_names()

    def __init__(self, model: Any, *, batch_size: int | None = None) -> None:
        self.model = as_module(model)
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        # samples per forward/backward pass (bounds memory); None: see pass_size
        self.batch_size = None if batch_size is None else int(batch_size)

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The constructor's arguments after the model, but the reference data
        (a Grad-CAM ``layer`` may be given by position: it is a setting)."""
        params = list(inspect.signature(cls.__init__).parameters.values())[2:]
        return tuple(
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name != cls._data_arg
            and p.name not in cls._renamed
        )

    def with_settings(self, **changes: Any) -> Any:
        """A new explainer of the same model and baselines with some settings
        changed, built (and so validated) by the constructor."""
        unknown = set(changes) - set(self.setting_names())
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no setting(s) {sorted(unknown)}; "
                f"its settings: {list(self.setting_names())}."
            )
        data = (getattr(self, self._data_arg),) if self._takes_data() else ()
        return type(self)(self.model, *data, **{**self.settings, **changes})

    @classmethod
    def _takes_data(cls) -> bool:
        return cls._data_arg in inspect.signature(cls.__init__).parameters

    def _pass(self, x: torch.Tensor) -> int:
        """Samples per forward/backward pass for inputs like ``x``."""
        return pass_size(self.batch_size, x)

    # -- subclass interface ------------------------------------------------
    def _register(self, model: torch.nn.Module, x: torch.Tensor, handles: HookHandles) -> None:
        """Register hooks/canonizers, adding to ``handles`` whatever ``remove()`` must undo.

        Handles added before an error are still removed.
        """

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        raise NotImplementedError

    def _params(self) -> dict[str, Any]:
        return {}

    # -- lifecycle -------------------------------------------------------------
    def explain(self, inputs: Any, *, target: Any = None) -> Explanation:
        """Attributions of ``model(inputs)[i, target[i]]`` to every input element.

        ``inputs``: a tensor or array ``(n, *input_shape)``; ``target``: None (each
        row's predicted class), an int, or one int per row. Returns an
        :class:`~pellucid.Explanation` whose ``values`` have the input's shape.
        """
        return self._explain(inputs, target)

    def _explain(self, inputs: Any, target: Any, **per_call: Any) -> Explanation:
        """The lifecycle around ``_attribute(x, target, **per_call)``; ``per_call``
        holds only the named per-call data of a subclass's ``explain``."""
        device, dtype = model_device_dtype(self.model)
        x = to_tensor(inputs, device, dtype)
        target = check_target(target, x.shape[0])
        training = {m: m.training for m in self.model.modules()}
        handles = HookHandles()
        try:
            # eval mode: dropout off and BatchNorm uses (and never updates) running stats;
            # a model already in eval mode is left alone (eval() walks every module:
            # 0.2 ms on a 31-module ResNet, a tenth of one image's gradient pass)
            if any(training.values()):
                self.model.eval()
            self._register(self.model, x, handles)
            with torch.enable_grad(), deterministic_cudnn(x.device):
                result = self._attribute(x, target, **per_call)
        finally:
            handles.remove()
            for m, flag in training.items():
                if m.training != flag:
                    m.training = flag
        return self._explanation(x, result, per_call)

    def _explanation(self, x: torch.Tensor, r: Result, per_call: dict[str, Any]) -> Explanation:
        params = {**self._params(), **{k: v for k, v in per_call.items() if _plain(v)}}
        diagnostics = {
            k: to_numpy(v) if isinstance(v, torch.Tensor) else np.asarray(v)
            for k, v in r.diagnostics.items()
        }
        return Explanation(
            values=to_numpy(r.values),
            base_values=None if r.base_values is None else to_numpy(r.base_values),
            output=None if r.output is None else to_numpy(r.output),
            std_errors=None if r.std_errors is None else to_numpy(r.std_errors),
            data=to_numpy(x),
            method=self.method,
            params=params,
            diagnostics=diagnostics,
        )


_cudnn_lock = threading.Lock()
_cudnn_users = 0
_cudnn_saved: tuple[bool, bool] = (False, False)


@contextmanager
def deterministic_cudnn(device: torch.device) -> Iterator[None]:
    """cuDNN's deterministic algorithms while explaining on a CUDA device.

    Its default backward convolutions sum in an order that changes from run to
    run, so the same seed gave attributions differing in the last bits (about
    1e-16 relative in float64, 1e-9 in float32, measured on an H200). The flags
    are global: the first explanation in sets them, the last out restores them,
    so concurrent explanations (threads of a service) neither undo nor leak them.
    """
    global _cudnn_users, _cudnn_saved
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    with _cudnn_lock:
        if _cudnn_users == 0:
            _cudnn_saved = (cudnn.deterministic, cudnn.benchmark)
            cudnn.deterministic, cudnn.benchmark = True, False
        _cudnn_users += 1
    try:
        yield
    finally:
        with _cudnn_lock:
            _cudnn_users -= 1
            if _cudnn_users == 0:
                cudnn.deterministic, cudnn.benchmark = _cudnn_saved


def _plain(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


class HookHandles:
    """Several removable handles as one."""

    def __init__(self) -> None:
        self.handles: list[Any] = []

    def add(self, h: Any) -> None:
        self.handles.append(h)

    def remove(self) -> None:
        while self.handles:
            self.handles.pop().remove()
