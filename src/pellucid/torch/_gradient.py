"""The gradient family: Saliency, SmoothGrad, IntegratedGradients, GradientShap,
GuidedBackprop and GradCam (with Guided Grad-CAM).

Conventions follow captum where it sets them (absolute saliency by default,
Gauss-Legendre IG with 50 steps, GradientShap's sampling order), so results
can be held against captum's in float64.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._results import Explanation
from ._base import (
    HookHandles,
    Result,
    TorchExplainer,
    batches,
    from_array,
    resolve_targets,
    select,
    to_tensor,
)

__all__ = [
    "GradCam",
    "GradientShap",
    "GuidedBackprop",
    "IntegratedGradients",
    "Saliency",
    "SmoothGrad",
]

_MODES = ("abs", "gradient", "gradient_x_input")


def forward_grad(
    model: torch.nn.Module, xb: torch.Tensor, target: Any, rows: slice
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradient of each row's target output w.r.t. its input, the outputs and the targets."""
    xb = xb.detach().requires_grad_(True)
    out = model(xb)
    t = resolve_targets(out, target, rows)
    y = select(out, t)
    (g,) = torch.autograd.grad(y.sum(), xb)
    return g, y.detach(), t


def forward_values(
    model: torch.nn.Module, x: torch.Tensor, target: Any, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Target outputs and targets of every row, without gradients."""
    ys, ts = [], []
    with torch.no_grad():
        for sl in batches(x.shape[0], batch_size):
            out = model(x[sl])
            t = resolve_targets(out, target, sl)
            ys.append(select(out, t))
            ts.append(t)
    return torch.cat(ys), torch.cat(ts)


def _apply_mode(g: torch.Tensor, x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "abs":
        return g.abs()
    if mode == "gradient_x_input":
        return g * x
    return g


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}.")
    return value


def check_seed(random_state: Any) -> Any:
    """A ``random_state`` setting validated in the constructor: None, an int >= 0 or
    a numpy RandomState (what seeds captum's draws); returned unchanged."""
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if random_state is None or (_is_int(random_state) and random_state >= 0):
        return random_state
    raise ValueError(
        "random_state must be None, an int >= 0 or a numpy RandomState; got "
        f"{type(random_state).__name__} {random_state!r}."
    )


def rngs(random_state: Any, device: torch.device) -> tuple[np.random.RandomState, torch.Generator]:
    """A numpy RandomState and a torch Generator from one seed.

    An int seeds both directly, so ``random_state=s`` draws exactly what captum
    draws after ``np.random.seed(s); torch.manual_seed(s)``.
    """
    from sklearn.utils import check_random_state

    if isinstance(random_state, (int, np.integer)):
        seed = int(random_state)
        rs = np.random.RandomState(seed)
    else:
        rs = check_random_state(random_state)
        seed = int(rs.randint(0, 2**31 - 1))
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return rs, gen


def torch_rng(random_state: Any, device: torch.device) -> torch.Generator:
    """The torch Generator of :func:`rngs`, without building its numpy RandomState
    when the seed is an int (that costs about as much as a small model's forward)."""
    if isinstance(random_state, (int, np.integer)):
        gen = torch.Generator(device=device)
        gen.manual_seed(int(random_state))
        return gen
    return rngs(random_state, device)[1]


def _normal(shape: Sequence[int], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    # float32 draws, as captum's NoiseTunnel makes them, then the input's dtype
    z = torch.randn(tuple(shape), generator=gen, device=like.device, dtype=torch.float32)
    return z.to(like.dtype)


def check_baselines(b: Any, x: torch.Tensor, *, name: str = "baselines") -> torch.Tensor:
    """Baselines broadcastable to ``x``: None (zeros), a scalar, one input, or one per row."""
    if b is None:
        b = 0.0
    if isinstance(b, (int, float, np.integer, np.floating)):
        return torch.full((1, *x.shape[1:]), float(b), device=x.device, dtype=x.dtype)
    t = b.detach() if isinstance(b, torch.Tensor) else from_array(np.asarray(b, dtype=float))
    t = t.to(device=x.device, dtype=x.dtype)
    if tuple(t.shape) == tuple(x.shape[1:]):
        t = t.unsqueeze(0)
    if (
        t.ndim != x.ndim
        or tuple(t.shape[1:]) != tuple(x.shape[1:])
        or t.shape[0] not in (1, x.shape[0])
    ):
        raise ValueError(
            f"{name} must be a scalar, one input of shape {tuple(x.shape[1:])} or one per "
            f"row {tuple(x.shape)}; got shape {tuple(t.shape)}."
        )
    return t


# ---------------------------------------------------------------- Saliency


class Saliency(TorchExplainer):
    """Gradient of the target output w.r.t. the input (Simonyan et al., 2014).

    ``mode``: ``"abs"`` (absolute gradient, captum's default), ``"gradient"``
    (raw gradient) or ``"gradient_x_input"``.
    """

    method = "saliency"

    def __init__(self, model: Any, *, mode: str = "abs", batch_size: int | None = None) -> None:
        super().__init__(model, batch_size=batch_size)
        self.mode = _check_choice("mode", mode, _MODES)

    def _params(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        gs, ys, ts = [], [], []
        for sl in batches(x.shape[0], self._pass(x)):
            g, y, t = forward_grad(self.model, x[sl], target, sl)
            gs.append(_apply_mode(g, x[sl], self.mode))
            ys.append(y)
            ts.append(t)
        return Result(torch.cat(gs), output=torch.cat(ys), diagnostics={"target": torch.cat(ts)})


# ---------------------------------------------------------------- SmoothGrad


class SmoothGrad(TorchExplainer):
    """Average of gradients at noisy copies of the input (Smilkov et al., 2017).

    ``kind``: ``"smoothgrad"`` (mean), ``"smoothgrad_sq"`` (mean of squares) or
    ``"vargrad"`` (variance). The noise's standard deviation is ``stdev`` if
    given, else ``noise_level`` times each row's value range, as in the paper.
    ``mode`` is the per-sample attribution (see :class:`Saliency`; default the
    raw gradient). ``std_errors`` holds the Monte Carlo standard error of the
    ``smoothgrad`` mean.
    """

    method = "smoothgrad"

    def __init__(
        self,
        model: Any,
        *,
        n_samples: int = 50,
        noise_level: float = 0.15,
        stdev: float | None = None,
        kind: str = "smoothgrad",
        mode: str = "gradient",
        random_state: Any = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be at least 1; got {n_samples!r}.")
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.stdev = None if stdev is None else float(stdev)
        self.kind = _check_choice("kind", kind, ("smoothgrad", "smoothgrad_sq", "vargrad"))
        self.mode = _check_choice("mode", mode, _MODES)
        self.random_state = check_seed(random_state)

    def _params(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "noise_level": self.noise_level,
            "stdev": self.stdev,
            "kind": self.kind,
            "mode": self.mode,
            "random_state": self.random_state if _is_int(self.random_state) else None,
        }

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        n, m = x.shape[0], self.n_samples
        size = self._pass(x)
        y, t = forward_values(self.model, x, target, size)
        gen = torch_rng(self.random_state, x.device)
        if self.stdev is not None:
            std = torch.full((n,), self.stdev, device=x.device, dtype=x.dtype)
        else:
            flat = x.reshape(n, -1)
            std = self.noise_level * (flat.max(dim=1).values - flat.min(dim=1).values)
        # rows repeated sample-minor (row 0's samples first), as captum's NoiseTunnel
        noise = _normal((n * m, *x.shape[1:]), gen, x)
        noise = noise * std.repeat_interleave(m).view(-1, *([1] * (x.ndim - 1)))
        s1 = torch.zeros_like(x)
        s2 = torch.zeros_like(x)
        for sl in batches(n, max(1, size // m)):
            xb = x[sl].repeat_interleave(m, dim=0)
            xb = xb + noise[sl.start * m : sl.stop * m]
            tb = t[sl].repeat_interleave(m)
            g, _, _ = forward_grad(self.model, xb, tb, slice(0, xb.shape[0]))
            a = _apply_mode(g, xb, self.mode).view(sl.stop - sl.start, m, *x.shape[1:])
            s1[sl] = a.sum(dim=1)
            s2[sl] = (a * a).sum(dim=1)
        mean, mean_sq = s1 / m, s2 / m
        values = {"smoothgrad": mean, "smoothgrad_sq": mean_sq}.get(self.kind)
        if values is None:
            values = mean_sq - mean * mean
        se = mc_std_error(s1, s2, m) if self.kind == "smoothgrad" else None
        return Result(values, output=y, diagnostics={"target": t}, std_errors=se)


def mc_std_error(s1: torch.Tensor, s2: torch.Tensor, m: int) -> torch.Tensor | None:
    """Standard error of a mean of ``m`` draws from their sum and sum of squares."""
    if m < 2:
        return None
    mean = s1 / m
    var = (s2 - m * mean * mean).clamp(min=0) / (m - 1)
    return (var / m).sqrt()


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# ---------------------------------------------------------------- IntegratedGradients


def ig_nodes(n_steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha`` in [0, 1] and weights of the path integral's quadrature rule."""
    n = int(n_steps)
    if rule == "gausslegendre":
        if n < 1:
            raise ValueError(f"n_steps must be at least 1; got {n_steps!r}.")
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (1 + nodes), 0.5 * weights
    if n < 2:
        raise ValueError(f"Riemann rules need n_steps >= 2; got {n_steps!r}.")
    w = np.full(n, 1.0 / n)
    if rule == "riemann_trapezoid":
        w[0] /= 2
        w[-1] /= 2
        return np.linspace(0, 1, n), w
    if rule == "riemann_left":
        return np.linspace(0, 1 - 1 / n, n), w
    if rule == "riemann_middle":
        return np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n), w
    if rule == "riemann_right":
        return np.linspace(1 / n, 1, n), w
    raise ValueError(
        "rule must be one of ('gausslegendre', 'riemann_left', 'riemann_right', "
        f"'riemann_middle', 'riemann_trapezoid'); got {rule!r}."
    )


class IntegratedGradients(TorchExplainer):
    """Integrated gradients (Sundararajan et al., 2017) along the straight path
    from ``baselines`` to the input.

    ``baselines``: None (zeros), a scalar, one input, or one per row (one per
    row can also be given to :meth:`explain`, as data of that call). ``rule``: ``"gausslegendre"`` (captum's
    default) or ``"riemann_left|right|middle|trapezoid"``. The completeness
    delta ``sum(values) - (f(x) - f(baseline))`` is ``diagnostics["delta"]``
    (and :attr:`Explanation.additivity_gap`); it falls as ``n_steps`` grows.
    """

    method = "integrated_gradients"

    def __init__(
        self,
        model: Any,
        baselines: Any = None,
        *,
        n_steps: int = 50,
        rule: str = "gausslegendre",
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.baselines = baselines
        self.n_steps = int(n_steps)
        self.rule = rule
        ig_nodes(self.n_steps, rule)  # validate now

    def _params(self) -> dict[str, Any]:
        return {"n_steps": self.n_steps, "rule": self.rule}

    def explain(self, inputs: Any, *, target: Any = None, baselines: Any = None) -> Explanation:
        """Integrated gradients of ``inputs`` (see :meth:`TorchExplainer.explain`).

        ``baselines``: per-call data that replaces the constructor's for this call
        (a scalar, one input, or one per row: each row's own starting point);
        None uses the constructor's.
        """
        if baselines is None:
            return self._explain(inputs, target)
        return self._explain(inputs, target, baselines=baselines)

    def _attribute(self, x: torch.Tensor, target: Any, baselines: Any = None) -> Result:
        b = check_baselines(self.baselines if baselines is None else baselines, x)
        alphas, weights = ig_nodes(self.n_steps, self.rule)
        size = self._pass(x)
        if self.batch_size is None:
            # by default a row's whole path goes in one pass: its steps are then summed
            # in captum's order, and the values equal captum's to the last bit
            size = max(size, self.n_steps)
        y, t = forward_values(self.model, x, target, size)
        yb, _ = forward_values(self.model, b.expand_as(x), t, size)
        total = integrate_path(self.model, x, b, t, alphas, weights, size)
        values = total * (x - b)
        delta = values.reshape(x.shape[0], -1).sum(dim=1) - (y - yb)
        return Result(values, output=y, base_values=yb, diagnostics={"target": t, "delta": delta})


def integrate_path(
    model: torch.nn.Module,
    x: torch.Tensor,
    b: torch.Tensor,
    t: torch.Tensor,
    alphas: np.ndarray,
    weights: np.ndarray,
    batch_size: int,
) -> torch.Tensor:
    """``sum_k w_k * grad f(b + alpha_k (x - b))`` per row, at most ``batch_size`` points a pass."""
    n, s = x.shape[0], len(alphas)
    bb = b.expand_as(x)
    a_all = torch.as_tensor(alphas, device=x.device, dtype=x.dtype)
    w_all = torch.as_tensor(weights, device=x.device, dtype=x.dtype)
    total = torch.zeros_like(x)
    rows_per = max(1, batch_size // s)
    steps_per = min(s, batch_size)
    shape1 = (-1, *([1] * (x.ndim - 1)))
    for rs in batches(n, rows_per):
        xr, br, tr = x[rs], bb[rs], t[rs]
        r = xr.shape[0]
        for ss in batches(s, steps_per):
            a = a_all[ss].repeat_interleave(r).view(shape1)
            k = ss.stop - ss.start
            xs = br.repeat(k, *([1] * (x.ndim - 1))) + a * (xr - br).repeat(
                k, *([1] * (x.ndim - 1))
            )
            g, _, _ = forward_grad(model, xs, tr.repeat(k), slice(0, xs.shape[0]))
            g = g.view(k, r, *x.shape[1:])
            total[rs] += (w_all[ss].view(k, *([1] * x.ndim)) * g).sum(dim=0)
    return total


# ---------------------------------------------------------------- GradientShap


class GradientShap(TorchExplainer):
    """Expected gradients (Erion et al., 2021; captum's GradientShap): the mean
    of ``(x + noise - b) * grad f(b + u (x + noise - b))`` over baselines ``b``
    drawn from ``baselines`` and ``u ~ U(0, 1)``.

    ``baselines``: the background distribution ``(k, *input_shape)``.
    ``n_samples`` draws per row; ``stdev`` the Gaussian input noise (0 = none).
    ``base_values`` is the mean output over all baselines, so
    ``additivity_gap`` shows how far the estimate is from completeness;
    ``std_errors`` the Monte Carlo standard error of each value.
    """

    method = "gradient_shap"

    def __init__(
        self,
        model: Any,
        baselines: Any,
        *,
        n_samples: int = 5,
        stdev: float = 0.0,
        random_state: Any = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        if baselines is None:
            raise ValueError("GradientShap needs a baseline distribution (k, *input_shape).")
        self.baselines = baselines
        if int(n_samples) < 1:
            raise ValueError(f"n_samples must be at least 1; got {n_samples!r}.")
        self.n_samples = int(n_samples)
        self.stdev = float(stdev)
        if not self.stdev >= 0:
            raise ValueError(f"stdev must be >= 0; got {stdev!r}.")
        self.random_state = check_seed(random_state)
        # (digest, output on the first background row, mean output): see _outputs
        self._background: tuple[bytes, torch.Tensor, torch.Tensor] | None = None

    def _params(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "stdev": self.stdev,
            "random_state": self.random_state if _is_int(self.random_state) else None,
        }

    def _outputs(
        self, x: torch.Tensor, bdist: torch.Tensor, target: Any, size: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """f(x) at each row's target, the targets, and the mean of f over the background
        at those targets.

        On the CPU the background's mean output is kept between calls, and reused only
        while a digest of the model's parameters and buffers and of the background, and
        the model's output on the first background row, are unchanged (so weights
        edited in place, through ``.data`` too, new hooks or an edited background all
        recompute it). Elsewhere f(x) and f(background) share one sweep.
        """
        key = state_digest(self.model, bdist)
        if key is None:
            return outputs_and_mean(self.model, x, bdist, target, size)
        with torch.no_grad():
            probe = self.model(bdist[:1])
        kept = self._background
        if kept is None or kept[0] != key or not torch.equal(kept[1], probe):
            kept = (key, probe, mean_output(self.model, bdist, size))
            self._background = kept
        y, t = forward_values(self.model, x, target, size)
        return y, t, at_targets(kept[2], t)

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        bdist = to_tensor(self.baselines, x.device, x.dtype)
        if tuple(bdist.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(
                f"baselines must have shape (k, {', '.join(map(str, x.shape[1:]))}); "
                f"got {tuple(bdist.shape)}."
            )
        n, m, k = x.shape[0], self.n_samples, bdist.shape[0]
        size = self._pass(x)
        y, t, fb = self._outputs(x, bdist, target, size)
        rs, gen = rngs(self.random_state, x.device)
        # captum's order: baseline indices (numpy), noise (torch), coefficients (numpy)
        idx = torch.as_tensor(rs.choice(k, n * m), device=x.device)
        # no noise: skip the draw (nothing is drawn from the torch generator after it)
        noise = _normal((n * m, *x.shape[1:]), gen, x) * self.stdev if self.stdev else None
        u = torch.as_tensor(rs.uniform(0.0, 1.0, n * m), device=x.device, dtype=x.dtype)
        s1 = torch.zeros_like(x)
        s2 = torch.zeros_like(x)
        shape1 = (-1, *([1] * (x.ndim - 1)))
        for sl in batches(n, max(1, size // m)):
            e = slice(sl.start * m, sl.stop * m)
            xn = x[sl].repeat_interleave(m, dim=0)
            if noise is not None:
                xn = xn + noise[e]
            bs = bdist[idx[e]]
            ue = u[e].view(shape1)
            xs = ue * xn + (1.0 - ue) * bs
            g, _, _ = forward_grad(
                self.model, xs, t[sl].repeat_interleave(m), slice(0, xs.shape[0])
            )
            a = ((xn - bs) * g).view(sl.stop - sl.start, m, *x.shape[1:])
            s1[sl] = a.sum(dim=1)
            s2[sl] = (a * a).sum(dim=1)
        values = s1 / m
        delta = values.reshape(n, -1).sum(dim=1) - (y - fb)
        return Result(
            values,
            output=y,
            base_values=fb,
            diagnostics={"target": t, "delta": delta},
            std_errors=mc_std_error(s1, s2, m),
        )


def outputs_and_mean(
    model: torch.nn.Module, x: torch.Tensor, bdist: torch.Tensor, target: Any, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each row's target output and target, and the mean output over ``bdist`` at each
    row's target: one gradient-free sweep over the rows of ``x`` then ``bdist``."""
    n, k = x.shape[0], bdist.shape[0]
    with torch.no_grad():
        out = torch.cat([model(_rows(x, bdist, sl)) for sl in batches(n + k, batch_size)])
    t = resolve_targets(out[:n], target, slice(0, n))
    return select(out[:n], t), t, at_targets(_mean_rows(out[n:]), t)


def mean_output(model: torch.nn.Module, rows: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's mean output over ``rows``: ``(n_outputs,)``, or ``(1,)`` for one output."""
    with torch.no_grad():
        out = torch.cat([model(rows[sl]) for sl in batches(rows.shape[0], batch_size)])
    return _mean_rows(out)


def _mean_rows(out: torch.Tensor) -> torch.Tensor:
    k = out.shape[0]
    return out.sum(dim=0) / k if out.ndim == 2 else out.sum().view(1) / k


def at_targets(mean: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A mean output vector at each row's target (one output: the same for all rows)."""
    if mean.numel() == 1:
        return mean.expand(t.shape[0]).clone()
    return mean[t]


def state_digest(model: torch.nn.Module, *tensors: torch.Tensor) -> bytes | None:
    """A digest of the bytes of every parameter and buffer of ``model`` and of ``tensors``;
    None when any lives off the CPU (hashing would copy it to the host)."""
    h = hashlib.blake2b(digest_size=20)
    for v in itertools.chain(model.parameters(), model.buffers(), tensors):
        if v.device.type != "cpu":
            return None
        v = v.detach().contiguous()
        h.update(f"{v.dtype}{tuple(v.shape)}".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().data)
    return h.digest()


def _rows(a: torch.Tensor, b: torch.Tensor, sl: slice) -> torch.Tensor:
    """Rows ``sl`` of ``torch.cat([a, b])``, copying only when ``sl`` straddles the two."""
    n = a.shape[0]
    if sl.stop <= n:
        return a[sl]
    if sl.start >= n:
        return b[sl.start - n : sl.stop - n]
    return torch.cat([a[sl.start :], b[: sl.stop - n]])


# ---------------------------------------------------------------- GuidedBackprop


def register_guided_relu(model: torch.nn.Module) -> HookHandles:
    """Make every ``nn.ReLU`` pass only positive gradients (Springenberg et al., 2015).

    A forward hook puts a gradient hook on each ReLU's output: negative
    gradients are zeroed before the ReLU's own backward masks by its input.
    """
    handles = HookHandles()

    def hook(module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(lambda g: g.clamp(min=0))

    for m in model.modules():
        if isinstance(m, torch.nn.ReLU):
            handles.add(m.register_forward_hook(hook))
    return handles


class GuidedBackprop(TorchExplainer):
    """Guided backpropagation: the gradient with ``nn.ReLU`` modules passing
    only positive gradients (as captum; functional ReLUs are not modified)."""

    method = "guided_backprop"

    def _register(self, model: torch.nn.Module, x: torch.Tensor, handles: HookHandles) -> None:
        handles.add(register_guided_relu(model))

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        gs, ys, ts = [], [], []
        for sl in batches(x.shape[0], self._pass(x)):
            g, y, t = forward_grad(self.model, x[sl], target, sl)
            gs.append(g)
            ys.append(y)
            ts.append(t)
        return Result(torch.cat(gs), output=torch.cat(ys), diagnostics={"target": torch.cat(ts)})


# ---------------------------------------------------------------- GradCam


def find_layer(model: torch.nn.Module, layer: Any) -> tuple[str, torch.nn.Module]:
    """A submodule by name or identity; None picks the last convolution."""
    named = dict(model.named_modules())
    if layer is None:
        convs = [(n, m) for n, m in named.items() if isinstance(m, torch.nn.modules.conv._ConvNd)]
        if not convs:
            raise ValueError("The model has no convolution; pass layer= (a name or module).")
        return convs[-1]
    if isinstance(layer, str):
        if layer not in named:
            raise KeyError(f"No layer named {layer!r}; layers: {[n for n in named if n]}.")
        return layer, named[layer]
    for n, m in named.items():
        if m is layer:
            return n, m
    raise ValueError(f"The layer {type(layer).__name__} is not a submodule of the model.")


class GradCam(TorchExplainer):
    """Grad-CAM (Selvaraju et al., 2017): a layer's activations weighted by
    their spatially averaged gradients, upsampled to the input.

    ``layer``: a submodule or its name (default: the last convolution).
    ``relu`` keeps only positive evidence (the paper; captum's default is off).
    ``interpolation``: ``"linear"`` (bi/trilinear by the input's dimensions)
    or ``"nearest"``. ``guided=True`` gives Guided Grad-CAM: the map (with
    ReLU) times guided backpropagation, as captum's ``GuidedGradCam``.
    ``values`` have the input's shape (the map repeated over channels);
    ``diagnostics["layer_map"]`` keeps the map at the layer's resolution.
    """

    method = "grad_cam"

    def __init__(
        self,
        model: Any,
        layer: Any = None,
        *,
        relu: bool = True,
        interpolation: str = "linear",
        guided: bool = False,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        self.layer_name, self.layer = find_layer(self.model, layer)
        self.relu = bool(relu)
        self.interpolation = _check_choice("interpolation", interpolation, ("linear", "nearest"))
        self.guided = bool(guided)

    @property
    def settings(self) -> dict[str, Any]:
        """The settings, the layer by its name (it rebuilds the same explainer)."""
        return {**super().settings, "layer": self.layer_name}

    def _params(self) -> dict[str, Any]:
        return {
            "layer": self.layer_name,
            "relu": self.relu or self.guided,
            "interpolation": self.interpolation,
            "guided": self.guided,
        }

    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        if x.ndim < 3:
            raise ValueError(
                "GradCam needs inputs with a channel axis and spatial axes (n, C, ...); got "
                f"shape {tuple(x.shape)}."
            )
        maps, ys, ts = [], [], []
        for sl in batches(x.shape[0], self._pass(x)):
            cam, y, t = self._cam(x[sl], target, sl)
            maps.append(cam)
            ys.append(y)
            ts.append(t)
        cam = torch.cat(maps)
        t = torch.cat(ts)
        up = upsample(cam, tuple(x.shape[2:]), self.interpolation).expand_as(x)
        if self.guided:
            handles = register_guided_relu(self.model)
            try:
                gb = torch.cat(
                    [
                        forward_grad(self.model, x[sl], t, sl)[0]
                        for sl in batches(x.shape[0], self._pass(x))
                    ]
                )
            finally:
                handles.remove()
            up = up * gb
        return Result(
            up.contiguous(),
            output=torch.cat(ys),
            diagnostics={"target": t, "layer_map": cam[:, 0]},
        )

    def _cam(
        self, xb: torch.Tensor, target: Any, rows: slice
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seen: list[torch.Tensor] = []

        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            seen.append(output)

        h = self.layer.register_forward_hook(hook)
        try:
            # the input requires grad so the layer's output does even for frozen weights
            out = self.model(xb.detach().requires_grad_(True))
        finally:
            h.remove()
        if len(seen) != 1 or not isinstance(seen[0], torch.Tensor):
            raise ValueError(
                f"Layer {self.layer_name!r} must run exactly once per forward and return one "
                f"tensor; it ran {len(seen)} time(s)."
            )
        act = seen[0]
        if act.ndim < 3:
            raise ValueError(
                f"Layer {self.layer_name!r} outputs shape {tuple(act.shape)}; Grad-CAM needs "
                "(n, channels, *spatial)."
            )
        t = resolve_targets(out, target, rows)
        y = select(out, t)
        (g,) = torch.autograd.grad(y.sum(), act)
        w = g.mean(dim=tuple(range(2, g.ndim)), keepdim=True)
        cam = (w * act).sum(dim=1, keepdim=True)
        if self.relu or self.guided:
            cam = F.relu(cam)
        return cam.detach(), y.detach(), t


def upsample(cam: torch.Tensor, size: tuple[int, ...], interpolation: str) -> torch.Tensor:
    if tuple(cam.shape[2:]) == size:
        return cam
    if interpolation == "nearest":
        return F.interpolate(cam, size=size, mode="nearest")
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(len(size))
    if mode is None:
        raise ValueError(f"Cannot interpolate a map with {len(size)} spatial dimensions.")
    return F.interpolate(cam, size=size, mode=mode, align_corners=False)
