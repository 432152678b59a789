"""Occlusion (Zeiler and Fergus, 2014): slide a patch of baseline values over
the input and record how much the target output drops."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from ._base import Result, TorchExplainer, batches
from ._gradient import _is_int, check_baselines, forward_values

__all__ = ["Occlusion"]


class Occlusion(TorchExplainer):
    """Occlusion with a sliding window, model-agnostic (only forward passes).

    ``window``: the patch shape over the input's non-row axes (an int is used
    for every axis; for images ``(channels, h, w)`` or ``(1, h, w)``).
    ``strides``: the step per axis (default: 1). Windows are placed as captum
    places them (the last one may be cut at the edge). Each element's value is
    the mean, over the windows covering it, of ``f(x) - f(x with the window
    set to the baseline)``. ``baselines``: a scalar, one input, or one per row.
    """

    method = "occlusion"

    def __init__(
        self,
        model: Any,
        baselines: Any = 0.0,
        *,
        window: Any = 3,
        strides: Any = 1,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.baselines = baselines
        self.window = _positive(window, "window")
        self.strides = _positive(strides, "strides")

    def _params(self) -> dict[str, Any]:
        return {"window": str(self.window), "strides": str(self.strides)}

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        shape = tuple(x.shape[1:])
        window = _per_axis(self.window, shape, "window")
        strides = _per_axis(self.strides, shape, "strides")
        for w, s, d in zip(window, strides, shape, strict=True):
            if not 1 <= w <= d:
                raise ValueError(f"window {window} must fit inside the input shape {shape}.")
            if s < 1 or (s > w and d > w):
                raise ValueError(f"strides {strides} must be between 1 and the window {window}.")
        b = check_baselines(self.baselines, x).expand_as(x)
        size = self._pass(x)
        y, t = forward_values(self.model, x, target, size)
        starts = [
            [i * s for i in range(int(np.ceil((d - w) / s)) + 1)]
            for d, w, s in zip(shape, window, strides, strict=True)
        ]
        cells = list(itertools.product(*starts))
        masks = torch.zeros((len(cells), *shape), dtype=torch.bool, device=x.device)
        for p, corner in enumerate(cells):
            cut: Any = (p, *(slice(c, c + w) for c, w in zip(corner, window, strict=True)))
            masks[cut] = True
        n = x.shape[0]
        total = torch.zeros_like(x)
        counts = masks.sum(dim=0).to(x.dtype)
        per = max(1, size // max(1, n))
        for ps in batches(len(cells), per):
            mk = masks[ps]  # (P, *shape)
            k = mk.shape[0]
            xo = torch.where(mk.unsqueeze(1), b.unsqueeze(0), x.unsqueeze(0))  # (P, n, *shape)
            yo, _ = forward_values(self.model, xo.reshape(k * n, *shape), t.repeat(k), size)
            drop = (y.unsqueeze(0) - yo.view(k, n)).to(x.dtype)  # (P, n)
            total += torch.einsum("pn,p...->n...", drop, mk.to(x.dtype))
        return Result(total / counts, output=y, diagnostics={"target": t})


def _positive(v: Any, name: str) -> Any:
    """``v`` (an int or one int per axis) when every entry is a positive integer;
    whether it fits the input is checked when the input is known."""
    entries = [v] if isinstance(v, (int, np.integer)) else list(np.atleast_1d(np.asarray(v)))
    if not entries or any(not _is_int(e) or e < 1 for e in entries):
        raise ValueError(f"{name} must be a positive integer or one per input axis; got {v!r}.")
    return v


def _per_axis(v: Any, shape: tuple[int, ...], name: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * len(shape)
    out = tuple(int(a) for a in v)
    if len(out) != len(shape):
        raise ValueError(
            f"{name} needs one entry per input axis {shape} (rows excluded); got {tuple(v)}."
        )
    return out
