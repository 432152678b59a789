"""Layer-wise relevance propagation (Bach et al., 2015) as a modified backward pass.

A forward hook on each layer that has a rule swaps the layer's output for
the same values produced by :class:`_RuleFunction`, whose backward applies
the rule. Relevance starts at the target logit (``grad_outputs = logit``),
so LRP-0 on a bias-free ReLU network conserves it exactly. Layers without a
rule (max pooling, flatten, dropout in eval mode) pass the plain gradient,
which routes relevance unchanged. The model is canonized first (BatchNorm
folded into the preceding layer, residual sums made visible) and every hook
and canonizer is removed in ``finally``.
"""

from __future__ import annotations

from typing import Any

import torch

from ._base import HookHandles, Result, TorchExplainer, batches, resolve_targets, select
from .canonizers import canonize, resolve_canonizers
from .composites import Composite, make_composite
from .rules import LayerOps, Rule

__all__ = ["Lrp"]


class _Call:
    """What one layer call's backward needs."""

    __slots__ = ("module", "ops", "rule", "z", "z_version")

    def __init__(self, module: torch.nn.Module, ops: Any, rule: Rule, z: torch.Tensor) -> None:
        self.module = module
        self.ops = ops
        self.rule = rule
        self.z = z
        self.z_version = z._version


class _RuleFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, call: _Call) -> torch.Tensor:  # type: ignore[override]
        ctx.call = call
        ctx.save_for_backward(x)
        return call.z.detach()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        call: _Call = ctx.call
        z = call.z
        if z._version != call.z_version:
            # an in-place op (e.g. ReLU(inplace=True)) overwrote the output: recompute it
            with torch.no_grad():
                z = call.module.forward(x.clone())
        r = call.rule.relevance(call.ops, x, z, g)
        return r, None


class Lrp(TorchExplainer):
    """Layer-wise relevance propagation with rules, composites and canonizers.

    ``rule``: one rule for every Linear/Conv layer (``"zero"``, ``"epsilon"``,
    ``"gamma"``, ``"alpha1_beta0"``, ``"alpha2_beta1"``, ``"zplus"``,
    ``"zbox"``, ``"flat"``, ``"wsquare"`` or a :class:`~pellucid.torch.rules.Rule`);
    ``composite``: a named composite (``"epsilon_plus"`` (default),
    ``"epsilon_gamma_box"``, ``"epsilon_alpha2_beta1"``, ``"epsilon_plus_flat"``)
    or a :class:`~pellucid.torch.composites.Composite`. ``epsilon``, ``gamma``,
    ``stabilizer``, ``low``/``high`` (input bounds for z-box) parametrise them.
    ``canonizers``: ``"auto"`` (merge BatchNorm, route residual sums through
    :class:`~pellucid.torch.canonizers.Sum`), a list, or ``()``.

    ``values`` are input relevances; ``output`` is the target logit (the
    relevance put in) and ``base_values`` zero, so ``additivity_gap`` is the
    conservation gap (zero for LRP-0 on a bias-free ReLU network).
    """

    method = "lrp"

    def __init__(
        self,
        model: Any,
        *,
        rule: str | Rule | None = None,
        composite: str | Composite | None = None,
        canonizers: Any = "auto",
        epsilon: float = 1e-6,
        gamma: float = 0.25,
        stabilizer: float = 1e-6,
        low: Any = None,
        high: Any = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(model, batch_size=batch_size)
        options = {"epsilon": epsilon, "gamma": gamma, "stabilizer": stabilizer}
        if low is not None or high is not None:
            options.update(low=low, high=high)
        # the settings as given (the repr, with_settings); the composite built from them
        self.rule, self.composite = rule, composite
        self.epsilon, self.gamma, self.stabilizer = epsilon, gamma, stabilizer
        self.low, self.high = low, high
        self._composite = make_composite(rule, composite, **options)
        resolve_canonizers(canonizers)  # an unknown name fails here, not at explain
        self.canonizers = canonizers
        self._first_done = False
        self._kept: dict[torch.nn.Module, list[torch.Tensor]] = {}
        self._params_of: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._rule_name = rule if isinstance(rule, str) else getattr(rule, "name", None)

    def _params(self) -> dict[str, Any]:
        return {
            "rule": self._rule_name,
            "composite": None if self._rule_name else self._composite.name,
            "canonizers": self.canonizers if isinstance(self.canonizers, str) else None,
        }

    # -- hooks -----------------------------------------------------------------
    def _register(self, model: torch.nn.Module, x: torch.Tensor, handles: HookHandles) -> None:
        canon = canonize(model, x[:1], self.canonizers)
        handles.add(canon)
        self._params_of = canon.params
        for name, m in model.named_modules():
            if _has_rule(self._composite, m):
                if getattr(m, "inplace", False):
                    handles.add(m.register_forward_pre_hook(self._keep_input))
                handles.add(m.register_forward_hook(self._hook))
            elif next(m.parameters(recurse=False), None) is not None:
                # a layer with weights and no rule would silently pass plain gradients
                raise ValueError(
                    f"LRP has no rule for layer {name!r} ({type(m).__name__}), which has "
                    "parameters; pass a composite that covers it or use a gradient method."
                )

    def _keep_input(self, module: torch.nn.Module, args: tuple[Any, ...]) -> Any:
        """For in-place layers: keep the input intact and let the layer overwrite a copy."""
        if not args or not isinstance(args[0], torch.Tensor):
            return None
        self._kept.setdefault(module, []).append(args[0])
        return (args[0].clone(), *args[1:])

    def _hook(self, module: Any, args: tuple[Any, ...], output: Any) -> Any:
        kept = self._kept.get(module)
        x = kept.pop() if kept else (args[0] if args else None)
        if not isinstance(x, torch.Tensor) or not isinstance(output, torch.Tensor):
            return None
        if output is x:
            # an identity (e.g. a BatchNorm merged into the layer before): nothing to do
            return None
        if not (x.requires_grad and torch.is_grad_enabled()):
            return None
        first = False
        if not self._first_done and self._composite.has_first(module):
            first = True
            self._first_done = True
        rule = self._composite.rule_for(module, first=first)
        if rule is None:
            return None
        if rule.needs_weights:
            w, b = self._params_of.get(module, (module.weight, module.bias))  # type: ignore[arg-type]
            ops: Any = LayerOps(module, w.detach(), None if b is None else b.detach())
        else:
            ops = module
        return _RuleFunction.apply(x, _Call(module, ops, rule, output))

    # -- compute ---------------------------------------------------------------
    def _attribute(self, x: torch.Tensor, target: Any) -> Result:
        rs, ys, ts = [], [], []
        for sl in batches(x.shape[0], self._pass(x)):
            self._first_done = False
            self._kept.clear()
            xb = x[sl].detach().requires_grad_(True)
            out = self.model(xb)
            t = resolve_targets(out, target, sl)
            y = select(out, t)
            # relevance starts at the target logit itself
            (r,) = torch.autograd.grad(y, xb, grad_outputs=y.detach())
            rs.append(r)
            ys.append(y.detach())
            ts.append(t)
        y_all = torch.cat(ys)
        return Result(
            torch.cat(rs),
            output=y_all,
            base_values=torch.zeros_like(y_all),
            diagnostics={"target": torch.cat(ts)},
        )


def _has_rule(composite: Composite, m: torch.nn.Module) -> bool:
    return (
        composite.rule_for(m, first=True) is not None
        or composite.rule_for(m, first=False) is not None
    )
