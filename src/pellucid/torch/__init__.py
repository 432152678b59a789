"""Explanations for PyTorch models: the gradient family and layer-wise relevance propagation.

Importing this subpackage imports torch; ``import pellucid`` does not (the
top-level names ``pellucid.Saliency`` etc. load it on first use).

* :class:`Saliency`, :class:`SmoothGrad`, :class:`IntegratedGradients`,
  :class:`GradientShap`, :class:`GuidedBackprop`, :class:`GradCam`,
  :class:`Occlusion`: ``Cls(model, ...).explain(inputs, target=...)``.
* :class:`Lrp` with :mod:`.rules`, :mod:`.composites` and :mod:`.canonizers`.
* :func:`digits_cnn`: a small CNN trained in seconds on the bundled digits.

Every method returns an :class:`~pellucid.Explanation` whose ``values`` have
the input's shape, computed on the model's device and dtype. On a CUDA device
they run with cuDNN's deterministic algorithms, so a seed repeats its bytes there
too (cuDNN's default backward convolutions change in the last bits between runs).
"""

from __future__ import annotations

from . import canonizers, composites, rules
from ._base import TorchExplainer, hooks_snapshot
from ._digits import DigitsCNN, digits_cnn, digits_images
from ._gradient import (
    GradCam,
    GradientShap,
    GuidedBackprop,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
)
from ._lrp import Lrp
from ._occlusion import Occlusion

__all__ = [
    "DigitsCNN",
    "GradCam",
    "GradientShap",
    "GuidedBackprop",
    "IntegratedGradients",
    "Lrp",
    "Occlusion",
    "Saliency",
    "SmoothGrad",
    "TorchExplainer",
    "canonizers",
    "composites",
    "digits_cnn",
    "digits_images",
    "hooks_snapshot",
    "rules",
]
