"""LRP rules: how a layer passes relevance from its output to its input.

Every rule maps the relevance ``g`` arriving at a layer's output (the
"gradient" in the backward pass) to the relevance of its input. Rules for
Linear and convolution layers use :class:`LayerOps` for the layer's forward
and transposed products with modified weights, so each rule is a few lines
of tensor algebra; the stabiliser and the weight/bias modifications follow
zennit (0.5) exactly, so results can be checked against it.

Rules (Montavon et al., 2019, "Layer-wise relevance propagation: an overview"):

* :class:`Epsilon` (``epsilon=0``: LRP-0), :class:`Gamma`, :class:`AlphaBeta`
  (``alpha=1, beta=0`` and ``alpha=2, beta=1``), :class:`ZPlus`,
  :class:`ZBox` (bounded input layer), :class:`Flat`, :class:`WSquare`;
* for any layer: :class:`Pass` (relevance passes unchanged: activations,
  BatchNorm) and :class:`Norm` (relevance in proportion to the input's share
  of the output: average pooling, residual sums).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
import torch.nn.grad

__all__ = [
    "RULES",
    "AlphaBeta",
    "Epsilon",
    "Flat",
    "Gamma",
    "LayerOps",
    "Norm",
    "Pass",
    "Rule",
    "WSquare",
    "ZBox",
    "ZPlus",
    "make_rule",
    "stabilize",
]

_CONV = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
_CONV_INPUT_GRAD = {
    1: torch.nn.grad.conv1d_input,
    2: torch.nn.grad.conv2d_input,
    3: torch.nn.grad.conv3d_input,
}


def stabilize(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``z + epsilon * sign(z)`` with sign(0) = +1, so a denominator is never 0 (for epsilon > 0)."""
    # a comparison and a select rather than sign arithmetic: fewer kernels per layer
    return torch.where(z >= 0, z + epsilon, z - epsilon)


def _divide(g: torch.Tensor, z: torch.Tensor, epsilon: float) -> torch.Tensor:
    d = stabilize(z, epsilon)
    if epsilon == 0:
        # LRP-0: a neuron with zero output passes no relevance (rather than NaN)
        return torch.where(d == 0, torch.zeros_like(g), g / torch.where(d == 0, 1, d))
    return g / d


class LayerOps:
    """Forward ``F(x; W, b)`` and transposed ``W^T s`` products of a Linear or
    convolution layer, for weights other than the layer's own."""

    def __init__(self, module: torch.nn.Module, weight: torch.Tensor, bias: torch.Tensor | None):
        if not isinstance(module, (torch.nn.Linear, *_CONV)):
            raise TypeError(f"LayerOps needs a Linear or Conv layer; got {type(module).__name__}.")
        self.module = module
        self.weight = weight
        self.bias = bias
        self.is_conv = isinstance(module, _CONV)

    def forward(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.is_conv:
            return self.module._conv_forward(x, weight, bias)  # type: ignore[operator]
        return F.linear(x, weight, bias)

    def transpose(self, s: torch.Tensor, weight: torch.Tensor, x_shape: torch.Size) -> torch.Tensor:
        """The vector-Jacobian product ``W^T s`` of the layer with weights ``weight``."""
        if not self.is_conv:
            return s @ weight
        m = self.module
        if m.padding_mode == "zeros" and not isinstance(m.padding, str):  # type: ignore[attr-defined]
            fn = _CONV_INPUT_GRAD[weight.ndim - 2]
            return fn(x_shape, weight, s, m.stride, m.padding, m.dilation, m.groups)  # type: ignore[attr-defined]
        # other paddings: let autograd transpose the convolution
        with torch.enable_grad():
            xl = torch.zeros(x_shape, device=s.device, dtype=s.dtype, requires_grad=True)
            (out,) = torch.autograd.grad(self.forward(xl, weight), xl, s)
        return out


def _pos(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clamp(min=0)


def _neg(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clamp(max=0)


class Rule:
    """Base class. ``relevance(ops, x, z, g)`` returns the input relevance.

    ``ops`` is a :class:`LayerOps` for Linear/Conv layers and the module
    itself for elementwise rules; ``x`` the layer input, ``z`` its output, ``g``
    the relevance arriving at the output.
    """

    name = "rule"
    needs_weights = True

    def relevance(
        self, ops: Any, x: torch.Tensor, z: torch.Tensor, g: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Epsilon(Rule):
    """LRP-epsilon: ``R_i = x_i sum_j w_ji R_j / (z_j + eps sign(z_j))``; ``epsilon=0`` is LRP-0."""

    name = "epsilon"

    def __init__(self, epsilon: float = 1e-6) -> None:
        self.epsilon = float(epsilon)

    def relevance(self, ops, x, z, g):
        s = _divide(g, z, self.epsilon)
        return x * ops.transpose(s, ops.weight, x.shape)


class ZPlus(Rule):
    """LRP-z+: only positive contributions (positive inputs through positive
    weights, negative inputs through negative weights); alpha=1, beta=0."""

    name = "zplus"

    def __init__(self, stabilizer: float = 1e-6) -> None:
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        w, b = ops.weight, ops.bias
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        has_neg = bool((x < 0).any())
        xp = x.clamp(min=0) if has_neg else x  # inputs after a ReLU need no clamping
        zp = ops.forward(xp, wp, _pos(b))
        if has_neg:
            xn = x.clamp(max=0)
            zp = zp + ops.forward(xn, wn)
        s = g / stabilize(zp, self.stabilizer)
        r = xp * ops.transpose(s, wp, x.shape)
        if has_neg:
            r = r + xn * ops.transpose(s, wn, x.shape)
        return r


class AlphaBeta(Rule):
    """LRP-alpha-beta: positive contributions weighted by alpha, negative by
    beta, with ``alpha - beta = 1`` (alpha1-beta0 and alpha2-beta1 are usual)."""

    name = "alpha_beta"

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, stabilizer: float = 1e-6) -> None:
        if alpha < 0 or beta < 0:
            raise ValueError(f"alpha and beta must be non-negative; got {alpha}, {beta}.")
        if alpha - beta != 1:
            raise ValueError(f"alpha - beta must equal 1; got alpha={alpha}, beta={beta}.")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        w, b = ops.weight, ops.bias
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        has_neg = bool((x < 0).any())
        xp = x.clamp(min=0) if has_neg else x
        xn = x.clamp(max=0) if has_neg else x

        def part(w_on_pos: torch.Tensor, w_on_neg: torch.Tensor, bias: Any) -> torch.Tensor:
            zz = ops.forward(xp, w_on_pos, bias)
            if has_neg:
                zz = zz + ops.forward(xn, w_on_neg)
            s = g / stabilize(zz, self.stabilizer)
            r = xp * ops.transpose(s, w_on_pos, x.shape)
            if has_neg:
                r = r + xn * ops.transpose(s, w_on_neg, x.shape)
            return r

        r = self.alpha * part(wp, wn, _pos(b))
        if self.beta:
            r = r - self.beta * part(wn, wp, _neg(b))
        return r


class Gamma(Rule):
    """LRP-gamma (generalised, Andeol et al. 2021): positive contributions
    boosted by ``gamma`` for positive outputs, negative ones for negative outputs."""

    name = "gamma"

    def __init__(self, gamma: float = 0.25, stabilizer: float = 1e-6) -> None:
        self.gamma = float(gamma)
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        w, b, gam = ops.weight, ops.bias, self.gamma
        w_up = w + gam * w.clamp(min=0)
        w_dn = w + gam * w.clamp(max=0)
        b_up = None if b is None else b + gam * b.clamp(min=0)
        b_dn = None if b is None else b + gam * b.clamp(max=0)
        has_neg = bool((x < 0).any())
        xp = x.clamp(min=0) if has_neg else x
        xn = x.clamp(max=0) if has_neg else x
        z_up = ops.forward(xp, w_up, b_up)
        z_dn = ops.forward(xp, w_dn, b_dn)
        if has_neg:
            z_up = z_up + ops.forward(xn, w_dn)
            z_dn = z_dn + ops.forward(xn, w_up)
        sp = (z > 0).to(g) * g / stabilize(z_up, self.stabilizer)
        sn = (z < 0).to(g) * g / stabilize(z_dn, self.stabilizer)
        r = xp * (ops.transpose(sp, w_up, x.shape) + ops.transpose(sn, w_dn, x.shape))
        if has_neg:
            r = r + xn * (ops.transpose(sp, w_dn, x.shape) + ops.transpose(sn, w_up, x.shape))
        return r


class ZBox(Rule):
    """LRP-z^B for an input layer whose values lie in ``[low, high]``
    (scalars or tensors broadcastable to one input)."""

    name = "zbox"

    def __init__(self, low: Any, high: Any, stabilizer: float = 1e-6) -> None:
        if low is None or high is None:
            raise ValueError("The z-box rule needs the input's bounds: pass low= and high=.")
        self.low = low
        self.high = high
        self.stabilizer = float(stabilizer)

    def _bound(self, v: Any, x: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(v, device=x.device, dtype=x.dtype)
        if t.ndim == x.ndim - 1:
            t = t.unsqueeze(0)
        try:
            return t.expand_as(x)
        except RuntimeError:
            raise ValueError(
                f"z-box bounds of shape {tuple(t.shape)} do not broadcast to inputs "
                f"{tuple(x.shape)}."
            ) from None

    def relevance(self, ops, x, z, g):
        w, b = ops.weight, ops.bias
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        lo, hi = self._bound(self.low, x), self._bound(self.high, x)
        denom = z - ops.forward(lo, wp, _pos(b)) - ops.forward(hi, wn, _neg(b))
        s = g / stabilize(denom, self.stabilizer)
        return (
            x * ops.transpose(s, w, x.shape)
            - lo * ops.transpose(s, wp, x.shape)
            - hi * ops.transpose(s, wn, x.shape)
        )


class Flat(Rule):
    """LRP-flat: relevance spread uniformly over each output's receptive field."""

    name = "flat"

    def __init__(self, stabilizer: float = 1e-6) -> None:
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        ones = torch.ones_like(ops.weight)
        s = g / stabilize(ops.forward(torch.ones_like(x), ones), self.stabilizer)
        return ops.transpose(s, ones, x.shape)


class WSquare(Rule):
    """LRP-w^2: relevance spread in proportion to the squared weights (the
    squared bias joins the denominator, as in zennit)."""

    name = "wsquare"

    def __init__(self, stabilizer: float = 1e-6) -> None:
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        w2 = ops.weight * ops.weight
        b2 = None if ops.bias is None else ops.bias * ops.bias
        s = g / stabilize(ops.forward(torch.ones_like(x), w2, b2), self.stabilizer)
        return ops.transpose(s, w2, x.shape)


class Pass(Rule):
    """Relevance passes through unchanged (activations, BatchNorm)."""

    name = "pass"
    needs_weights = False

    def relevance(self, ops, x, z, g):
        return g


class Norm(Rule):
    """Relevance shared in proportion to each input's contribution to the
    output, for parameter-free layers (average pooling, residual sums)."""

    name = "norm"
    needs_weights = False

    def __init__(self, stabilizer: float = 1e-6) -> None:
        self.stabilizer = float(stabilizer)

    def relevance(self, ops, x, z, g):
        s = g / stabilize(z, self.stabilizer)
        with torch.enable_grad():
            xl = x.detach().requires_grad_(True)
            # call forward directly so that no hook runs again
            (vjp,) = torch.autograd.grad(ops.forward(xl), xl, s)
        return x * vjp


def _zbox(low: Any = None, high: Any = None, stabilizer: float = 1e-6, **_: Any) -> Rule:
    return ZBox(low, high, stabilizer)


# name -> factory(epsilon=, gamma=, stabilizer=, low=, high=)
RULES: dict[str, Callable[..., Rule]] = {
    "zero": lambda **kw: Epsilon(0.0),
    "epsilon": lambda epsilon=1e-6, **kw: Epsilon(epsilon),
    "gamma": lambda gamma=0.25, stabilizer=1e-6, **kw: Gamma(gamma, stabilizer),
    "alpha1_beta0": lambda stabilizer=1e-6, **kw: AlphaBeta(1.0, 0.0, stabilizer),
    "alpha2_beta1": lambda stabilizer=1e-6, **kw: AlphaBeta(2.0, 1.0, stabilizer),
    "zplus": lambda stabilizer=1e-6, **kw: ZPlus(stabilizer),
    "zbox": _zbox,
    "flat": lambda stabilizer=1e-6, **kw: Flat(stabilizer),
    "wsquare": lambda stabilizer=1e-6, **kw: WSquare(stabilizer),
}


def make_rule(rule: str | Rule, **options: Any) -> Rule:
    """A rule from its name (see :data:`RULES`) or a :class:`Rule` instance."""
    if isinstance(rule, Rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"Unknown LRP rule {rule!r}; available: {sorted(RULES)}.")
    return RULES[rule](**options)
