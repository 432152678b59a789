"""Canonizers: temporary, output-preserving rewrites of a model that LRP's rules need.

* :class:`MergeBatchNorm` folds each BatchNorm into the Linear/Conv layer
  whose output it normalises, so the rule of that layer sees one affine map.
  Pairs are found by tracing one forward pass (the BatchNorm's input must be
  the layer's output tensor), not by guessing from the module order.
* :class:`ResidualBlocks` rewrites torchvision-style ``BasicBlock`` and
  ``Bottleneck`` modules so their residual addition runs through a
  :class:`Sum` module, to which a rule (``Norm``) can be attached.

A canonizer never touches the model's parameters: it sets instance
attributes (``forward``, a ``Sum`` child) that :meth:`Canonized.remove`
deletes again, and it keeps the merged weights to itself. Both check, on the
traced row, that the model's output is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .rules import _CONV

__all__ = [
    "Canonized",
    "Canonizer",
    "MergeBatchNorm",
    "ResidualBlocks",
    "Sum",
    "canonize",
    "trace",
]

_BATCHNORM = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
_AFFINE = (torch.nn.Linear, *_CONV)


class Sum(torch.nn.Module):
    """Sum over the last axis: ``Sum()(torch.stack([a, b], -1)) == a + b``.

    Use it for residual additions in your own models so LRP can attach a rule.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim)


class Canonized:
    """Undo record: instance attributes set on modules, and merged weights."""

    def __init__(self) -> None:
        self._saved: list[tuple[torch.nn.Module, str, bool, Any]] = []
        # module -> (weight, bias) the LRP rules must use instead of the module's own
        self.params: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def set(self, module: torch.nn.Module, name: str, value: Any) -> None:
        had = name in module.__dict__ or name in module._modules
        old = module.__dict__.get(name, module._modules.get(name))
        self._saved.append((module, name, had, old))
        setattr(module, name, value)

    def remove(self) -> None:
        while self._saved:
            module, name, had, old = self._saved.pop()
            delattr(module, name)
            if had:
                setattr(module, name, old)
        self.params.clear()


Calls = list[tuple[torch.nn.Module, tuple[Any, ...], Any]]


class Canonizer:
    """Base class: ``apply(model, calls) -> Canonized``.

    ``calls``: (module, inputs, output) of every leaf call of one traced row.
    """

    def apply(self, model: torch.nn.Module, calls: Calls) -> Canonized:
        raise NotImplementedError


def trace(model: torch.nn.Module, probe: torch.Tensor) -> tuple[Calls, Any]:
    """Every leaf module call, in execution order, and the model's output."""
    calls: Calls = []
    handles = []
    for m in model.modules():
        if not list(m.children()):
            handles.append(m.register_forward_hook(lambda mod, a, o: calls.append((mod, a, o))))
    try:
        with torch.no_grad():
            out = model(probe)
    finally:
        for h in handles:
            h.remove()
    return calls, out


class MergeBatchNorm(Canonizer):
    """Fold BatchNorm (eval mode, running statistics) into the preceding Linear/Conv."""

    def apply(self, model: torch.nn.Module, calls: Calls) -> Canonized:
        done = Canonized()
        producer: dict[int, torch.nn.Module] = {}
        merged: set[torch.nn.Module] = set()
        for mod, args, out in calls:
            if isinstance(mod, _AFFINE) and isinstance(out, torch.Tensor):
                producer[id(out)] = mod
            if isinstance(mod, _BATCHNORM) and args and mod.track_running_stats:
                layer = producer.get(id(args[0]))
                if layer is not None and layer not in merged and mod not in merged:
                    _merge(done, layer, mod)
                    merged.update((layer, mod))
        return done


def _merge(done: Canonized, layer: Any, bn: Any) -> None:
    w = layer.weight.detach()
    b = (
        layer.bias.detach()
        if layer.bias is not None
        else torch.zeros(w.shape[0], device=w.device, dtype=w.dtype)
    )
    mean, var = bn.running_mean.detach(), bn.running_var.detach()
    gamma = bn.weight.detach() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    w2 = w * scale.view(-1, *([1] * (w.ndim - 1)))
    b2 = (b - mean) * scale + beta
    done.params[layer] = (w2, b2)
    if isinstance(layer, _CONV):
        conv = layer

        def fwd(x: torch.Tensor) -> torch.Tensor:
            return conv._conv_forward(x, w2, b2)

    else:

        def fwd(x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.linear(x, w2, b2)

    done.set(layer, "forward", fwd)
    done.set(bn, "forward", _identity)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _is_block(m: torch.nn.Module, names: tuple[str, ...]) -> bool:
    return all(hasattr(m, n) for n in names)


_BASIC = ("conv1", "bn1", "relu", "conv2", "bn2", "downsample")
_BOTTLENECK = (*_BASIC, "conv3", "bn3")


class ResidualBlocks(Canonizer):
    """Route the residual addition of torchvision-style ``BasicBlock`` /
    ``Bottleneck`` modules (matched by class name and attributes) through a :class:`Sum`."""

    def apply(self, model: torch.nn.Module, calls: Calls) -> Canonized:
        done = Canonized()
        for m in list(model.modules()):
            kind = type(m).__name__
            if kind == "Bottleneck" and _is_block(m, _BOTTLENECK):
                fwd = _bottleneck_forward(m)
            elif kind == "BasicBlock" and _is_block(m, _BASIC):
                fwd = _basic_forward(m)
            else:
                continue
            done.set(m, "canonizer_sum", Sum())
            done.set(m, "forward", fwd)
        return done


def _basic_forward(self: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = self.canonizer_sum(torch.stack([identity, out], dim=-1))
        return self.relu(out)

    return forward


def _bottleneck_forward(self: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = self.canonizer_sum(torch.stack([identity, out], dim=-1))
        return self.relu(out)

    return forward


CANONIZERS: dict[str, type[Canonizer]] = {
    "merge_batchnorm": MergeBatchNorm,
    "residual_blocks": ResidualBlocks,
}


class _Many:
    def __init__(self, parts: list[Canonized]) -> None:
        self.parts = parts
        self.params: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor | None]] = {}
        for p in parts:
            self.params.update(p.params)

    def remove(self) -> None:
        while self.parts:
            self.parts.pop().remove()
        self.params.clear()


def resolve_canonizers(canonizers: Any) -> list[Canonizer]:
    """The canonizers named by ``canonizers`` (see :func:`canonize`), fresh instances for
    names; a ValueError naming the first unknown entry (an explainer's constructor
    calls this to check its setting before any model is touched)."""
    if canonizers is None:
        canonizers = ()
    if canonizers == "auto":
        canonizers = ("residual_blocks", "merge_batchnorm")
    if isinstance(canonizers, (str, Canonizer)):
        canonizers = (canonizers,)
    items: list[Canonizer] = []
    for c in canonizers:
        if isinstance(c, Canonizer):
            items.append(c)
        elif isinstance(c, str) and c in CANONIZERS:
            items.append(CANONIZERS[c]())
        else:
            raise ValueError(f"Unknown canonizer {c!r}; available: {sorted(CANONIZERS)}.")
    return items


def canonize(
    model: torch.nn.Module,
    probe: torch.Tensor,
    canonizers: Any = "auto",
    *,
    rtol: float | None = None,
) -> _Many:
    """Apply canonizers in order; check the probe's output is unchanged; undo with ``.remove()``.

    ``canonizers``: ``"auto"`` (residual blocks, then BatchNorm merging), a
    list of names or :class:`Canonizer` instances, or ``None``/``()`` for none.
    """
    items = resolve_canonizers(canonizers)
    if not items:
        return _Many([])
    # one traced row serves all canonizers (BatchNorm pairs are found in the original
    # forward, which the residual rewrite keeps) and gives the output to check against
    calls, before = trace(model, probe)
    parts: list[Canonized] = []
    try:
        for c in items:
            parts.append(c.apply(model, calls))
        with torch.no_grad():
            after = model(probe)
        default = {torch.float64: 1e-9, torch.float32: 1e-4}.get(probe.dtype, 5e-2)
        tol = rtol if rtol is not None else default
        scale = float(before.abs().max()) + 1.0
        gap = float((after - before).abs().max())
        if gap > tol * scale:
            raise RuntimeError(
                f"Canonizing changed the model's output by {gap:.3g}; the model has a "
                "structure the canonizers do not handle. Pass canonizers=() to explain "
                "it without them."
            )
    except BaseException:
        for p in reversed(parts):
            p.remove()
        raise
    return _Many(parts)
